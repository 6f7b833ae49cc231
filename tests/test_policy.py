"""The policy engine: every default rule on both sides of its threshold, plan size, reviewers,
file validation with line numbers, overrides, and that a model can only raise risk."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.policy import Policy, PolicyError, WriteToClassify
from tools.service import CRMService, Proposal
from warroom.settings import DEFAULT_POLICY_PATH


@pytest.fixture(scope="module")
def default() -> Policy:
    return Policy.load(DEFAULT_POLICY_PATH)


CASES = [
    # tool, facts, expected rule ids
    ("apply_discount", {"percent": 15.0}, []),
    ("apply_discount", {"percent": 15.01}, ["discount-above-15"]),
    ("apply_discount", {"percent": 16.0}, ["discount-above-15"]),
    ("update_opportunity", {"stage": "negotiation"}, []),
    ("update_opportunity", {"stage": "closed_won"}, ["deal-closed"]),
    ("update_opportunity", {"stage": "closed_lost"}, ["deal-closed"]),
    ("update_opportunity", {"stage": None, "amount_change_percent": 20.0}, []),
    (
        "update_opportunity",
        {"stage": None, "amount_change_percent": 21.0},
        ["amount-change-above-20"],
    ),
    (
        "update_opportunity",
        {"stage": "closed_won", "amount_change_percent": 50.0},
        ["deal-closed", "amount-change-above-20"],
    ),
    ("send_email", {}, ["customer-email"]),
    ("grant_sla_credit", {"amount": 1.0}, ["sla-credit"]),
    ("escalate_ticket", {"account_tier": "standard"}, []),
    ("escalate_ticket", {"account_tier": "strategic"}, ["strategic-escalation"]),
    (
        "schedule_go_live",
        {"account_tier": "strategic", "go_live_delay_days": 0, "go_live_week_free_days": 3},
        [],
    ),
    (
        "schedule_go_live",
        {"account_tier": "strategic", "go_live_delay_days": -7, "go_live_week_free_days": 3},
        [],
    ),
    (
        "schedule_go_live",
        {"account_tier": "strategic", "go_live_delay_days": 1, "go_live_week_free_days": 3},
        ["strategic-go-live-later"],
    ),
    (
        "schedule_go_live",
        {"account_tier": "standard", "go_live_delay_days": 30, "go_live_week_free_days": 3},
        [],
    ),
    (
        "schedule_go_live",
        {"account_tier": "standard", "go_live_delay_days": -7, "go_live_week_free_days": 0},
        ["go-live-without-capacity"],
    ),
    (
        "schedule_go_live",
        {"account_tier": "standard", "go_live_delay_days": 0, "go_live_week_free_days": 0.5},
        [],
    ),
    ("create_project", {"go_live_week_free_days": 0}, ["go-live-without-capacity"]),
    ("log_activity", {"account_tier": "strategic"}, []),
    ("create_task", {}, []),
    ("create_ticket", {"priority": "p1"}, []),
    ("update_ticket", {"status": "solved"}, []),
    ("create_opportunity", {"amount": 10_000_000}, []),
]


@pytest.mark.parametrize(("tool", "facts", "rules"), CASES)
def test_default_rules(default: Policy, tool: str, facts: dict, rules: list[str]) -> None:
    assert [h.rule_id for h in default.classify(tool, facts)] == rules


def test_reviewer_roles(default: Policy) -> None:
    reviewers = {
        "apply_discount": ({"percent": 30}, "sales_manager"),
        "send_email": ({}, "sales_manager"),
        "grant_sla_credit": ({}, "support_lead"),
        "escalate_ticket": ({"account_tier": "strategic"}, "support_lead"),
        "schedule_go_live": (
            {"account_tier": "strategic", "go_live_delay_days": 7},
            "delivery_lead",
        ),
    }
    for tool, (facts, role) in reviewers.items():
        assert default.classify(tool, facts)[0].reviewer == role


def test_plan_size_threshold(default: Policy) -> None:
    ten = [WriteToClassify("log_activity", {})] * 10
    assert all(h == [] for h in default.classify_plan(ten))
    eleven = [WriteToClassify("log_activity", {})] * 11
    hits = default.classify_plan(eleven)
    assert all([h.rule_id for h in hs] == ["plan-size"] for hs in hits)
    assert hits[0][0].reviewer == "manager"


def test_no_model_hook_in_the_policy(default: Policy) -> None:
    """The unwired `raise_risk` hook is gone: the file alone decides (a model's doubts reach
    the gate as facts, e.g. untrusted_argument_count)."""
    assert not hasattr(Policy, "lower_risk") and not hasattr(Policy, "raise_risk")


def test_numbers_come_from_the_file(default: Policy) -> None:
    text = DEFAULT_POLICY_PATH.read_text().replace("percent: {gt: 15}", "percent: {gt: 25}")
    strict = Policy.from_yaml(text)
    assert strict.classify("apply_discount", {"percent": 20}) == []
    assert strict.classify("apply_discount", {"percent": 26})[0].rule_id == "discount-above-15"
    loose = default.with_overrides({"plan": {"max_writes": 2}})
    assert loose.classify_plan([WriteToClassify("create_task", {})] * 3)[0][0].rule_id == (
        "plan-size"
    )
    off = default.with_overrides({"rules": [{"id": "customer-email", "disabled": True}]})
    assert off.classify("send_email", {}) == []


BROKEN = [
    ("version: 1\nrules: [\n", 3, "not valid YAML"),
    ("", None, "empty"),
    ("version: 2\nrules: []\nplan: {max_writes: 10}\n", 1, "version"),
    (
        "version: 1\nrules:\n  - id: x\n    tool: apply_discount\n    reviewer: boss\n"
        "    reason: r\nplan: {max_writes: 10}\n",
        5,
        "reviewer",
    ),
    (
        "version: 1\nrules:\n  - id: x\n    tool: fire_everyone\n    reviewer: admin\n"
        "    reason: r\nplan: {max_writes: 10}\n",
        4,
        "unknown tool 'fire_everyone'",
    ),
    (
        "version: 1\nrules:\n  - id: x\n    tool: get_account\n    reviewer: admin\n"
        "    reason: r\nplan: {max_writes: 10}\n",
        4,
        "read tool",
    ),
    (
        "version: 1\nrules:\n  - id: x\n    tool: apply_discount\n    when: {percent: {above: 3}}\n"
        "    reviewer: admin\n    reason: r\nplan: {max_writes: 10}\n",
        5,
        "above",
    ),
    (
        "version: 1\nrules:\n  - id: x\n    tool: apply_discount\n    when: {percent: {gt: lots}}\n"
        "    reviewer: admin\n    reason: r\nplan: {max_writes: 10}\n",
        5,
        "gt",
    ),
    ("version: 1\nrules: []\nplan: {max_writes: 0}\n", 3, "max_writes"),
    ("version: 1\nrules: []\n", 1, "plan"),
    (
        "version: 1\nrules:\n  - {id: a, tool: send_email, reviewer: admin, reason: r}\n"
        "  - {id: a, tool: send_email, reviewer: admin, reason: r}\nplan: {max_writes: 1}\n",
        2,
        "used twice",
    ),
]


@pytest.mark.parametrize(("text", "line", "reason"), BROKEN)
def test_broken_policy_files_name_file_line_and_reason(
    tmp_path: Path, text: str, line: int | None, reason: str
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as caught:
        Policy.load(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    if line is not None:
        assert f"line {line}" in message, message
    assert reason in message, message


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        Policy.load(tmp_path / "nope.yaml")


def test_gate_addresses_the_right_reviewer(crm: CRMService) -> None:
    alice = crm.actor("u-alice")
    discount = crm.propose(
        "apply_discount", {"opportunity_id": "opp-acme-1", "percent": 16, "reason": "x"}, alice
    )
    small = crm.propose(
        "apply_discount", {"opportunity_id": "opp-acme-1", "percent": 15, "reason": "x"}, alice
    )
    assert isinstance(discount, Proposal) and isinstance(small, Proposal)
    big, ok = crm.gate([discount, small], alice)
    assert big.needs_review and big.reviewer_role == "sales_manager"
    assert big.reviewer_ids == ["u-maria"] and big.rule_ids == ["discount-above-15"]
    assert not ok.needs_review
    bob = crm.actor("u-bob")
    helix = crm.propose(
        "apply_discount", {"opportunity_id": "opp-helix-1", "percent": 20, "reason": "x"}, bob
    )
    assert crm.gate([helix], bob)[0].reviewer_ids == ["u-omar"]  # east team's manager


def test_requester_never_reviews_their_own_request(crm: CRMService) -> None:
    maria = crm.actor("u-maria")
    proposal = crm.propose(
        "apply_discount", {"opportunity_id": "opp-acme-1", "percent": 30, "reason": "x"}, maria
    )
    decision = crm.gate([proposal], maria)[0]
    assert decision.needs_review and "u-maria" not in decision.reviewer_ids
    assert decision.reviewer_ids == ["u-admin"]  # her manager


def test_plan_over_ten_writes_goes_to_the_manager(crm: CRMService) -> None:
    alice = crm.actor("u-alice")
    proposals = [
        crm.propose("create_task", {"subject": f"t{i}", "due_date": "2026-12-01"}, alice)
        for i in range(11)
    ]
    decisions = crm.gate(proposals, alice)
    assert all(d.needs_review and d.reviewer_ids == ["u-maria"] for d in decisions)
    assert not any(d.needs_review for d in crm.gate(proposals[:10], alice))


def test_strategic_go_live_and_capacity_through_the_gate(crm: CRMService) -> None:
    dev = crm.actor("u-dev")
    later = crm.propose(
        "schedule_go_live", {"project_id": "prj-acme", "go_live_date": "2026-12-21"}, dev
    )
    earlier = crm.propose(
        "schedule_go_live", {"project_id": "prj-acme", "go_live_date": "2026-12-07"}, dev
    )
    full_week = crm.propose(
        "schedule_go_live", {"project_id": "prj-initech", "go_live_date": "2027-01-05"}, dev
    )
    d_later, d_earlier, d_full = crm.gate([later, earlier, full_week], dev)
    assert d_later.rule_ids == ["strategic-go-live-later"]
    assert d_later.reviewer_role == "delivery_lead" and d_later.reviewer_ids == ["u-dana"]
    assert not d_earlier.needs_review
    assert d_full.rule_ids == ["go-live-without-capacity"]
