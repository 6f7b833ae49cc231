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


async def test_a_transcript_turn_goes_through_meeting_ingestion(tmp_path: Path) -> None:
    """Was "not available yet": a transcript turn is ingested like a file given to the CLI."""
    data = discount_scenario("notes", 10)
    vtt = (
        "WEBVTT\n\n00:00.000 --> 00:04.000\n<v Alice Wong>I'll send the Acme Corp quote by "
        "Friday.\n"
    )
    data["turns"] = [{"transcript": {"format": "vtt", "text": vtt, "name": "acme.vtt"}}]
    data["script"] = [
        {"agent": "extractor", "output": {"action_items": [
            {"text": "Send the quote", "owner": "I", "due": "Friday",
             "evidence": "I'll send the Acme Corp quote by Friday", "line": 1}]}}
    ]  # fmt: skip
    data["expect"] = {
        "meeting": {
            "ingested": 1,
            "account_id": "acc-acme",
            "action_items": [
                {"text_contains": "quote", "owner_id": "u-alice", "due_date": "2026-11-27"}
            ],
        },
        "writes": [{"tool": "create_task", "args": {"due_date": "2026-11-27"}}],
    }
    item = load_scenario(write(tmp_path, data))
    assert isinstance(item, ScenarioFile)
    result = await run_scenario(item, llm="scripted")
    failed = [c for c in result["checks"] if not c["passed"]]
    assert result["passed"], failed


async def test_a_refused_transcript_and_a_wrong_expectation_fail_the_right_checks(
    tmp_path: Path,
) -> None:
    data = discount_scenario("binary", 10)
    data["turns"] = [{"transcript": {"format": "vtt", "text": b"\x89PNG\r\n\x1a\n\x00\x00"}}]
    data["script"] = []
    data["expect"] = {"meeting": {"refused": ["not a transcript"], "ingested": 1}}
    item = load_scenario(write(tmp_path, data))
    assert isinstance(item, ScenarioFile)
    result = await run_scenario(item, llm="scripted")
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["meeting: refused (not a transcript)"]["passed"]
    assert "binary-turn1.vtt" in checks["meeting: refused (not a transcript)"]["detail"]
    assert not checks["meeting: transcripts ingested"]["passed"]


async def test_unquoted_yaml_dates_anywhere_in_a_scenario(tmp_path: Path) -> None:
    text = (
        "id: dates\nactor: u-alice\ntoday: 2026-11-20\n"
        "fixture:\n  users:\n"
        "    - {id: u-alice, name: Alice Wong, roles: [rep], team: west, manager_id: u-maria}\n"
        "    - {id: u-maria, name: Maria Lopez, roles: [sales_manager], team: west}\n"
        "  accounts:\n    - {id: acc-acme, name: Acme Corp, owner_id: u-alice, team: west}\n"
        "  opportunities:\n    - {id: opp-acme-1, account_id: acc-acme, name: Acme, "
        "stage: proposal, amount: 1000, currency: USD, close_date: 2026-12-31, "
        "owner_id: u-alice}\n"
        "turns:\n  - user: Create a follow-up task for Acme due 2026-12-01.\n"
        "script:\n  - agent: sales\n    tool_calls:\n"
        "      - {name: create_task, arguments: {account_id: acc-acme, subject: Follow up, "
        "due_date: 2026-12-01}}\n  - agent: sales\n    reply: Done.\n"
        "expect:\n  writes:\n    - {tool: create_task, args: {due_date: 2026-12-01}}\n"
        "  db:\n    - {table: opportunities, id: opp-acme-1, fields: {close_date: 2026-12-31}}\n"
    )
    (tmp_path / "dates.yaml").write_text(text, encoding="utf-8")
    item = load_scenario(tmp_path / "dates.yaml")
    assert isinstance(item, ScenarioFile), item
    result = await run_scenario(item, llm="scripted")
    assert result["passed"], [c for c in result["checks"] if not c["passed"]]
