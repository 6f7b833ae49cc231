"""Every read tool: what it returns, what it hides, and how it fails."""

from __future__ import annotations

import pytest

from tools.catalogue import REGISTRY
from tools.service import CRMService


def read(crm: CRMService, user: str, tool: str, **args: object) -> dict:
    return crm.read(tool, args, crm.actor(user))


def test_catalogue_is_complete_and_schemas_are_valid() -> None:
    contract = {
        "search_accounts": ("sales", "read"),
        "get_account": ("sales", "read"),
        "list_opportunities": ("sales", "read"),
        "get_opportunity": ("sales", "read"),
        "create_opportunity": ("sales", "write"),
        "update_opportunity": ("sales", "write"),
        "apply_discount": ("sales", "write"),
        "log_activity": ("sales", "write"),
        "create_task": ("sales", "write"),
        "send_email": ("sales", "write"),
        "forecast": ("sales", "read"),
        "list_tickets": ("service", "read"),
        "get_ticket": ("service", "read"),
        "create_ticket": ("service", "write"),
        "update_ticket": ("service", "write"),
        "escalate_ticket": ("service", "write"),
        "account_health": ("service", "read"),
        "grant_sla_credit": ("service", "write"),
        "list_projects": ("delivery", "read"),
        "get_project": ("delivery", "read"),
        "check_capacity": ("delivery", "read"),
        "create_project": ("delivery", "write"),
        "schedule_go_live": ("delivery", "write"),
        "search_knowledge": ("all", "read"),
    }
    for name, (domain, kind) in contract.items():
        spec = REGISTRY[name]
        assert (spec.domain, spec.kind) == (domain, kind), name
        schema = spec.openai_schema()
        assert schema["function"]["description"]
        assert schema["function"]["parameters"]["type"] == "object"
    service_writes = {s.name for s in REGISTRY.select(domain="service", kind="write")}
    assert service_writes == {
        "create_ticket",
        "update_ticket",
        "escalate_ticket",
        "grant_sla_credit",
    }
    # `all`-domain tools come with every domain's subset.
    assert "search_knowledge" in {s.name for s in REGISTRY.select(domain="delivery")}


def test_contract_argument_names() -> None:
    expected = {
        "create_opportunity": {"account_id", "name", "amount", "currency", "close_date", "stage"},
        "update_opportunity": {
            "opportunity_id",
            "stage",
            "amount",
            "close_date",
            "next_step",
            "probability",
        },
        "apply_discount": {"opportunity_id", "percent", "reason"},
        "log_activity": {
            "account_id",
            "kind",
            "subject",
            "summary",
            "opportunity_id",
            "contact_ids",
            "occurred_at",
        },
        "send_email": {"contact_id", "subject", "body"},
        "grant_sla_credit": {"account_id", "amount", "currency", "reason"},
        "schedule_go_live": {"project_id", "go_live_date", "reason"},
        "check_capacity": {"start_date", "end_date", "effort_days"},
        "search_knowledge": {"query", "k"},
    }
    for name, args in expected.items():
        assert set(REGISTRY[name].args_model.model_fields) == args, name


def test_search_and_get_account(crm: CRMService) -> None:
    found = read(crm, "u-alice", "search_accounts", query="acme")
    assert [a["id"] for a in found["accounts"]] == ["acc-acme"]
    detail = read(crm, "u-alice", "get_account", account_id="acc-acme")
    assert detail["account"]["tier"] == "strategic"
    assert {c["id"] for c in detail["contacts"]} == {"con-jane", "con-raj"}
    assert [o["id"] for o in detail["open_opportunities"]] == ["opp-acme-1"]
    assert detail["open_tickets"] == 1
    assert detail["recent_activities"][0]["subject"] == "Kick-off"


