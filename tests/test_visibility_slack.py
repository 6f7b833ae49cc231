"""Review cards in Slack show what their readers may see (tools/visibility.review_for): a
reviewer's direct message the figures the reviewer may read; a shared review channel only what
everyone may see, with the reviewer's own view (the Edit dialog) holding the rest.

Kept outside tests/channels: with --import-mode=importlib a test module there can make
`channels` resolve to the tests package, and the app code then comes from the installed copy."""

from __future__ import annotations

import json
from pathlib import Path

from channels.slack import cards
from tests.channels.slack_harness import MARIA, slack_stack
from tests.channels.test_slack_reviews import DISCOUNT, ask_for_discount


async def test_shared_channel_card_hides_the_discount(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=DISCOUNT, review_channel="CREVIEW") as slack:
        approval_id, card = await ask_for_discount(slack, cards_in="CREVIEW")
        [posted] = slack.fake.to("chat.postMessage", lambda a: a.get("channel") == "CREVIEW")
        shown = json.dumps(posted["blocks"], ensure_ascii=False) + posted["text"]
        assert '\\"percent\\": 25' not in shown and "25%" not in shown
        assert "hidden" in shown and "reviewer's own view" in shown
        # Maria, the reviewer, sees the figure in her own view (the Edit dialog).
        await slack.click(cards.EDIT, approval_id, user=MARIA.id, card=card)
        [opened] = await slack.wait_for(lambda: slack.fake.to("views.open"), what="the dialog")
        assert '"percent": 25' in json.dumps(opened["view"], ensure_ascii=False).replace('\\"', '"')


async def test_reviewer_direct_message_shows_the_discount(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=DISCOUNT) as slack:
        await ask_for_discount(slack)
        [posted] = slack.fake.to("chat.postMessage", lambda a: a.get("channel") == "D" + MARIA.id)
        shown = json.dumps(posted["blocks"], ensure_ascii=False)
        assert "25" in shown and "hidden" not in shown
