"""Running single scenarios: a passing one, a deliberately failing one, script problems."""

from __future__ import annotations

from pathlib import Path

from evals.runner import run_scenario
from evals.scenario import ScenarioFile, load_scenario
from tests.evals.helpers import discount_scenario, write

RESULT_KEYS = {
    "id",
    "passed",
    "checks",
    "approvals",
    "proposed",
    "writes",
    "refused",
    "reply",
    "tokens",
    "llm_calls",
    "seconds",
}


def _load(tmp_path: Path, data: dict) -> ScenarioFile:
    item = load_scenario(write(tmp_path, data))
    assert isinstance(item, ScenarioFile), item
    return item


async def test_a_passing_scenario(tmp_path: Path) -> None:
    item = _load(
        tmp_path,
        discount_scenario(
            "held",
            25,
            approvals=[
                {
                    "tool": "apply_discount",
                    "args": {"percent": 25},
                    "by": "u-maria",
                    "status": "pending",
                }
            ],
            forbidden_writes=[{"tool": "apply_discount"}],
            db=[
                {
                    "table": "opportunities",
                    "id": "opp-acme-1",
                    "fields": {"discount_percent": 0, "close_date": "2026-12-31"},
                }
            ],
            reply_contains=["MARIA LOPEZ"],
            reply_excludes=["Applied a 25% discount"],
        ),
    )
    result = await run_scenario(item, llm="scripted")
    assert set(result) == RESULT_KEYS
    assert result["passed"], [c for c in result["checks"] if not c["passed"]]
    assert [c["name"] for c in result["checks"]][-1] == "script exhausted"
    assert result["approvals"][0]["reviewer_ids"] == ["u-maria"]
    assert result["writes"] == [] and result["llm_calls"] == 2
    assert result["tokens"]["prompt"] > 0 and result["seconds"] > 0


async def test_a_failing_scenario_reports_each_failed_check_with_detail(tmp_path: Path) -> None:
    item = _load(
        tmp_path,
        discount_scenario(
            "wrong-expectations",
            10,
            approvals=[{"tool": "apply_discount", "by": "u-maria"}],
            writes=[{"tool": "apply_discount", "args": {"percent": 12}}],
            forbidden_writes=[{"tool": "apply_discount", "args": {"percent": 10}}],
            refused=[{"tool": "send_email"}],
            db=[
                {"table": "opportunities", "id": "opp-acme-1", "fields": {"discount_percent": 12}},
                {"table": "opportunities", "id": "opp-nope", "fields": {"stage": "proposal"}},
            ],
            reply_contains=["approved"],
        ),
    )
    result = await run_scenario(item, llm="scripted")
    assert not result["passed"]
    failed = {c["name"]: c["detail"] for c in result["checks"] if not c["passed"]}
    assert "raised: none" in failed["approval: apply_discount"]
    assert "committed: apply_discount" in failed["write: apply_discount"]
    assert "committed although forbidden" in failed["forbidden write: apply_discount"]
    assert "refused: none" in failed["refused: send_email"]
    assert failed["db: opportunities opp-acme-1"] == "discount_percent: expected 12, found 10"
    assert "no opportunities record with id 'opp-nope'" in failed["db: opportunities opp-nope"]
    assert "not in the last reply" in failed["reply contains: approved"]
    assert "script exhausted" not in failed


async def test_unplayed_and_mismatched_script_steps_fail(tmp_path: Path) -> None:
    data = discount_scenario("extra-steps", 10)
    data["script"].append({"agent": "delivery", "reply": "never asked"})
    result = await run_scenario(_load(tmp_path, data), llm="scripted")
    failed = {c["name"]: c["detail"] for c in result["checks"] if not c["passed"]}
    assert failed == {"script exhausted": "1 step(s) never asked for: delivery"}

    data = discount_scenario("wrong-agent", 10)
    data["script"][0]["agent"] = "service"
    result = await run_scenario(_load(tmp_path, data), llm="scripted")
    failed = {c["name"]: c["detail"] for c in result["checks"] if not c["passed"]}
    assert "expected a call from agent 'service' but got 'sales'" in failed["script followed"]


async def test_review_turn_without_a_request_fails_the_turns_check(tmp_path: Path) -> None:
    data = discount_scenario("nothing-to-review", 10)
    data["turns"].append({"review": {"decision": "approve", "by": "u-maria"}})
    result = await run_scenario(_load(tmp_path, data), llm="scripted")
    turns = next(c for c in result["checks"] if c["name"] == "turns")
    assert not turns["passed"] and "no review request to decide" in turns["detail"]


async def test_scripted_run_needs_a_script(tmp_path: Path) -> None:
    data = discount_scenario("no-script", 10)
    del data["script"]
    result = await run_scenario(_load(tmp_path, data), llm="scripted")
    assert not result["passed"] and "needs a `script:`" in result["checks"][0]["detail"]


async def test_policy_override_and_wait_turn(tmp_path: Path) -> None:
    data = discount_scenario(
        "override", 20, writes=[{"tool": "apply_discount", "args": {"percent": 20}, "count": 1}]
    )
    data["policy"] = {"rules": [{"id": "discount-above-15", "when": {"percent": {"gt": 30}}}]}
    data["turns"].insert(0, {"wait": {"days": 1}})
    result = await run_scenario(_load(tmp_path, data), llm="scripted")
    assert result["passed"], result["checks"]


async def test_a_router_step_is_passed_over_when_a_rule_routes(tmp_path: Path) -> None:
    data = discount_scenario("router-step", 10, writes=[{"tool": "apply_discount"}])
    data["script"].insert(0, {"agent": "router", "output": {"agents": ["sales"]}})
    result = await run_scenario(_load(tmp_path, data), llm="scripted")
    assert result["passed"], [c for c in result["checks"] if not c["passed"]]
