"""`warroom slack manifest` and `warroom teams manifest` write the app manifests from the
settings; the Slack manifest in docs/SLACK.md is the generated one."""

from __future__ import annotations

import json
import re
import struct
import zipfile
from pathlib import Path

import yaml
from typer.testing import CliRunner

from warroom.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def test_slack_manifest_is_the_one_in_the_docs() -> None:
    result = runner.invoke(app, ["slack", "manifest", "--url", "https://warroom.example.com"])
    assert result.exit_code == 0, result.output
    generated = yaml.safe_load(result.stdout)
    docs = (ROOT / "docs" / "SLACK.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(display_information:.*?)```", docs, re.S)
    assert block is not None
    assert generated == yaml.safe_load(block.group(1))
    assert generated["settings"]["event_subscriptions"]["request_url"] == (
        "https://warroom.example.com/slack/events"
    )


def test_slack_manifest_for_socket_mode_needs_no_url(tmp_path: Path) -> None:
    out = tmp_path / "slack.yaml"
    assert runner.invoke(app, ["slack", "manifest", "--socket", "--out", str(out)]).exit_code == 0
    manifest = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in manifest["settings"]["interactivity"]
    missing = runner.invoke(app, ["slack", "manifest"])
    assert missing.exit_code == 2 and "--url" in missing.output


def test_teams_package_has_manifest_and_icons(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert runner.invoke(app, ["teams", "manifest"]).exit_code == 2  # no app id yet
    monkeypatch.setenv("WARROOM_TEAMS_APP_ID", "00000000-0000-0000-0000-000000000001")
    out = tmp_path / "pkg.zip"
    result = runner.invoke(app, ["teams", "manifest", "--out", str(out), "--developer", "Acme"])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        sizes = {
            name: struct.unpack(">II", package.read(name)[16:24])
            for name in ("color.png", "outline.png")
        }
    assert manifest["id"] == manifest["bots"][0]["botId"] == "00000000-0000-0000-0000-000000000001"
    assert manifest["developer"]["name"] == "Acme"
    assert sizes == {"color.png": (192, 192), "outline.png": (32, 32)}
