"""Exactly-once writes per idempotency key, and optimistic locking on shared records."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from tools.errors import ToolFailure
from tools.models import Activity, AuditEvent, Opportunity, ToolExecution
from tools.service import CRMService, Proposal


def _count(crm: CRMService, model: type) -> int:
    with crm.db.read_session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


LOG = {"account_id": "acc-acme", "kind": "note", "subject": "Note", "summary": "x"}


def test_repeated_key_returns_first_result_and_writes_nothing(crm: CRMService) -> None:
    alice = crm.actor("u-alice")
    first = crm.call("log_activity", LOG, alice, idempotency_key="turn-1:write-1")
    second = crm.call("log_activity", LOG, alice, idempotency_key="turn-1:write-1")
    assert first["record_id"] == second["record_id"]
    assert first["replayed"] is False and second["replayed"] is True
    assert _count(crm, Activity) == 2  # one from the fixture + one
    assert _count(crm, AuditEvent) == 1 and _count(crm, ToolExecution) == 1


def test_executing_the_same_proposal_twice_commits_once(crm: CRMService) -> None:
    proposal = crm.propose(
        "apply_discount",
        {"opportunity_id": "opp-acme-1", "percent": 10, "reason": "x"},
        crm.actor("u-alice"),
    )
    assert isinstance(proposal, Proposal)
    one = crm.execute(proposal)
    two = crm.execute(proposal)
    assert not isinstance(one, ToolFailure) and not isinstance(two, ToolFailure)
    assert two.replayed and one.result == two.result
    with crm.db.read_session() as s:
        assert s.get(Opportunity, "opp-acme-1").version == 2
    assert _count(crm, AuditEvent) == 1


def test_key_reused_for_different_arguments_is_refused(crm: CRMService) -> None:
    alice = crm.actor("u-alice")
    crm.call("log_activity", LOG, alice, idempotency_key="k")
    other = crm.call("log_activity", {**LOG, "subject": "Other"}, alice, idempotency_key="k")
    assert other["ok"] is False and other["kind"] == "duplicate_key"
    assert "'k'" in other["message"] and _count(crm, Activity) == 2


def test_concurrent_duplicates_commit_once(crm: CRMService) -> None:
    """Eight threads race to commit the same proposal; exactly one write and one audit event."""
    proposal = crm.propose("log_activity", LOG, crm.actor("u-alice"))
    assert isinstance(proposal, Proposal)
    results: list[object] = []
    barrier = threading.Barrier(8)

    def run() -> None:
        barrier.wait()
        results.append(crm.execute(proposal, idempotency_key="race"))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 8
    assert all(not isinstance(r, ToolFailure) for r in results), results
    assert {r.result["record_id"] for r in results} == {proposal.record_id}  # type: ignore[union-attr]
    assert sum(not r.replayed for r in results) == 1  # type: ignore[union-attr]
    assert _count(crm, Activity) == 2 and _count(crm, AuditEvent) == 1


def test_stale_proposal_is_a_conflict(crm: CRMService) -> None:
    """Alice proposes; Maria changes the deal; Alice's commit must not overwrite blindly."""
    alice, maria = crm.actor("u-alice"), crm.actor("u-maria")
    stale = crm.propose(
        "update_opportunity", {"opportunity_id": "opp-acme-1", "amount": 110000}, alice
    )
    assert isinstance(stale, Proposal)
    assert crm.call(
        "update_opportunity", {"opportunity_id": "opp-acme-1", "next_step": "Legal review"}, maria
    )["ok"]
    outcome = crm.execute(stale)
    assert isinstance(outcome, ToolFailure) and outcome.kind == "conflict"
    assert "version 1, now 2" in outcome.message
    with crm.db.read_session() as s:
        opp = s.get(Opportunity, "opp-acme-1")
        assert opp.amount == 100000 and opp.next_step == "Legal review"
    assert _count(crm, ToolExecution) == 1  # only Maria's


def test_concurrent_editors_one_wins(crm: CRMService) -> None:
    """Two sessions load version 1 and both update: the version column stops the second."""
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.exc import StaleDataError

    with Session(crm.db.engine) as first, Session(crm.db.engine) as second:
        a = first.get(Opportunity, "opp-acme-1")
        b = second.get(Opportunity, "opp-acme-1")
        a.next_step = "from first"
        first.commit()
        b.next_step = "from second"
        try:
            second.commit()
        except StaleDataError:
            second.rollback()
        else:  # pragma: no cover - the lock failed
            raise AssertionError("second writer overwrote the first")
    with crm.db.read_session() as s:
        assert s.get(Opportunity, "opp-acme-1").next_step == "from first"


def test_permission_is_rechecked_at_commit(crm: CRMService) -> None:
    """A proposal made while allowed is refused at commit if the account changed hands."""
    proposal = crm.propose(
        "apply_discount",
        {"opportunity_id": "opp-globex-1", "percent": 5, "reason": "x"},
        crm.actor("u-ben"),
    )
    assert isinstance(proposal, Proposal)
    from tools.models import Account

    with crm.db.session() as s:
        s.get(Account, "acc-globex").owner_id = "u-alice"
        s.get(Opportunity, "opp-globex-1").owner_id = "u-alice"
    outcome = crm.execute(proposal)
    assert isinstance(outcome, ToolFailure) and outcome.kind == "refused"
    assert _count(crm, ToolExecution) == 0
