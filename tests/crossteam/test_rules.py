"""Which refused writes may become cross-team requests (tools/crossteam.py), at the tool layer."""

from __future__ import annotations

from tools.crossteam import CROSS_TEAM_RULE, request_of
from tools.errors import ToolFailure
from tools.service import CRMService, Proposal


def propose(crm: CRMService, user: str, tool: str, **arguments: object) -> Proposal | ToolFailure:
    return crm.propose(tool, dict(arguments), crm.actor(user), cross_team=True)


def test_a_reps_go_live_move_becomes_a_request_to_the_delivery_lead(crm: CRMService) -> None:
    proposal = propose(crm, "u-alice", "schedule_go_live", project_id="prj-acme",
                       go_live_date="2026-12-07")  # fmt: skip
    assert isinstance(proposal, Proposal) and proposal.actor_id == "u-alice"
    request = request_of(proposal.facts)
    assert request is not None and request.lead_role == "delivery_lead"
    assert request.relation == "owns the account"
    [decision] = crm.gate([proposal], crm.actor("u-alice"))
    assert decision.rule_ids[0] == CROSS_TEAM_RULE and decision.reviewer_ids == ["u-dana"]
    # Without `cross_team` (a direct call, the permission matrix) it stays a refusal.
    plain = crm.propose("schedule_go_live", proposal.arguments, crm.actor("u-alice"))
    assert isinstance(plain, ToolFailure) and plain.kind == "refused"


def test_plain_refusal_stays(crm: CRMService) -> None:
    never = propose(crm, "u-dev", "send_email", contact_id="con-jane", subject="s", body="b")
    assert isinstance(never, ToolFailure) and "never asked of another team" in never.message
    other_team = propose(crm, "u-bob", "schedule_go_live", project_id="prj-acme",
                         go_live_date="2026-12-07")  # fmt: skip
    # another team's project reads exactly like a missing one
    assert (
        isinstance(other_team, ToolFailure)
        and "No project with id 'prj-acme'" in other_team.message
    )
    no_ticket = propose(crm, "u-sam", "apply_discount", opportunity_id="opp-acme-1", percent=5,
                        reason="r")  # fmt: skip
    assert isinstance(no_ticket, ToolFailure) and "has no relation" in no_ticket.message
    amount = propose(crm, "u-dev", "update_opportunity", opportunity_id="opp-acme-1", amount=1)
    assert isinstance(amount, ToolFailure) and "only for close_date, next_step" in amount.message


def test_an_approved_request_is_committed_by_the_lead(crm: CRMService) -> None:
    from datetime import timedelta

    proposal = propose(crm, "u-alice", "grant_sla_credit", account_id="acc-acme", amount=100,
                       reason="outage")  # fmt: skip
    assert isinstance(proposal, Proposal)
    [decision] = crm.gate([proposal], crm.actor("u-alice"))
    assert decision.reviewer_role == "support_lead" and decision.reviewer_ids == ["u-priya"]
    review = crm.request_review(proposal, decision, thread_id="t", ttl=timedelta(hours=1))
    outcome = crm.decide_review(review["id"], reviewer_id="u-priya", decision="approve")
    assert outcome.status == "approved"
    [event] = [e for e in crm.audit_events() if e.outcome == "committed"]
    assert event.actor_id == "u-priya" and event.approval_id == review["id"]
