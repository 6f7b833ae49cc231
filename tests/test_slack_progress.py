"""The Slack status message names the current stage, edited in place within the rate limit,
and says "still working" on a long step (against the local Slack Web API stand-in)."""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from tests.channels.slack_fake_api import BOT_TOKEN, FakeSlackAPI
from tools.service import CRMService

# `channels` is imported inside the tests: once tests/channels (a package of the same name) has
# been collected, a module-level import could fail the whole collection.
DISCOUNT = {"opportunity_id": "opp-acme-1", "percent": 25, "reason": "expansion"}


async def test_status_message_follows_the_stages(crm: CRMService) -> None:
    from channels.slack.progress import StatusMessage

    api = FakeSlackAPI()
    await api.start()
    try:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=api.api_url)
        status = StatusMessage(client, channel="C1", thread_ts="1.0", interval=0.2)
        await status.start()
        convo = ConversationService(
            crm=crm,
            model=ScriptedChatModel(
                [
                    {
                        "agent": "sales",
                        "tool_calls": [{"name": "apply_discount", "arguments": DISCOUNT}],
                    },
                    {"agent": "sales", "reply": "Asked Maria."},
                ]
            ),
        )
        await convo.send(
            thread_id="t-sl",
            user_id="u-alice",
            text="Give Acme a 25% discount",
            on_event=status.on_event,
        )
        await asyncio.sleep(0.5)
        assert status.stage == "waiting for review"
        await status.finish("⏳ Done; part of it waits for approval.")
    finally:
        await api.stop()
    posts = [c for c in api.calls if c.method == "chat.postMessage"]
    edits = [c for c in api.calls if c.method == "chat.update"]
    assert len(posts) == 1 and edits
    assert any("sales agent" in str(c.args.get("text")) for c in edits)
    assert edits[-1].args["text"].startswith("⏳ Done")
    gaps = [b.at - a.at for a, b in zip(edits, edits[1:-1], strict=False)]
    assert all(gap >= 0.15 for gap in gaps)  # coalesced to the interval (the final edit aside)


async def test_a_long_step_says_still_working() -> None:
    from channels.slack.progress import StatusMessage

    api = FakeSlackAPI()
    await api.start()
    try:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=api.api_url)
        status = StatusMessage(client, channel="C1", thread_ts="1.0", interval=0.1, heartbeat=0.3)
        await status.start()
        status.on_event({"type": "handoff", "agent": "sales"})
        await asyncio.sleep(1.0)
        await status.finish("✓ Done.")
    finally:
        await api.stop()
    texts = [str(c.args.get("text")) for c in api.calls if c.method == "chat.update"]
    assert any("still working" in t for t in texts), texts
    assert texts[-1].startswith("✓ Done.")
