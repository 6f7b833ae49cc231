"""Hostile input on every HTTP endpoint warroom serves (the Slack app, the Teams bot, the HTTP
API): each request is answered 4xx with a short reason, never 5xx, and nothing is written (every
CRM table keeps its row count; the fake Slack and Bot Connector APIs receive nothing)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, inspect, select, table

import channels.http_guard as http_guard
from tests.channels.slack_harness import SECRET, SlackStack, mention, slack_stack
from tests.channels.teams_fakes import TokenIssuer, message, personal
from tests.channels.teams_harness import (
    ALICE,
    ALICE_CHAT,
    APP_ID,
    CLOSE_DATE,
    auth_on,
    replies_in,
    static_tokens,
    teams_server,
)
from tools.db import Database


def row_counts(db: Database) -> dict[str, int]:
    names = inspect(db.engine).get_table_names()
    with db.read_session() as session:
        return {
            n: int(session.scalar(select(func.count()).select_from(table(n))) or 0) for n in names
        }


async def raw_request(url: str, request: bytes, *, pause: float = 0.0) -> tuple[int, bytes]:
    """Send bytes as they are (headers aiohttp's client would refuse to send); the status of
    the answer, or 0 when the server closed the connection without one."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        if pause:
            await asyncio.sleep(pause)
        answer = await asyncio.wait_for(reader.read(65536), timeout=30)
    finally:
        writer.close()
    if not answer:
        return 0, b""
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[-1]


def signed_headers(stack: SlackStack, body: str, content_type: str = "application/json") -> bytes:
    stamp = str(int(time.time()))
    signature = stack.verifier.generate_signature(timestamp=stamp, body=body)
    return (
        f"Content-Type: {content_type}\r\nX-Slack-Request-Timestamp: {stamp}\r\n"
        f"X-Slack-Signature: {signature}\r\n"
    ).encode()


@pytest.fixture
def no_slow_waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(http_guard, "BODY_SECONDS", 0.5)
    yield


async def test_hostile_slack_requests_get_4xx_and_write_nothing(
    tmp_path: Path, no_slow_waits: None
) -> None:
    async with slack_stack(tmp_path, steps=[]) as slack:
        db = slack.crm.db
        before = row_counts(db)
        calls_before = len(slack.fake.calls)
        answers: dict[str, tuple[int, str]] = {}

        async def post(
            name: str, body: str, content_type: str = "application/json", **kw: object
        ) -> None:
            got = await slack.post(body, content_type, **kw)  # type: ignore[arg-type]
            answers[name] = (got.status, got.text)

        await post("timestamp not a number", "{}", headers={"X-Slack-Request-Timestamp": "abc"})
        await post("timestamp huge", "{}", headers={"X-Slack-Request-Timestamp": "9" * 5000})
        await post("unsigned", json.dumps({"type": "event_callback"}), signature="v0=00")
        await post("malformed JSON, signed", '{"type": "event_callback", ')
        await post("JSON list, signed", "[1, 2]")
        await post("deep JSON, signed", "[" * 100_000 + "]" * 100_000)
        await post(
            "event not an object",
            json.dumps({"type": "event_callback", "event": "x", "event_id": "Ev1"}),
        )
        await post(
            "event without a channel",
            json.dumps(
                {
                    "type": "event_callback",
                    "event": {"type": "app_mention", "ts": "1.0", "user": "UALICE"},
                    "event_id": "Ev2",
                }
            ),
        )
        await post("malformed form payload", "payload=%7Bnot", "application/x-www-form-urlencoded")
        await post("form payload a list", "payload=%5B%5D", "application/x-www-form-urlencoded")
        await post("unknown content type", "hello", "text/plain")
        await post("too large", json.dumps({"pad": "x" * 1_200_000}))

        # bytes aiohttp's client will not send: raw requests
        body = json.dumps({"type": "event_callback", "event": mention("hi", ts="5.0")})
        for name, request in {
            "non-UTF-8 signature header": (
                b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"X-Slack-Request-Timestamp: 1\r\nX-Slack-Signature: v0=\xff\xfe\r\n"
                b"Content-Length: 2\r\n\r\n{}"
            ),
            "non-UTF-8 body": (
                b"POST /slack/events HTTP/1.1\r\nHost: x\r\n"
                + signed_headers(slack, "{}")
                + b"Content-Length: 1\r\n\r\n\xff"
            ),
        }.items():
            status, text = await raw_request(slack.url, request)
            answers[name] = (status, text.decode("utf-8", "replace"))
        # a slow client: the body never finishes
        status, text = await raw_request(
            slack.url,
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\n"
            + signed_headers(slack, body)
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:10].encode(),
        )
        answers["slow body"] = (status, text.decode())

        await asyncio.sleep(0.3)
        await slack.settle()
        for name, (status, text) in answers.items():
            assert 400 <= status < 500, f"{name}: {status} {text}"
            if status != 401 or "signed" in text:
                assert json.loads(text)["error"], name
        assert answers["slow body"][0] == 408
        assert answers["too large"][0] == 413
        assert answers["unsigned"][0] == 401
        assert row_counts(db) == before
        assert len(slack.fake.calls) == calls_before
        # and the app still works
        assert (await slack.event(mention("hello", ts="6.0"))).status == 200


