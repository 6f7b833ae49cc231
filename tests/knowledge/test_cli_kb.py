from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warroom import cli_kb


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder) -> CliRunner:
    monkeypatch.setenv("WARROOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("WARROOM_CHROMA_URL", raising=False)
    monkeypatch.delenv("WARROOM_EMBEDDINGS_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setattr("memory.knowledge.make_embedder", lambda **_: embedder)
    return CliRunner()


def test_add_then_search(runner: CliRunner, corpus_dir: Path) -> None:
    (corpus_dir / "broken.pdf").write_bytes(b"not a pdf")
    result = runner.invoke(cli_kb.app, ["add", str(corpus_dir)])
    assert result.exit_code == 0, result.output
    assert "6 added" in result.output
    assert "Could not ingest broken.pdf" in result.output

    again = runner.invoke(cli_kb.app, ["add", str(corpus_dir), "--json"])
    report = json.loads(again.stdout)
    assert len(report["unchanged"]) == 6 and report["failed"][0]["name"] == "broken.pdf"

    table = runner.invoke(cli_kb.app, ["search", "SLA credit approval", "--k", "2"])
    assert table.exit_code == 0 and "sla.md" in table.output and "Credits" in table.output

    hits = json.loads(
        runner.invoke(
            cli_kb.app, ["search", "折扣审批", "--json", "--mode", "lexical", "--role", "rep"]
        ).stdout
    )
    assert hits[0]["source"] == "zh-discount.md" and hits[0]["language"] == "zh"
    assert set(hits[0]) == {"chunk_id", "source", "title", "section", "text", "score", "language"}


def test_bad_mode_and_all_failed(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(cli_kb.app, ["search", "x", "--mode", "fuzzy"]).exit_code == 2
    missing = runner.invoke(cli_kb.app, ["add", str(tmp_path / "missing.md")])
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_search_as_a_crm_user_uses_their_roles(runner: CliRunner, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from warroom.cli import app as cli

    monkeypatch.setenv("WARROOM_DEMO_TODAY", "2026-11-23")
    assert runner.invoke(cli, ["seed"]).exit_code == 0
    as_rep = runner.invoke(cli, ["kb", "search", "discount approval", "--as", "u-alice", "--json"])
    assert as_rep.exit_code == 0, as_rep.output
    both = runner.invoke(cli, ["kb", "search", "x", "--as", "u-alice", "--role", "rep"])
    assert both.exit_code == 2 and "not both" in both.output
    ghost = runner.invoke(cli, ["kb", "search", "x", "--as", "u-ghost"])
    assert ghost.exit_code == 2 and "u-ghost" in ghost.output
