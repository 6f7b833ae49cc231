"""`warroom ingest` (file, folder, dry run, JSON, a second run, --watch) and `POST /ingest`
over loopback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from typer.testing import CliRunner

from channels.http_api import build_api
from channels.meetings import MeetingService
from channels.meetings.result import IngestFailure, MeetingResult
from channels.meetings.watch import watch_folder
from tools.api_tokens import ApiTokens, digest
from tools.db import Database
from tools.fixtures import load_fixture
from tools.models import Task
from tools.service import CRMService
from warroom.cli import app

from .conftest import ACME_EXTRACTION, FIXTURES, meeting_company, scripted

runner = CliRunner()


@pytest.fixture
def cli_crm(tmp_path: Path) -> Database:
    """The database `warroom` uses in tests (WARROOM_DATA_DIR is tmp_path/data)."""
    (tmp_path / "data").mkdir(exist_ok=True)
    db = Database(f"sqlite:///{tmp_path / 'data' / 'crm.sqlite3'}")
    load_fixture(db, meeting_company())
    yield db
    db.dispose()


def test_cli_ingests_a_file_then_says_it_already_did(cli_crm: Database, tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([ACME_EXTRACTION]))
    vtt = FIXTURES / "acme-2026-11-20.vtt"
    args = ["ingest", str(vtt), "--as", "u-alice", "--llm", "scripted", "--script", str(script),
            "--json", "out.json", "--no-memory"]  # fmt: skip
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "acc-acme" in first.output and "pending_approval" in first.output
    written = json.loads((tmp_path / "out.json").read_text())
    assert len(written) == 1 and written[0]["account_id"] == "acc-acme"
    assert written[0]["ingestion"]["status"] == "applied"
    with cli_crm.read_session() as s:
        tasks = s.query(Task).filter(Task.account_id == "acc-acme").count()
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "Already ingested" in again.output
    with cli_crm.read_session() as s:
        assert s.query(Task).filter(Task.account_id == "acc-acme").count() == tasks


def test_cli_folder_dry_run_reports_bad_files_and_exits_1(cli_crm: Database) -> None:
    result = runner.invoke(app, ["ingest", str(FIXTURES), "--as", "u-admin", "--dry-run",
                                 "--llm", "scripted", "--json", "-"])  # fmt: skip
    assert result.exit_code == 1
    # `--json -`: stdout is the JSON alone; the outcomes in words go to stderr.
    listed = json.loads(result.stdout)
    assert any(r.get("error", "").endswith("the file is empty; there is no transcript to read.")
               for r in listed)  # fmt: skip
    assert "empty.vtt: refused: " in result.stderr and "the file is empty" in result.stderr
    assert "Dry run: nothing was written." in result.stderr
    with cli_crm.read_session() as s:
        assert s.query(Task).count() == 0


def test_cli_refuses_unknown_user_and_missing_path(cli_crm: Database) -> None:
    unknown = runner.invoke(app, ["ingest", str(FIXTURES), "--as", "u-ghost", "--llm", "scripted"])
    assert unknown.exit_code == 2 and "no user 'u-ghost'" in unknown.output
    neither = runner.invoke(app, ["ingest", "--as", "u-alice"])
    assert neither.exit_code == 2 and "Give a PATH" in neither.output


async def test_watch_ingests_files_as_they_land(meeting_crm: CRMService, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "old.vtt").write_bytes((FIXTURES / "acme-followup.srt").read_bytes())  # already there
    svc = MeetingService(crm=meeting_crm, model=scripted(ACME_EXTRACTION))
    seen: list[MeetingResult | IngestFailure] = []

    async def drop_files() -> None:
        await asyncio.sleep(0.8)
        (inbox / ".partial.vtt").write_text("WEBVTT\n")  # hidden: ignored
        (inbox / "bad.vtt").write_text("")
        await asyncio.sleep(0.8)
        (inbox / "acme.vtt").write_bytes((FIXTURES / "acme-2026-11-20.vtt").read_bytes())

    dropper = asyncio.create_task(drop_files())
    handled = await watch_folder(svc, inbox, actor_id="u-alice", report=seen.append,
                                 max_files=2, seconds=30)  # fmt: skip
    await dropper
    assert handled == 2
    assert isinstance(seen[0], IngestFailure) and "bad.vtt" in seen[0].reason
    assert isinstance(seen[1], MeetingResult) and seen[1].account_id == "acc-acme"


async def test_watch_stops_at_its_time_limit(meeting_crm: CRMService, tmp_path: Path) -> None:
    svc = MeetingService(crm=meeting_crm, model=None)
    handled = await asyncio.wait_for(
        watch_folder(svc, tmp_path, actor_id="u-alice", report=print, seconds=0.5), timeout=20
    )
    assert handled == 0


@pytest.fixture
async def api(meeting_crm: CRMService):  # type: ignore[no-untyped-def]
    svc = MeetingService(crm=meeting_crm, model=scripted(ACME_EXTRACTION), max_bytes=5000)
    tokens = ApiTokens({digest("s3cret"): "u-alice", digest("b0b"): "u-bob"})
    server = TestServer(build_api(meetings=svc, crm=meeting_crm, tokens=tokens),
                        host="127.0.0.1")  # fmt: skip
    await server.start_server()
    async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as session:
        yield session
    await server.close()


HEADERS = {"Authorization": "Bearer s3cret", "X-Warroom-User": "u-alice"}


async def test_api_multipart_upload(api: aiohttp.ClientSession) -> None:
    form = aiohttp.FormData()
    form.add_field("file", (FIXTURES / "acme-2026-11-20.vtt").read_bytes(), filename="acme.vtt")
    async with api.post("/ingest", data=form, headers=HEADERS) as response:
        assert response.status == 200
        body = await response.json()
    assert body["account_id"] == "acc-acme" and body["source"]["path"] == "acme.vtt"
    assert any(c["status"] == "pending_approval" for c in body["proposed_changes"])
    raw = (FIXTURES / "acme-2026-11-20.vtt").read_bytes()
    async with api.post("/ingest?filename=again.vtt", data=raw, headers=HEADERS) as response:
        assert (await response.json())["ingestion"]["status"] == "already_ingested"
    async with api.get("/healthz") as response:
        assert response.status == 200 and (await response.json()) == {"ok": True}


async def test_api_raw_body_dry_run(api: aiohttp.ClientSession) -> None:
    raw = (FIXTURES / "acme-2026-11-20.vtt").read_bytes()
    headers = {**HEADERS, "X-Filename": "call.vtt"}
    async with api.post("/ingest?dry_run=1", data=raw, headers=headers) as response:
        body = await response.json()
    assert response.status == 200 and body["ingestion"]["status"] == "dry_run"


@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        ({}, 401, "bearer token"),
        ({"Authorization": "Bearer wrong", "X-Warroom-User": "u-alice"}, 401, "bearer token"),
        ({"Authorization": "Bearer s3cret"}, 400, "Name the file"),  # the token says who
        # A token acts as its own user only (tokens are bound to users, stored hashed).
        ({"Authorization": "Bearer s3cret", "X-Warroom-User": "u-ghost"}, 403, "u-ghost"),
        ({"Authorization": "Bearer s3cret", "X-Warroom-User": "u-bob"}, 403, "cannot act as"),
        ({"Authorization": "Bearer b0b", "X-Warroom-User": "u-alice"}, 403, "cannot act as"),
        ({"Authorization": "s3cret"}, 401, "bearer token"),
        (HEADERS, 400, "Name the file"),
    ],
)
async def test_api_refusals(api: aiohttp.ClientSession, headers: dict[str, str], status: int,
                            words: str) -> None:  # fmt: skip
    async with api.post("/ingest", data=b"WEBVTT\n", headers=headers) as response:
        assert response.status == status
        assert words in (await response.json())["error"]


async def test_api_bad_file_and_size_limit(api: aiohttp.ClientSession) -> None:
    async with api.post("/ingest?filename=empty.vtt", data=b"", headers=HEADERS) as response:
        assert response.status == 400
        assert "empty.vtt: the file is empty" in (await response.json())["error"]
    async with api.post("/ingest?filename=big.txt", data=b"a: b\n" * 2000,
                        headers=HEADERS) as response:  # fmt: skip
        assert response.status == 413
        assert "limit is 5,000 bytes" in (await response.json())["error"]
    form = aiohttp.FormData()
    form.add_field("file", b"a: b\n" * 2000, filename="big.txt")
    async with api.post("/ingest", data=form, headers=HEADERS) as response:
        assert response.status == 413


def test_api_needs_a_token(meeting_crm: CRMService) -> None:
    with pytest.raises(ValueError, match="api-token add"):
        build_api(meetings=MeetingService(crm=meeting_crm), crm=meeting_crm, tokens=ApiTokens())


def test_token_file_keeps_digests_only(tmp_path: Path) -> None:
    path = tmp_path / "api_tokens"
    token = ApiTokens.issue(path, "u-alice")
    stored = path.read_text()
    assert token not in stored and digest(token) in stored and (path.stat().st_mode & 0o077) == 0
    ApiTokens.issue(path, "u-bob")
    loaded = ApiTokens.load(path)
    assert loaded.user_of(token) == "u-alice" and loaded.user_of("guess") is None
    assert ApiTokens.revoke(path, "u-alice") == 1 and ApiTokens.load(path).user_of(token) is None