def test_rep_sees_only_own_team(crm: CRMService) -> None:
    found = read(crm, "u-alice", "search_accounts", query="e")
    assert {a["team"] for a in found["accounts"]} == {"west"}
    hidden = read(crm, "u-alice", "get_account", account_id="acc-helix")
    # Reads exactly like a missing account: a rep cannot tell a hidden record exists.
    assert hidden["ok"] is False and hidden["kind"] == "not_found"
    assert "acc-helix" in hidden["message"]
    listed = read(crm, "u-alice", "list_opportunities")
    assert {o["account_id"] for o in listed["opportunities"]} <= {"acc-acme", "acc-globex"}


def test_support_sees_every_account_but_no_deal_money(crm: CRMService) -> None:
    opp = read(crm, "u-sam", "get_opportunity", opportunity_id="opp-helix-1")
    assert opp["ok"] and opp["amount"] is None and opp["discount_percent"] is None
    assert {"amount", "discount_percent", "cost", "margin_percent"} <= set(opp["hidden_fields"])
    refused = read(crm, "u-sam", "forecast")
    assert refused["kind"] == "refused" and "deal money" in refused["message"]


def test_cost_and_margin_only_for_managers(crm: CRMService) -> None:
    rep = read(crm, "u-alice", "get_opportunity", opportunity_id="opp-acme-1")
    assert rep["amount"] == 100000 and rep["cost"] is None and rep["margin_percent"] is None
    manager = read(crm, "u-maria", "get_opportunity", opportunity_id="opp-acme-1")
    assert manager["cost"] == 60000 and manager["margin_percent"] == 40
    assert manager["hidden_fields"] == []


def test_list_opportunities_filters(crm: CRMService) -> None:
    by_stage = read(crm, "u-admin", "list_opportunities", stage="negotiation")
    assert [o["id"] for o in by_stage["opportunities"]] == ["opp-helix-1"]
    by_owner = read(crm, "u-admin", "list_opportunities", owner_id="u-alice")
    assert {o["id"] for o in by_owner["opportunities"]} == {"opp-acme-1", "opp-acme-won"}
    by_account = read(crm, "u-maria", "list_opportunities", account_id="acc-globex")
    assert [o["id"] for o in by_account["opportunities"]] == ["opp-globex-1"]
    bad = read(crm, "u-admin", "list_opportunities", stage="won")
    assert bad["kind"] == "validation" and bad["fields"] == ["stage"]


def test_forecast_scopes(crm: CRMService) -> None:
    mine = read(crm, "u-alice", "forecast", quarter="2026-Q4")
    usd = {c["currency"]: c for c in mine["by_currency"]}["USD"]
    assert usd["pipeline"] == 100000 and usd["weighted"] == 50000 and usd["closed_won"] == 20000
    team = read(crm, "u-maria", "forecast", quarter="2026-Q4")
    assert {c["currency"] for c in team["by_currency"]} == {"USD", "EUR"}
    other = read(crm, "u-alice", "forecast", owner_id="u-ben")
    assert other["kind"] == "refused"
    assert read(crm, "u-alice", "forecast", quarter="2026-Q5")["fields"] == ["quarter"]


def test_tickets_and_sla(crm: CRMService) -> None:
    listed = read(crm, "u-sam", "list_tickets", status="open")
    assert [t["id"] for t in listed["tickets"]] == ["tkt-helix-1", "tkt-acme-1"]
    helix = read(crm, "u-sam", "get_ticket", ticket_id="tkt-helix-1")
    assert helix["sla_breached"] is True  # P1 opened 28 h before "now": 8 h SLA
    acme = read(crm, "u-sam", "get_ticket", ticket_id="tkt-acme-1")
    assert acme["sla_breached"] is True  # P2, 24 h SLA, opened 27 h ago
    p1 = read(crm, "u-priya", "list_tickets", priority="p1", sla_due_before="2026-11-27")
    assert [t["id"] for t in p1["tickets"]] == ["tkt-helix-1"]
    # a rep sees tickets of their team's accounts only
    rep = read(crm, "u-alice", "list_tickets")
    assert {t["account_id"] for t in rep["tickets"]} == {"acc-acme"}


