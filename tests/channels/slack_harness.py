"""The running Slack app for tests: the real Bolt app served over HTTP on 127.0.0.1, a scripted
model, a fresh small CRM, and the fake Slack Web API that receives what the app sends. Requests
are signed as Slack signs them."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import yaml
from slack_sdk.signature import SignatureVerifier

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from channels.slack import cards
from channels.slack.channel import SlackChannel
from channels.slack.config import SlackConfig
from channels.slack.server import (
    EVENTS_PATH,
    build_channel,
    conversations_on,
    serving_http,
    serving_socket_mode,
)
from channels.slack.worker import WorkerLoop
from tests.channels.slack_fake_api import (
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER,
    TEAM,
    FakeSlackAPI,
    SlackUser,
)
from tests.conftest import TODAY, small_company
from tools.context import FixedClock
from tools.db import Database
from tools.fixtures import load_fixture
from tools.policy import Policy
from tools.service import CRMService
from warroom.app import App
from warroom.settings import DEFAULT_POLICY_PATH, Settings

SECRET = "test-signing-secret"
ALICE = SlackUser("UALICE", "Alice@warroom.example")  # found by her profile email
MARIA = SlackUser("UMARIA", None)  # no email shared: linked by the identity map
OMAR = SlackUser("UOMAR", "omar@warroom.example")
STRANGER = SlackUser("USTRANGER", "mallory@elsewhere.example")
IDENTITIES = {"slack": {"UMARIA": "u-maria"}}
CHANNEL = "CSALES"

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

_event_ids = itertools.count(1)


def mention(text: str, *, user: str = ALICE.id, ts: str, thread_ts: str | None = None) -> dict:
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "channel": CHANNEL,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def direct_message(text: str, *, user: str = ALICE.id, ts: str, **extra: Any) -> dict:
    return {
        "type": "message",
        "channel_type": "im",
        "channel": "D" + user,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        **extra,
    }


@dataclass
class Delivery:
    status: int
    text: str
    seconds: float


@dataclass
class SlackStack:
    url: str
    fake: FakeSlackAPI
    channel: SlackChannel
    crm: CRMService
    model: ScriptedChatModel
    session: aiohttp.ClientSession
    verifier: SignatureVerifier = field(default_factory=lambda: SignatureVerifier(SECRET))

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Delivery:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        signed = (
            signature
            if signature is not None
            else self.verifier.generate_signature(timestamp=stamp, body=body)
        )
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signed,
            **(headers or {}),
        }
        started = time.perf_counter()
        async with self.session.post(self.url, data=body.encode(), headers=all_headers) as resp:
            text = await resp.text()
        return Delivery(resp.status, text, time.perf_counter() - started)

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry: int | None = None,
        **signing: Any,
    ) -> Delivery:
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": TEAM,
                "api_app_id": "AWARROOM",
                "type": "event_callback",
                "event": event,
                "event_id": event_id or f"Ev{next(_event_ids):08d}",
                "event_time": int(time.time()),
            }
        )
        headers = (
            {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
            if retry
            else None
        )
        return await self.post(body, "application/json", headers=headers, **signing)

    async def command(self, text: str, *, user: str = ALICE.id, key: str = "cmd") -> Delivery:
        form = {
            "command": "/warroom",
            "text": text,
            "user_id": user,
            "team_id": TEAM,
            "channel_id": CHANNEL,
            "response_url": self.fake.response_url(key),
            "trigger_id": "trig-1",
            "token": "legacy",
        }
        return await self.post(urlencode(form), "application/x-www-form-urlencoded")

    async def interact(self, payload: dict[str, Any]) -> Delivery:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded")

    async def click(
        self, action_id: str, approval_id: str, *, user: str, card: tuple[str, str]
    ) -> Delivery:
        channel, ts = card
        return await self.interact(
            {
                "type": "block_actions",
                "team": {"id": TEAM},
                "user": {"id": user},
                "api_app_id": "AWARROOM",
                "token": "legacy",
                "trigger_id": f"trig-{user}",
                "container": {"type": "message", "channel_id": channel, "message_ts": ts},
                "channel": {"id": channel},
                "message": {"ts": ts},
                "response_url": self.fake.response_url(f"click-{user}"),
                "actions": [
                    {
                        "action_id": action_id,
                        "block_id": f"review:{approval_id}",
                        "value": approval_id,
                        "type": "button",
                    }
                ],
            }
        )

    async def submit(self, view: dict[str, Any], *, user: str, values: dict[str, str]) -> Delivery:
        inputs = {
            cards.REASON_BLOCK: cards.REASON_INPUT,
            cards.ARGUMENTS_BLOCK: cards.ARGUMENTS_INPUT,
            cards.COMMENT_BLOCK: cards.COMMENT_INPUT,
        }
        state = {
            block: {inputs[block]: {"type": "plain_text_input", "value": value}}
            for block, value in values.items()
        }
        return await self.interact(
            {
                "type": "view_submission",
                "team": {"id": TEAM},
                "user": {"id": user},
                "api_app_id": "AWARROOM",
                "token": "legacy",
                "trigger_id": "trig-view",
                "view": {**view, "id": "V0001", "state": {"values": state}},
            }
        )

    async def wait_for(self, check: Callable[[], Any], *, what: str, within: float = 10.0) -> Any:
        """Poll until `check()` is truthy (returns it); fails after `within` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out after {within}s waiting for {what}")

    async def settle(self, within: float = 10.0) -> None:
        """Wait until the app has no background work left."""
        await self.wait_for(lambda: self.channel.busy == 0, what="background work", within=within)

    def card_of(self, approval_id: str, reviewer_channel: str) -> tuple[str, str]:
        """Where the review card was posted (channel, ts)."""
        for call in self.fake.calls:
            if (
                call.method == "chat.postMessage"
                and call.args.get("channel") == reviewer_channel
                and approval_id in json.dumps(call.args.get("blocks") or [])
            ):
                return reviewer_channel, call.result["ts"]
        raise AssertionError(f"no card for {approval_id} in {reviewer_channel}")


