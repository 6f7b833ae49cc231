"""Every configuration and usage mistake ends in one clear line and the documented exit code
(0 success, 1 refused or failed, 2 usage or configuration), never a traceback.

Most cases run the real `python -m warroom` in a subprocess: what a person at a terminal sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from tools import types
from warroom import __version__
from warroom.cli import (
    LAZY_GROUPS,
    PriorityChoice,
    StageChoice,
    StatusChoice,
    TierChoice,
    load_group,
)

ROOT = Path(__file__).resolve().parent.parent


def warroom(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    environment.pop("OPENAI_API_KEY", None)
    environment["PYTHONPATH"] = str(ROOT)
    environment["WARROOM_DATA_DIR"] = os.environ["WARROOM_DATA_DIR"]
    environment["COLUMNS"] = "200"
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "warroom", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )


def assert_one_clear_line(
    result: subprocess.CompletedProcess[str], code: int, *needles: str
) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])


@pytest.mark.parametrize(
    ("args", "env", "code", "needles"),
    [
        pytest.param(
            ["crm", "accounts", "--as", "u-alice"],
            {"WARROOM_DATABASE_URL": "mysql://u:pw@127.0.0.1/crm"},
            2,
            ["WARROOM_DATABASE_URL", "'mysql' databases are not supported", "postgresql"],
            id="unsupported-database-url",
        ),
        pytest.param(
            ["crm", "accounts", "--as", "u-alice"],
            {"WARROOM_DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/crm"},
            1,
            ["database is not reachable", "Connection refused", "WARROOM_DATABASE_URL"],
            id="postgresql-down",
        ),
        pytest.param(
            ["crm", "accounts", "--as", "u-alice"],
            {"WARROOM_LLM_MODELS": '{"router": gpt-4o'},
            2,
            ["WARROOM_LLM_MODELS", "JSON", '{"router": "gpt-4o-mini"'],
            id="malformed-llm-models-json",
        ),
        pytest.param(
            ["crm", "accounts", "--as", "u-alice"],
            {"WARROOM_LOG_LEVEL": "LOUD"},
            2,
            ["WARROOM_LOG_LEVEL", "DEBUG, INFO, WARNING, ERROR"],
            id="unknown-log-level",
        ),
        pytest.param(
            ["crm", "accounts", "--as", "u-alice"],
            {"WARROOM_LLM_TIMEOUT_SECONDS": "-3"},
            2,
            ["WARROOM_LLM_TIMEOUT_SECONDS"],
            id="negative-timeout",
        ),
        pytest.param(
            ["crm", "accounts", "--as", "u-alice"],
            {"WARROOM_POLICY_PATH": "/nonexistent/policy.yaml"},
            2,
            ["WARROOM_POLICY_PATH", "no such file"],
            id="missing-policy-file",
        ),
        pytest.param(
            ["serve", "api", "--port", "99999"], {}, 2, ["--port", "65535"], id="port-out-of-range"
        ),
        pytest.param(["serve", "slack", "--port", "-1"], {}, 2, ["--port"], id="negative-port"),
        pytest.param(
            ["ingest", "/nonexistent/meeting.vtt", "--as", "u-alice"],
            {},
            2,
            ["/nonexistent/meeting.vtt", "no such file"],
            id="ingest-missing-path",
        ),
        pytest.param(
            ["crm", "tickets", "--as", "u-sam", "--priority", "urgent"],
            {},
            2,
            ["--priority", "'p1', 'p2', 'p3', 'p4'", "warroom crm tickets --help"],
            id="enum-option-outside-its-choices",
        ),
        pytest.param(["dance"], {}, 2, ["No such command 'dance'"], id="unknown-command"),
        pytest.param(
            ["crm", "accounts", "--as", "u-alice", "--colour", "red"],
            {},
            2,
            ["--colour"],
            id="unknown-option",
        ),
        pytest.param(
            ["crm", "accounts", "--as", "u-ghost"], {}, 2, ["no user 'u-ghost'"], id="unknown-user"
        ),
    ],
)
def test_a_mistake_is_one_clear_line(
    args: list[str], env: dict[str, str], code: int, needles: list[str]
) -> None:
    assert_one_clear_line(warroom(*args, env=env), code, *needles)


def test_an_unwritable_data_dir_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = warroom(
        "crm", "accounts", "--as", "u-alice", env={"WARROOM_DATA_DIR": str(blocker / "data")}
    )
    assert_one_clear_line(result, 2, "WARROOM_DATA_DIR", "not a writable folder")


def test_ingest_checks_the_path_before_the_model_starts() -> None:
    result = warroom("ingest", "/nonexistent/meeting.vtt", "--as", "u-alice")
    assert "model" not in result.stderr.replace("warroom", "")  # no start-up line, no model
    assert_one_clear_line(result, 2)


def test_debug_shows_the_traceback() -> None:
    env = {"WARROOM_DATABASE_URL": "mysql://u:pw@127.0.0.1/crm"}
    assert "Traceback" in warroom("--debug", "crm", "accounts", "--as", "u-a", env=env).stderr
    env["WARROOM_DEBUG"] = "1"
    assert "Traceback" in warroom("crm", "accounts", "--as", "u-a", env=env).stderr


def test_version() -> None:
    result = warroom("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"warroom {__version__}"


def test_help_imports_no_heavy_module() -> None:
    """`warroom --help` lists every group without importing the database, graph or model
    layers (they cost seconds): sub-groups are imported when used."""
    code = (
        "import sys\n"
        "from warroom.cli import app\n"
        "from typer.testing import CliRunner\n"
        "out = CliRunner().invoke(app, ['--help']).output\n"
        "heavy = [m for m in ('sqlalchemy', 'langgraph', 'chromadb', 'openai', 'pydantic',"
        " 'aiohttp') if m in sys.modules]\n"
        "print(heavy)\n"
        "print(out)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    first, _, help_text = result.stdout.partition("\n")
    assert first == "[]", first
    for name in (*LAZY_GROUPS, "crm", "seed", "chat", "users"):
        assert f" {name} " in help_text, name


@pytest.mark.parametrize("name", sorted(LAZY_GROUPS))
def test_lazy_groups_load_and_their_help_matches(name: str) -> None:
    command = load_group(name)
    assert command.name == name
    assert (command.help or "").strip().startswith(LAZY_GROUPS[name][1].rstrip(".")), name


def test_cli_choices_match_the_crm_enums() -> None:
    for choice, literal in (
        (TierChoice, types.Tier),
        (StageChoice, types.Stage),
        (StatusChoice, types.TicketStatus),
        (PriorityChoice, types.Priority),
    ):
        assert [c.value for c in choice] == list(get_args(literal))