def test_account_health(crm: CRMService) -> None:
    helix = read(crm, "u-sam", "account_health", account_id="acc-helix")
    assert helix["open_tickets"]["p1"] == 1 and helix["sla_breaches"] == 1
    assert helix["status"] in {"watch", "at risk"}
    globex = read(crm, "u-maria", "account_health", account_id="acc-globex")
    assert globex["score"] > helix["score"]


def test_projects_and_capacity(crm: CRMService) -> None:
    projects = read(crm, "u-dev", "list_projects")
    assert [p["id"] for p in projects["projects"]] == ["prj-acme", "prj-initech"]
    assert read(crm, "u-dev", "get_project", project_id="prj-acme")["seats"] == 50
    cap = read(
        crm,
        "u-dev",
        "check_capacity",
        start_date="2027-01-04",
        end_date="2027-01-17",
        effort_days=5,
    )
    assert [w["fully_booked"] for w in cap["weeks"]] == [True, False]
    assert cap["total_free_days"] == 6 and cap["fits"] is True
    assert cap["first_week_with_room"] == "2027-01-11"
    backwards = read(crm, "u-dev", "check_capacity", start_date="2027-01-10", end_date="2027-01-01")
    assert backwards["kind"] == "validation" and "end_date" in backwards["message"]


def test_search_knowledge_without_a_knowledge_base(crm: CRMService) -> None:
    result = read(crm, "u-alice", "search_knowledge", query="discount policy")
    assert result["ok"] and result["passages"] == [] and result["note"]


def test_search_knowledge_passes_roles(crm: CRMService) -> None:
    seen = {}

    class Hit:
        source, title, section, text, score = "pricing.md", "Pricing", "Discounts", "15%", 0.9

    class FakeKB:
        def search(self, query, *, k=5, roles=None):
            seen.update(query=query, k=k, roles=roles)
            return [Hit()]

    crm.knowledge = FakeKB()
    result = read(crm, "u-maria", "search_knowledge", query="discounts", k=3)
    assert result["passages"][0]["section"] == "Discounts"
    assert seen == {"query": "discounts", "k": 3, "roles": ["sales_manager"]}


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("get_account", {"account_id": "acc-nope"}, "account_id"),
        ("get_opportunity", {"opportunity_id": "opp-nope"}, "opportunity_id"),
        ("get_ticket", {"ticket_id": "tkt-nope"}, "ticket_id"),
        ("get_project", {"project_id": "prj-nope"}, "project_id"),
        ("account_health", {"account_id": "acc-nope"}, "account_id"),
        ("list_tickets", {"account_id": "acc-nope"}, "account_id"),
    ],
)
def test_unknown_ids_are_named(crm: CRMService, tool: str, args: dict, field: str) -> None:
    result = crm.read(tool, args, crm.actor("u-admin"))
    assert result["kind"] == "not_found" and result["fields"] == [field]
    assert next(iter(args.values())) in result["message"]


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("get_account", {}, "account_id"),
        ("get_account", {"account_id": 42}, "account_id"),
        ("get_account", {"account_id": "acc-acme", "extra": 1}, "extra"),
        ("search_accounts", {"query": "x" * 501}, "query"),
        ("search_accounts", {"query": "  "}, "query"),
        ("search_knowledge", {"query": "x", "k": 0}, "k"),
        ("check_capacity", {"start_date": "20/11/2026", "end_date": "2026-12-01"}, "start_date"),
    ],
)
def test_bad_read_arguments_name_the_field(
    crm: CRMService, tool: str, args: dict, field: str
) -> None:
    result = crm.read(tool, args, crm.actor("u-admin"))
    assert result["ok"] is False and result["kind"] == "validation"
    assert field in result["fields"] and field in result["message"]


def test_a_write_tool_is_not_a_read(crm: CRMService) -> None:
    result = crm.read("apply_discount", {}, crm.actor("u-admin"))
    assert result["kind"] == "validation" and "write tool" in result["message"]
    assert crm.read("drop_tables", {}, crm.actor("u-admin"))["message"].startswith("There is no")
