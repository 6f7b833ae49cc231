"""Starting the Slack app: missing or malformed settings are one sentence (not a traceback), and
Socket Mode carries the same conversations as HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from channels.slack import SlackSettingsError, SlackStartError
from channels.slack.config import SlackConfig
from channels.slack.dedupe import RecentDeliveries
from channels.slack.server import run
from channels.slack.threads import SlackThread
from tests.channels.slack_harness import CHANNEL, mention, slack_stack
from warroom.app import App
from warroom.cli import app as cli
from warroom.settings import Settings

ACME = [{"agent": "sales", "reply": "Acme expansion closes Dec 31."}]


def test_missing_settings_are_named_in_one_sentence() -> None:
    with pytest.raises(SlackSettingsError) as http:
        SlackConfig.from_settings(Settings(), socket_mode=False)
    assert str(http.value) == (
        "The Slack app cannot start in HTTP mode: set WARROOM_SLACK_BOT_TOKEN (the bot token "
        "xoxb-… from OAuth & Permissions) and WARROOM_SLACK_SIGNING_SECRET (the signing secret "
        "from Basic Information)."
    )
    with pytest.raises(SlackSettingsError, match="Socket Mode: set WARROOM_SLACK_APP_TOKEN"):
        SlackConfig.from_settings(Settings(slack_bot_token="xoxb-1"), socket_mode=True)
    with pytest.raises(SlackSettingsError, match="WARROOM_SLACK_BOT_TOKEN does not look right"):
        SlackConfig.from_settings(
            Settings(slack_bot_token="xapp-1", slack_signing_secret="s"), socket_mode=False
        )
    ok = SlackConfig.from_settings(
        Settings(slack_bot_token=" xoxb-1 ", slack_signing_secret="s"), socket_mode=False
    )
    assert ok.bot_token == "xoxb-1" and ok.api_url == "https://slack.com/api/"


def test_run_refuses_before_starting_anything(tmp_path: Path) -> None:
    with pytest.raises(SlackSettingsError, match="WARROOM_SLACK_SIGNING_SECRET"):
        run(App(Settings(slack_bot_token="xoxb-1")), port=0, socket_mode=False)
    broken = tmp_path / "ids.yaml"
    broken.write_text("slack: [not, a, mapping]\n")
    settings = Settings(
        slack_bot_token="xoxb-1", slack_signing_secret="s", identity_map_path=broken
    )
    with pytest.raises(SlackSettingsError, match="ids.yaml: 'slack' must map chat user ids"):
        run(App(settings), port=0, socket_mode=False)


def test_cli_prints_the_sentence_and_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_SLACK_BOT_TOKEN", "xoxb-1")
    result = CliRunner().invoke(cli, ["serve", "slack", "--socket"])
    assert result.exit_code == 2
    assert "error: The Slack app cannot start in Socket Mode: set WARROOM_SLACK_APP_TOKEN" in (
        result.output
    )
    assert "Traceback" not in result.output


async def test_a_token_slack_refuses_or_an_unreachable_api_stops_the_start(
    tmp_path: Path,
) -> None:
    with pytest.raises(
        SlackStartError, match=r"Slack refused WARROOM_SLACK_BOT_TOKEN \(invalid_auth\)"
    ):
        async with slack_stack(tmp_path / "a", bot_token="xoxb-revoked"):
            pass
    with pytest.raises(SlackStartError, match="Slack Web API at http://127.0.0.1:9/api/ could not"):
        async with slack_stack(tmp_path / "b", api_url="http://127.0.0.1:9/api/"):
            pass


def test_thread_ids_round_trip() -> None:
    thread = SlackThread("T1", "C1", thread_ts="1700000000.000100")
    assert thread.id == "slack:T1:C1:1700000000.000100"
    assert SlackThread.parse(thread.id) == thread
    private = SlackThread("T1", "C1", private_to="U1")
    assert SlackThread.parse(private.id) == private and private.id.endswith(":@U1")
    for other in ("cli-u-alice-1", "teams:abc", "slack:T1:C1", "slack::C1:1.0", "review:appr-1"):
        assert SlackThread.parse(other) is None
    with pytest.raises(ValueError):
        SlackThread("T1", "C1")


def test_delivery_memory_is_bounded_in_size_and_time() -> None:
    now = [0.0]
    seen = RecentDeliveries(ttl_seconds=60, max_entries=3, clock=lambda: now[0])
    assert seen.first_time("a") and not seen.first_time("a")
    for key in "bcd":
        assert seen.first_time(key)
    assert len(seen) == 3 and seen.first_time("a")  # "a" was pushed out by size
    now[0] = 61.0
    assert seen.first_time("b") and len(seen) == 1  # the rest aged out


async def test_socket_mode_carries_events_and_acks_them(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=ACME, socket_mode=True) as slack:
        await slack.wait_for(slack.fake.socket_connected.is_set, what="the websocket")
        [opened] = [c for c in slack.fake.calls if c.method == "apps.connections.open"]
        assert opened.token == "xapp-test-token"
        envelope = {
            "envelope_id": "env-1",
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "payload": {
                "type": "event_callback",
                "team_id": "T0001",
                "event_id": "EvSOCKET1",
                "event_time": int(time.time()),
                "event": mention("Acme deal status", ts="900.000"),
            },
        }
        started = time.monotonic()
        await slack.fake.deliver_over_socket(envelope)
        await slack.wait_for(
            lambda: any(a.get("envelope_id") == "env-1" for a in slack.fake.socket_acks),
            what="the ack",
        )
        assert time.monotonic() - started < 3
        await slack.wait_for(
            lambda: "Acme expansion closes Dec 31." in slack.fake.posted(CHANNEL, "900.000"),
            what="the answer",
        )
        # a redelivered envelope of the same event is acknowledged but not answered again
        await slack.fake.deliver_over_socket({**envelope, "envelope_id": "env-2"})
        await slack.wait_for(
            lambda: any(a.get("envelope_id") == "env-2" for a in slack.fake.socket_acks),
            what="the second ack",
        )
        await slack.settle()
        assert json.dumps(slack.fake.posted(CHANNEL)).count("Acme expansion closes") == 1


def test_text_from_slack_and_splitting() -> None:
    from channels.slack.text import from_slack, split_message

    raw = "<@UBOT>  is Q&amp;A &lt;done&gt; for <@U123|ana>?"
    assert from_slack(raw, bot_user_id="UBOT") == "is Q&A <done> for <@U123|ana>?"
    assert split_message("short") == ["short"] and split_message("") == [""]
    word = "x" * 250
    assert split_message(word, limit=100) == ["x" * 100, "x" * 100, "x" * 50]
    with pytest.raises(ValueError):
        split_message("text", limit=10)
