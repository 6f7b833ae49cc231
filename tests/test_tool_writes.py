"""Every write tool: the change, its audit event, and bad input that writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tools.errors import ToolFailure
from tools.models import (
    Activity,
    AuditEvent,
    Opportunity,
    OutboxMessage,
    Project,
    SlaCredit,
    Task,
    Ticket,
    ToolExecution,
)
from tools.service import CRMService, Proposal

WRITES: list[tuple[str, str, dict[str, Any], str, dict[str, Any]]] = [
    # tool, actor, arguments, record type, expected fields after
    (
        "create_opportunity",
        "u-alice",
        {
            "account_id": "acc-acme",
            "name": "Acme add-on",
            "amount": 30000,
            "close_date": "2027-02-01",
        },
        "opportunity",
        {"stage": "prospecting", "currency": "USD", "owner_id": "u-alice"},
    ),
    (
        "update_opportunity",
        "u-alice",
        {"opportunity_id": "opp-acme-1", "next_step": "Send quote", "probability": 60},
        "opportunity",
        {"next_step": "Send quote", "probability": 60},
    ),
    (
        "apply_discount",
        "u-alice",
        {"opportunity_id": "opp-acme-1", "percent": 10, "reason": "multi-year"},
        "opportunity",
        {"discount_percent": 10},
    ),
    (
        "log_activity",
        "u-alice",
        {
            "account_id": "acc-acme",
            "kind": "call",
            "subject": "Call with Jane",
            "summary": "200 seats",
            "opportunity_id": "opp-acme-1",
            "contact_ids": ["con-jane"],
            "occurred_at": "2026-11-20T10:00:00+01:00",
        },
        "activity",
        {"kind": "call", "contact_ids": ["con-jane"], "occurred_at": "2026-11-20T09:00:00+00:00"},
    ),
    (
        "create_task",
        "u-alice",
        {"subject": "Send revised quote", "due_date": "2026-11-27", "account_id": "acc-acme"},
        "task",
        {"owner_id": "u-alice", "status": "open", "due_date": "2026-11-27"},
    ),
    (
        "send_email",
        "u-alice",
        {"contact_id": "con-jane", "subject": "Quote", "body": "Please find the quote."},
        "outbox",
        {"to_email": "jane@acme.example", "status": "queued"},
    ),
    (
        "create_ticket",
        "u-sam",
        {
            "account_id": "acc-globex",
            "subject": "Sync fails",
            "description": "Nightly sync",
            "priority": "p1",
        },
        "ticket",
        {"status": "open", "priority": "p1", "sla_due_at": "2026-11-20T20:00:00+00:00"},
    ),
    (
        "update_ticket",
        "u-sam",
        {"ticket_id": "tkt-acme-1", "status": "pending", "assignee_id": "u-sam"},
        "ticket",
        {"status": "pending", "assignee_id": "u-sam"},
    ),
    (
        "escalate_ticket",
        "u-sam",
        {"ticket_id": "tkt-acme-1", "reason": "Customer exec complaint"},
        "ticket",
        {"escalated": True, "escalation_reason": "Customer exec complaint"},
    ),
    (
        "grant_sla_credit",
        "u-priya",
        {"account_id": "acc-helix", "amount": 500, "currency": "eur", "reason": "P1 outage"},
        "sla_credit",
        {"amount": 500, "currency": "EUR", "granted_by": "u-priya"},
    ),
    (
        "create_project",
        "u-dev",
        {
            "account_id": "acc-globex",
            "name": "Globex onboarding",
            "seats": 40,
            "start_date": "2026-12-01",
            "go_live_date": "2027-01-18",
        },
        "project",
        {"seats": 40, "status": "planned", "lead_id": "u-dev"},
    ),
    (
        "schedule_go_live",
        "u-dev",
        {"project_id": "prj-initech", "go_live_date": "2027-01-18", "reason": "customer asked"},
        "project",
        {"go_live_date": "2027-01-18"},
    ),
]


def count(crm: CRMService, model: type) -> int:
    with crm.db.read_session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize(
    ("tool", "user", "args", "record_type", "after"), WRITES, ids=[w[0] for w in WRITES]
)
def test_write_commits_with_audit(
    crm: CRMService, tool: str, user: str, args: dict, record_type: str, after: dict
) -> None:
    actor = crm.actor(user)
    proposal = crm.propose(tool, args, actor, thread_id="t-1")
    assert isinstance(proposal, Proposal), proposal
    assert proposal.record_type == record_type and proposal.summary
    outcome = crm.execute(
        proposal, idempotency_key=f"k-{tool}", approval_id="appr-1", thread_id="t-1"
    )
    assert not isinstance(outcome, ToolFailure), outcome
    record = outcome.result["record"]
    for key, value in after.items():
        assert record[key] == value, key
    with crm.db.read_session() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == tool)).one()
        assert event.actor_id == user and event.outcome == "committed"
        assert event.record_type == record_type and event.record_id == proposal.record_id
        assert event.proposal_id == proposal.id and event.approval_id == "appr-1"
        assert event.idempotency_key == f"k-{tool}" and event.thread_id == "t-1"
        assert event.arguments == proposal.arguments
        assert event.after == record
        if proposal.before is None:
            assert event.before is None
        else:
            assert event.before == proposal.before and event.before != event.after


def test_created_ids_are_stable_across_prepare_and_commit(crm: CRMService) -> None:
    actor = crm.actor("u-alice")
    args = {"subject": "Follow up", "due_date": "2026-12-01"}
    proposal = crm.propose("create_task", args, actor, proposal_id="prop-fixed")
    again = crm.propose("create_task", args, actor, proposal_id="prop-fixed")
    assert isinstance(proposal, Proposal) and isinstance(again, Proposal)
    assert proposal.record_id == again.record_id
    outcome = crm.execute(proposal)
    assert outcome.result["record_id"] == proposal.record_id


def test_update_opportunity_facts_for_policy(crm: CRMService) -> None:
    proposal = crm.propose(
        "update_opportunity",
        {"opportunity_id": "opp-acme-1", "amount": 125000, "stage": "closed_won"},
        crm.actor("u-alice"),
    )
    assert proposal.facts["amount_change_percent"] == pytest.approx(25.0)
    assert proposal.facts["stage"] == "closed_won"
    assert proposal.facts["account_tier"] == "strategic"


def test_schedule_go_live_facts(crm: CRMService) -> None:
    proposal = crm.propose(
        "schedule_go_live",
        {"project_id": "prj-acme", "go_live_date": "2027-01-06"},
        crm.actor("u-dev"),
    )
    assert proposal.facts["go_live_delay_days"] == 23
    assert proposal.facts["go_live_week_free_days"] == 0  # week of 2027-01-04 is full


BAD_INPUT = [
    ("apply_discount", {"opportunity_id": "opp-acme-1", "percent": 101, "reason": "x"}, "percent"),
    ("apply_discount", {"opportunity_id": "opp-acme-1", "percent": -1, "reason": "x"}, "percent"),
    (
        "apply_discount",
        {"opportunity_id": "opp-acme-1", "percent": "lots", "reason": "x"},
        "percent",
    ),
    ("apply_discount", {"opportunity_id": "opp-acme-1", "percent": 10}, "reason"),
    (
        "apply_discount",
        {"opportunity_id": "opp-nope", "percent": 10, "reason": "x"},
        "opportunity_id",
    ),
    (
        "create_opportunity",
        {"account_id": "acc-acme", "name": "x", "amount": -5, "close_date": "2027-01-01"},
        "amount",
    ),
    (
        "create_opportunity",
        {"account_id": "acc-acme", "name": "x", "amount": 5, "close_date": "31/12/2026"},
        "close_date",
    ),
    (
        "create_opportunity",
        {"account_id": "acc-acme", "name": "x", "amount": 5, "close_date": "2026-02-30"},
        "close_date",
    ),
    (
        "create_opportunity",
        {
            "account_id": "acc-acme",
            "name": "x",
            "amount": 5,
            "close_date": "2027-01-01",
            "currency": "dollars",
        },
        "currency",
    ),
    (
        "create_opportunity",
        {"account_id": "acc-acme", "name": "x" * 201, "amount": 5, "close_date": "2027-01-01"},
        "name",
    ),
    (
        "create_opportunity",
        {
            "account_id": "acc-acme",
            "name": "x",
            "amount": 5,
            "close_date": "2027-01-01",
            "owner": "u-ben",
        },
        "owner",
    ),
    ("update_opportunity", {"opportunity_id": "opp-acme-1"}, "stage"),
    ("update_opportunity", {"opportunity_id": "opp-acme-1", "stage": "won"}, "stage"),
    ("update_opportunity", {"opportunity_id": "opp-acme-1", "probability": 150}, "probability"),
    (
        "log_activity",
        {"account_id": "acc-acme", "kind": "call", "subject": "s", "summary": "x" * 10_001},
        "summary",
    ),
    (
        "log_activity",
        {"account_id": "acc-acme", "kind": "lunch", "subject": "s", "summary": "x"},
        "kind",
    ),
    (
        "log_activity",
        {
            "account_id": "acc-acme",
            "kind": "call",
            "subject": "s",
            "summary": "x",
            "contact_ids": ["con-hank"],
        },
        "contact_ids",
    ),
    (
        "log_activity",
        {
            "account_id": "acc-acme",
            "kind": "call",
            "subject": "s",
            "summary": "x",
            "opportunity_id": "opp-globex-1",
        },
        "opportunity_id",
    ),
    ("create_task", {"subject": "s", "due_date": "tomorrow"}, "due_date"),
    ("create_task", {"subject": "s", "due_date": "2026-12-01", "owner_id": "u-ghost"}, "owner_id"),
    ("send_email", {"contact_id": "con-nope", "subject": "s", "body": "b"}, "contact_id"),
    ("send_email", {"contact_id": "con-jane", "subject": "s", "body": ""}, "body"),
]


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    BAD_INPUT,
    ids=[f"{b[0]}-{b[2]}-{i}" for i, b in enumerate(BAD_INPUT)],
)
def test_bad_input_names_the_field_and_writes_nothing(
    crm: CRMService, tool: str, args: dict, field: str
) -> None:
    before = (
        count(crm, AuditEvent),
        count(crm, Opportunity),
        count(crm, Activity),
        count(crm, Task),
        count(crm, OutboxMessage),
        count(crm, ToolExecution),
    )
    result = crm.call(tool, args, crm.actor("u-alice"))
    assert result["ok"] is False, result
    assert result["kind"] in {"validation", "not_found"}
    assert field in result["fields"], result
    value = args.get(field, "")
    named = value if isinstance(value, list) else [value]
    assert field in result["message"] or any(str(v) in result["message"] for v in named)
    after = (
        count(crm, AuditEvent),
        count(crm, Opportunity),
        count(crm, Activity),
        count(crm, Task),
        count(crm, OutboxMessage),
        count(crm, ToolExecution),
    )
    assert before == after


@pytest.mark.parametrize(
    ("tool", "args", "user"),
    [
        ("update_ticket", {"ticket_id": "tkt-acme-1", "priority": "p9"}, "u-sam"),
        ("grant_sla_credit", {"account_id": "acc-acme", "amount": 0, "reason": "x"}, "u-priya"),
        (
            "create_project",
            {
                "account_id": "acc-acme",
                "name": "p",
                "seats": 0,
                "start_date": "2026-12-01",
                "go_live_date": "2027-01-01",
            },
            "u-dev",
        ),
        (
            "create_project",
            {
                "account_id": "acc-acme",
                "name": "p",
                "seats": 5,
                "start_date": "2026-12-01",
                "go_live_date": "2026-11-01",
            },
            "u-dev",
        ),
        ("schedule_go_live", {"project_id": "prj-acme", "go_live_date": "2026-10-01"}, "u-dev"),
        ("escalate_ticket", {"ticket_id": "tkt-initech-1", "reason": "late"}, "u-sam"),
    ],
)
def test_service_and_delivery_bad_input(crm: CRMService, tool: str, args: dict, user: str) -> None:
    writes = count(crm, ToolExecution)
    result = crm.call(tool, args, crm.actor(user))
    assert result["ok"] is False and result["kind"] == "validation" and result["message"]
    assert count(crm, ToolExecution) == writes


def test_discount_on_closed_deal_is_refused(crm: CRMService) -> None:
    result = crm.call(
        "apply_discount",
        {"opportunity_id": "opp-acme-won", "percent": 5, "reason": "x"},
        crm.actor("u-alice"),
    )
    assert result["kind"] == "validation" and "closed_won" in result["message"]


def test_priority_change_moves_sla(crm: CRMService) -> None:
    result = crm.call(
        "update_ticket", {"ticket_id": "tkt-acme-1", "priority": "p1"}, crm.actor("u-sam")
    )
    assert result["record"]["sla_due_at"] == "2026-11-19T17:00:00+00:00"


def test_email_needs_consent(crm: CRMService) -> None:
    result = crm.call(
        "send_email", {"contact_id": "con-raj", "subject": "Hi", "body": "b"}, crm.actor("u-alice")
    )
    assert result["ok"] is False and result["kind"] == "refused" and result["rule"] == "consent"
    assert "Raj Mehta" in result["message"] and "consent" in result["message"]
    assert count(crm, OutboxMessage) == 0
    with crm.db.read_session() as s:
        refusal = s.scalars(select(AuditEvent)).one()
    assert refusal.outcome == "refused" and refusal.action == "send_email"


def test_nothing_is_written_when_apply_fails(crm: CRMService, monkeypatch) -> None:
    """A failure after the change is made rolls back the change, the audit and the key."""
    proposal = crm.propose(
        "create_ticket",
        {"account_id": "acc-acme", "subject": "s", "description": "d", "priority": "p3"},
        crm.actor("u-sam"),
    )

    def explode(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(AuditEvent, "__init__", explode)
    with pytest.raises(RuntimeError):
        crm.execute(proposal)
    monkeypatch.undo()
    assert count(crm, Ticket) == 3 and count(crm, ToolExecution) == 0
    assert crm.execute(proposal).result["record_id"] == proposal.record_id
    assert count(crm, Ticket) == 4


def test_counts_of_other_records_unchanged_by_reads(crm: CRMService) -> None:
    crm.read("get_account", {"account_id": "acc-acme"}, crm.actor("u-alice"))
    assert count(crm, AuditEvent) == 0
    assert count(crm, SlaCredit) == 0 and count(crm, Project) == 2
