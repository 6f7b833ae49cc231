"""`warroom ingest` as a tool people run: outcomes in words, exit status, JSON only on stdout,
paths checked before a model starts, non-ISO meeting dates, what a folder may hand over, and
records the user may not see never named."""

from __future__ import annotations

import json
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from channels.meetings import MeetingService
from channels.meetings.extract import chunk_segments
from channels.meetings.parsers import parse_transcript
from channels.meetings.result import IngestFailure, MeetingResult
from tools.db import Database
from tools.fixtures import load_fixture
from tools.models import MeetingIngestion, MeetingWindow
from tools.service import CRMService
from warroom.cli import app

from .conftest import FIXTURES, extraction, meeting_company, scripted

runner = CliRunner()
SET = Path(__file__).resolve().parents[2] / "evals" / "meetings"
ACME_NOTE = "Alice Wong: Quick sync with Acme Corp about the rollout.\n"


@pytest.fixture
def cli_crm(tmp_path: Path) -> Iterator[Database]:
    """The database `warroom` uses in tests (WARROOM_DATA_DIR is tmp_path/data)."""
    (tmp_path / "data").mkdir(exist_ok=True)
    db = Database(f"sqlite:///{tmp_path / 'data' / 'crm.sqlite3'}")
    load_fixture(db, meeting_company())
    yield db
    db.dispose()


def _ingest(*args: str) -> object:
    return runner.invoke(app, ["ingest", *args, "--llm", "scripted", "--no-memory"])


def _json(*args: str) -> tuple[int, list[dict[str, object]], str]:
    result = runner.invoke(
        app, ["ingest", *args, "--llm", "scripted", "--no-memory", "--json", "-"]
    )
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_every_file_ingested_exits_0_and_says_so(cli_crm: Database, tmp_path: Path) -> None:
    notes = tmp_path / "acme.txt"
    notes.write_text(ACME_NOTE, encoding="utf-8")
    first = _ingest(str(notes), "--as", "u-alice")
    assert first.exit_code == 0, first.output
    assert f"{notes}: ingested" in first.output
    assert "1 file(s): 1 ingested, 0 refused." in first.output
    again = _ingest(str(notes), "--as", "u-alice")
    assert again.exit_code == 0
    assert f"{notes}: already ingested" in again.output


def test_json_dash_prints_json_only(cli_crm: Database, tmp_path: Path) -> None:
    (tmp_path / "acme.txt").write_text(ACME_NOTE, encoding="utf-8")
    code, listed, stderr = _json(str(tmp_path / "acme.txt"), "--as", "u-alice")
    assert code == 0
    assert [r["outcome"] for r in listed] == ["ingested"]
    assert "ingested" in stderr