async def test_the_secret_is_checked_before_the_body_is_parsed(tmp_path: Path) -> None:
    async with slack_stack(tmp_path) as slack:
        got = await slack.post("[not json", "application/json", signature="v0=" + "0" * 64)
        assert got.status == 401
        got = await slack.post("[not json", "application/json")
        assert got.status == 400 and "not valid JSON" in got.text
    assert SECRET  # the harness signs with it


async def test_an_idle_connection_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_guard, "IDLE_SECONDS", 0.5)
    async with slack_stack(tmp_path) as slack:
        started = time.monotonic()
        # half a request line, then nothing
        status, _ = await raw_request(slack.url, b"POST /slack/ev")
        assert status in (0, 400, 408)
        assert time.monotonic() - started < 20
        async with (
            aiohttp.ClientSession() as session,
            session.get(slack.url.replace("/slack/events", "/healthz")) as resp,
        ):
            assert resp.status == 200


API_HEADERS = {"Authorization": "Bearer s3cret", "X-Warroom-User": "u-alice"}


@pytest.fixture
async def api_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestServer

    from channels.http_api import build_api
    from channels.meetings import MeetingService
    from tests.meetings.conftest import ACME_EXTRACTION, MEETING_DAY, meeting_company, scripted
    from tools.api_tokens import ApiTokens
    from tools.context import FixedClock
    from tools.fixtures import load_fixture
    from tools.policy import Policy
    from tools.service import CRMService
    from warroom.settings import DEFAULT_POLICY_PATH

    db = Database(f"sqlite:///{tmp_path / 'api.sqlite3'}")
    load_fixture(db, meeting_company())
    crm = CRMService(
        db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=FixedClock.on(MEETING_DAY, 15)
    )
    svc = MeetingService(crm=crm, model=scripted(ACME_EXTRACTION), max_bytes=5000)
    tokens = ApiTokens.single("u-alice", "s3cret")
    server = TestServer(build_api(meetings=svc, crm=crm, tokens=tokens), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/ingest")), db
    await server.close()
    db.dispose()


async def test_hostile_api_requests_get_4xx_and_write_nothing(
    api_server: tuple[str, Database], no_slow_waits: None
) -> None:
    url, db = api_server
    before = row_counts(db)
    answers: dict[str, tuple[int, str]] = {}
    boundary = "XyZ"
    multipart = f"multipart/form-data; boundary={boundary}"
    cases: dict[str, tuple[bytes, dict[str, str]]] = {
        "multipart without boundary": (b"--x\r\n", {"Content-Type": "multipart/form-data"}),
        "multipart garbage": (b"\x00\x01garbage", {"Content-Type": multipart}),
        "multipart part without headers end": (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"'.encode(),
            {"Content-Type": multipart},
        ),
        "multipart unterminated": (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="a.vtt"\r\n\r\nWEBVTT\n'.encode(),
            {"Content-Type": multipart},
        ),
        "multipart field not UTF-8": (
            f'--{boundary}\r\nContent-Disposition: form-data; name="dry_run"\r\n\r\n'.encode()
            + b"\xff\xfe\r\n"
            + f"--{boundary}--\r\n".encode(),
            {"Content-Type": multipart},
        ),
        "multipart nested": (
            f"--{boundary}\r\nContent-Type: multipart/mixed; boundary=in\r\n"
            f'Content-Disposition: form-data; name="file"\r\n\r\n--in\r\n\r\nx\r\n--in--\r\n'
            f"--{boundary}--\r\n".encode(),
            {"Content-Type": multipart},
        ),
        "body too large": (b"a: b\n" * 300_000, {"X-Filename": "big.txt"}),
    }
    async with aiohttp.ClientSession() as session:
        for name, (body, headers) in cases.items():
            async with session.post(url, data=body, headers={**API_HEADERS, **headers}) as resp:
                answers[name] = (resp.status, await resp.text())
    for name, request in {
        "non-UTF-8 user header": (
            b"POST /ingest?filename=a.vtt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
            b"X-Warroom-User: u-\xff\r\nContent-Length: 7\r\n\r\nWEBVTT\n"
        ),
        "slow body": (
            b"POST /ingest?filename=a.vtt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
            b"X-Warroom-User: u-alice\r\nContent-Length: 4000\r\n\r\nWEBVTT\n"
        ),
    }.items():
        status, text = await raw_request(url, request)
        answers[name] = (status, text.decode("utf-8", "replace"))
    for name, (status, text) in answers.items():
        assert 400 <= status < 500, f"{name}: {status} {text}"
        assert json.loads(text)["error"], name
    assert answers["slow body"][0] == 408
    assert answers["body too large"][0] == 413
    assert row_counts(db) == before


async def test_hostile_teams_requests_get_4xx_and_write_nothing(
    tmp_path: Path, no_slow_waits: None, teams_issuer: TokenIssuer
) -> None:
    async with teams_server(
        tmp_path, CLOSE_DATE, settings=auth_on(tmp_path), token_provider=static_tokens
    ) as teams:
        db = teams.crm.db
        before = row_counts(db)
        token = teams_issuer.token(audience=APP_ID, service_url=teams.connector.url)
        good = message("When does the deal close?", **teams.to(ALICE, personal(ALICE_CHAT)))
        answers: dict[str, tuple[int, str]] = {}

        async def post(
            name: str, body: bytes, content_type: str = "application/json", signed: bool = True
        ) -> None:
            headers = {"Content-Type": content_type}
            if signed:
                headers["Authorization"] = f"Bearer {token}"
            async with teams.http.post(teams.endpoint, data=body, headers=headers) as resp:
                answers[name] = (resp.status, await resp.text())

        def without(path: str) -> bytes:
            head, _, last = path.rpartition(".")
            body = json.loads(json.dumps(good))
            (body[head] if head else body).pop(last)
            return json.dumps(body).encode()

        await post("no token", json.dumps(good).encode(), signed=False)
        await post("wrong content type", json.dumps(good).encode(), "text/plain")
        await post("form body", b"type=message", "application/x-www-form-urlencoded")
        await post("malformed JSON", b'{"type": "message", ')
        await post("JSON list", b"[1, 2]")
        await post("JSON string", b'"message"')
        await post("deep JSON", b"[" * 100_000 + b"]" * 100_000)
        await post("huge body", json.dumps(dict(good, text="x" * 1_000_000)).encode())
        await post("no type", without("type"))
        await post("no service URL", without("serviceUrl"))
        await post("no conversation id", without("conversation.id"))
        await post("no sender id", without("from.id"))
        await post("no recipient", without("recipient"))
        await post("sender not an object", json.dumps(dict(good, **{"from": "x"})).encode())
        await post("entities not a list", json.dumps(dict(good, entities="x")).encode())
        await post("invoke without a name", json.dumps(dict(good, type="invoke")).encode())

        auth = f"Authorization: Bearer {token}\r\n".encode()
        body = json.dumps(good).encode()
        for name, request in {
            "non-UTF-8 header": (
                b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + auth
                + b"X-Ms-Conversation-Id: a:\xff\xfe\r\nContent-Length: 2\r\n\r\n{}"
            ),
            "non-UTF-8 token": (
                b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer \xff\xfe\r\nContent-Length: 2\r\n\r\n{}"
            ),
            "non-UTF-8 body": (
                b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + auth
                + b"Content-Length: 1\r\n\r\n\xff"
            ),
            "slow body": (
                b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + auth
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[:10]
            ),
        }.items():
            status, text = await raw_request(teams.endpoint, request)
            answers[name] = (status, text.decode("utf-8", "replace"))

        await asyncio.sleep(0.3)
        for name, (status, text) in answers.items():
            assert 400 <= status < 500, f"{name}: {status} {text}"
            assert json.loads(text)["error"], name
        assert answers["no token"][0] == 401
        assert answers["wrong content type"][0] == 415
        assert answers["huge body"][0] == 413
        assert answers["slow body"][0] == 408
        assert (
            answers["no conversation id"][1]
            == '{"error": "The activity has no \'conversation.id\'."}'
        )
        assert row_counts(db) == before
        assert teams.connector.calls == [] and teams.model.remaining == 1
        # and the bot still works
        status, _ = await teams.post(good, token=token)
        assert status == 200
        await teams.connector.wait_for(replies_in(ALICE_CHAT, "It closes soon."))
