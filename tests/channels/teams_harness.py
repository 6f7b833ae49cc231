"""The running Teams bot for tests: real CloudAdapter and aiohttp server on 127.0.0.1, a
scripted model, a fresh CRM, and the fake Bot Connector API that receives what the bot sends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter
from sqlalchemy import func, select

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from channels.identity import IdentityResolver, load_identity_map
from channels.teams.auth import build_authentication
from channels.teams.bot import TeamsBot
from channels.teams.server import create_web_app
from channels.teams.store import ConversationStore
from tests.channels.teams_fakes import ConnectorCall, FakeConnector, account, message, personal
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

CLOSE_DATE = [{"agent": "sales", "reply": "It closes soon."}]
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
    connector = FakeConnector(
        members={"29:dana": {"name": "Dana Kim", "email": "DANA@warroom.example"}}
    )
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


def replies_in(
    conversation: str, containing: str
) -> Callable[[list[ConnectorCall]], list[ConnectorCall]]:
    return lambda calls: [
        c
        for c in calls
        if c.verb in ("send", "reply")
        and c.conversation_id == conversation
        and containing in (c.body.get("text") or "")
    ]
