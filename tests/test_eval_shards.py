"""`--shard i/n` covers the suite once across n runs; `--resume` runs only what is missing;
the summary has pass rate and pass^k per tag and the figures_grounded check on every run."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.suite import EvalSetupError, run_suite

SCENARIOS = Path(__file__).resolve().parents[1] / "evals" / "scenarios"
FILTER = "delivery-go-live"


async def test_shards_cover_the_suite_once(tmp_path: Path) -> None:
    whole = await run_suite(SCENARIOS, filter_text=FILTER)
    parts = [await run_suite(SCENARIOS, filter_text=FILTER, shard=(i, 2)) for i in (1, 2)]
    ids = sorted(r["id"] for p in parts for r in p["per_scenario"])
    assert ids == sorted(r["id"] for r in whole["per_scenario"]) and len(ids) >= 3
    assert all(p["scenarios"] < whole["scenarios"] for p in parts)
    with pytest.raises(EvalSetupError, match="between 1 and 2"):
        await run_suite(SCENARIOS, filter_text=FILTER, shard=(3, 2))


async def test_resume_runs_only_the_missing_results(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = await run_suite(SCENARIOS, filter_text=FILTER, out=out)
    missing = sorted(out.glob("delivery-*.json"))[0]
    if missing.name.endswith(".trace.json"):
        missing = missing.with_name(missing.name.replace(".trace.json", ".json"))
    missing.unlink()
    ran: list[str] = []
    second = await run_suite(
        SCENARIOS,
        filter_text=FILTER,
        out=out,
        resume=True,
        progress=lambda r, _: ran.append(r["id"]),
    )
    assert ran == [missing.stem]
    assert second["passed"] == first["passed"] == first["scenarios"]
    assert second["per_tag"]["delivery"]["pass_rate"] == 1.0
    assert second["per_tag"]["delivery"]["pass^k"] == 1.0
    assert second["ungrounded_figures"] == 0


async def test_every_run_checks_figures() -> None:
    summary = await run_suite(SCENARIOS, filter_text=FILTER)
    assert all(row["passed_all"] for row in summary["per_scenario"])
