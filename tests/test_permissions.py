"""Who may see and change what: every role × every tool × every kind of record, checked against
an oracle written from spec/crm-contract.md, plus a property test over arbitrary role sets."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.catalogue import REGISTRY
from tools.context import Actor
from tools.errors import ToolFailure
from tools.service import CRMService, Proposal

ACCOUNTS = {  # id: (team, owner)
    "acc-acme": ("west", "u-alice"),
    "acc-globex": ("west", "u-ben"),
    "acc-helix": ("east", "u-bob"),
    "acc-initech": ("east", "u-bob"),
}
USERS = {  # id: (roles, team)
    "u-alice": ({"rep"}, "west"),
    "u-ben": ({"rep"}, "west"),
    "u-bob": ({"rep"}, "east"),
    "u-maria": ({"sales_manager"}, "west"),
    "u-omar": ({"sales_manager"}, "east"),
    "u-sam": ({"support"}, "support"),
    "u-priya": ({"support_lead"}, "support"),
    "u-dev": ({"delivery"}, "delivery"),
    "u-dana": ({"delivery_lead"}, "delivery"),
    "u-admin": ({"admin"}, None),
    "u-nobody": (set(), None),
}

SALES_WRITES = {
    "create_opportunity",
    "update_opportunity",
    "apply_discount",
    "send_email",
    "log_activity",
    "create_task",
    "create_ticket",
}
SERVICE_WRITES = {
    "log_activity",
    "create_task",
    "create_ticket",
    "update_ticket",
    "escalate_ticket",
    "grant_sla_credit",
}
DELIVERY_WRITES = {"log_activity", "create_task", "create_project", "schedule_go_live"}


def may_read(user: str, account: str) -> bool:
    roles, team = USERS[user]
    if roles & {"admin", "support", "support_lead", "delivery", "delivery_lead"}:
        return True
    if roles & {"rep", "sales_manager"}:
        return ACCOUNTS[account][0] == team
    return False


def may_write(user: str, tool: str, account: str) -> bool:
    """The contract, restated: reps change what they own, managers their team's accounts,
    support and delivery their own domain on every account, admins everything."""
    roles, team = USERS[user]
    acc_team, owner = ACCOUNTS[account]
    if "admin" in roles:
        return True
    if roles & {"support", "support_lead"}:
        return tool in SERVICE_WRITES
    if roles & {"delivery", "delivery_lead"}:
        return tool in DELIVERY_WRITES
    if "sales_manager" in roles:
        return tool in SALES_WRITES and acc_team == team
    if "rep" in roles:
        return tool in SALES_WRITES and owner == user
    return False


def arguments_for(tool: str, account: str) -> dict[str, Any] | None:
    """Valid arguments of `tool` aimed at `account`, or None where the fixture has no target."""
    opportunity = {
        "acc-acme": "opp-acme-1",
        "acc-globex": "opp-globex-1",
        "acc-helix": "opp-helix-1",
    }.get(account)
    contact = {"acc-acme": "con-jane", "acc-helix": "con-hank"}.get(account)
    ticket = {"acc-acme": "tkt-acme-1", "acc-helix": "tkt-helix-1"}.get(account)
    project = {"acc-acme": "prj-acme", "acc-initech": "prj-initech"}.get(account)
    table: dict[str, dict[str, Any] | None] = {
        "create_opportunity": {
            "account_id": account,
            "name": "New",
            "amount": 1000,
            "close_date": "2027-03-31",
        },
        "update_opportunity": opportunity and {"opportunity_id": opportunity, "next_step": "call"},
        "apply_discount": opportunity
        and {"opportunity_id": opportunity, "percent": 5, "reason": "r"},
        "send_email": contact and {"contact_id": contact, "subject": "s", "body": "b"},
        "log_activity": {"account_id": account, "kind": "note", "subject": "s", "summary": "x"},
        "create_task": {"subject": "s", "due_date": "2026-12-01", "account_id": account},
        "create_ticket": {
            "account_id": account,
            "subject": "s",
            "description": "d",
            "priority": "p3",
        },
        "update_ticket": ticket and {"ticket_id": ticket, "status": "pending"},
        "escalate_ticket": ticket and {"ticket_id": ticket, "reason": "r"},
        "grant_sla_credit": {"account_id": account, "amount": 10, "reason": "r"},
        "create_project": {
            "account_id": account,
            "name": "p",
            "seats": 5,
            "start_date": "2026-12-01",
            "go_live_date": "2027-02-01",
        },
        "schedule_go_live": project and {"project_id": project, "go_live_date": "2027-02-15"},
    }
    return table[tool]


WRITE_TOOLS = [s.name for s in REGISTRY.select(kind="write")]
MATRIX = [
    (user, tool, account)
    for user in USERS
    for tool in WRITE_TOOLS
    for account in ACCOUNTS
    if arguments_for(tool, account) is not None
]


def test_matrix_covers_every_write_tool_role_and_relation() -> None:
    assert {t for _, t, _ in MATRIX} == set(WRITE_TOOLS)
    relations = {
        (
            u,
            "owner"
            if ACCOUNTS[a][1] == u
            else "team"
            if ACCOUNTS[a][0] == USERS[u][1]
            else "other",
        )
        for u, _, a in MATRIX
    }
    assert {r for _, r in relations} == {"owner", "team", "other"}


def test_every_role_tool_and_record(crm: CRMService) -> None:
    """The whole matrix (user × write tool × account) against the oracle; nothing is written."""
    mismatches = []
    actors = {u: crm.actor(u) for u in USERS}
    for user, tool, account in MATRIX:
        outcome = crm.propose(tool, arguments_for(tool, account) or {}, actors[user])
        if isinstance(outcome, ToolFailure):
            # An account the user may not see reads exactly like one that does not exist.
            expected = "refused" if may_read(user, account) else "not_found"
            if outcome.kind != expected:
                # A role refusal comes before the row check (it names no record).
                assert outcome.kind == "refused" and outcome.rule == "role", (user, tool, account)
            allowed = False
        else:
            assert isinstance(outcome, Proposal)
            allowed = True
        if allowed != may_write(user, tool, account):
            mismatches.append((user, tool, account, allowed))
    assert mismatches == []


def test_refusals_are_audited_and_not_queued(crm: CRMService) -> None:
    outcome = crm.propose(
        "apply_discount", arguments_for("apply_discount", "acc-globex") or {}, crm.actor("u-alice")
    )
    assert isinstance(outcome, ToolFailure) and outcome.kind == "refused"
    events = crm.audit_events()
    assert [(e.action, e.outcome, e.actor_id) for e in events] == [
        ("apply_discount", "refused", "u-alice")
    ]


def test_a_hidden_record_reads_like_a_missing_one(crm: CRMService) -> None:
    """Point 7 of the visibility issue: a rep cannot tell a hidden deal from no deal."""
    alice = crm.actor("u-alice")
    for tool, arguments in (
        ("get_opportunity", {"opportunity_id": "opp-helix-1"}),
        ("get_account", {"account_id": "acc-helix"}),
        ("get_ticket", {"ticket_id": "tkt-helix-1"}),
    ):
        hidden = crm.read(tool, arguments, alice)
        key, value = next(iter(arguments.items()))
        missing = crm.read(tool, {key: value.replace("helix", "nosuch")}, alice)
        assert hidden["kind"] == missing["kind"] == "not_found"
        assert hidden["message"].replace("helix", "X") == missing["message"].replace("nosuch", "X")
        assert hidden["fields"] == missing["fields"] and hidden["rule"] == missing["rule"]
    hidden_write = crm.propose(
        "apply_discount", {"opportunity_id": "opp-helix-1", "percent": 5, "reason": "r"}, alice
    )
    missing_write = crm.propose(
        "apply_discount", {"opportunity_id": "opp-nosuch-1", "percent": 5, "reason": "r"}, alice
    )
    assert isinstance(hidden_write, ToolFailure) and isinstance(missing_write, ToolFailure)
    assert hidden_write.kind == missing_write.kind == "not_found"
    assert hidden_write.message.replace("helix", "X") == missing_write.message.replace(
        "nosuch", "X"
    )


@pytest.mark.parametrize("user", list(USERS))
def test_account_visibility(crm: CRMService, user: str) -> None:
    actor = crm.actor(user)
    for account in ACCOUNTS:
        result = crm.read("get_account", {"account_id": account}, actor)
        assert result["ok"] is may_read(user, account), (user, account, result)
        if not result["ok"]:
            assert result["kind"] == "not_found"
    listed = crm.read("list_accounts", {}, actor)
    assert {a["id"] for a in listed["accounts"]} == {a for a in ACCOUNTS if may_read(user, a)}


ROLE_SETS = st.sets(
    st.sampled_from(
        ["rep", "sales_manager", "support", "support_lead", "delivery", "delivery_lead", "admin"]
    ),
    max_size=3,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    roles=ROLE_SETS,
    team=st.sampled_from(["west", "east", None]),
    opportunity=st.sampled_from(["opp-acme-1", "opp-globex-1", "opp-helix-1"]),
)
def test_field_level_rules_for_any_role_set(
    crm: CRMService, roles: set[str], team: str | None, opportunity: str
) -> None:
    actor = Actor(id="u-x", name="X", roles=frozenset(roles), team=team, manager_id=None)
    result = crm.read("get_opportunity", {"opportunity_id": opportunity}, actor)
    account_team = {"opp-acme-1": "west", "opp-globex-1": "west", "opp-helix-1": "east"}[
        opportunity
    ]
    sees_all = bool(roles & {"admin", "support", "support_lead", "delivery", "delivery_lead"})
    sales = bool(roles & {"rep", "sales_manager"})
    visible = sees_all or (sales and team == account_team)
    assert result["ok"] is visible
    if not visible:
        return
    # Deal money: sales roles within their rows, and admins. Cost and margin: sales managers
    # (within their rows) and admins; support and delivery leads are not managers of money.
    in_rows = team == account_team
    money_hidden = not ("admin" in roles or (roles & {"rep", "sales_manager"} and in_rows))
    cost_hidden = not ("admin" in roles or ("sales_manager" in roles and in_rows))
    hidden = set(result["hidden_fields"])
    assert ("amount" in hidden) is money_hidden and ("discount_percent" in hidden) is money_hidden
    assert ("cost" in hidden) is cost_hidden and ("margin_percent" in hidden) is cost_hidden
    assert (result["amount"] is None) is money_hidden
    for field in hidden:
        assert result[field] is None