@asynccontextmanager
async def slack_stack(
    tmp_path: Path,
    *,
    steps: list[dict[str, Any]] | None = None,
    users: list[SlackUser] | None = None,
    ingest: Any = None,
    ingest_errors: tuple[type[BaseException], ...] = (),
    review_channel: str | None = None,
    max_file_bytes: int = 1_000_000,
    convo_factory: Callable[[CRMService], ConversationService] | None = None,
    socket_mode: bool = False,
    bot_token: str = BOT_TOKEN,
    api_url: str | None = None,
    real_meetings: bool = False,
    database_url: str | None = None,
    durable_convo: Callable[[CRMService, Any], ConversationService] | None = None,
) -> AsyncIterator[SlackStack]:
    """`real_meetings`: the app's default ingestion (channels.meetings) instead of `ingest`.
    `database_url`: a database shared with other stacks (replicas), seeded by the caller.
    `durable_convo(crm, checkpointer)`: the conversation service on the database's durable
    checkpointer, opened on the worker loop as in production (instead of `convo_factory`)."""
    await asyncio.to_thread(tmp_path.mkdir, parents=True, exist_ok=True)
    db_url = database_url or f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    db = Database(db_url)
    if database_url is None:
        load_fixture(db, small_company())
    crm = CRMService(db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=FixedClock.on(TODAY, 12))
    model = ScriptedChatModel(steps or [])
    # as in production: the agents' work on a loop in its own thread, the acks on this one
    worker = WorkerLoop().start()
    durable = AsyncExitStack()
    if durable_convo is not None:
        convo = await durable.enter_async_context(
            conversations_on(worker, database_url=db_url, build=lambda s: durable_convo(crm, s))
        )
    else:
        convo = convo_factory(crm) if convo_factory else ConversationService(crm=crm, model=model)
    identity_map = tmp_path / "identities.yaml"
    identity_map.write_text(yaml.safe_dump(IDENTITIES))
    fake = FakeSlackAPI(users if users is not None else [ALICE, MARIA, OMAR, STRANGER])
    await fake.start()
    settings = Settings(
        database_url=db_url,
        identity_map_path=identity_map,
        slack_bot_token=bot_token,
        slack_signing_secret=SECRET,
        slack_app_token=APP_TOKEN,
        slack_api_url=api_url or fake.api_url,
        slack_review_channel=review_channel,
        ingest_max_bytes=max_file_bytes,
    )
    config = SlackConfig.from_settings(settings, socket_mode=socket_mode)
    config = replace(config, progress_interval=0.0)
    ingestion = {} if real_meetings else {"ingest": ingest, "ingest_errors": ingest_errors}
    channel = build_channel(
        app=App(settings), convo=convo, config=config, worker=worker, **ingestion
    )
    try:
        async with aiohttp.ClientSession() as session:
            if socket_mode:
                async with serving_socket_mode(channel):
                    yield SlackStack("", fake, channel, crm, model, session)
            else:
                async with serving_http(channel, host="127.0.0.1", port=0) as base:
                    yield SlackStack(base + EVENTS_PATH, fake, channel, crm, model, session)
    finally:
        await durable.aclose()
        worker.stop()
        await fake.stop()
        db.dispose()
