"""The Teams bot end to end: real Bot Framework activities posted over HTTP (loopback) to the
real CloudAdapter at /api/messages, replies observed at a local fake Bot Connector API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter
from sqlalchemy import func, select

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from channels.identity import IdentityResolver, UnknownUser, load_identity_map
from channels.teams import messages
from channels.teams.auth import build_authentication
from channels.teams.bot import TeamsBot
from channels.teams.server import create_web_app
from channels.teams.store import ConversationStore
from tests.channels.teams_fakes import (
    FakeConnector,
    account,
    card_execute,
    card_submit,
    channel,
    mention_message,
    message,
    personal,
)
from tests.conftest import TODAY, small_company
from tools.context import FixedClock
from tools.db import Database
from tools.fixtures import load_fixture
from tools.models import Opportunity, ToolExecution
from tools.policy import Policy
from tools.service import CRMService
from warroom.settings import DEFAULT_POLICY_PATH, Settings

ALICE = account("29:alice", "Alice Wong")
MARIA = account("29:maria", "Maria Lopez", aad="aad-maria")  # mapped by her AAD object id
OMAR = account("29:omar", "Omar Haddad")
DANA = account("29:dana", "Dana Kim")  # not in the map: found by her email in the roster
STRANGER = account("29:stranger", "Mallory")
ALICE_CHAT, MARIA_CHAT, OMAR_CHAT = "a:alice-chat", "a:maria-chat", "a:omar-chat"
IDENTITIES = {"teams": {"29:alice": "u-alice", "aad-maria": "u-maria", "29:omar": "u-omar"}}

CLOSE_DATE = [{"agent": "sales", "reply": "It closes Dec 31."}]
DISCOUNT = [
    {
        "agent": "sales",
        "tool_calls": [
            {
                "name": "apply_discount",
                "arguments": {"opportunity_id": "opp-acme-1", "percent": 25, "reason": "200 seats"},
            }
        ],
    },
    {"agent": "sales", "reply": "The 25% discount waits for Maria."},
]


@dataclass
class Teams:
    endpoint: str
    connector: FakeConnector
    bot: TeamsBot
    crm: CRMService
    model: ScriptedChatModel
    http: aiohttp.ClientSession

    async def post(
        self, body: Any, *, token: str | None = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with self.http.post(self.endpoint, headers=headers, **kwargs) as response:
            text = await response.text()
            try:
                return response.status, (await response.json(content_type=None)) if text else None
            except ValueError:
                return response.status, text

    def to(self, sender: dict[str, Any], conversation: dict[str, Any]) -> dict[str, Any]:
        return {"service_url": self.connector.url, "sender": sender, "conversation": conversation}

    async def say(self, text: str, sender: dict[str, Any], chat: str) -> None:
        status, _ = await self.post(message(text, **self.to(sender, personal(chat))))
        assert status == 200

    def discount(self) -> float:
        with self.crm.db.read_session() as s:
            return float(s.get(Opportunity, "opp-acme-1").discount_percent)

    def writes(self) -> int:
        with self.crm.db.read_session() as s:
            return s.scalar(select(func.count()).select_from(ToolExecution)) or 0


@asynccontextmanager
async def teams_server(
    tmp_path: Path,
    script: list[dict[str, Any]],
    *,
    settings: Settings | None = None,
    credentials_factory: Any = None,
) -> AsyncIterator[Teams]:
    db = Database(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    load_fixture(db, small_company())
    crm = CRMService(
        db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=FixedClock.on(TODAY, hour=12)
    )
    map_path = tmp_path / "identities.yaml"
    map_path.write_text(yaml.safe_dump(IDENTITIES), encoding="utf-8")
    settings = settings or Settings(identity_map_path=map_path, teams_skip_auth=True)
    auth = build_authentication(settings, credentials_factory=credentials_factory)
    model = ScriptedChatModel(script)
    bot = TeamsBot(
        adapter=CloudAdapter(auth.authentication),
        app_id=auth.app_id,
        convo=ConversationService(crm=crm, model=model),
        identities=IdentityResolver(db, load_identity_map(map_path)),
        store=ConversationStore(db.engine),
    )
    connector = FakeConnector(members={"29:dana": {"name": "Dana Kim", "email": "DANA@warroom.example"}})
    await connector.start()
    runner = web.AppRunner(create_web_app(bot, auth))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            yield Teams(f"http://127.0.0.1:{port}/api/messages", connector, bot, crm, model, http)
    finally:
        await bot.drain(5)
        await runner.cleanup()
        await connector.stop()
        db.dispose()


def replies_in(conversation: str, containing: str):  # noqa: ANN201
    return lambda calls: [
        c
        for c in calls
        if c.verb in ("send", "reply")
        and c.conversation_id == conversation
        and containing in (c.body.get("text") or "")
    ]


# ----------------------------------------------------------------------------- conversations


async def test_personal_message_is_answered_in_that_chat(tmp_path: Path) -> None:
    async with teams_server(tmp_path, CLOSE_DATE) as teams:
        await teams.say("When does the deal close?", ALICE, ALICE_CHAT)
        [reply] = await teams.connector.wait_for(replies_in(ALICE_CHAT, "It closes Dec 31."))
        assert reply.body["from"]["id"] == "28:warroom-bot"
        assert reply.body["recipient"]["id"] == "29:alice"
        typing = [c for c in teams.connector.calls if c.body.get("type") == "typing"]
        assert typing and typing[0].conversation_id == ALICE_CHAT
        history = await teams.bot.convo.history(f"teams:{ALICE_CHAT}")
        assert [m["content"] for m in history] == ["When does the deal close?", "It closes Dec 31."]
        teams.model.assert_exhausted()


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
        [reply] = await teams.connector.wait_for(replies_in(where["id"], "It closes Dec 31."))
        history = await teams.bot.convo.history(f"teams:{where['id']}")
        assert history[0]["content"] == "When does the deal close?"  # the mention is stripped
        assert len(teams.connector.messages()) == 1 and teams.model.remaining == 0


async def test_unknown_user_is_politely_refused_and_nothing_runs(tmp_path: Path) -> None:
    async with teams_server(tmp_path, CLOSE_DATE) as teams:
        await teams.say("Show me every deal", STRANGER, "a:stranger-chat")
        [refusal] = teams.connector.messages("a:stranger-chat")
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
        await teams.connector.wait_for(replies_in("a:dana-chat", "It closes Dec 31."))
        assert teams.bot.store.reference("user", "u-dana") is not None


# ----------------------------------------------------------------------------- review cards


async def _discount_waiting_for_maria(teams: Teams) -> tuple[str, str]:
    """Maria has talked to the bot; Alice asks for a discount; Maria gets the card."""
    await teams.say("pending", MARIA, MARIA_CHAT)
    assert teams.connector.messages(MARIA_CHAT)[-1].text == messages.NOTHING_PENDING
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
            card_execute("approve", approval_id, card_id=card_id, **teams.to(OMAR, personal(OMAR_CHAT)))
        )
        assert status == 200
        assert body["type"] == "application/vnd.microsoft.activity.message"
        assert "Only u-maria may decide" in body["value"]
        # the same through a classic submit: a refusal message, the card is not updated
        status, _ = await teams.post(
            card_submit("approve", approval_id, card_id=card_id, **teams.to(OMAR, personal(OMAR_CHAT)))
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
        updates = [c for c in teams.connector.calls if c.verb == "update"]
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
        assert body["statusCode"] == 400 and body["value"]["message"] == messages.REJECT_NEEDS_REASON
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
        [card_call] = [c for c in teams.connector.calls if c.cards]
        assert card_call.conversation_id == MARIA_CHAT
