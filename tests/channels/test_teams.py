"""The Teams bot end to end: real Bot Framework activities posted over HTTP (loopback) to the
Agents SDK's CloudAdapter at /api/messages, replies observed at a local fake Bot Connector
API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from channels.identity import UnknownUser
from channels.inbox import Inbox
from channels.teams import messages
from tests.channels.teams_fakes import (
    card_execute,
    card_submit,
    channel,
    mention_message,
    message,
    personal,
)
from tests.channels.teams_harness import (
    ALICE,
    ALICE_CHAT,
    CLOSE_DATE,
    DANA,
    DISCOUNT,
    MARIA,
    MARIA_CHAT,
    OMAR,
    OMAR_CHAT,
    STRANGER,
    Teams,
    replies_in,
    teams_server,
)
from warroom.settings import Settings

# ----------------------------------------------------------------------------- conversations


async def test_personal_message_is_answered_in_that_chat(tmp_path: Path) -> None:
    async with teams_server(tmp_path, CLOSE_DATE) as teams:
        await teams.say("When does the deal close?", ALICE, ALICE_CHAT)
        [reply] = await teams.connector.wait_for(replies_in(ALICE_CHAT, "It closes soon."))
        assert reply.body["from"]["id"] == "28:warroom-bot"
        assert reply.body["recipient"]["id"] == "29:alice"
        typing = [c for c in teams.connector.calls if c.body.get("type") == "typing"]
        assert typing and typing[0].conversation_id == ALICE_CHAT
        history = await teams.bot.convo.history(f"teams:{ALICE_CHAT}")
        assert [m["content"] for m in history] == ["When does the deal close?", "It closes soon."]
        teams.model.assert_exhausted()


async def test_a_status_message_follows_the_turn_and_gives_way_to_the_reply(
    tmp_path: Path,
) -> None:
    async with teams_server(tmp_path, CLOSE_DATE) as teams:
        await teams.say("When does the deal close?", ALICE, ALICE_CHAT)
        await teams.connector.wait_for(replies_in(ALICE_CHAT, "It closes soon."))
        [status] = teams.connector.statuses()
        assert status.conversation_id == ALICE_CHAT
        edits = teams.connector.status_edits()
        assert edits and all(e.activity_id == status.response_id for e in edits)
        assert edits[-1].text.startswith("✓ Done.")  # the final edit: the steps, no draft
        assert "It closes soon." not in edits[-1].text
        answer = next(c for c in teams.connector.calls if c.text == "It closes soon.")
        assert teams.connector.calls.index(edits[-1]) < teams.connector.calls.index(answer)


async def test_channel_mention_is_answered_in_that_reply_chain(tmp_path: Path) -> None:
    async with teams_server(tmp_path, CLOSE_DATE) as teams:
        where = channel("1700000000555")
        # without a mention the bot stays quiet, and no model is asked
        status, _ = await teams.post(message("lunch anyone?", **teams.to(ALICE, where)))
        assert status == 200
        status, _ = await teams.post(
            mention_message("When does the deal close?", **teams.to(ALICE, where))
        )
        assert status == 200
        [reply] = await teams.connector.wait_for(replies_in(where["id"], "It closes soon."))
        history = await teams.bot.convo.history(f"teams:{where['id']}")
        assert history[0]["content"] == "When does the deal close?"  # the mention is stripped
        assert len(teams.connector.messages()) == 1 and teams.model.remaining == 0


async def test_unknown_user_is_politely_refused_and_nothing_runs(tmp_path: Path) -> None:
    async with teams_server(tmp_path, CLOSE_DATE) as teams:
        refusal = await teams.ask("Show me every deal", STRANGER, "a:stranger-chat")
        assert refusal.text == UnknownUser("teams", "x").message
        assert teams.model.remaining == 1  # no model call
        assert await teams.bot.convo.history("teams:a:stranger-chat") == []
        assert teams.bot.store.reference("thread", "teams:a:stranger-chat") is None
        # a stranger pressing a card button gets the same refusal and decides nothing
        status, body = await teams.post(
            card_execute("approve", "appr-x", card_id="c1", **teams.to(STRANGER, personal("a:s")))
        )
        assert status == 200 and body["value"] == UnknownUser("teams", "x").message


async def test_unmapped_user_is_found_by_the_email_in_the_teams_roster(tmp_path: Path) -> None:
    async with teams_server(tmp_path, CLOSE_DATE) as teams:
        await teams.say("When does the deal close?", DANA, "a:dana-chat")
        await teams.connector.wait_for(replies_in("a:dana-chat", "It closes soon."))
        assert teams.bot.store.reference("user", "u-dana") is not None
        # her roster entry is remembered for a while: the next message asks nobody
        answer = await teams.ask("pending", DANA, "a:dana-chat")
        assert answer.text == messages.NOTHING_PENDING
        assert [c.verb for c in teams.connector.calls].count("member") == 1


# ----------------------------------------------------------------------------- review cards


async def _discount_waiting_for_maria(teams: Teams) -> tuple[str, str]:
    """Maria has talked to the bot; Alice asks for a discount; Maria gets the card."""
    answer = await teams.ask("pending", MARIA, MARIA_CHAT)
    assert answer.text == messages.NOTHING_PENDING
    await teams.say("Give Acme a 25% discount", ALICE, ALICE_CHAT)
    await teams.connector.wait_for(replies_in(ALICE_CHAT, "waits for Maria"))
    card_calls = await teams.connector.wait_for(
        lambda calls: [c for c in calls if c.conversation_id == MARIA_CHAT and c.cards]
    )
    [card_call] = card_calls
    card = card_call.cards[0]
    assert [a["verb"] for a in card["actions"]] == ["approve", "reject", "edit"]
    assert all(a["type"] == "Action.Execute" for a in card["actions"])
    [approval] = teams.crm.reviews(reviewer_id="u-maria")
    assert card["actions"][0]["data"] == {"warroom": "review", "approval_id": approval["id"]}
    assert "25% discount" in str(card["body"]) and "Alice Wong" in str(card["body"])
    # the bot remembers which message holds the card, to update it later
    assert teams.bot.store.activity_id("card", f"{approval['id']} u-maria") == card_call.response_id
    return approval["id"], card_call.response_id


async def test_right_reviewer_approves_on_the_card_and_the_requester_is_told(
    tmp_path: Path,
) -> None:
    async with teams_server(tmp_path, DISCOUNT) as teams:
        approval_id, card_id = await _discount_waiting_for_maria(teams)
        assert card_id and teams.discount() == 0
        status, body = await teams.post(
            card_execute(
                "approve",
                approval_id,
                card_id=card_id,
                inputs={"comment": "ok for Q4"},
                **teams.to(MARIA, personal(MARIA_CHAT)),
            )
        )
        assert status == 200
        assert body["statusCode"] == 200
        assert body["type"] == "application/vnd.microsoft.card.adaptive"
        text = str(body["value"]["body"])
        assert "Approved by Maria Lopez at 2026-11-20 12:00" in text and "ok for Q4" in text
        assert body["value"]["actions"] == []  # no buttons on a decided card
        assert teams.discount() == 25 and teams.writes() == 1
        [told] = await teams.connector.wait_for(replies_in(ALICE_CHAT, "Maria Lopez approved"))
        assert told.verb == "send"  # a proactive message, not a reply


async def test_wrong_reviewer_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    async with teams_server(tmp_path, DISCOUNT) as teams:
        approval_id, card_id = await _discount_waiting_for_maria(teams)
        before = len(teams.connector.calls)
        status, body = await teams.post(
            card_execute(
                "approve", approval_id, card_id=card_id, **teams.to(OMAR, personal(OMAR_CHAT))
            )
        )
        assert status == 200
        assert body["type"] == "application/vnd.microsoft.activity.message"
        assert "Only u-maria may decide" in body["value"]
        # the same through a classic submit: a refusal message, the card is not updated
        status, _ = await teams.post(
            card_submit(
                "approve", approval_id, card_id=card_id, **teams.to(OMAR, personal(OMAR_CHAT))
            )
        )
        assert status == 200
        new = teams.connector.calls[before:]
        assert [c.verb for c in new] == ["reply"] and "Only u-maria may decide" in new[0].text
        assert teams.discount() == 0 and teams.writes() == 0
        assert teams.crm.reviews(approval_id=approval_id)[0]["status"] == "pending"
        assert not replies_in(ALICE_CHAT, "approved")(teams.connector.calls)


async def test_double_submit_applies_once_and_updates_the_card(tmp_path: Path) -> None:
    async with teams_server(tmp_path, DISCOUNT) as teams:
        approval_id, card_id = await _discount_waiting_for_maria(teams)
        submit = card_submit(
            "approve", approval_id, card_id=card_id, **teams.to(MARIA, personal(MARIA_CHAT))
        )
        for _ in range(2):
            status, _ = await teams.post(dict(submit, id=submit["id"] + "0"))
            assert status == 200
            submit["id"] += "1"
        updates = teams.connector.card_updates()
        assert [(u.conversation_id, u.activity_id) for u in updates] == [(MARIA_CHAT, card_id)] * 2
        assert "Approved by Maria Lopez" in str(updates[0].cards[0]["body"])
        assert "Already approved by u-maria" in str(updates[1].cards[0]["body"])
        assert teams.discount() == 25 and teams.writes() == 1
        await teams.connector.wait_for(replies_in(ALICE_CHAT, "Maria Lopez approved"))
        assert len(replies_in(ALICE_CHAT, "Maria Lopez approved")(teams.connector.calls)) == 1


async def test_reject_needs_a_reason_and_edit_needs_valid_json(tmp_path: Path) -> None:
    async with teams_server(tmp_path, DISCOUNT) as teams:
        approval_id, card_id = await _discount_waiting_for_maria(teams)
        where = teams.to(MARIA, personal(MARIA_CHAT))

        async def execute(verb: str, **inputs: Any) -> dict[str, Any]:
            status, body = await teams.post(
                card_execute(verb, approval_id, card_id=card_id, inputs=inputs, **where)
            )
            assert status == 200
            return body

        body = await execute("reject", comment="  ")
        assert (
            body["statusCode"] == 400 and body["value"]["message"] == messages.REJECT_NEEDS_REASON
        )
        body = await execute("edit", arguments='{"percent": 18')
        assert "not valid JSON" in body["value"]["message"]
        body = await execute("edit", arguments="[18]")
        assert "must be a JSON object" in body["value"]["message"]
        body = await execute("edit", arguments='{"percent": "lots"}')
        assert body["type"] == "application/vnd.microsoft.activity.message"  # refused by tools
        body = await execute("escalate")
        assert "'escalate' is not one I know" in body["value"]["message"]
        assert teams.discount() == 0 and teams.crm.reviews()[0]["status"] == "pending"

        body = await execute("edit", arguments='{"percent": 18}', comment="18 is the most")
        assert "Applied with" in str(body["value"]["body"]) and teams.discount() == 18


async def test_reject_with_a_reason(tmp_path: Path) -> None:
    async with teams_server(tmp_path, DISCOUNT) as teams:
        approval_id, card_id = await _discount_waiting_for_maria(teams)
        status, body = await teams.post(
            card_execute(
                "reject",
                approval_id,
                card_id=card_id,
                inputs={"comment": "too deep for Q4"},
                **teams.to(MARIA, personal(MARIA_CHAT)),
            )
        )
        assert status == 200 and "Rejected by Maria Lopez" in str(body["value"]["body"])
        assert teams.discount() == 0 and teams.writes() == 0
        await teams.connector.wait_for(replies_in(ALICE_CHAT, "too deep for Q4"))


async def test_pending_command_sends_cards_to_a_reviewer_who_was_not_known(
    tmp_path: Path,
) -> None:
    async with teams_server(tmp_path, DISCOUNT) as teams:
        await teams.say("Give Acme a 25% discount", ALICE, ALICE_CHAT)
        await teams.connector.wait_for(replies_in(ALICE_CHAT, "waits for Maria"))
        assert not [c for c in teams.connector.calls if c.cards]  # Maria never talked to the bot
        await teams.say("/pending", MARIA, MARIA_CHAT)
        [card_call] = await teams.connector.wait_for(lambda calls: [c for c in calls if c.cards])
        assert card_call.conversation_id == MARIA_CHAT


async def test_review_channel_reaches_reviewers_who_never_talked_to_the_bot(
    tmp_path: Path,
) -> None:
    review_channel = "19:reviews@thread.tacv2"
    settings = Settings(
        identity_map_path=tmp_path / "identities.yaml",
        teams_skip_auth=True,
        teams_review_channel=review_channel,
    )
    async with teams_server(tmp_path, DISCOUNT, settings=settings) as teams:
        await teams.say("Give Acme a 25% discount", ALICE, ALICE_CHAT)
        [card_call] = await teams.connector.wait_for(
            lambda calls: [c for c in calls if c.cards and c.conversation_id == review_channel]
        )
        assert card_call.verb == "send"  # a new post in the channel, proactively
        card = card_call.cards[0]
        assert [a["verb"] for a in card["actions"]] == ["approve", "reject", "edit"]
        [approval] = teams.crm.reviews(reviewer_id="u-maria")
        assert teams.bot.store.reference("user", "u-maria") is None  # Maria never spoke
        where = {
            "conversationType": "channel",
            "isGroup": True,
            "id": f"{review_channel};messageid={card_call.response_id}",
        }
        status, body = await teams.post(
            card_execute(
                "approve", approval["id"], card_id=card_call.response_id, **teams.to(MARIA, where)
            )
        )
        assert status == 200 and "Approved by Maria Lopez" in str(body["value"]["body"])
        await teams.connector.wait_for(replies_in(ALICE_CHAT, "Maria Lopez approved"))
        assert teams.discount() == 25
        # no card went to anyone's personal chat
        assert not [
            c for c in teams.connector.calls if c.cards and c.conversation_id != review_channel
        ]


async def test_decision_locks_are_released(tmp_path: Path) -> None:
    async with teams_server(tmp_path, DISCOUNT) as teams:
        approval_id, card_id = await _discount_waiting_for_maria(teams)
        status, _ = await teams.post(
            card_execute(
                "approve", approval_id, card_id=card_id, **teams.to(MARIA, personal(MARIA_CHAT))
            )
        )
        assert status == 200
        assert len(teams.bot._locks) == 0


async def test_a_turn_is_stored_before_it_is_acknowledged_and_answered_once(
    tmp_path: Path,
) -> None:
    async with teams_server(tmp_path, CLOSE_DATE) as teams:
        body = message("When does the deal close?", **teams.to(ALICE, personal(ALICE_CHAT)))
        status, _ = await teams.post(body)
        assert status == 200
        assert teams.stored_events() == 1  # in the CRM database before the 200
        status, _ = await teams.post(body)  # Teams redelivers the same activity
        assert status == 200
        await teams.connector.wait_for(replies_in(ALICE_CHAT, "It closes soon."))
        await teams.bot.drain(5)
        assert len(replies_in(ALICE_CHAT, "It closes soon.")(teams.connector.calls)) == 1
        assert teams.stored_events() == 1 and teams.model.remaining == 0


async def test_a_turn_another_replica_stored_is_answered_here(tmp_path: Path) -> None:
    """A replica stored a message and died before answering it: this one takes it from the
    inbox table and answers in the right conversation."""
    async with teams_server(tmp_path, CLOSE_DATE) as teams:
        elsewhere = Inbox(teams.crm.db, channel="teams", owner="replica-that-died")
        activity = message("When does the deal close?", **teams.to(ALICE, personal(ALICE_CHAT)))
        assert elsewhere.put(activity["id"], f"teams:{ALICE_CHAT}", {"activity": activity})
        [reply] = await teams.connector.wait_for(replies_in(ALICE_CHAT, "It closes soon."))
        assert reply.body["recipient"]["id"] == ALICE["id"]
        assert teams.model.remaining == 0


async def test_an_answer_that_could_not_be_delivered_is_sent_again_without_a_new_turn(
    tmp_path: Path,
) -> None:
    async with teams_server(tmp_path, CLOSE_DATE) as teams:
        teams.connector.refuse_text, teams.connector.refusals = "It closes soon.", 1
        await teams.say("When does the deal close?", ALICE, ALICE_CHAT)
        await teams.connector.wait_for(replies_in(ALICE_CHAT, "It closes soon."))
        assert teams.connector.refusals == 0  # the first delivery failed
        await teams.bot.drain(5)
        assert len(replies_in(ALICE_CHAT, "It closes soon.")(teams.connector.calls)) == 1
        assert teams.model.remaining == 0  # the turn ran once; the retry answered from it
        history = await teams.bot.convo.history(f"teams:{ALICE_CHAT}")
        assert [m["content"] for m in history] == ["When does the deal close?", "It closes soon."]
