"""The running Teams bot for tests: the Agents SDK's CloudAdapter behind the real aiohttp
server on 127.0.0.1 (HTTP guard, inbox worker and relay included), a scripted model, a fresh
CRM, and the fake Bot Connector API that receives what the bot sends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from sqlalchemy import func, select

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from channels.identity import IdentityResolver, load_identity_map
from channels.teams.auth import build_auth
from channels.teams.bot import TeamsBot
from channels.teams.server import build_bot, serving
from tests.channels.teams_fakes import (
    ConnectorCall,
    FakeConnector,
    StaticTokenProvider,
    account,
    message,
    personal,
)
from tests.conftest import TODAY, small_company
from tools.context import FixedClock
from tools.db import Database
from tools.fixtures import load_fixture
from tools.models import ChannelEvent, Opportunity, ToolExecution
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

APP_ID = "00000000-aaaa-4bbb-8ccc-000000000001"
OUTBOUND_TOKEN = "outbound-token-for-the-connector"
CLIENT_SECRET = "a-client-secret-of-at-least-thirty-two-bytes"

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

    async def ask(self, text: str, sender: dict[str, Any], chat: str) -> ConnectorCall:
        """Say something and wait for the next message the bot sends to that chat."""
        seen = len(self.connector.messages(chat))
        await self.say(text, sender, chat)
        found = await self.connector.wait_for(lambda _: self.connector.messages(chat)[seen:])
        return found[0]

    def stored_events(self) -> int:
        with self.crm.db.read_session() as s:
            return s.scalar(select(func.count()).select_from(ChannelEvent)) or 0

    def discount(self) -> float:
        with self.crm.db.read_session() as s:
            return float(s.get(Opportunity, "opp-acme-1").discount_percent)

    def writes(self) -> int:
        with self.crm.db.read_session() as s:
            return s.scalar(select(func.count()).select_from(ToolExecution)) or 0


def auth_on(tmp_path: Path, **more: Any) -> Settings:
    """Settings of a bot whose JWT validation is on (tokens from `TokenIssuer`)."""
    return Settings(
        identity_map_path=tmp_path / "identities.yaml",
        teams_app_id=APP_ID,
        teams_app_password=CLIENT_SECRET,
        **more,
    )


def static_tokens(configuration: Any) -> StaticTokenProvider:
    return StaticTokenProvider(configuration, OUTBOUND_TOKEN)


@asynccontextmanager
async def teams_server(
    tmp_path: Path,
    script: list[dict[str, Any]],
    *,
    settings: Settings | None = None,
    token_provider: Any = None,
) -> AsyncIterator[Teams]:
    db = Database(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    load_fixture(db, small_company())
    crm = CRMService(
        db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=FixedClock.on(TODAY, hour=12)
    )
    map_path = tmp_path / "identities.yaml"
    map_path.write_text(yaml.safe_dump(IDENTITIES), encoding="utf-8")
    settings = settings or Settings(identity_map_path=map_path, teams_skip_auth=True)
    connector = FakeConnector(
        members={"29:dana": {"name": "Dana Kim", "email": "DANA@warroom.example"}}
    )
    await connector.start()
    if settings.teams_review_channel:
        settings = settings.model_copy(update={"teams_service_url": connector.url})
    auth = build_auth(settings, token_provider=token_provider)
    model = ScriptedChatModel(script)
    bot = build_bot(
        settings=settings,
        db=db,
        convo=ConversationService(crm=crm, model=model),
        auth=auth,
        identities=IdentityResolver(db, load_identity_map(map_path)),
        poll_seconds=0.05,
        lease_seconds=1.0,
    )
    try:
        async with (
            serving(bot, host="127.0.0.1", port=0) as base,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
        ):
            yield Teams(f"{base}/api/messages", connector, bot, crm, model, http)
    finally:
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
