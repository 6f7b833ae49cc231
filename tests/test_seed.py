"""The demo company (tools.seed): shape, determinism, the well-known records and loading."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from tools.catalogue.service import sla_due
from tools.context import FixedClock
from tools.db import Database
from tools.fixtures import validate_fixture
from tools.models import (
    Account,
    Approval,
    AuditEvent,
    ConsentChange,
    Contact,
    Opportunity,
    OutboxMessage,
    SlaCredit,
    ToolExecution,
    User,
)
from tools.permissions import ALL_ROLES
from tools.policy import Policy
from tools.seed import build_demo_company, helix_dates, seed_demo
from tools.service import CRMService
from warroom.settings import DEFAULT_POLICY_PATH

ANCHOR = date(2026, 11, 23)
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def company() -> dict[str, list[dict[str, Any]]]:
    return build_demo_company(seed=7, anchor=ANCHOR)


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in rows}


def test_counts_within_ranges(company: dict[str, list[dict[str, Any]]]) -> None:
    counts = {table: len(rows) for table, rows in company.items()}
    expected = {
        "users": (12, 14),
        "accounts": (55, 65),
        "contacts": (220, 280),
        "opportunities": (140, 160),
        "activities": (380, 420),
        "tasks": (35, 45),
        "tickets": (110, 130),
        "projects": (28, 32),
        "capacity": (52, 52),
        "products": (8, 12),
    }
    assert set(counts) == set(expected)
    for table, (lo, hi) in expected.items():
        assert lo <= counts[table] <= hi, (table, counts[table])
    strategic = [a for a in company["accounts"] if a["tier"] == "strategic"]
    assert 10 <= len(strategic) <= 14
    assert {a["team"] for a in company["accounts"]} == {"west", "east", "apac"}
    for table, rows in company.items():
        ids = [r["id"] for r in rows if "id" in r]
        assert len(ids) == len(set(ids)), f"duplicate ids in {table}"


def test_fixture_validates(company: dict[str, list[dict[str, Any]]]) -> None:
    validate_fixture(company)  # raises on unknown fields, bad types and dangling references


def test_deterministic_per_seed_and_anchor() -> None:
    first = build_demo_company(seed=7, anchor=ANCHOR)
    assert first == build_demo_company(seed=7, anchor=ANCHOR)
    assert first != build_demo_company(seed=8, anchor=ANCHOR)
    later = build_demo_company(seed=7, anchor=ANCHOR + timedelta(days=7))
    assert later["opportunities"][0]["id"] == first["opportunities"][0]["id"]
    assert later["capacity"][0]["week_start"] != first["capacity"][0]["week_start"]


def test_dates_relative_to_anchor_and_timestamps_utc(
    company: dict[str, list[dict[str, Any]]],
) -> None:
    end_of_anchor = datetime(ANCHOR.year, ANCHOR.month, ANCHOR.day, 23, 59, tzinfo=UTC)
    for table, field in (("activities", "occurred_at"), ("tickets", "opened_at")):
        for row in company[table]:
            stamp = datetime.fromisoformat(row[field])
            assert stamp.utcoffset() == timedelta(0), (table, row["id"])
            assert stamp <= end_of_anchor, (table, row["id"])
    for row in company["tickets"]:
        assert datetime.fromisoformat(row["sla_due_at"]).utcoffset() == timedelta(0)
    oldest = min(datetime.fromisoformat(a["occurred_at"]) for a in company["activities"])
    assert (end_of_anchor - oldest).days <= 190
    for ticket in company["tickets"]:
        opened = datetime.fromisoformat(ticket["opened_at"])
        assert (end_of_anchor - opened).days <= 120


def test_every_role_present(company: dict[str, list[dict[str, Any]]]) -> None:
    roles = {role for user in company["users"] for role in user["roles"]}
    assert roles == set(ALL_ROLES)
    users = by_id(company["users"])
    assert users["u-alice"]["name"] == "Alice Wong"
    assert users["u-alice"]["team"] == "west"
    assert users["u-alice"]["manager_id"] == "u-maria"
    assert users["u-alice"]["email"] == "alice@warroom.example"
    assert users["u-bob"]["manager_id"] == "u-omar"
    assert users["u-chen"]["manager_id"] == "u-li"
    assert "陈伟" in users["u-chen"]["name"] and "Chen Wei" in users["u-chen"]["name"]
    assert users["u-sam"]["manager_id"] == "u-priya"
    assert users["u-dev"]["manager_id"] == "u-dana"
    assert users["u-priya"]["roles"] == ["support_lead"]
    assert users["u-dana"]["roles"] == ["delivery_lead"]
    assert users["u-admin"]["roles"] == ["admin"]
    emails = [u["email"] for u in company["users"]]
    assert len(emails) == len(set(emails))


def test_every_stage_and_currency_present(company: dict[str, list[dict[str, Any]]]) -> None:
    opps = company["opportunities"]
    assert {o["stage"] for o in opps} == {
        "prospecting",
        "qualification",
        "proposal",
        "negotiation",
        "closed_won",
        "closed_lost",
    }
    assert {o["currency"] for o in opps} == {"USD", "EUR", "CNY"}
    accounts = by_id(company["accounts"])
    for opp in opps:
        assert 0 <= opp["discount_percent"] <= 30
        assert opp["cost"] is not None and opp["margin_percent"] is not None
        assert opp["next_step"]
        assert opp["owner_id"] == accounts[opp["account_id"]]["owner_id"]
        close = date.fromisoformat(opp["close_date"])
        assert date(2026, 4, 1) <= close <= date(2027, 9, 30)  # Q2 2026 to Q3 2027
        if opp["stage"] in ("closed_won", "closed_lost"):
            assert close <= ANCHOR
    for account_id, opp_id in (
        ("acc-acme", "opp-acme-1"),
        ("acc-helix", "opp-helix-1"),
        ("acc-huaxing", "opp-huaxing-1"),
    ):
        open_deals = [
            o["id"]
            for o in opps
            if o["account_id"] == account_id and o["stage"] not in ("closed_won", "closed_lost")
        ]
        assert open_deals == [opp_id]
    probability = {o["stage"]: o["probability"] for o in opps}
    assert probability["closed_won"] == 100 and probability["closed_lost"] == 0


def test_well_known_records(company: dict[str, list[dict[str, Any]]]) -> None:
    accounts = by_id(company["accounts"])
    contacts = by_id(company["contacts"])
    opps = by_id(company["opportunities"])
    tickets = by_id(company["tickets"])
    projects = by_id(company["projects"])

    acme = accounts["acc-acme"]
    assert (acme["name"], acme["tier"], acme["team"], acme["owner_id"], acme["domain"]) == (
        "Acme Corp",
        "strategic",
        "west",
        "u-alice",
        "acme.example",
    )
    jane = contacts["con-jane"]
    assert (jane["name"], jane["email"], jane["account_id"]) == (
        "Jane Doe",
        "jane@acme.example",
        "acc-acme",
    )
    assert jane["consent"] == {"email": True, "phone": True, "marketing": False}
    raj = contacts["con-raj"]
    assert raj["name"] == "Raj Mehta" and raj["consent"]["email"] is False
    acme_opp = opps["opp-acme-1"]
    assert acme_opp["name"] == "Acme expansion" and acme_opp["stage"] == "proposal"
    assert (acme_opp["amount"], acme_opp["currency"], acme_opp["seats"]) == (120000, "USD", 100)
    assert acme_opp["owner_id"] == "u-alice"
    assert acme_opp["close_date"] == "2026-12-31"  # end of the anchor's quarter
    assert acme_opp["cost"] and acme_opp["margin_percent"]

    helix = accounts["acc-helix"]
    assert (helix["tier"], helix["team"], helix["owner_id"]) == ("strategic", "east", "u-bob")
    helix_opp = opps["opp-helix-1"]
    assert helix_opp["name"] == "Helix 500-seat rollout"
    assert helix_opp["stage"] == "negotiation" and helix_opp["seats"] == 500
    assert 400000 <= helix_opp["amount"] <= 500000 and helix_opp["currency"] == "USD"
    project = projects["prj-helix"]
    assert project["account_id"] == "acc-helix" and project["lead_id"] == "u-dev"
    assert project["opportunity_id"] == "opp-helix-1" and project["seats"] == 500
    start, go_live = (date.fromisoformat(project[k]) for k in ("start_date", "go_live_date"))
    assert 10 <= (start - ANCHOR).days <= 18
    assert 38 <= (go_live - ANCHOR).days <= 46
    open_p1 = [
        t
        for t in company["tickets"]
        if t["account_id"] == "acc-helix" and t["priority"] == "p1" and t["status"] == "open"
    ]
    assert sorted(t["id"] for t in open_p1) == ["tkt-helix-1", "tkt-helix-2"]
    morning = datetime(ANCHOR.year, ANCHOR.month, ANCHOR.day, 9, tzinfo=UTC)
    assert datetime.fromisoformat(tickets["tkt-helix-1"]["sla_due_at"]) < morning
    assert datetime.fromisoformat(tickets["tkt-helix-2"]["sla_due_at"]) > morning

    huaxing = accounts["acc-huaxing"]
    assert "华星科技" in huaxing["name"] and huaxing["domain"] == "huaxing.example"
    assert (huaxing["tier"], huaxing["team"], huaxing["owner_id"]) == (
        "strategic",
        "apac",
        "u-chen",
    )
    wang = contacts["con-wang"]
    assert wang["account_id"] == "acc-huaxing" and "王芳" in wang["name"]
    assert "Wang Fang" in wang["name"]
    assert opps["opp-huaxing-1"]["currency"] == "CNY"
    assert opps["opp-huaxing-1"]["account_id"] == "acc-huaxing"

    globex = accounts["acc-globex"]
    assert (globex["name"], globex["tier"], globex["team"], globex["owner_id"]) == (
        "Globex Retail",
        "standard",
        "west",
        "u-ben",
    )


def test_chinese_names_and_consent_mix(company: dict[str, list[dict[str, Any]]]) -> None:
    chinese_accounts = [a for a in company["accounts"] if HAN.search(a["name"])]
    assert len(chinese_accounts) >= 10
    assert all(a["team"] == "apac" for a in chinese_accounts)
    assert all(a["domain"].endswith(".example") for a in company["accounts"])
    chinese_contacts = [c for c in company["contacts"] if HAN.search(c["name"])]
    assert len(chinese_contacts) >= 30
    assert any(HAN.search(a["summary"]) for a in company["activities"])
    consent = Counter(
        (c["consent"]["email"], c["consent"]["marketing"]) for c in company["contacts"]
    )
    email_true = consent[(True, False)] + consent[(True, True)]
    email_false = consent[(False, False)] + consent[(False, True)]
    marketing_true = consent[(True, True)] + consent[(False, True)]
    total = len(company["contacts"])
    assert email_true > total * 0.6 and email_false >= 10
    assert 0 < marketing_true < total * 0.4
    accounts = by_id(company["accounts"])
    for contact in company["contacts"]:
        assert contact["email"].endswith("@" + accounts[contact["account_id"]]["domain"])


def test_activities_tasks_tickets_projects(company: dict[str, list[dict[str, Any]]]) -> None:
    accounts = by_id(company["accounts"])
    contact_account = {c["id"]: c["account_id"] for c in company["contacts"]}
    opp_account = {o["id"]: o["account_id"] for o in company["opportunities"]}
    assert {a["kind"] for a in company["activities"]} == {"call", "meeting", "email", "note"}
    for activity in company["activities"]:
        assert activity["author_id"] == accounts[activity["account_id"]]["owner_id"]
        assert all(contact_account[c] == activity["account_id"] for c in activity["contact_ids"])
        if activity["opportunity_id"]:
            assert opp_account[activity["opportunity_id"]] == activity["account_id"]

    overdue = [
        t
        for t in company["tasks"]
        if t["status"] == "open" and date.fromisoformat(t["due_date"]) < ANCHOR
    ]
    assert len(overdue) >= 3

    tickets = company["tickets"]
    priorities = Counter(t["priority"] for t in tickets)
    assert set(priorities) == {"p1", "p2", "p3", "p4"}
    assert priorities["p1"] < priorities["p2"] < priorities["p3"]
    assert {t["status"] for t in tickets} == {"open", "pending", "solved", "closed"}
    assert {t["assignee_id"] for t in tickets} <= {"u-sam", "u-priya"}
    now = datetime(ANCHOR.year, ANCHOR.month, ANCHOR.day, 9, tzinfo=UTC)
    breached = 0
    for ticket in tickets:
        opened = datetime.fromisoformat(ticket["opened_at"])
        due = datetime.fromisoformat(ticket["sla_due_at"])
        assert due == sla_due(ticket["priority"], opened)
        breached += ticket["status"] in ("open", "pending") and due < now
    assert breached >= 3

    projects = company["projects"]
    assert {p["status"] for p in projects} == {"planned", "in_progress", "live"}
    stages = {o["id"]: o["stage"] for o in company["opportunities"]}
    linked_won = [p for p in projects if stages.get(p["opportunity_id"]) == "closed_won"]
    assert len(linked_won) >= 15
    for project in projects:
        assert project["start_date"] <= project["go_live_date"]
        assert project["lead_id"] in {"u-dev", "u-dana"}

    products = company["products"]
    assert {p["currency"] for p in products} == {"USD", "EUR", "CNY"}
    names = " ".join(p["name"] for p in products)
    for plan in ("Starter", "Growth", "Enterprise", "fast-track", "Premium support"):
        assert plan in names
    assert all(p["unit_cost"] < p["list_price"] for p in products)


def test_capacity_full_go_live_week_then_room(company: dict[str, list[dict[str, Any]]]) -> None:
    weeks = {date.fromisoformat(w["week_start"]): w for w in company["capacity"]}
    first = min(weeks)
    assert first.weekday() == 0 and first <= ANCHOR - timedelta(weeks=4)
    assert ANCHOR - timedelta(weeks=5) < first
    assert all(w["team"] == "delivery" for w in weeks.values())
    assert all(15 <= w["available_days"] <= 20 for w in weeks.values())
    dates = helix_dates(ANCHOR)
    full, tight, free = (weeks[dates[k]] for k in ("full_week", "tight_week", "free_week"))
    assert dates["full_week"] <= dates["go_live"] < dates["full_week"] + timedelta(days=7)
    assert full["booked_days"] == full["available_days"]
    assert 0 < tight["available_days"] - tight["booked_days"] <= 2
    assert free["available_days"] - free["booked_days"] >= 5
    full_weeks = [w for w, row in weeks.items() if row["booked_days"] >= row["available_days"]]
    assert full_weeks == [dates["full_week"]]


def test_seed_demo_loads_refuses_and_replaces(tmp_path: Any) -> None:
    db = Database(f"sqlite:///{tmp_path}/crm.sqlite3")
    try:
        counts = seed_demo(db, anchor=ANCHOR)
        expected = {t: len(rows) for t, rows in build_demo_company(anchor=ANCHOR).items()}
        assert counts == expected
        with db.read_session() as session:
            assert session.scalar(select(func.count()).select_from(Account)) == counts["accounts"]
            jane = session.get(Contact, "con-jane")
            assert jane is not None and jane.consent_email and not jane.consent_marketing
            opp = session.get(Opportunity, "opp-acme-1")
            assert opp is not None and opp.amount == Decimal("120000")
            assert session.get(User, "u-alice").manager_id == "u-maria"  # type: ignore[union-attr]

        with pytest.raises(ValueError, match="already has .* account"):
            seed_demo(db, anchor=ANCHOR)

        # Bookkeeping rows from a previous demo run are cleared too.
        now = datetime(2026, 11, 23, 9, tzinfo=UTC)
        with db.session() as session:
            session.add(
                AuditEvent(at=now, actor_id="u-alice", action="log_activity", outcome="committed")
            )
            session.add(
                Approval(
                    id="apr-1",
                    proposal_id="p-1",
                    tool="apply_discount",
                    arguments={},
                    requested_by="u-alice",
                    reviewer_role="sales_manager",
                    created_at=now,
                )
            )
            session.add(
                OutboxMessage(
                    id="out-1",
                    contact_id="con-jane",
                    to_email="jane@acme.example",
                    subject="Hi",
                    body="Hello",
                    created_at=now,
                )
            )
            session.add(
                ToolExecution(
                    idempotency_key="k-1",
                    tool="log_activity",
                    arguments_hash="x",
                    result={},
                    created_at=now,
                )
            )
            session.add(
                ConsentChange(
                    contact_id="con-jane",
                    channel="email",
                    old_value=True,
                    new_value=False,
                    changed_at=now,
                )
            )
            session.add(
                SlaCredit(
                    id="sla-1",
                    account_id="acc-helix",
                    amount=Decimal(100),
                    currency="USD",
                    reason="outage",
                    granted_at=now,
                )
            )
            session.add(Account(id="acc-extra", name="Extra Ltd", tier="standard"))

        counts_again = seed_demo(db, seed=8, anchor=ANCHOR, replace=True)
        assert counts_again["accounts"] == 60
        with db.read_session() as session:
            for model in (
                AuditEvent,
                Approval,
                OutboxMessage,
                ToolExecution,
                ConsentChange,
                SlaCredit,
            ):
                assert session.scalar(select(func.count()).select_from(model)) == 0, model
            assert session.get(Account, "acc-extra") is None
            assert session.get(Account, "acc-acme") is not None
    finally:
        db.dispose()


def test_seeded_demo_through_the_tools(tmp_path: Any) -> None:
    """The demo's story holds when read through the CRM service on the anchor morning."""
    db = Database(f"sqlite:///{tmp_path}/crm.sqlite3")
    try:
        seed_demo(db, anchor=ANCHOR)
        crm = CRMService(
            db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=FixedClock.on(ANCHOR, hour=9)
        )
        dates = helix_dates(ANCHOR)
        report = crm.read(
            "check_capacity",
            {
                "start_date": dates["full_week"].isoformat(),
                "end_date": dates["free_week"].isoformat(),
            },
            crm.actor("u-dev"),
        )
        assert report["ok"], report
        assert [w["fully_booked"] for w in report["weeks"]] == [True, False, False]
        assert report["first_week_with_room"] == dates["tight_week"].isoformat()
        assert report["weeks"][2]["free_days"] >= 5

        tickets = crm.read(
            "list_tickets", {"account_id": "acc-helix", "status": "open"}, crm.actor("u-sam")
        )
        assert tickets["ok"], tickets
        breached = {t["id"]: t["sla_breached"] for t in tickets["tickets"]}
        assert breached == {"tkt-helix-1": True, "tkt-helix-2": False}

        forecast = crm.read("forecast", {}, crm.actor("u-admin"))
        assert forecast["ok"], forecast
        assert {c["currency"] for c in forecast["by_currency"]} >= {"USD", "CNY"}
    finally:
        db.dispose()
