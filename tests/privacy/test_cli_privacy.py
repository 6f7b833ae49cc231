"""`warroom privacy`: export to a file, erase (admins only), consent — with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import small_company
from tools.db import Database
from tools.fixtures import load_fixture
from warroom.cli import app


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'data' / 'crm.sqlite3'}"
    db = Database(url)
    load_fixture(db, small_company())
    db.dispose()
    monkeypatch.setenv("WARROOM_DATABASE_URL", url)
    monkeypatch.setenv("WARROOM_EMBEDDINGS_BASE_URL", "http://127.0.0.1:9/v1")  # never called
    return url


def test_export_erase_consent_from_the_command_line(database: str, tmp_path: Path) -> None:
    run = CliRunner().invoke
    out = tmp_path / "jane.json"
    done = run(app, ["privacy", "export", "con-jane", "--as", "u-admin", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert json.loads(out.read_text())["crm"]["contacts"][0]["name"] == "Jane Doe"

    refused = run(app, ["privacy", "erase", "con-jane", "--as", "u-alice"])
    assert refused.exit_code == 3 and "only admins" in flat(refused.output)
    unknown = run(app, ["privacy", "erase", "con-nobody", "--as", "u-admin"])
    assert unknown.exit_code == 2 and "no contact with id 'con-nobody'" in flat(unknown.output)

    consent = run(
        app,
        [
            "privacy",
            "consent",
            "con-jane",
            "--email",
            "off",
            "--as",
            "u-alice",
            "--reason",
            "asked by phone",
        ],
    )
    assert consent.exit_code == 0 and "email: on → off" in flat(consent.output)
    bad = run(
        app,
        ["privacy", "consent", "con-jane", "--email", "maybe", "--as", "u-alice", "--reason", "x"],
    )
    assert bad.exit_code == 2 and "on or off" in flat(bad.output)

    erased = run(app, ["privacy", "erase", "con-jane", "--as", "u-admin", "--json"])
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.output)["stores"]["crm"]["contacts"] == 1
    again = run(app, ["privacy", "erase", "con-jane", "--as", "u-admin"])
    assert again.exit_code == 0 and "already erased" in flat(again.output)
