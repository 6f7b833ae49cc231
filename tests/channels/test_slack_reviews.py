"""Human review in Slack: Block Kit cards to the reviewer, approve / reject / edit by clicking,
the wrong reviewer refused, double clicks applied once, the outcome told in the requester's
thread."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import func, select

from channels.slack import cards, messages
from tests.channels.slack_harness import (
    ALICE,
    CHANNEL,
    DISCOUNT,
    MARIA,
    OMAR,
    STRANGER,
    SlackStack,
    mention,
    slack_stack,
)
from tools.models import Opportunity, ToolExecution

MARIA_DM = "D" + MARIA.id


def discount(slack: SlackStack) -> float:
    with slack.crm.db.read_session() as s:
        return float(s.get(Opportunity, "opp-acme-1").discount_percent)


def writes(slack: SlackStack) -> int:
    with slack.crm.db.read_session() as s:
        return s.scalar(select(func.count()).select_from(ToolExecution)) or 0


async def ask_for_discount(
    slack: SlackStack, ts: str = "100.000", cards_in: str = MARIA_DM
) -> tuple[str, tuple[str, str]]:
    """Alice asks in a channel thread; returns the request id and Maria's card (channel, ts)."""
    await slack.event(mention("Give Acme a 25% discount", ts=ts))
    await slack.wait_for(
        lambda: any("waits for Maria" in t for t in slack.fake.posted(CHANNEL, ts)),
        what="the requester's answer",
    )
    await slack.settle()
    [row] = slack.crm.reviews(reviewer_id="u-maria")
    return row["id"], slack.card_of(row["id"], cards_in)


def ephemerals(slack: SlackStack, user: str) -> list[str]:
    return [e["text"] for e in slack.fake.to("chat.postEphemeral") if e["user"] == user]


async def test_card_goes_to_the_reviewer_and_approval_updates_it(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=DISCOUNT) as slack:
        approval_id, card = await ask_for_discount(slack)
        # Maria (linked by the identity map) got the card in her DM, opened for her
        assert slack.fake.to("conversations.open") == [{"users": MARIA.id}]
        [posted] = slack.fake.to("chat.postMessage", lambda a: a.get("channel") == MARIA_DM)
        blocks = json.dumps(posted["blocks"], ensure_ascii=False)
        assert "25% discount on Acme expansion" in blocks and "Alice Wong" in blocks
        assert "discount_percent: 0 → 25.0" in blocks and "Discount above 15 %" in blocks
        actions = [b for b in posted["blocks"] if b["type"] == "actions"][0]["elements"]
        assert [a["action_id"] for a in actions] == [cards.APPROVE, cards.REJECT, cards.EDIT]

        clicked = await slack.click(cards.APPROVE, approval_id, user=MARIA.id, card=card)
        assert clicked.status == 200 and clicked.seconds < 3
        told = await slack.wait_for(
            lambda: [t for t in slack.fake.posted(CHANNEL, "100.000") if "approved" in t],
            what="the outcome in Alice's thread",
        )
        await slack.settle()
        assert told == ["Maria Lopez approved: 25% discount on Acme expansion. It is done."]
        assert discount(slack) == 25 and writes(slack) == 1
        [update] = slack.fake.to("chat.update", lambda a: a.get("channel") == MARIA_DM)
        assert update["ts"] == card[1]
        shown = json.dumps(update["blocks"], ensure_ascii=False)
        assert "Approved by Maria Lopez at 2026-11-20 12:00 UTC" in shown
        assert '"actions"' not in shown  # the buttons are gone
        assert ephemerals(slack, MARIA.id) == []


