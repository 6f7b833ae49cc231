"""`warroom eval` end to end, mounted under a parent app as the main CLI mounts it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import typer
from typer.testing import CliRunner

from tests.evals.helpers import PUBLIC_SUITE, discount_scenario, write
from warroom import cli_eval

THREE = [
    "sales-discount-16-needs-approval",
    "review-approve-discount",
    "perm-support-discount-refused",
]


def _cli() -> typer.Typer:
    parent = typer.Typer()

    @parent.command()
    def version() -> None:
        """A sibling command, so 'eval' is a real sub-command group."""

    parent.add_typer(cli_eval.app, name="eval")
    return parent


def test_eval_command_on_three_scenarios(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for name in THREE:
        shutil.copy(PUBLIC_SUITE / f"{name}.yaml", scenarios)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        _cli(), ["eval", "--scenarios", str(scenarios), "--llm", "scripted", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "3/3 scenarios passed" in result.output
    for name in THREE:
        data = json.loads((out / f"{name}.json").read_text())
        assert data["passed"] and data["id"] == name
        assert (out / f"{name}.trace.json").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pass_rate"] == 1.0 and summary["approval_recall"] == 1.0
    assert (out / "summary.md").exists() and (out / "summary.png").exists()


def test_a_failing_scenario_exits_non_zero_and_repeat_and_filter_work(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    write(scenarios, discount_scenario("expects-too-much", 10, reply_contains=["never said"]))
    write(scenarios, discount_scenario("fine", 10, writes=[{"tool": "apply_discount"}]))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        _cli(), ["eval", "--scenarios", str(scenarios), "--out", str(out), "--repeat", "2"]
    )
    assert result.exit_code == 1, result.output
    assert "FAIL expects-too-much" in result.output and "never said" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pass^2"] == 0.5 and summary["runs"] == 4
    assert (out / "fine.run2.json").exists()

    result = CliRunner().invoke(
        _cli(), ["eval", "-s", str(scenarios), "--out", str(out), "--filter", "fine"]
    )
    assert result.exit_code == 0 and "1/1 scenarios passed" in result.output


def test_setup_errors_are_one_clear_sentence(tmp_path: Path) -> None:
    result = CliRunner().invoke(_cli(), ["eval", "--scenarios", str(tmp_path / "none")])
    assert result.exit_code == 2 and "There is no scenario directory" in result.output
    result = CliRunner().invoke(
        _cli(), ["eval", "--scenarios", str(PUBLIC_SUITE), "--llm", "openai"]
    )
    assert result.exit_code == 2 and "--llm openai needs an endpoint" in result.output
