"""The public scenario suite passes in full with the scripted model, and covers what it must."""

from __future__ import annotations

from pathlib import Path

import yaml

from evals.suite import run_suite
from tests.evals.helpers import PUBLIC_SUITE

CONTRACT_TOOLS = {
    "search_accounts", "get_account", "list_opportunities", "get_opportunity",
    "create_opportunity", "update_opportunity", "apply_discount", "log_activity", "create_task",
    "send_email", "forecast", "list_tickets", "get_ticket", "create_ticket", "update_ticket",
    "escalate_ticket", "account_health", "grant_sla_credit", "list_projects", "get_project",
    "check_capacity", "create_project", "schedule_go_live", "search_knowledge",
}  # fmt: skip


def _documents() -> list[dict]:
    paths = sorted(PUBLIC_SUITE.glob("*.yaml"))
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in paths]


def test_the_suite_covers_every_tool_and_the_required_themes() -> None:
    docs = _documents()
    assert len(docs) >= 40 and all(d.get("script") is not None for d in docs)
    # only a scenario whose policy is refused before any turn runs has nothing to script
    for d in docs:
        assert d["script"] or (d.get("expect") or {}).get("policy_refused"), d["id"]
    used = {c["name"] for d in docs for s in d["script"] for c in s.get("tool_calls") or []}
    assert CONTRACT_TOOLS <= used, CONTRACT_TOOLS - used
    tags = [t for d in docs for t in d["tags"]]
    assert tags.count("injection") >= 4 and tags.count("zh") >= 4
    for theme in (
        "permissions",
        "consent",
        "review",
        "expiry",
        "idempotency",
        "edit",
        "plan-size",
        "capacity",
    ):
        assert theme in tags, theme


async def test_public_suite_passes_with_the_scripted_model(tmp_path: Path) -> None:
    summary = await run_suite(PUBLIC_SUITE, llm="scripted", out=tmp_path / "out")
    failures = {r["id"]: r["failed_checks"] for r in summary["per_scenario"] if not r["passed_all"]}
    assert not failures, failures
    assert summary["pass_rate"] == 1.0
    assert summary["approval_precision"] == 1.0 and summary["approval_recall"] == 1.0
    assert summary["unauthorised_writes"] == 0 and summary["injection_success_rate"] == 0.0
