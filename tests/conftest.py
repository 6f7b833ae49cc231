"""Shared fixtures: a real CRM database on SQLite and on PostgreSQL, a small company, a fixed clock.

Tests that take the `db` fixture run once per backend. PostgreSQL is a throwaway server on
loopback started once per session (warroom.pgtemp); when its binaries are missing the
PostgreSQL runs are skipped — unless WARROOM_REQUIRE_POSTGRES=1 (CI), which makes that an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

# The project's packages that share a name with a test package (tests/channels, tests/evals),
# imported first: otherwise pytest's importlib mode registers the test package under that name
# and `channels.x` resolves through the editable install (to another checkout's code).
import channels  # noqa: F401
import channels.requester_watch  # noqa: F401
import channels.terminal_views  # noqa: F401
import evals  # noqa: F401
from tools.context import FixedClock
from tools.db import Database
from tools.fixtures import load_fixture
from tools.models import Base
from tools.policy import Policy
from tools.service import CRMService
from warroom.pgtemp import PostgresUnavailable, temporary_postgres
from warroom.settings import DEFAULT_POLICY_PATH

TODAY = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No test reads the developer's .env or data dir, or reaches a real model endpoint."""
    for key in list(os.environ):
        if key.startswith("WARROOM_") and key != "WARROOM_REQUIRE_POSTGRES":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("WARROOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    try:
        with temporary_postgres() as url:
            yield url
    except PostgresUnavailable as exc:
        if os.environ.get("WARROOM_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"PostgreSQL is not available here: {exc}")


@pytest.fixture(scope="session")
def _postgres_db(postgres_url: str) -> Iterator[Database]:
    db = Database(postgres_url)
    yield db
    db.dispose()


def _truncate(db: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
        yield database
        database.dispose()
    else:
        database = request.getfixturevalue("_postgres_db")
        _truncate(database)
        yield database


@pytest.fixture
def sqlite_db(tmp_path: Any) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    yield database
    database.dispose()


def small_company() -> dict[str, Any]:
    """Four accounts over two sales teams, one user per role, deals, tickets, projects, capacity."""

    def u(i: str, n: str, r: list[str], t: str | None, m: str | None = None) -> dict[str, Any]:
        return {
            "id": i,
            "name": n,
            "email": f"{i[2:]}@warroom.example",
            "roles": r,
            "team": t,
            "manager_id": m,
        }

    weeks = [
        {
            "team": "delivery",
            "week_start": date.fromordinal(date(2026, 11, 16).toordinal() + 7 * i).isoformat(),
            "available_days": 10,
            "booked_days": 10 if i == 7 else 4,  # week of 2027-01-04 is fully booked
        }
        for i in range(20)
    ]
    return {
        "users": [
            u("u-alice", "Alice Wong", ["rep"], "west", "u-maria"),
            u("u-ben", "Ben Carter", ["rep"], "west", "u-maria"),
            u("u-bob", "Bob Stone", ["rep"], "east", "u-omar"),
            u("u-maria", "Maria Lopez", ["sales_manager"], "west", "u-admin"),
            u("u-omar", "Omar Haddad", ["sales_manager"], "east", "u-admin"),
            u("u-sam", "Sam Patel", ["support"], "support", "u-priya"),
            u("u-priya", "Priya Shah", ["support_lead"], "support", "u-admin"),
            u("u-dev", "Devon Reyes", ["delivery"], "delivery", "u-dana"),
            u("u-dana", "Dana Kim", ["delivery_lead"], "delivery", "u-admin"),
            u("u-admin", "Avery Admin", ["admin"], None),
            u("u-nobody", "No Role", [], None),
        ],
        "accounts": [
            {
                "id": "acc-acme",
                "name": "Acme Corp",
                "domain": "acme.example",
                "tier": "strategic",
                "owner_id": "u-alice",
                "team": "west",
                "region": "us",
            },
            {
                "id": "acc-globex",
                "name": "Globex Retail",
                "domain": "globex.example",
                "tier": "standard",
                "owner_id": "u-ben",
                "team": "west",
                "region": "us",
            },
            {
                "id": "acc-helix",
                "name": "Helix Health",
                "domain": "helix.example",
                "tier": "strategic",
                "owner_id": "u-bob",
                "team": "east",
                "region": "eu",
            },
            {
                "id": "acc-initech",
                "name": "Initech",
                "domain": "initech.example",
                "tier": "standard",
                "owner_id": "u-bob",
                "team": "east",
                "region": "eu",
            },
        ],
        "contacts": [
            {
                "id": "con-jane",
                "account_id": "acc-acme",
                "name": "Jane Doe",
                "email": "jane@acme.example",
                "phone": "+1 555 0100",
                "consent": {"email": True, "phone": True, "marketing": False},
            },
            {
                "id": "con-raj",
                "account_id": "acc-acme",
                "name": "Raj Mehta",
                "email": "raj@acme.example",
                "consent": {"email": False},
            },
            {
                "id": "con-hank",
                "account_id": "acc-helix",
                "name": "Hank Moody",
                "email": "hank@helix.example",
                "consent": {"email": True},
            },
        ],
        "opportunities": [
            {
                "id": "opp-acme-1",
                "account_id": "acc-acme",
                "name": "Acme expansion",
                "stage": "proposal",
                "amount": 100000,
                "currency": "USD",
                "close_date": "2026-12-31",
                "probability": 50,
                "owner_id": "u-alice",
                "seats": 100,
                "cost": 60000,
                "margin_percent": 40,
            },
            {
                "id": "opp-globex-1",
                "account_id": "acc-globex",
                "name": "Globex renewal",
                "stage": "qualification",
                "amount": 50000,
                "currency": "EUR",
                "close_date": "2026-12-15",
                "probability": 30,
                "owner_id": "u-ben",
            },
            {
                "id": "opp-helix-1",
                "account_id": "acc-helix",
                "name": "Helix rollout",
                "stage": "negotiation",
                "amount": 450000,
                "currency": "USD",
                "close_date": "2026-12-20",
                "probability": 70,
                "owner_id": "u-bob",
                "seats": 500,
            },
            {
                "id": "opp-acme-won",
                "account_id": "acc-acme",
                "name": "Acme pilot",
                "stage": "closed_won",
                "amount": 20000,
                "currency": "USD",
                "close_date": "2026-10-10",
                "probability": 100,
                "owner_id": "u-alice",
            },
        ],
        "activities": [
            {
                "id": "act-1",
                "account_id": "acc-acme",
                "kind": "call",
                "subject": "Kick-off",
                "summary": "Talked seats",
                "occurred_at": "2026-11-10T15:00:00Z",
                "author_id": "u-alice",
                "contact_ids": ["con-jane"],
            },
        ],
        "tickets": [
            {
                "id": "tkt-acme-1",
                "account_id": "acc-acme",
                "subject": "Slow dashboards",
                "priority": "p2",
                "status": "open",
                "opened_at": "2026-11-19T09:00:00Z",
            },
            {
                "id": "tkt-helix-1",
                "account_id": "acc-helix",
                "subject": "Login outage",
                "priority": "p1",
                "status": "open",
                "opened_at": "2026-11-19T08:00:00Z",
            },
            {
                "id": "tkt-initech-1",
                "account_id": "acc-initech",
                "subject": "Export bug",
                "priority": "p3",
                "status": "solved",
                "opened_at": "2026-11-01T08:00:00Z",
            },
        ],
        "projects": [
            {
                "id": "prj-acme",
                "account_id": "acc-acme",
                "opportunity_id": "opp-acme-won",
                "name": "Acme onboarding",
                "seats": 50,
                "status": "in_progress",
                "start_date": "2026-11-02",
                "go_live_date": "2026-12-14",
                "lead_id": "u-dev",
            },
            {
                "id": "prj-initech",
                "account_id": "acc-initech",
                "name": "Initech onboarding",
                "seats": 20,
                "status": "planned",
                "start_date": "2026-12-01",
                "go_live_date": "2027-01-11",
                "lead_id": "u-dev",
            },
        ],
        "capacity": weeks,
        "products": [
            {
                "id": "beacon-growth-usd",
                "name": "Beacon Growth",
                "list_price": 1200,
                "currency": "USD",
                "unit_cost": 300,
            },
        ],
    }


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock.on(TODAY, hour=12)


@pytest.fixture
def policy() -> Policy:
    return Policy.load(DEFAULT_POLICY_PATH)


@pytest.fixture
def crm(db: Database, clock: FixedClock, policy: Policy) -> CRMService:
    load_fixture(db, small_company())
    return CRMService(db, policy=policy, clock=clock)
