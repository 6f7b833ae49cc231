"""Load records into the CRM from plain data (scenario fixtures, the demo company, tests).

Every record is validated first — unknown fields, wrong types and dangling references are
errors naming the table, the record and the field — and the whole fixture is written in one
transaction, so a bad fixture leaves the database as it was.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError

from tools.db import Database
from tools.models import (
    Account,
    Activity,
    Base,
    Capacity,
    Contact,
    Opportunity,
    Product,
    Project,
    Task,
    Ticket,
    User,
)
from tools.types import ActivityKind, IsoDate, IsoDateTime, Priority, Stage, TicketStatus, Tier


class FixtureError(ValueError):
    pass


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserRow(_Row):
    id: str
    name: str
    email: str | None = None
    roles: list[str] = []
    team: str | None = None
    manager_id: str | None = None


class AccountRow(_Row):
    id: str
    name: str
    domain: str | None = None
    industry: str | None = None
    tier: Tier = "standard"
    owner_id: str | None = None
    team: str | None = None
    region: str | None = None


class Consent(_Row):
    email: bool = False
    phone: bool = False
    marketing: bool = False


class ContactRow(_Row):
    id: str
    account_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    consent: Consent = Consent()


class OpportunityRow(_Row):
    id: str
    account_id: str
    name: str
    stage: Stage = "prospecting"
    amount: Decimal = Field(default=Decimal(0), ge=0)
    currency: str = "USD"
    discount_percent: Decimal = Field(default=Decimal(0), ge=0, le=100)
    close_date: IsoDate | None = None
    probability: int | None = Field(default=None, ge=0, le=100)
    owner_id: str | None = None
    next_step: str | None = None
    seats: int | None = None
    cost: Decimal | None = None
    margin_percent: Decimal | None = None


class ActivityRow(_Row):
    id: str
    account_id: str
    opportunity_id: str | None = None
    contact_ids: list[str] = []
    kind: ActivityKind = "note"
    subject: str
    summary: str = ""
    occurred_at: IsoDateTime
    author_id: str | None = None


class TaskRow(_Row):
    id: str
    subject: str
    due_date: IsoDate
    owner_id: str | None = None
    account_id: str | None = None
    opportunity_id: str | None = None
    status: str = "open"


class TicketRow(_Row):
    id: str
    account_id: str
    subject: str
    description: str = ""
    priority: Priority = "p3"
    status: TicketStatus = "open"
    assignee_id: str | None = None
    opened_at: IsoDateTime
    sla_due_at: IsoDateTime | None = None
    escalated: bool = False


class ProjectRow(_Row):
    id: str
    account_id: str
    opportunity_id: str | None = None
    name: str
    seats: int = 0
    status: str = "planned"
    start_date: IsoDate | None = None
    go_live_date: IsoDate | None = None
    lead_id: str | None = None
    effort_days: int | None = None


class CapacityRow(_Row):
    team: str = "delivery"
    week_start: IsoDate
    available_days: Decimal
    booked_days: Decimal = Decimal(0)


class ProductRow(_Row):
    id: str
    name: str
    family: str | None = None
    unit: str = "seat/year"
    list_price: Decimal
    currency: str
    unit_cost: Decimal | None = None


# Insert order respects foreign keys.
TABLES: dict[str, tuple[type[_Row], type[Base]]] = {
    "users": (UserRow, User),
    "accounts": (AccountRow, Account),
    "contacts": (ContactRow, Contact),
    "opportunities": (OpportunityRow, Opportunity),
    "activities": (ActivityRow, Activity),
    "tasks": (TaskRow, Task),
    "tickets": (TicketRow, Ticket),
    "projects": (ProjectRow, Project),
    "capacity": (CapacityRow, Capacity),
    "products": (ProductRow, Product),
}


def _to_model_values(table: str, row: _Row) -> dict[str, Any]:
    values = row.model_dump()
    if table == "contacts":
        consent = values.pop("consent")
        values.update(
            consent_email=consent["email"],
            consent_phone=consent["phone"],
            consent_marketing=consent["marketing"],
        )
    if table == "tickets" and values.get("sla_due_at") is None:
        from tools.catalogue.service import sla_due

        values["sla_due_at"] = sla_due(values["priority"], values["opened_at"])
    return values


def validate_fixture(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Validated column values per table; raises FixtureError naming table, record and field."""
    unknown = set(data) - set(TABLES)
    if unknown:
        raise FixtureError(
            f"unknown fixture table(s) {sorted(unknown)}; known: {', '.join(TABLES)}"
        )
    out: dict[str, list[dict[str, Any]]] = {}
    for table, (row_model, _) in TABLES.items():
        rows = data.get(table) or []
        if not isinstance(rows, list):
            raise FixtureError(f"fixture table '{table}' must be a list of records")
        values = []
        for index, raw in enumerate(rows):
            try:
                row = row_model.model_validate(raw)
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(p) for p in first["loc"]) or "(record)"
                ident = raw.get("id", f"#{index + 1}") if isinstance(raw, dict) else f"#{index + 1}"
                raise FixtureError(f"{table} {ident}: {field}: {first['msg']}") from exc
            values.append(_to_model_values(table, row))
        out[table] = values
    _check_references(out)
    # The opportunity row carries its account's team (see Opportunity.team).
    teams = {account["id"]: account.get("team") for account in out.get("accounts", [])}
    for opportunity in out.get("opportunities", []):
        opportunity["team"] = teams[opportunity["account_id"]]
    return out


