"""Loading scenario files: strict keys, clear errors naming file and key, failures stay alone."""

from __future__ import annotations

from pathlib import Path

from evals.runner import run_scenario
from evals.scenario import LoadFailure, ScenarioFile, load_scenario, load_scenarios
from evals.suite import run_suite
from tests.evals.helpers import discount_scenario, write


def test_a_valid_scenario_loads(tmp_path: Path) -> None:
    item = load_scenario(write(tmp_path, discount_scenario("ok", 10)))
    assert isinstance(item, ScenarioFile)
    assert item.scenario.id == "ok" and item.scenario.channel == "cli"
    assert item.scenario.turns[0].kind == "user"


def test_unknown_key_names_the_file_and_the_key_path(tmp_path: Path) -> None:
    data = discount_scenario("typo", 10, approvals=[{"tool": "apply_discount", "arg": {}}])
    data["turns"].append({"review": {"decision": "approve", "by": "u-maria", "coment": "x"}})
    item = load_scenario(write(tmp_path, data))
    assert isinstance(item, LoadFailure)
    assert str(tmp_path / "typo.yaml") in item.error
    assert "unknown key 'turns.1.review.coment'" in item.error
    assert "unknown key 'expect.approvals.0.arg'" in item.error


def test_unknown_top_level_key_and_bad_values(tmp_path: Path) -> None:
    data = discount_scenario("bad", 10)
    data["llm"] = "gpt"
    data["channel"] = "fax"
    item = load_scenario(write(tmp_path, data))
    assert isinstance(item, LoadFailure)
    assert "unknown key 'llm'" in item.error and "channel" in item.error


def test_a_fixture_error_names_table_record_and_field(tmp_path: Path) -> None:
    data = discount_scenario("fixture", 10)
    bad = {"id": "acc-x", "name": "X", "tier": "gold"}
    data["fixture"] = {**data["fixture"], "accounts": [bad]}
    item = load_scenario(write(tmp_path, data))
    assert isinstance(item, LoadFailure)
    assert "fixture" in item.error and "accounts acc-x: tier" in item.error


def test_a_turn_has_exactly_one_kind(tmp_path: Path) -> None:
    data = discount_scenario("two-kinds", 10)
    data["turns"] = [{"user": "hi", "wait": {"hours": 1}}]
    item = load_scenario(write(tmp_path, data))
    assert isinstance(item, LoadFailure) and "exactly one of" in item.error


def test_bad_yaml_is_a_load_failure_with_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "id: broken\nturns: [\n  - user: x\n", name="broken")
    item = load_scenario(path)
    assert isinstance(item, LoadFailure)
    assert "broken.yaml" in item.error and "not valid YAML" in item.error and "line" in item.error


def test_duplicate_ids_and_filter(tmp_path: Path) -> None:
    write(tmp_path, discount_scenario("same", 10), name="a")
    write(tmp_path, discount_scenario("same", 12), name="b")
    write(tmp_path, discount_scenario("other", 12))
    items = load_scenarios(tmp_path)
    assert [type(i).__name__ for i in items] == ["ScenarioFile", "LoadFailure", "ScenarioFile"]
    assert "already used by" in items[1].error  # type: ignore[union-attr]
    assert [i.path.name for i in load_scenarios(tmp_path, filter_text="other")] == ["other.yaml"]


async def test_a_broken_scenario_fails_alone(tmp_path: Path) -> None:
    write(tmp_path, "id: broken\nturns: [\n", name="broken")
    write(tmp_path, discount_scenario("fine", 10, writes=[{"tool": "apply_discount"}]))
    summary = await run_suite(tmp_path, out=tmp_path / "out")
    rows = {r["id"]: r for r in summary["per_scenario"]}
    assert rows["fine"]["passed_all"] and not rows["broken"]["passed_all"]
    assert "not valid YAML" in rows["broken"]["failed_checks"][0]
    assert summary["passed"] == 1 and summary["scenarios"] == 2


async def test_a_transcript_turn_fails_with_a_clear_message(tmp_path: Path) -> None:
    data = discount_scenario("notes", 10)
    vtt = "WEBVTT\n\n00:00.000 --> 00:01.000\nhi"
    data["turns"] = [{"transcript": {"format": "vtt", "text": vtt}}]
    data["script"] = [{"agent": "extractor", "output": {"actions": []}}]
    item = load_scenario(write(tmp_path, data))
    assert isinstance(item, ScenarioFile)
    result = await run_scenario(item, llm="scripted")
    assert not result["passed"]
    assert result["checks"][0]["detail"] == "meeting-note ingestion is not available yet"
