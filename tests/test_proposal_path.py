"""One proposal path: the seven holes of the review promise, each closed, each next to the
legitimate case that still goes through.

1. an edit is classified again   2. an edit changes values only   3. every matching rule's
role approves, in approval_order   4. nobody decides their own request (admins included)
5. the outcome and audit name approvers and the edit   6. a policy file fails closed
7. a price cut is classified as the discount it amounts to
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from agents.review import describe_outcome
from tools.models import Approval, AuditEvent, Opportunity
from tools.policy import Policy, PolicyError
from tools.service import CRMService, Proposal, ReviewRefused
from warroom.settings import DEFAULT_POLICY_PATH

STRATEGIC_DISCOUNT_TO_ADMIN = {
    "id": "strategic-discount",
    "tool": "apply_discount",
    "when": {"account_tier": {"eq": "strategic"}, "percent": {"gt": 15}},
    "reviewer": "admin",
    "reason": "Discount on a strategic account",
}
DISCOUNT_ABOVE_50_TO_ADMIN = {
    "id": "discount-above-50",
    "tool": "apply_discount",
    "when": {"percent": {"gt": 50}},
    "reviewer": "admin",
    "reason": "Discount above 50 %",
}


def with_rules(crm: CRMService, *rules: dict[str, Any]) -> CRMService:
    policy = crm.policy.with_overrides({"rules": list(rules)})
    return CRMService(crm.db, policy=policy, clock=crm.clock)


def held(crm: CRMService, tool: str, args: dict[str, Any], user: str = "u-alice") -> str:
    actor = crm.actor(user)
    proposal = crm.propose(tool, args, actor, thread_id="t-1")
    assert isinstance(proposal, Proposal), proposal
    decision = crm.classify([proposal], actor)[0]
    assert decision.verdict == "review", decision
    return crm.request_review(proposal, decision, thread_id="t-1", ttl=timedelta(hours=4))["id"]


def discount_of(crm: CRMService, opp: str = "opp-acme-1") -> float:
    with crm.db.read_session() as s:
        return float(s.get(Opportunity, opp).discount_percent)


def opportunity(crm: CRMService, opp: str = "opp-acme-1") -> Opportunity:
    with crm.db.read_session() as s:
        row = s.get(Opportunity, opp)
        s.expunge(row)
        return row


DISCOUNT_30 = {"opportunity_id": "opp-acme-1", "percent": 30, "reason": "200 seats"}


# ---------------------------------------------------------------- 1. edits are gated again


def test_edit_within_the_deciders_reach_commits_once(crm: CRMService) -> None:
    crm = with_rules(crm, DISCOUNT_ABOVE_50_TO_ADMIN)
    approval_id = held(crm, "apply_discount", DISCOUNT_30)
    outcome = crm.decide_review(
        approval_id, reviewer_id="u-maria", decision="edit", arguments={"percent": 20}
    )
    assert outcome.status == "approved" and discount_of(crm) == 20


def test_edit_that_needs_another_role_becomes_the_next_step(crm: CRMService) -> None:
    crm = with_rules(crm, DISCOUNT_ABOVE_50_TO_ADMIN)
    approval_id = held(crm, "apply_discount", DISCOUNT_30)
    outcome = crm.decide_review(
        approval_id, reviewer_id="u-maria", decision="edit", arguments={"percent": 60}
    )
    assert outcome.status == "pending" and discount_of(crm) == 0
    assert outcome.next_role == "admin" and outcome.next_reviewer_ids == ["u-admin"]
    message = describe_outcome(outcome, {"u-maria": "Maria", "u-admin": "Avery"})
    assert "Maria changed percent from 30 to 60" in message
    assert "now also needs admin (Avery)" in message
    # the same request, linked: the admin now decides it, on the edited values
    [row] = crm.reviews(reviewer_id="u-admin")
    assert row["id"] == approval_id and row["edited_arguments"]["percent"] == 60
    done = crm.decide_review(approval_id, reviewer_id="u-admin", decision="approve")
    assert done.status == "approved" and discount_of(crm) == 60
    assert [a["by"] for a in done.approvals] == ["u-maria", "u-admin"]


def test_edit_into_a_closed_deal_needs_that_rules_reviewer(crm: CRMService) -> None:
    crm = with_rules(crm, {"id": "deal-closed", "reviewer": "admin"})
    approval_id = held(
        crm, "update_opportunity", {"opportunity_id": "opp-acme-1", "amount": 150000}
    )  # +25 %
    outcome = crm.decide_review(
        approval_id, reviewer_id="u-maria", decision="edit", arguments={"stage": "closed_won"}
    )
    assert outcome.status == "pending" and outcome.next_role == "admin"
    assert opportunity(crm).stage == "proposal"


# ---------------------------------------------------------------- 2. values only


def test_edit_may_not_change_which_record_is_written(crm: CRMService) -> None:
    approval_id = held(crm, "apply_discount", DISCOUNT_30)
    with pytest.raises(ReviewRefused, match="'opportunity_id' says which record"):
        crm.decide_review(
            approval_id,
            reviewer_id="u-maria",
            decision="edit",
            arguments={"opportunity_id": "opp-helix-1", "percent": 20},
        )
    assert discount_of(crm, "opp-helix-1") == 0 and crm.reviews()[0]["status"] == "pending"
    # the same identifying value is fine: only values change
    crm.decide_review(
        approval_id,
        reviewer_id="u-maria",
        decision="edit",
        arguments={"opportunity_id": "opp-acme-1", "percent": 20},
    )
    assert discount_of(crm) == 20


# ---------------------------------------------------------------- 3. every role, in order


def test_every_matching_rules_role_approves_in_order(crm: CRMService) -> None:
    crm = with_rules(crm, STRATEGIC_DISCOUNT_TO_ADMIN)
    actor = crm.actor("u-alice")
    proposal = crm.propose("apply_discount", DISCOUNT_30, actor)
    [decision] = crm.classify([proposal], actor)
    assert [s.role for s in decision.steps] == ["sales_manager", "admin"]
    approval_id = crm.request_review(proposal, decision, thread_id="t", ttl=timedelta(hours=1))[
        "id"
    ]
    with pytest.raises(ReviewRefused, match="Only u-maria"):  # not yet the admin's turn?
        crm.decide_review(approval_id, reviewer_id="u-omar", decision="approve")
    first = crm.decide_review(approval_id, reviewer_id="u-maria", decision="approve")
    assert first.status == "pending" and discount_of(crm) == 0
    with pytest.raises(ReviewRefused, match="Only u-admin"):
        crm.decide_review(approval_id, reviewer_id="u-maria", decision="approve")
    second = crm.decide_review(approval_id, reviewer_id="u-admin", decision="approve")
    assert second.status == "approved" and discount_of(crm) == 30


def test_a_rejection_at_any_step_ends_it(crm: CRMService) -> None:
    crm = with_rules(crm, STRATEGIC_DISCOUNT_TO_ADMIN)
    approval_id = held(crm, "apply_discount", DISCOUNT_30)
    crm.decide_review(approval_id, reviewer_id="u-maria", decision="approve")
    assert crm.decide_review(approval_id, reviewer_id="u-admin", decision="reject").status == (
        "rejected"
    )
    assert discount_of(crm) == 0
    assert crm.decide_review(approval_id, reviewer_id="u-admin", decision="approve").status == (
        "rejected"
    )


def test_one_rule_one_step_as_before(crm: CRMService) -> None:
    approval_id = held(crm, "apply_discount", DISCOUNT_30)
    assert crm.decide_review(approval_id, reviewer_id="u-maria", decision="approve").status == (
        "approved"
    )


# ---------------------------------------------------------------- 4. not your own request


def test_an_admin_may_not_approve_their_own_request(crm: CRMService) -> None:
    approval_id = held(crm, "apply_discount", DISCOUNT_30, user="u-admin")
    with pytest.raises(ReviewRefused, match="Nobody decides their own request"):
        crm.decide_review(approval_id, reviewer_id="u-admin", decision="approve")
    with pytest.raises(ReviewRefused, match="Nobody decides their own request"):
        crm.decide_review(
            approval_id, reviewer_id="u-admin", decision="edit", arguments={"percent": 10}
        )
    assert discount_of(crm) == 0
    # an admin may decide someone else's; and the admin's own one goes to Maria
    assert crm.decide_review(approval_id, reviewer_id="u-maria", decision="approve").status == (
        "approved"
    )
    other = held(crm, "apply_discount", {**DISCOUNT_30, "percent": 25})
    assert crm.decide_review(other, reviewer_id="u-admin", decision="approve").status == (
        "approved"
    )


# ---------------------------------------------------------------- 5. outcome and audit


EDITED = [
    {"agent": "sales", "tool_calls": [{"name": "apply_discount", "arguments": DISCOUNT_30}]},
    {"agent": "sales", "reply": "The 30% discount waits for Maria."},
]


async def test_requester_is_told_the_applied_value_and_who_approved(crm: CRMService) -> None:
    convo = ConversationService(crm=crm, model=ScriptedChatModel(EDITED))
    turn = await convo.send(thread_id="deal-9", user_id="u-alice", text="Give Acme a 30% discount")
    [pending] = turn.outcome["pending"]
    result = await convo.decide(
        approval_id=pending["approval_id"],
        reviewer_id="u-maria",
        decision="edit",
        arguments={"percent": 20},
    )
    assert "you asked percent 30, Maria Lopez approved 20" in result.reply
    assert result.reply.startswith("Maria Lopez approved: 20% discount")
    history = await convo.history("deal-9")
    assert history[-1]["content"] == result.reply
    with crm.db.read_session() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "apply_discount")).one()
        assert event.arguments["percent"] == 20
        row = s.get(Approval, event.approval_id)
        assert [a["by"] for a in row.context["approvals"]] == ["u-maria"]
        assert row.context["edits"][0]["changes"] == {"percent": {"from": 30, "to": 20}}


# ---------------------------------------------------------------- 6. fails closed

GOOD_RULE = (
    "  - id: big\n    tool: apply_discount\n    when: {percent: {gt: 15}}\n"
    "    reviewer: sales_manager\n    reason: r\n"
)
TYPOS = [
    # what is wrong, the broken text, what the message must name
    (
        "unknown key",
        GOOD_RULE.replace("reason: r", "reason: r\n    reviwer: admin"),
        ["rule 'big'", "reviwer"],
    ),
    (
        "wrong-case value",
        "  - id: big\n    tool: update_opportunity\n    when: {stage: {in: [Closed_Won]}}\n"
        "    reviewer: sales_manager\n    reason: r\n",
        ["rule 'big'", "when.stage.in", "Closed_Won"],
    ),
    ("NaN threshold", GOOD_RULE.replace("gt: 15", "gt: .nan"), ["rule 'big'", "when.percent.gt"]),
    (
        "infinite threshold",
        GOOD_RULE.replace("gt: 15", "gt: .inf"),
        ["rule 'big'", "when.percent.gt"],
    ),
    (
        "negative threshold",
        GOOD_RULE.replace("gt: 15", "gt: -5"),
        ["rule 'big'", "when.percent.gt", "negative"],
    ),
    (
        "unknown tool",
        GOOD_RULE.replace("tool: apply_discount", "tool: apply_discunt"),
        ["rule 'big'", "tool", "apply_discunt"],
    ),
    (
        "unknown role",
        GOOD_RULE.replace("reviewer: sales_manager", "reviewer: Sales_Manager"),
        ["rule 'big'", "reviewer"],
    ),
    (
        "unknown fact",
        GOOD_RULE.replace("{percent:", "{precent:"),
        ["rule 'big'", "when.precent", "unknown fact"],
    ),
    ("unknown operator", GOOD_RULE.replace("gt: 15", "greater: 15"), ["rule 'big'", "greater"]),
    ("wrong type", GOOD_RULE.replace("gt: 15", "gt: fifteen"), ["rule 'big'", "when.percent.gt"]),
    (
        "text for a number",
        GOOD_RULE.replace("{gt: 15}", "{eq: high}"),
        ["rule 'big'", "when.percent.eq", "number"],
    ),
    ("duplicate rule id", GOOD_RULE + GOOD_RULE, ["big", "twice"]),
    ("empty condition", GOOD_RULE.replace("{gt: 15}", "{}"), ["rule 'big'", "when.percent"]),
]


@pytest.mark.parametrize(("what", "rules", "named"), TYPOS, ids=[t[0] for t in TYPOS])
def test_policy_typos_fail_closed(tmp_path: Path, what: str, rules: str, named: list[str]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(f"version: 1\nrules:\n{rules}plan: {{max_writes: 10}}\n")
    with pytest.raises(PolicyError) as caught:
        Policy.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}, line "), message
    for part in named:
        assert part in message, (what, message)


def test_the_legitimate_policy_loads(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        f"version: 1\nrules:\n{GOOD_RULE}plan: {{max_writes: 10}}\n"
        "approval_order: [admin, manager, sales_manager, support_lead, "
        "delivery_lead]\n"
    )
    policy = Policy.load(path)
    assert policy.order(["sales_manager", "admin"]) == ["admin", "sales_manager"]
    assert Policy.load(DEFAULT_POLICY_PATH).document.approval_order[0] == "manager"


def test_approval_order_must_place_every_role(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\nrules: []\nplan: {max_writes: 10}\napproval_order: [admin, admin, manager]\n"
    )
    with pytest.raises(PolicyError, match="approval_order: roles listed twice: admin"):
        Policy.load(path)


# ---------------------------------------------------------------- 7. price cut


def test_a_price_cut_is_classified_as_a_discount(crm: CRMService) -> None:
    alice = crm.actor("u-alice")
    cut = crm.propose(
        "update_opportunity", {"opportunity_id": "opp-acme-1", "amount": 80000}, alice
    )  # 20 % off 100000
    small = crm.propose(
        "update_opportunity", {"opportunity_id": "opp-acme-1", "amount": 90000}, alice
    )  # 10 % off
    assert isinstance(cut, Proposal) and isinstance(small, Proposal)
    assert cut.facts["effective_discount_percent"] == 20.0
    big, ok = crm.classify([cut, small], alice)
    assert big.verdict == "review" and big.rule_ids == ["price-cut-above-15"]
    assert big.reviewer_ids == ["u-maria"]
    assert ok.verdict == "commit"
    assert crm.apply(small, ok).ok  # type: ignore[union-attr]
    raised = crm.propose(
        "update_opportunity", {"opportunity_id": "opp-acme-1", "amount": 110000}, alice
    )
    assert "effective_discount_percent" not in raised.facts  # type: ignore[union-attr]


def test_apply_refuses_what_the_gate_did_not_clear(crm: CRMService) -> None:
    alice = crm.actor("u-alice")
    proposal = crm.propose("apply_discount", DISCOUNT_30, alice)
    [decision] = crm.classify([proposal], alice)
    refused = crm.apply(proposal, decision)
    assert not refused.ok and refused.kind == "refused"  # type: ignore[union-attr]
    assert discount_of(crm) == 0
