"""Property test of the review promise over random policies, proposals, edits and deciders:
a write commits only if every matching rule's role approved the committed values, no approver
approved their own request, the committed values are the last approved ones, and the audit names
each approver."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tools.models import Approval, AuditEvent, User
from tools.policy import ROLES
from tools.service import CRMService, Proposal, ReviewRefused

USERS = ["u-alice", "u-ben", "u-maria", "u-omar", "u-priya", "u-dana", "u-admin"]
REQUESTERS = ["u-alice", "u-maria", "u-admin"]

rules = st.lists(
    st.fixed_dictionaries(
        {
            "gt": st.integers(min_value=0, max_value=90),
            "reviewer": st.sampled_from(ROLES),
            "strategic": st.booleans(),
        }
    ),
    max_size=3,
)
actions = st.lists(
    st.tuples(
        st.sampled_from(USERS),
        st.sampled_from(["approve", "approve", "edit", "reject"]),
        st.integers(min_value=0, max_value=100),
    ),
    min_size=1,
    max_size=5,
)


def _policy_rules(drawn: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, rule in enumerate(drawn):
        when: dict[str, Any] = {"percent": {"gt": rule["gt"]}}
        if rule["strategic"]:
            when["account_tier"] = {"eq": "strategic"}
        out.append(
            {
                "id": f"random-{i}",
                "tool": "apply_discount",
                "when": when,
                "reviewer": rule["reviewer"],
                "reason": f"random rule {i}",
            }
        )
    return out


@pytest.fixture
def base(sqlite_db: Any, clock: Any, policy: Any) -> CRMService:
    from tests.conftest import small_company
    from tools.fixtures import load_fixture

    load_fixture(sqlite_db, small_company())
    return CRMService(sqlite_db, policy=policy, clock=clock)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    drawn=rules,
    requester=st.sampled_from(REQUESTERS),
    percent=st.integers(min_value=0, max_value=100),
    steps=actions,
)
def test_review_promise(
    base: CRMService,
    drawn: list[dict[str, Any]],
    requester: str,
    percent: int,
    steps: list[tuple[str, str, int]],
) -> None:
    policy = base.policy.with_overrides({"rules": _policy_rules(drawn)})
    crm = CRMService(base.db, policy=policy, clock=base.clock)
    actor = crm.actor(requester)
    proposal = crm.propose(
        "apply_discount",
        {"opportunity_id": "opp-acme-1", "percent": percent, "reason": "property"},
        actor,
    )
    assert isinstance(proposal, Proposal)
    [decision] = crm.classify([proposal], actor)
    expected_roles = {h.reviewer for h in policy.classify(proposal.tool, proposal.facts)}
    if decision.verdict != "review":
        assert (decision.verdict == "commit") == (not expected_roles)
        return
    assert [s.role for s in decision.steps] == policy.order(sorted(expected_roles))
    approval_id = crm.request_review(proposal, decision, thread_id=None, ttl=timedelta(days=1))[
        "id"
    ]
    last_approved: dict[str, Any] | None = None
    for decider, kind, new_percent in steps:
        try:
            outcome = crm.decide_review(
                approval_id,
                reviewer_id=decider,
                decision=kind,
                arguments={"percent": new_percent} if kind == "edit" else None,
            )
        except ReviewRefused:
            continue
        assert decider != requester
        if outcome.status in ("approved", "pending") and not outcome.already_decided:
            last_approved = outcome.arguments
        if outcome.status != "pending":
            break

    with crm.db.read_session() as s:
        row = s.get(Approval, approval_id)
        committed = s.scalars(
            select(AuditEvent).where(
                AuditEvent.approval_id == approval_id, AuditEvent.outcome == "committed"
            )
        ).all()
        review_events = s.scalars(
            select(AuditEvent).where(
                AuditEvent.approval_id == approval_id,
                AuditEvent.action == "review:apply_discount",
            )
        ).all()
        users = {u.id: u for u in s.scalars(select(User))}
    assert row is not None
    if row.status != "approved":
        assert committed == []
        return
    [event] = committed
    # the committed values are the last approved ones
    assert last_approved is not None and event.arguments == last_approved == (
        row.edited_arguments or row.arguments
    )
    # every rule matching the committed values had its role approve those values
    final = Proposal.model_validate(row.context["proposal"])
    needed = {h.reviewer for h in policy.classify(final.tool, final.facts)}
    revision = row.context["revision"]
    approvals = [a for a in row.context["approvals"] if a["revision"] == revision]
    assert needed <= {a["role"] for a in approvals}
    for approval in approvals:
        approver = users[approval["by"]]
        # nobody approved their own request
        assert approver.id != row.requested_by
        # and each approver holds the role, is addressed for it, or is an admin
        step = next(s for s in row.context["steps"] if s["role"] == approval["role"])
        assert (
            approval["role"] in (approver.roles or [])
            or approver.id in step["reviewer_ids"]
            or "admin" in (approver.roles or [])
        )
    # the audit names each approver
    assert {a["by"] for a in approvals} <= {e.actor_id for e in review_events}
