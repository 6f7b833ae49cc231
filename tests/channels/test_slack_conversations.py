"""Slack conversations over HTTP: mentions and DMs answered in their threads with live progress,
/warroom answered privately, signatures and retries, unknown people, long answers, 429s."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from channels.slack import messages
from channels.slack.dedupe import RecentDeliveries, SharedDeliveries
from channels.slack.text import MESSAGE_LIMIT
from tests.channels.slack_fake_api import BOT_USER
from tests.channels.slack_harness import (
    ALICE,
    CHANNEL,
    SECRET,
    STRANGER,
    direct_message,
    mention,
    slack_stack,
)

ACME = [
    {"agent": "sales", "reply": "Acme expansion is in proposal at USD 100,000 & closes Dec 31."}
]


async def test_mention_is_answered_in_its_thread_with_live_progress(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=ACME) as slack:
        delivery = await slack.event(mention("how is the Acme pipeline?", ts="111.000"))
        assert delivery.status == 200 and delivery.seconds < 3
        answers = await slack.wait_for(
            lambda: [t for t in slack.fake.posted(CHANNEL, "111.000") if "Acme expansion" in t],
            what="the answer in the thread",
        )
        await slack.settle()
        assert answers == ["Acme expansion is in proposal at USD 100,000 &amp; closes Dec 31."]
        # the status message came first, then was edited as the graph went, ending "Done"
        posted = slack.fake.to("chat.postMessage")
        assert posted[0]["text"] == messages.WORKING and posted[0]["thread_ts"] == "111.000"
        edits = [u["text"] for u in slack.fake.to("chat.update")]
        assert any("routed to sales about acc-acme" in e for e in edits)
        assert edits[-1].startswith("✓ Done.") and "sales agent is on it" in edits[-1]
        assert {u["ts"] for u in slack.fake.to("chat.update")} == {
            slack.fake.calls[[c.method for c in slack.fake.calls].index("chat.postMessage")].result[
                "ts"
            ]
        }
        # the conversation is the Slack thread: the model saw the text without the mention
        history = await slack.channel.convo.history(f"slack:T0001:{CHANNEL}:111.000")
        assert history[0] == {"role": "user", "content": "how is the Acme pipeline?"}
        assert f"<@{BOT_USER}>" not in str(slack.model.requests)
        # every Web API call carried the bot token
        assert {c.token for c in slack.fake.calls if c.method.startswith("chat.")} == {
            "xoxb-test-token"
        }


async def test_follow_up_in_the_thread_continues_the_conversation(tmp_path: Path) -> None:
    steps = ACME + [{"agent": "sales", "reply": "Jane Doe is the contact."}]
    async with slack_stack(tmp_path, steps=steps) as slack:
        await slack.event(mention("how is the Acme pipeline?", ts="200.000"))
        await slack.wait_for(lambda: len(slack.fake.posted(CHANNEL, "200.000")) >= 2, what="reply")
        await slack.settle()
        await slack.event(
            mention("who is the contact on the Acme deal?", ts="201.000", thread_ts="200.000")
        )
        await slack.wait_for(
            lambda: "Jane Doe is the contact." in slack.fake.posted(CHANNEL, "200.000"),
            what="the follow-up answer in the same thread",
        )
        history = await slack.channel.convo.history(f"slack:T0001:{CHANNEL}:200.000")
        assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]


async def test_direct_message_is_answered(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=ACME) as slack:
        delivery = await slack.event(direct_message("how is the Acme pipeline?", ts="300.000"))
        assert delivery.status == 200
        await slack.wait_for(
            lambda: any("Acme expansion" in t for t in slack.fake.posted("DUALICE", "300.000")),
            what="the answer in the DM thread",
        )
        # the bot's own messages and edits in the DM are not conversation turns
        await slack.event(direct_message("(edited)", ts="301.000", subtype="message_changed"))
        await slack.event(direct_message("hi", ts="302.000", bot_id="BOTHER"))
        await slack.settle()
        assert slack.model.remaining == 0 and len(slack.fake.posted("DUALICE")) == 2


async def test_retried_event_gets_one_reply(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=ACME * 2) as slack:
        event = mention("how is the Acme pipeline?", ts="400.000")
        first = await slack.event(event, event_id="EvRETRY1")
        retries = [await slack.event(event, event_id="EvRETRY1", retry=n) for n in (1, 2, 3)]
        assert first.status == 200 and all(r.status == 200 for r in retries)
        await slack.wait_for(
            lambda: any("Acme expansion" in t for t in slack.fake.posted(CHANNEL, "400.000")),
            what="the answer",
        )
        await slack.settle()
        answers = [t for t in slack.fake.posted(CHANNEL) if "Acme expansion" in t]
        assert len(answers) == 1 and slack.model.remaining == 1  # one turn ran, not four


async def test_bad_signature_is_refused_with_no_side_effect(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=ACME) as slack:
        assert [c.method for c in slack.fake.calls] == ["auth.test"]  # the start-up check
        forged = await slack.event(
            mention("Acme deal status", ts="500.000"), signature="v0=" + "0" * 64
        )
        unsigned = await slack.post('{"type":"event_callback"}', "application/json", signature="")
        assert forged.status == 401 and unsigned.status == 401
        # a valid signature over a different body is no signature at all
        tampered = await slack.post(
            '{"type": "event_callback", "event": {}}',
            "application/json",
            signature=slack.verifier.generate_signature(timestamp=str(int(time.time())), body="{}"),
        )
        assert tampered.status == 401
        await asyncio.sleep(0.3)
        assert [c.method for c in slack.fake.calls] == ["auth.test"]
        assert slack.model.remaining == 1 and slack.channel.busy == 0
        assert len(slack.channel.deliveries) == 0  # a forged event id cannot block the real one


async def test_stale_timestamp_is_refused(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=ACME) as slack:
        six_minutes_ago = int(time.time()) - 6 * 60
        stale = await slack.event(
            mention("Acme deal status", ts="600.000"), timestamp=six_minutes_ago
        )
        assert stale.status == 401
        # a replay of a correctly signed old request is refused too; a fresh one is not
        four_minutes_ago = int(time.time()) - 4 * 60
        fresh = await slack.event(
            mention("Acme deal status", ts="601.000"), timestamp=four_minutes_ago
        )
        assert fresh.status == 200
        await slack.wait_for(lambda: slack.fake.posted(CHANNEL, "601.000"), what="an answer")
        await slack.settle()
        assert slack.fake.posted(CHANNEL, "600.000") == []
        assert SECRET not in str([c.args for c in slack.fake.calls])


async def test_unknown_user_is_refused_politely_and_nothing_runs(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=ACME) as slack:
        await slack.event(mention("show me every deal", user=STRANGER.id, ts="700.000"))
        await slack.event(mention("me too", user="UNOBODYKNOWS", ts="701.000"))
        refusals = await slack.wait_for(
            lambda: (
                len(slack.fake.to("chat.postEphemeral")) == 2
                and slack.fake.to("chat.postEphemeral")
            ),
            what="two refusals",
        )
        await slack.settle()
        assert {r["user"] for r in refusals} == {STRANGER.id, "UNOBODYKNOWS"}
        assert all("don't know you as a warroom user" in r["text"] for r in refusals)
        assert slack.fake.to("chat.postMessage") == [] and slack.model.remaining == 1


async def test_slash_command_answers_privately(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=ACME) as slack:
        helped = await slack.command("help")
        assert helped.status == 200 and "/warroom pending" in helped.text
        asked = await slack.command("how is the Acme pipeline?", key="ask-1")
        assert asked.status == 200 and messages.WORKING in asked.text
        replies = await slack.wait_for(
            lambda: [c for c in slack.fake.to("response_url") if c["key"] == "ask-1"],
            what="the private answer",
        )
        assert replies[0]["response_type"] == "ephemeral"
        assert "Acme expansion is in proposal" in replies[0]["text"]
        assert slack.fake.to("chat.postMessage") == []  # nothing public
        history = await slack.channel.convo.history(f"slack:T0001:{CHANNEL}:@{ALICE.id}")
        assert history[0]["content"] == "how is the Acme pipeline?"

        await slack.command("pending", key="inbox")
        inbox = await slack.wait_for(
            lambda: [c for c in slack.fake.to("response_url") if c["key"] == "inbox"],
            what="the review inbox",
        )
        assert inbox[0]["text"] == messages.NOTHING_PENDING

        await slack.command("Acme deal status", user=STRANGER.id, key="stranger")
        refusal = await slack.wait_for(
            lambda: [c for c in slack.fake.to("response_url") if c["key"] == "stranger"],
            what="a private refusal",
        )
        assert "don't know you" in refusal[0]["text"] and slack.model.remaining == 0


async def test_long_answers_are_split_and_very_long_ones_attached(tmp_path: Path) -> None:
    paragraph = "Acme " + "pipeline detail " * 60  # about 1,000 characters
    long_reply = "\n\n".join([paragraph] * 7)  # about 7,000: three messages
    huge_reply = "\n\n".join([paragraph] * 30)  # about 30,000: attached
    steps = [{"agent": "sales", "reply": long_reply}, {"agent": "sales", "reply": huge_reply}]
    async with slack_stack(tmp_path, steps=steps) as slack:
        await slack.event(mention("Acme deal status", ts="800.000"))

        def answer_parts() -> list[str]:
            return [t for t in slack.fake.posted(CHANNEL, "800.000") if t.startswith("Acme")]

        await slack.wait_for(lambda: len(answer_parts()) >= 3, what="three parts")
        await slack.settle()
        parts = answer_parts()
        assert len(parts) == 3
        assert all(len(p) <= MESSAGE_LIMIT for p in parts)
        assert " ".join(parts).split() == long_reply.split()  # nothing lost at the cuts
        await slack.settle()
        await slack.event(mention("the Acme deal in full detail", ts="801.000"))
        await slack.wait_for(lambda: slack.fake.uploads, what="the attached answer")
        await slack.settle()
        [upload] = slack.fake.uploads.values()
        assert upload.decode() == huge_reply.strip()
        [complete] = slack.fake.to("files.completeUploadExternal")
        assert complete["channel_id"] == CHANNEL and complete["thread_ts"] == "801.000"
        assert any(
            messages.FULL_ANSWER_ATTACHED in t for t in slack.fake.posted(CHANNEL, "801.000")
        )


async def test_rate_limited_calls_are_retried_after_retry_after(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=ACME) as slack:
        slack.fake.fail_next("chat.postMessage")  # 429, Retry-After: 0
        slack.fake.fail_next("chat.postMessage")
        await slack.event(mention("how is the Acme pipeline?", ts="900.000"))
        await slack.wait_for(
            lambda: any("Acme expansion" in t for t in slack.fake.posted(CHANNEL, "900.000")),
            what="the answer after two 429s",
            within=15,
        )
        await slack.settle()
        answers = [t for t in slack.fake.posted(CHANNEL) if "Acme expansion" in t]
        assert len(answers) == 1
        # the status message was tried three times: twice refused, once posted
        assert [t for t in slack.fake.posted(CHANNEL)].count(messages.WORKING) == 3


async def test_a_retry_reaching_another_replica_is_not_handled_again(tmp_path: Path) -> None:
    """Event ids are claimed in the CRM database: a replica (or this process after a restart)
    that never saw the first delivery still knows the event was taken."""
    async with slack_stack(tmp_path, steps=ACME * 2) as slack:
        event = mention("how is the Acme pipeline?", ts="410.000")
        assert (await slack.event(event, event_id="EvREPLICA1")).status == 200
        await slack.wait_for(
            lambda: any("Acme expansion" in t for t in slack.fake.posted(CHANNEL, "410.000")),
            what="the answer",
        )
        deliveries = slack.channel.deliveries
        assert isinstance(deliveries, SharedDeliveries)
        deliveries.local = RecentDeliveries()  # what another replica remembers: nothing
        retry = await slack.event(event, event_id="EvREPLICA1", retry=1)
        assert retry.status == 200
        await slack.settle()
        assert slack.model.remaining == 1  # one turn ran, not two
        assert len([t for t in slack.fake.posted(CHANNEL, "410.000") if "Acme" in t]) == 1