def test_any_refused_file_exits_1_with_the_reason(cli_crm: Database, tmp_path: Path) -> None:
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "a.txt").write_text(ACME_NOTE, encoding="utf-8")
    (folder / "b.vtt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (folder / "c.txt").write_text("Someone: nothing that names a customer\n", encoding="utf-8")
    result = _ingest(str(folder), "--as", "u-alice")
    assert result.exit_code == 1
    out = result.output
    assert f"{folder / 'a.txt'}: ingested" in out
    assert f"{folder / 'b.vtt'}: refused: " in out and "not a transcript" in out
    assert f"{folder / 'c.txt'}: refused: the account is not known for sure" in out
    assert "3 file(s): 1 ingested, 2 refused." in out


def test_usage_errors_exit_2_before_any_model_starts(cli_crm: Database, tmp_path: Path) -> None:
    # `--llm local` would start (or fail to find) the embedded model: the path is checked first.
    missing = runner.invoke(
        app, ["ingest", str(tmp_path / "nope.vtt"), "--as", "u-alice", "--llm", "local"]
    )
    assert missing.exit_code == 2
    assert "nope.vtt: there is no such file or folder" in missing.output
    assert "model" not in missing.output.lower()
    ghost = runner.invoke(app, ["ingest", str(FIXTURES), "--as", "u-ghost", "--llm", "local"])
    assert ghost.exit_code == 2 and "no user 'u-ghost'" in ghost.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_an_unreadable_folder_is_a_usage_error(cli_crm: Database, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        result = _ingest(str(locked), "--as", "u-alice")
    finally:
        locked.chmod(0o755)
    assert result.exit_code == 2 and "permission denied" in result.output


def test_accounts_the_user_may_not_see_are_never_named(cli_crm: Database, tmp_path: Path) -> None:
    # u-alice (west) may not see 华星科技 (apac): the same words as for an account that does
    # not exist, and a transcript about it is refused without its name, people or deal.
    hidden = _ingest(str(FIXTURES / "huaxing-zh.json"), "--as", "u-alice",
                     "--account", "acc-huaxing")  # fmt: skip
    unknown = _ingest(str(FIXTURES / "huaxing-zh.json"), "--as", "u-alice",
                      "--account", "acc-nope")  # fmt: skip
    assert hidden.exit_code == unknown.exit_code == 2
    assert "there is no account 'acc-huaxing' that you can see" in hidden.output
    assert hidden.output.replace("acc-huaxing", "X") == unknown.output.replace("acc-nope", "X")
    about = _ingest(str(FIXTURES / "huaxing-zh.json"), "--as", "u-alice")
    assert about.exit_code == 1
    assert "an account you cannot see" in about.output
    for name in ("acc-huaxing", "华星", "con-wang", "opp-huaxing-1", "王芳"):
        assert name not in about.output


@pytest.mark.parametrize(
    ("header", "options", "day"),
    [
        ("Date: 3 March 2026", [], "2026-03-03"),
        ("Date: March 3, 2026", [], "2026-03-03"),
        ("日期：2026年3月3日", [], "2026-03-03"),
        ("Date: 03/04/2026", [], "2026-04-03"),
        ("Date: 03/04/2026", ["--month-first"], "2026-03-04"),
    ],
)
def test_non_iso_meeting_dates(
    cli_crm: Database, tmp_path: Path, header: str, options: list[str], day: str
) -> None:
    notes = tmp_path / "acme.txt"
    notes.write_text(f"{header}\n{ACME_NOTE}", encoding="utf-8")
    code, listed, _ = _json(str(notes), "--as", "u-alice", "--dry-run", *options)
    assert code == 0
    assert listed[0]["meeting"]["date"] == day  # type: ignore[index]


def test_a_meeting_date_that_cannot_be_read_is_reported(cli_crm: Database, tmp_path: Path) -> None:
    notes = tmp_path / "acme.txt"
    notes.write_text(f"Date: the Tuesday after the offsite\n{ACME_NOTE}", encoding="utf-8")
    result = _ingest(str(notes), "--as", "u-alice", "--dry-run")
    assert result.exit_code == 0
    assert "The meeting date 'the Tuesday after the offsite' could not be read" in result.output


def test_a_folder_hands_over_its_own_regular_files_only(cli_crm: Database, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text(ACME_NOTE.replace("Quick", "Secret"), encoding="utf-8")
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "good.txt").write_text(ACME_NOTE, encoding="utf-8")
    (folder / "inside-link.txt").symlink_to(folder / "good.txt")
    (folder / "escape.txt").symlink_to(outside)
    os.mkfifo(folder / "pipe.vtt")  # opening it would block: refused before that
    code, listed, stderr = _json(str(folder), "--as", "u-alice", "--dry-run")
    assert code == 1
    by_path = {Path(str(r["source"]["path"])).name: r["outcome"] for r in listed}  # type: ignore[index]
    assert by_path["good.txt"] == "ingested (dry run, nothing written)"
    assert by_path["inside-link.txt"] == "already ingested" or by_path[
        "inside-link.txt"
    ].startswith("ingested")
    assert "a link to a file outside the folder" in str(by_path["escape.txt"])
    assert "a named pipe (FIFO)" in str(by_path["pipe.vtt"])
    assert "Secret" not in json.dumps(listed)


def test_size_is_checked_before_reading(
    cli_crm: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARROOM_INGEST_MAX_BYTES", "100")
    big = tmp_path / "big.txt"
    big.write_text(ACME_NOTE * 10, encoding="utf-8")
    result = _ingest(str(big), "--as", "u-alice")
    assert result.exit_code == 1
    assert "big.txt: refused: " in result.output and "the limit is 100 bytes" in result.output


async def test_progress_is_told_per_file_and_per_chunk(
    meeting_crm: CRMService, tmp_path: Path
) -> None:
    lines = "".join(f"Alice Wong: Acme Corp point number {n} about the rollout.\n"
                    for n in range(40))  # fmt: skip
    (tmp_path / "long.txt").write_text(lines, encoding="utf-8")
    (tmp_path / "short.txt").write_text(ACME_NOTE, encoding="utf-8")
    events: list[tuple[object, ...]] = []

    class Recorder:
        def file_started(self, path: str, number: int, total: int) -> None:
            events.append(("file", Path(path).name, number, total))

        def chunk_done(self, done: int, total: int) -> None:
            events.append(("chunk", done, total))

        def file_done(self, outcome: MeetingResult | IngestFailure) -> None:
            events.append(("done", outcome.outcome))

    model = scripted(*[extraction() for _ in range(4)])
    service = MeetingService(crm=meeting_crm, model=model, chunk_tokens=200)
    batch = await service.ingest_path(
        tmp_path, actor_id="u-alice", dry_run=True, progress=Recorder()
    )
    assert not batch.failures
    assert events[0] == ("file", "long.txt", 1, 2)
    chunks = [e for e in events if e[0] == "chunk"]
    assert chunks[0][2] >= 2 and chunks[-1] == ("chunk", 1, 1)
    assert events[-1] == ("done", "ingested (dry run, nothing written)")


def test_an_interrupted_long_meeting_resumes_where_it_stopped(
    cli_crm: Database, tmp_path: Path
) -> None:
    """The model stops answering half-way (here: the script runs out, as a crash or a
    Ctrl-C would): the file is refused with the reason. Run again, only the parts not yet
    read are asked for; once ingested, nothing is kept for it."""
    talk = "".join(
        f"Alice Wong: For Acme Corp I will send the rollout checklist part {n} by Friday.\n"
        for n in range(200)
    )
    path = tmp_path / "acme-long.txt"
    path.write_text(talk, encoding="utf-8")
    segments = parse_transcript(path.read_bytes(), path.name).segments
    parts = len(chunk_segments(segments, 1500))  # the service's chunk size
    assert parts >= 3
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps([extraction()]))
    second.write_text(json.dumps([extraction()] * (parts - 1)))
    args = [str(path), "--as", "u-alice", "--strategy", "chunks"]
    stopped = _ingest(*args, "--script", str(first))
    assert stopped.exit_code == 1, stopped.output
    assert "the language model could not read the transcript" in stopped.output
    with cli_crm.read_session() as session:
        assert session.query(MeetingWindow).count() == 1  # the part that was read
    resumed = _ingest(*args, "--script", str(second))  # one answer fewer than parts
    assert resumed.exit_code == 0, resumed.output
    assert f"{path}: ingested" in resumed.output
    with cli_crm.read_session() as session:
        assert session.query(MeetingWindow).count() == 0  # done: the receipt answers now
        [receipt] = session.query(MeetingIngestion).all()
        notes = receipt.result["ingestion"]["notes"]
    assert f"Resumed: 1 of {parts} parts had been read by the model before an interruption" in (
        " ".join(notes)
    )


def test_a_long_meeting_is_read_in_bounded_memory_and_prompt(
    cli_crm: Database, tmp_path: Path
) -> None:
    """Twelve hours of talk (the labelled 90-minute meeting eight times over, ~1 MB): the
    model is asked at most twice (the script has two answers; a third call would fail the
    file) and the ingestion's peak Python memory stays a small multiple of the file."""
    meeting = SET / "transcripts" / "huaxing-review-90min-2026-11-20.json"
    long = json.loads(meeting.read_text(encoding="utf-8"))
    long["segments"] = long["segments"] * 8
    path = tmp_path / "huaxing-12h-2026-11-20.json"
    path.write_text(json.dumps(long, ensure_ascii=False), encoding="utf-8")
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"action_items": [], "changes": [], "summary": []}] * 2))
    tracemalloc.start()
    try:
        result = _ingest(str(path), "--as", "u-chen", "--strategy", "lines", "--dry-run",
                         "--script", str(script))  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0, result.output
    assert f"{path}: ingested (dry run" in result.output
    assert peak < 80 * 2**20, f"peak {peak / 2**20:.0f} MiB for {path.stat().st_size} bytes"