def _check_references(tables: dict[str, list[dict[str, Any]]]) -> None:
    ids = {t: {r["id"] for r in rows if "id" in r} for t, rows in tables.items()}
    refs = {
        "owner_id": "users",
        "manager_id": "users",
        "author_id": "users",
        "assignee_id": "users",
        "lead_id": "users",
        "account_id": "accounts",
        "opportunity_id": "opportunities",
    }
    contact_accounts = {c["id"]: c["account_id"] for c in tables.get("contacts", [])}
    for activity in tables.get("activities", []):
        for contact_id in activity.get("contact_ids") or []:
            if contact_accounts.get(contact_id) != activity["account_id"]:
                raise FixtureError(
                    f"activities {activity['id']}: contact_ids '{contact_id}' is not a contact "
                    f"of account {activity['account_id']} in the fixture"
                )
    for table, rows in tables.items():
        for row in rows:
            for field, target in refs.items():
                value = row.get(field)
                if value is not None and value not in ids[target]:
                    raise FixtureError(
                        f"{table} {row.get('id', '?')}: {field} '{value}' is not in the "
                        f"fixture's {target} (nor may it point outside the fixture)"
                    )


def load_fixture(db: Database, data: dict[str, Any], *, batch_size: int = 5000) -> dict[str, int]:
    """Insert a fixture in one transaction; returns the number of rows per table."""
    tables = validate_fixture(data)
    counts: dict[str, int] = {}
    try:
        with db.session() as session:
            for table, (_, model) in TABLES.items():
                rows = tables[table]
                if table == "users":
                    # Managers may be listed after their reports: insert, then link.
                    managers = {r["id"]: r.pop("manager_id", None) for r in rows}
                for start in range(0, len(rows), batch_size):
                    session.execute(
                        cast(Table, model.__table__).insert(), rows[start : start + batch_size]
                    )
                if table == "users":
                    for user_id, manager_id in managers.items():
                        if manager_id:
                            session.execute(
                                cast(Table, User.__table__)
                                .update()
                                .where(User.__table__.c.id == user_id)
                                .values(manager_id=manager_id)
                            )
                counts[table] = len(rows)
    except IntegrityError as exc:
        raise FixtureError(f"the fixture conflicts with existing records: {exc.orig}") from exc
    return counts


def as_utc(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