async def test_wrong_reviewer_is_refused_privately_and_nothing_changes(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=DISCOUNT) as slack:
        approval_id, card = await ask_for_discount(slack)
        before = len(slack.fake.calls)
        for user in (OMAR.id, ALICE.id):  # another manager; the requester herself
            await slack.click(cards.APPROVE, approval_id, user=user, card=card)
        await slack.click(cards.REJECT, approval_id, user=OMAR.id, card=card)
        await slack.click(cards.EDIT, approval_id, user=OMAR.id, card=card)
        await slack.click(cards.APPROVE, approval_id, user=STRANGER.id, card=card)
        await slack.wait_for(lambda: len(slack.fake.to("chat.postEphemeral")) == 5, what="refusals")
        await slack.settle()
        assert all("Only u-maria may decide" in t for t in ephemerals(slack, ALICE.id))
        omar = ephemerals(slack, OMAR.id)
        assert len(omar) == 3 and all("Maria Lopez" in t or "u-maria" in t for t in omar)
        assert all("nothing was changed" in t for t in omar)
        assert "don't know you" in ephemerals(slack, STRANGER.id)[0]
        # nothing changed: no card edit, no modal, no message, no write
        later = [c.method for c in slack.fake.calls[before:]]
        assert set(later) <= {"chat.postEphemeral", "users.info"}
        assert discount(slack) == 0 and writes(slack) == 0
        assert slack.crm.reviews()[0]["status"] == "pending"
        # the right reviewer can still decide
        await slack.click(cards.APPROVE, approval_id, user=MARIA.id, card=card)
        await slack.wait_for(lambda: discount(slack) == 25, what="the approval")


async def test_double_click_applies_once_and_says_already_approved(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=DISCOUNT) as slack:
        approval_id, card = await ask_for_discount(slack)
        # two clicks in flight at once, then a third after the fact
        first = slack.click(cards.APPROVE, approval_id, user=MARIA.id, card=card)
        second = slack.click(cards.APPROVE, approval_id, user=MARIA.id, card=card)
        deliveries = await asyncio.gather(first, second)
        assert [d.status for d in deliveries] == [200, 200]
        await slack.wait_for(lambda: ephemerals(slack, MARIA.id), what="the 'already' note")
        await slack.settle()
        await slack.click(cards.APPROVE, approval_id, user=MARIA.id, card=card)
        await slack.wait_for(lambda: len(ephemerals(slack, MARIA.id)) == 2, what="second note")
        await slack.settle()
        assert discount(slack) == 25 and writes(slack) == 1
        already = (
            "Already approved by Maria Lopez at 2026-11-20 12:00 UTC: nothing was applied again."
        )
        assert ephemerals(slack, MARIA.id) == [already, already]
        told = [t for t in slack.fake.posted(CHANNEL, "100.000") if "approved" in t]
        assert len(told) == 1  # the requester heard it once


async def test_reject_through_the_modal_with_a_reason(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=DISCOUNT) as slack:
        approval_id, card = await ask_for_discount(slack)
        await slack.click(cards.REJECT, approval_id, user=MARIA.id, card=card)
        [opened] = await slack.wait_for(lambda: slack.fake.to("views.open"), what="the modal")
        assert opened["trigger_id"] == f"trig-{MARIA.id}"
        view = opened["view"]
        assert view["callback_id"] == cards.REJECT_VIEW
        # an empty reason is refused inside the modal, naming what is missing
        empty = await slack.submit(view, user=MARIA.id, values={cards.REASON_BLOCK: "  "})
        assert empty.status == 200
        assert json.loads(empty.text) == {
            "response_action": "errors",
            "errors": {cards.REASON_BLOCK: messages.REASON_REQUIRED},
        }
        done = await slack.submit(
            view, user=MARIA.id, values={cards.REASON_BLOCK: "Too deep for Q4"}
        )
        assert done.status == 200 and done.text == ""  # the modal closes
        told = await slack.wait_for(
            lambda: [t for t in slack.fake.posted(CHANNEL, "100.000") if "rejected" in t],
            what="the rejection in Alice's thread",
        )
        await slack.settle()
        assert 'Maria Lopez rejected: 25% discount on Acme expansion ("Too deep for Q4")' in told[0]
        assert discount(slack) == 0 and writes(slack) == 0
        [update] = slack.fake.to("chat.update", lambda a: a.get("channel") == MARIA_DM)
        assert "Rejected by Maria Lopez" in json.dumps(update["blocks"], ensure_ascii=False)
        assert "Too deep for Q4" in json.dumps(update["blocks"], ensure_ascii=False)


async def test_edit_through_the_modal_commits_the_edited_arguments(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=DISCOUNT) as slack:
        approval_id, card = await ask_for_discount(slack)
        await slack.click(cards.EDIT, approval_id, user=MARIA.id, card=card)
        [opened] = await slack.wait_for(lambda: slack.fake.to("views.open"), what="the modal")
        view = opened["view"]
        prefilled = view["blocks"][1]["element"]["initial_value"]
        assert json.loads(prefilled) == {
            "opportunity_id": "opp-acme-1",
            "percent": 25,
            "reason": "200 seats",
        }
        bad = await slack.submit(
            view, user=MARIA.id, values={cards.ARGUMENTS_BLOCK: '{"percent": 18,}'}
        )
        error = json.loads(bad.text)["errors"][cards.ARGUMENTS_BLOCK]
        assert error.startswith("This is not valid JSON") and "line 1, column 16" in error
        not_object = await slack.submit(view, user=MARIA.id, values={cards.ARGUMENTS_BLOCK: "18"})
        assert json.loads(not_object.text)["errors"][cards.ARGUMENTS_BLOCK] == (
            messages.ARGUMENTS_NOT_OBJECT
        )
        assert slack.fake.to("chat.update", lambda a: a.get("channel") == MARIA_DM) == []
        edited = json.dumps({"opportunity_id": "opp-acme-1", "percent": 18, "reason": "200 seats"})
        await slack.submit(
            view,
            user=MARIA.id,
            values={cards.ARGUMENTS_BLOCK: edited, cards.COMMENT_BLOCK: "18 is the most"},
        )
        await slack.wait_for(lambda: discount(slack) == 18, what="the edited discount")
        await slack.settle()
        [update] = slack.fake.to("chat.update", lambda a: a.get("channel") == MARIA_DM)
        shown = json.dumps(update["blocks"], ensure_ascii=False)
        assert (
            "Approved with edited arguments by Maria Lopez" in shown and "18 is the most" in shown
        )
        assert writes(slack) == 1


async def test_edit_the_tool_refuses_is_reported_privately(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=DISCOUNT) as slack:
        approval_id, card = await ask_for_discount(slack)
        await slack.click(cards.EDIT, approval_id, user=MARIA.id, card=card)
        [opened] = await slack.wait_for(lambda: slack.fake.to("views.open"), what="the modal")
        await slack.submit(
            opened["view"], user=MARIA.id, values={cards.ARGUMENTS_BLOCK: '{"percent": 250}'}
        )
        [note] = await slack.wait_for(lambda: ephemerals(slack, MARIA.id), what="the refusal")
        await slack.settle()
        assert "edited arguments do not work" in note and "percent" in note
        assert discount(slack) == 0 and slack.crm.reviews()[0]["status"] == "pending"


async def test_review_channel_gets_one_card_naming_the_reviewer(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=DISCOUNT, review_channel="CREVIEW") as slack:
        approval_id, card = await ask_for_discount(slack, cards_in="CREVIEW")
        assert slack.fake.to("conversations.open") == []
        [posted] = slack.fake.to("chat.postMessage", lambda a: a.get("channel") == "CREVIEW")
        assert f"For <@{MARIA.id}>" in json.dumps(posted["blocks"])
        # in a shared channel the buttons are visible to all; only Maria's click counts
        await slack.click(cards.APPROVE, approval_id, user=OMAR.id, card=card)
        await slack.wait_for(lambda: ephemerals(slack, OMAR.id), what="Omar's refusal")
        await slack.click(cards.APPROVE, approval_id, user=MARIA.id, card=card)
        await slack.wait_for(lambda: discount(slack) == 25, what="Maria's approval")
