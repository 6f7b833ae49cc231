"""Benchmark of the CRM store and tools at company scale, on SQLite and PostgreSQL.

Builds a synthetic, deterministic CRM (by default 100k accounts, 1M activities), then measures
per-call latency of the read tools through `CRMService.read` (validation, permission check, query,
serialisation) and of two writes through `CRMService.call` (propose + execute: one transaction
with the audit event and the idempotency row).

    .venv/bin/python -m benchmarks.bench_crm --backend both --out out/bench_crm.json

Develop with small sizes: `--accounts 2000 --activities 20000`. `--explain` also prints the query
plan of every SELECT one call of each case runs (SQLite: EXPLAIN QUERY PLAN; PostgreSQL:
EXPLAIN (ANALYZE, BUFFERS)).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Connection, Engine, event, literal, select

from tools.catalogue.delivery import week_start
from tools.catalogue.service import sla_due
from tools.context import Actor, FixedClock
from tools.db import Database
from tools.models import (
    Account,
    Activity,
    Capacity,
    Contact,
    Opportunity,
    Project,
    Ticket,
    User,
)
from tools.policy import Policy
from tools.service import CRMService

POLICY_PATH = Path(__file__).resolve().parent.parent / "tools" / "policy_default.yaml"

# The data is laid out around a fixed day so that runs on different days measure the same thing.
TODAY = date(2026, 11, 16)
NOW = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)

SALES_TEAMS = 30
REPS_PER_TEAM = 11  # plus one sales manager: 12 sales users per team
SUPPORT_USERS = 24
DELIVERY_USERS = 12
DELIVERY_TEAMS = 6
CAPACITY_WEEKS = 52
BATCH = 20_000

READ_TARGET_MS = 20.0
WRITE_TARGET_MS = 30.0

ADJECTIVES = (
    "North Blue Bright Silver Rapid Grand Clear Prime Summit Green "
    "Iron Golden Swift True Bold Quiet Vivid Solid Open Noble"
).split()
NOUNS = (
    "Harbor Ridge Falcon Forge Beacon Orchard Meadow Anchor Canyon Lantern "
    "Pioneer Cedar Quarry Atlas Vertex Delta Harvest Compass Granite Willow"
).split()
SUFFIXES = "Systems Labs Logistics Foods Health Energy Partners Media Robotics Analytics".split()
INDUSTRIES = "software retail manufacturing healthcare finance logistics media energy".split()
REGIONS = ["emea", "na", "apac", "latam"]
FIRST_NAMES = "Ana Ben Chloe Dev Elif Farid Grace Hugo Ines Jon Kira Liam Mei Nils Omar Pia".split()
LAST_NAMES = "Adams Berg Costa Dubois Evans Fischer Garcia Haddad Ito Jensen Kowalski Lopez".split()
TITLES = ["CTO", "VP Engineering", "Head of IT", "Procurement Lead", "CFO", "Operations Manager"]
STAGES = ["prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"]
STAGE_WEIGHTS = [20, 18, 15, 12, 20, 15]
STAGE_PROBABILITY = {
    "prospecting": 10,
    "qualification": 25,
    "proposal": 50,
    "negotiation": 70,
    "closed_won": 100,
    "closed_lost": 0,
}
KINDS = ["call", "meeting", "email", "note"]
TOPICS = ["renewal", "pricing", "onboarding", "roadmap", "security review", "expansion", "QBR"]
PRIORITIES = ["p1", "p2", "p3", "p4"]
PRIORITY_WEIGHTS = [5, 15, 50, 30]
TICKET_STATUSES = ["open", "pending", "solved", "closed"]
TICKET_STATUS_WEIGHTS = [20, 10, 40, 30]
PROJECT_STATUSES = ["planned", "in_progress", "live", "on_hold"]


# ---------------------------------------------------------------- dataset


@dataclass
class Sizes:
    accounts: int
    activities: int

    @property
    def tickets(self) -> int:
        return self.accounts * 3 // 2

    @property
    def projects(self) -> int:
        return self.accounts // 5


@dataclass
class Dataset:
    """What the benchmark needs to know about the generated data to pick valid ids."""

    users: list[dict[str, Any]] = field(default_factory=list)
    account_team: list[int] = field(default_factory=list)
    account_owner: list[str] = field(default_factory=list)
    account_domain: list[str] = field(default_factory=list)
    contact_start: list[int] = field(default_factory=list)
    contact_count: list[int] = field(default_factory=list)
    opp_start: list[int] = field(default_factory=list)
    opp_count: list[int] = field(default_factory=list)
    opp_account: list[int] = field(default_factory=list)
    opp_owner: list[str] = field(default_factory=list)
    ticket_account: list[int] = field(default_factory=list)
    project_account: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def team_name(t: int) -> str:
    return f"sales-{t + 1:02d}"


def manager_id(t: int) -> str:
    return f"u-mgr-{t + 1:02d}"


def rep_id(t: int, r: int) -> str:
    return f"u-rep-{t + 1:02d}-{r + 1:02d}"


def account_id(i: int) -> str:
    return f"acc-{i:06d}"


def contact_id(i: int) -> str:
    return f"con-{i:07d}"


def opportunity_id(i: int) -> str:
    return f"opp-{i:07d}"


def ticket_id(i: int) -> str:
    return f"tkt-{i:07d}"


def project_id(i: int) -> str:
    return f"prj-{i:06d}"


def support_id(i: int) -> str:
    return f"u-sup-{i + 1:02d}"


def delivery_id(i: int) -> str:
    return f"u-del-{i + 1:02d}"


def make_users() -> list[dict[str, Any]]:
    """Managers and leads first (reports point at them)."""
    leads: list[dict[str, Any]] = [
        _user("u-admin-1", "Admin One", ["admin"], None, None),
        _user("u-admin-2", "Admin Two", ["admin"], None, None),
        _user("u-suplead", "Support Lead", ["support_lead"], "support", None),
        _user("u-dellead", "Delivery Lead", ["delivery_lead"], "delivery", None),
    ]
    staff: list[dict[str, Any]] = []
    for t in range(SALES_TEAMS):
        name = f"Manager {t + 1}"
        leads.append(_user(manager_id(t), name, ["sales_manager"], team_name(t), None))
        for r in range(REPS_PER_TEAM):
            staff.append(
                _user(rep_id(t, r), f"Rep {t + 1}-{r + 1}", ["rep"], team_name(t), manager_id(t))
            )
    for i in range(SUPPORT_USERS):
        staff.append(_user(support_id(i), f"Support {i + 1}", ["support"], "support", "u-suplead"))
    for i in range(DELIVERY_USERS):
        staff.append(
            _user(delivery_id(i), f"Delivery {i + 1}", ["delivery"], "delivery", "u-dellead")
        )
    return leads + staff


def _user(
    uid: str, name: str, roles: list[str], team: str | None, manager: str | None
) -> dict[str, Any]:
    return {
        "id": uid,
        "name": name,
        "email": f"{uid}@warroom.example",
        "roles": roles,
        "team": team,
        "manager_id": manager,
    }


def gen_accounts(rng: random.Random, sizes: Sizes, ds: Dataset) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for i in range(sizes.accounts):
        t = i % SALES_TEAMS
        owner = rep_id(t, rng.randrange(REPS_PER_TEAM))
        adj, noun = rng.choice(ADJECTIVES), rng.choice(NOUNS)
        domain = f"{adj}{noun}{i}.example".lower()
        ds.account_team.append(t)
        ds.account_owner.append(owner)
        ds.account_domain.append(domain)
        batch.append(
            {
                "id": account_id(i),
                "name": f"{adj} {noun} {rng.choice(SUFFIXES)}",
                "domain": domain,
                "industry": rng.choice(INDUSTRIES),
                "tier": "strategic" if rng.random() < 0.1 else "standard",
                "owner_id": owner,
                "team": team_name(t),
                "region": rng.choice(REGIONS),
                "version": 1,
            }
        )
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def gen_contacts(rng: random.Random, sizes: Sizes, ds: Dataset) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    n = 0
    for a in range(sizes.accounts):
        k = rng.randint(1, 5)
        ds.contact_start.append(n)
        ds.contact_count.append(k)
        for _ in range(k):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            batch.append(
                {
                    "id": contact_id(n),
                    "account_id": account_id(a),
                    "name": f"{first} {last}",
                    "email": f"{first}.{last}{n}@{ds.account_domain[a]}".lower(),
                    "phone": f"+1-555-{n % 10_000_000:07d}",
                    "title": rng.choice(TITLES),
                    "consent_email": rng.random() < 0.7,
                    "consent_phone": rng.random() < 0.4,
                    "consent_marketing": rng.random() < 0.3,
                    "erased_at": None,
                    "version": 1,
                }
            )
            n += 1
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def gen_opportunities(
    rng: random.Random, sizes: Sizes, ds: Dataset
) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    n = 0
    for a in range(sizes.accounts):
        k = rng.randint(0, 4)
        ds.opp_start.append(n)
        ds.opp_count.append(k)
        t = ds.account_team[a]
        for _ in range(k):
            owner = (
                ds.account_owner[a]
                if rng.random() < 0.85
                else rep_id(t, rng.randrange(REPS_PER_TEAM))
            )
            stage = rng.choices(STAGES, STAGE_WEIGHTS)[0]
            amount = Decimal(rng.randint(5, 500) * 1000)
            ds.opp_account.append(a)
            ds.opp_owner.append(owner)
            batch.append(
                {
                    "id": opportunity_id(n),
                    "account_id": account_id(a),
                    "name": f"{rng.choice(TOPICS).title()} {n}",
                    "stage": stage,
                    "amount": amount,
                    "currency": rng.choices(["USD", "EUR", "GBP"], [70, 20, 10])[0],
                    "discount_percent": Decimal(rng.choice([0, 0, 0, 5, 10, 15])),
                    "close_date": TODAY + timedelta(days=rng.randint(-365, 365)),
                    "probability": STAGE_PROBABILITY[stage],
                    "owner_id": owner,
                    "next_step": rng.choice([None, "Send proposal", "Book demo", "Legal review"]),
                    "seats": rng.randint(10, 2000),
                    "team": team_name(t),
                    "cost": (amount * Decimal("0.6")).quantize(Decimal("0.01")),
                    "margin_percent": Decimal(40),
                    "version": 1,
                }
            )
            n += 1
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


ACTIVITY_COLUMNS = (
    "id",
    "account_id",
    "opportunity_id",
    "contact_ids",
    "kind",
    "subject",
    "summary",
    "occurred_at",
    "author_id",
)


def gen_activities(rng: random.Random, sizes: Sizes, ds: Dataset) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    two_years = 730 * 86_400
    for n in range(sizes.activities):
        a = rng.randrange(sizes.accounts)
        opp = None
        if ds.opp_count[a] and rng.random() < 0.4:
            opp = opportunity_id(ds.opp_start[a] + rng.randrange(ds.opp_count[a]))
        contacts = []
        if rng.random() < 0.5:
            contacts = [contact_id(ds.contact_start[a] + rng.randrange(ds.contact_count[a]))]
        kind = rng.choice(KINDS)
        topic = rng.choice(TOPICS)
        batch.append(
            {
                "id": f"act-{n:08d}",
                "account_id": account_id(a),
                "opportunity_id": opp,
                "contact_ids": contacts,
                "kind": kind,
                "subject": f"{kind.title()} about {topic}",
                "summary": f"Discussed {topic}; customer asked for a follow-up next week ({n}).",
                "occurred_at": NOW - timedelta(seconds=rng.randrange(two_years)),
                "author_id": ds.account_owner[a] if rng.random() < 0.75 else support_id(n % 24),
            }
        )
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def gen_tickets(rng: random.Random, sizes: Sizes, ds: Dataset) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    year = 365 * 86_400
    for n in range(sizes.tickets):
        a = rng.randrange(sizes.accounts)
        ds.ticket_account.append(a)
        priority = rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0]
        status = rng.choices(TICKET_STATUSES, TICKET_STATUS_WEIGHTS)[0]
        opened = NOW - timedelta(seconds=rng.randrange(year))
        batch.append(
            {
                "id": ticket_id(n),
                "account_id": account_id(a),
                "subject": f"{rng.choice(TOPICS).title()} issue {n}",
                "description": "The customer reports a problem that needs a look.",
                "priority": priority,
                "status": status,
                "assignee_id": support_id(rng.randrange(SUPPORT_USERS)),
                "opened_at": opened,
                "sla_due_at": sla_due(priority, opened),
                "escalated": rng.random() < 0.03,
                "escalation_reason": None,
                "version": 1,
            }
        )
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def gen_projects(rng: random.Random, sizes: Sizes, ds: Dataset) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for n in range(sizes.projects):
        a = rng.randrange(sizes.accounts)
        ds.project_account.append(a)
        opp = None
        if ds.opp_count[a]:
            opp = opportunity_id(ds.opp_start[a] + rng.randrange(ds.opp_count[a]))
        start = TODAY + timedelta(days=rng.randint(-180, 180))
        batch.append(
            {
                "id": project_id(n),
                "account_id": account_id(a),
                "opportunity_id": opp,
                "name": f"Onboarding {n}",
                "seats": rng.randint(10, 2000),
                "status": rng.choice(PROJECT_STATUSES),
                "start_date": start,
                "go_live_date": start + timedelta(days=rng.randint(20, 120)),
                "lead_id": delivery_id(rng.randrange(DELIVERY_USERS)),
                "effort_days": rng.randint(5, 80),
                "version": 1,
            }
        )
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def gen_capacity(rng: random.Random, sizes: Sizes, ds: Dataset) -> Iterator[list[dict[str, Any]]]:
    first = week_start(TODAY) - timedelta(weeks=12)
    rows = []
    for t in range(DELIVERY_TEAMS):
        for w in range(CAPACITY_WEEKS):
            available = Decimal(rng.randint(30, 60))
            rows.append(
                {
                    "team": f"delivery-{t + 1}",
                    "week_start": first + timedelta(weeks=w),
                    "available_days": available,
                    "booked_days": Decimal(rng.randint(0, int(available))),
                }
            )
    yield rows


# ---------------------------------------------------------------- loading


def _insert_core(conn: Connection, table: Any, batches: Iterator[list[dict[str, Any]]]) -> int:
    n = 0
    for batch in batches:
        conn.execute(table.insert(), batch)
        n += len(batch)
    return n


def _copy_activities(conn: Connection, batches: Iterator[list[dict[str, Any]]]) -> int:
    """PostgreSQL: stream activities through COPY on the raw psycopg connection."""
    raw = conn.connection.driver_connection
    n = 0
    columns = ", ".join(ACTIVITY_COLUMNS)
    with raw.cursor() as cur:  # type: ignore[union-attr]
        with cur.copy(f"COPY activities ({columns}) FROM STDIN") as copy:
            for batch in batches:
                for row in batch:
                    values = [row[c] for c in ACTIVITY_COLUMNS]
                    values[3] = json.dumps(values[3])
                    copy.write_row(values)
                n += len(batch)
    return n


def load_dataset(
    db: Database,
    sizes: Sizes,
    seed: int,
    log: Callable[[str], None],
    extra_ddl: list[str] | None = None,
) -> tuple[Dataset, dict[str, Any]]:
    extra_ddl = extra_ddl or []
    rng = random.Random(seed)
    ds = Dataset()
    ds.users = make_users()
    timings: dict[str, float] = {}
    engine = db.engine
    postgres = db.dialect == "postgresql"
    started = time.perf_counter()
    plan: list[tuple[str, Any, Callable[..., Iterator[list[dict[str, Any]]]]]] = [
        ("accounts", Account.__table__, gen_accounts),
        ("contacts", Contact.__table__, gen_contacts),
        ("opportunities", Opportunity.__table__, gen_opportunities),
        ("activities", Activity.__table__, gen_activities),
        ("tickets", Ticket.__table__, gen_tickets),
        ("projects", Project.__table__, gen_projects),
        ("capacity", Capacity.__table__, gen_capacity),
    ]
    with engine.begin() as conn:
        if not postgres:
            conn.exec_driver_sql("PRAGMA cache_size=-262144")
        t0 = time.perf_counter()
        users = [dict(u) for u in ds.users]
        leads = [u for u in users if u["manager_id"] is None]
        staff = [u for u in users if u["manager_id"] is not None]
        conn.execute(User.__table__.insert(), leads)
        conn.execute(User.__table__.insert(), staff)
        timings["users"] = time.perf_counter() - t0
        ds.counts["users"] = len(users)
        for name, table, gen in plan:
            t0 = time.perf_counter()
            batches = gen(rng, sizes, ds)
            if postgres and name == "activities":
                count = _copy_activities(conn, batches)
            else:
                count = _insert_core(conn, table, batches)
            timings[name] = time.perf_counter() - t0
            ds.counts[name] = count
            log(f"  {name}: {count:,} rows in {timings[name]:.1f}s")
    insert_s = time.perf_counter() - started
    t0 = time.perf_counter()
    for ddl in extra_ddl:
        with engine.begin() as conn:
            conn.exec_driver_sql(ddl)
        log(f"  what-if DDL: {ddl}")
    ddl_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    analyze_s = time.perf_counter() - t0
    log(
        f"  inserted in {insert_s:.1f}s, {'VACUUM ANALYZE' if postgres else 'ANALYZE'} "
        f"{analyze_s:.1f}s"
    )
    return ds, {
        "tables_s": {k: round(v, 2) for k, v in timings.items()},
        "insert_s": round(insert_s, 2),
        "analyze_s": round(analyze_s, 2),
        "what_if_ddl": extra_ddl,
        "what_if_ddl_s": round(ddl_s, 2),
        "analyze": "VACUUM ANALYZE" if postgres else "ANALYZE",
        "total_s": round(insert_s + analyze_s, 2),
        "method": (
            "Core executemany in batches of 20,000; activities via COPY"
            if postgres
            else "Core executemany in batches of 20,000, one transaction"
        ),
    }


# ---------------------------------------------------------------- cases


@dataclass
class Case:
    name: str
    tool: str
    actor: str
    make_args: Callable[[random.Random, int], dict[str, Any]]
    kind: str = "read"  # read | write | baseline
    indexed: bool = True
    note: str = ""

    @property
    def target_ms(self) -> float | None:
        if not self.indexed:
            return None
        return WRITE_TARGET_MS if self.kind == "write" else READ_TARGET_MS


def build_cases(ds: Dataset, sizes: Sizes) -> tuple[list[Case], dict[str, str]]:
    """Benchmark cases and the user id of each acting role. Ids are drawn from what the actor
    may see, so every call is a valid, permitted call."""
    team = 0
    rep, manager, support = rep_id(team, 0), manager_id(team), support_id(0)
    actors = {"rep": rep, "manager": manager, "support": support}
    team_accounts = [a for a in range(sizes.accounts) if ds.account_team[a] == team]
    rep_accounts = [a for a in team_accounts if ds.account_owner[a] == rep]
    team_opps = [o for o, a in enumerate(ds.opp_account) if ds.account_team[a] == team]
    rep_opps = [o for o in team_opps if ds.opp_owner[o] == rep]
    team_reps = [rep_id(team, r) for r in range(REPS_PER_TEAM)]
    team_tickets = [k for k, a in enumerate(ds.ticket_account) if ds.account_team[a] == team]
    all_tickets = len(ds.ticket_account)
    team_ticket_accounts = sorted({ds.ticket_account[k] for k in team_tickets})
    all_ticket_accounts = sorted(set(ds.ticket_account))
    team_project_accounts = sorted({a for a in ds.project_account if ds.account_team[a] == team})
    if not (rep_accounts and rep_opps and team_tickets and team_project_accounts):
        raise SystemExit("dataset too small: the benchmark rep owns no accounts or deals")

    def acc(pool: list[int]) -> Callable[[random.Random, int], dict[str, Any]]:
        return lambda r, i: {"account_id": account_id(r.choice(pool))}

    def opp(r: random.Random, i: int) -> dict[str, Any]:
        return {"opportunity_id": opportunity_id(r.choice(team_opps))}

    def capacity(r: random.Random, i: int) -> dict[str, Any]:
        start = TODAY + timedelta(days=r.randint(-60, 200))
        end = start + timedelta(weeks=r.randint(1, 12))
        return {"start_date": start.isoformat(), "end_date": end.isoformat(), "effort_days": 20}

    def common_term(r: random.Random, i: int) -> dict[str, Any]:
        return {"query": r.choice(NOUNS).lower()}

    def domain_term(pool: list[int]) -> Callable[[random.Random, int], dict[str, Any]]:
        return lambda r, i: {"query": ds.account_domain[r.choice(pool)]}

    def log_activity(pool: list[int]) -> Callable[[random.Random, int], dict[str, Any]]:
        def make(r: random.Random, i: int) -> dict[str, Any]:
            a = r.choice(pool)
            contact = contact_id(ds.contact_start[a] + r.randrange(ds.contact_count[a]))
            return {
                "account_id": account_id(a),
                "kind": "call",
                "subject": f"Check-in call {i}",
                "summary": "Talked through the renewal timeline; they want a proposal.",
                "contact_ids": [contact],
            }

        return make

    def next_step(pool: list[int]) -> Callable[[random.Random, int], dict[str, Any]]:
        return lambda r, i: {
            "opportunity_id": opportunity_id(r.choice(pool)),
            "next_step": f"Follow-up call #{i}",
        }

    cases: list[Case] = []
    for role in ("rep", "manager"):
        cases += [
            Case("get_account", "get_account", role, acc(team_accounts)),
            Case("get_opportunity", "get_opportunity", role, opp),
            Case("list_opportunities(account_id)", "list_opportunities", role, acc(team_accounts)),
            Case(
                "list_opportunities(owner_id)",
                "list_opportunities",
                role,
                lambda r, i: {"owner_id": r.choice(team_reps)},
            ),
            Case("list_tickets(account_id)", "list_tickets", role, acc(team_ticket_accounts)),
            Case(
                "list_tickets(priority=p1,status=open)",
                "list_tickets",
                role,
                lambda r, i: {"priority": "p1", "status": "open"},
            ),
            Case(
                "get_ticket",
                "get_ticket",
                role,
                lambda r, i: {"ticket_id": ticket_id(r.choice(team_tickets))},
            ),
            Case("account_health", "account_health", role, acc(team_accounts)),
            Case("list_projects(account_id)", "list_projects", role, acc(team_project_accounts)),
            Case("check_capacity", "check_capacity", role, capacity),
            Case(
                "forecast",
                "forecast",
                role,
                lambda r, i: {},
                note="own deals" if role == "rep" else "whole team",
            ),
            Case(
                "search_accounts(common word)",
                "search_accounts",
                role,
                common_term,
                indexed=False,
                note="LIKE '%q%' (not indexable); team filter narrows the scan",
            ),
            Case(
                "search_accounts(domain)",
                "search_accounts",
                role,
                domain_term(team_accounts),
                indexed=False,
                note="LIKE '%q%' (not indexable); team filter narrows the scan",
            ),
        ]
    cases += [
        Case("list_tickets(account_id)", "list_tickets", "support", acc(all_ticket_accounts)),
        Case(
            "list_tickets(priority=p1,status=open)",
            "list_tickets",
            "support",
            lambda r, i: {"priority": "p1", "status": "open"},
        ),
        Case(
            "get_ticket",
            "get_ticket",
            "support",
            lambda r, i: {"ticket_id": ticket_id(r.randrange(all_tickets))},
        ),
        Case("account_health", "account_health", "support", acc(list(range(sizes.accounts)))),
        Case(
            "search_accounts(common word)",
            "search_accounts",
            "support",
            common_term,
            indexed=False,
            note="LIKE '%q%' over every account (not indexable)",
        ),
        Case(
            "search_accounts(domain)",
            "search_accounts",
            "support",
            domain_term(list(range(sizes.accounts))),
            indexed=False,
            note="LIKE '%q%' over every account (not indexable)",
        ),
        Case("log_activity", "log_activity", "rep", log_activity(rep_accounts), kind="write"),
        Case(
            "update_opportunity(next_step)",
            "update_opportunity",
            "rep",
            next_step(rep_opps),
            kind="write",
        ),
        Case("log_activity", "log_activity", "manager", log_activity(team_accounts), kind="write"),
        Case(
            "update_opportunity(next_step)",
            "update_opportunity",
            "manager",
            next_step(team_opps),
            kind="write",
        ),
    ]
    return cases, actors


# ---------------------------------------------------------------- measuring


def percentile(sorted_values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


class StatementCapture:
    """Records the SQL statements the engine runs while active."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, Any]] = []

    def _before(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        self.statements.append((statement, parameters))

    def __enter__(self) -> StatementCapture:
        event.listen(self.engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)


def explain(engine: Engine, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Query plans of the SELECTs of one call (PostgreSQL: EXPLAIN ANALYZE, reads only)."""
    postgres = engine.dialect.name == "postgresql"
    plans = []
    with engine.connect() as conn:
        for statement, params in statements:
            head = statement.lstrip().split(None, 1)[0].upper()
            if head != "SELECT" or statement.strip() == "SELECT 1":
                continue
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
            rows = conn.exec_driver_sql(prefix + statement, params).all()
            if postgres:
                plan = [r[0] for r in rows]
            else:
                plan = [f"{'  ' * _depth(rows, r)}{r[3]}" for r in rows]
            plans.append(
                {"sql": " ".join(statement.split()), "params": _jsonable(params), "plan": plan}
            )
        conn.rollback()
    return plans


def _depth(rows: list[Any], row: Any) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, node = 0, row[1]
    while node in parents:
        depth += 1
        node = parents[node]
    return depth


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@dataclass
class Runner:
    """One case in flight: its own seeded argument stream, timings and failures."""

    case: Case
    actor: Actor
    call: Callable[..., dict[str, Any]]
    samples: int
    rng: random.Random
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    statements: list[tuple[str, Any]] = field(default_factory=list)
    calls: int = 0

    def once(self, *, timed: bool) -> None:
        args = self.case.make_args(self.rng, self.calls)
        self.calls += 1
        c0, t0 = time.process_time_ns(), time.perf_counter_ns()
        result = self.call(self.case.tool, args, self.actor)
        t1, c1 = time.perf_counter_ns(), time.process_time_ns()
        if timed:
            self.times.append((t1 - t0) / 1e6)
            self.cpu.append((c1 - c0) / 1e6)
        if not result.get("ok"):
            self.failures.append({"arguments": args, "result": result})

    def summary(self) -> dict[str, Any]:
        times, cpu = sorted(self.times), sorted(self.cpu)
        p95 = percentile(times, 95)
        target = self.case.target_ms
        return {
            "case": self.case.name,
            "tool": self.case.tool,
            "actor": self.case.actor,
            "kind": self.case.kind,
            "indexed": self.case.indexed,
            "note": self.case.note,
            "samples": len(times),
            "p50_ms": round(percentile(times, 50), 3),
            "p95_ms": round(p95, 3),
            "p99_ms": round(percentile(times, 99), 3),
            "mean_ms": round(sum(times) / len(times), 3),
            "max_ms": round(times[-1], 3),
            "client_cpu_p50_ms": round(percentile(cpu, 50), 3),
            "target_p95_ms": target,
            "meets_target": None if target is None else p95 <= target,
            "statements_per_call": len(self.statements),
        }


def measure(
    service: CRMService,
    cases: list[Case],
    actors: dict[str, Actor],
    opts: argparse.Namespace,
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Warm every case up, then sample them interleaved in shuffled rounds, so that a burst of
    load from other processes on a shared machine spreads over all cases instead of one."""
    runners = []
    for case in cases:
        if opts.only and not any(s in f"{case.name} {case.actor}" for s in opts.only):
            continue
        runners.append(
            Runner(
                case=case,
                actor=actors[case.actor],
                call=service.read if case.kind == "read" else service.call,
                samples=opts.samples if case.kind == "read" else opts.write_samples,
                rng=random.Random(f"{opts.seed}:{case.name}:{case.actor}"),
            )
        )

    def round_trip(tool: str, args: dict[str, Any], actor: Actor) -> dict[str, Any]:
        with service.db.read_session() as session:
            session.execute(select(literal(1))).scalar()
        return {"ok": True}

    floor = Case(
        "(floor) session + SELECT 1",
        "-",
        "-",
        lambda r, i: {},
        kind="baseline",
        indexed=False,
        note="one pooled session and one trivial query: the round-trip floor right now",
    )
    runners.insert(
        0,
        Runner(
            case=floor,
            actor=actors["rep"],
            call=round_trip,
            samples=opts.samples,
            rng=random.Random(opts.seed),
        ),
    )
    for runner in runners:
        for _ in range(max(20, runner.samples // 10)):
            runner.once(timed=False)
        with StatementCapture(service.db.engine) as capture:
            runner.once(timed=False)
        runner.statements = capture.statements
    order = random.Random(opts.seed)
    rounds = max(r.samples for r in runners)
    t0 = time.perf_counter()
    for i in range(rounds):
        pending = [r for r in runners if len(r.times) < r.samples]
        order.shuffle(pending)
        for runner in pending:
            runner.once(timed=True)
        if (i + 1) % 50 == 0:
            log(f"  round {i + 1}/{rounds} ({time.perf_counter() - t0:.0f}s)")
    results = []
    for runner in runners:
        if runner.failures:
            first = runner.failures[0]
            raise RuntimeError(f"{runner.case.tool} as {runner.case.actor} failed: {first}")
        row = runner.summary()
        flag = {True: "ok", False: "MISS", None: "--"}[row["meets_target"]]
        log(
            f"  {row['case']:<38} {row['actor']:<8} p50 {row['p50_ms']:7.2f}  "
            f"p95 {row['p95_ms']:7.2f}  p99 {row['p99_ms']:7.2f}  "
            f"cpu {row['client_cpu_p50_ms']:6.2f} ms  {flag}"
        )
        if opts.explain:
            row["explain"] = explain(service.db.engine, runner.statements)
            for plan in row["explain"]:
                log(f"    SQL: {plan['sql'][:400]}")
                log(f"    params: {plan['params']}")
                for line in plan["plan"]:
                    log(f"      {line}")
        results.append(row)
    return results


# ---------------------------------------------------------------- backends


def run_backend(
    backend: str, sizes: Sizes, opts: argparse.Namespace, log: Callable[[str], None]
) -> dict[str, Any]:
    if backend == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="warroom-bench-"))
        try:
            return _run_on(f"sqlite:///{tmp / 'crm.sqlite'}", backend, sizes, opts, log, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    from warroom.pgtemp import temporary_postgres

    with temporary_postgres(database="warroom_bench") as url:
        return _run_on(url, backend, sizes, opts, log, None)


def _run_on(
    url: str,
    backend: str,
    sizes: Sizes,
    opts: argparse.Namespace,
    log: Callable[[str], None],
    tmp: Path | None,
) -> dict[str, Any]:
    log(
        f"[{backend}] migrating and loading {sizes.accounts:,} accounts, "
        f"{sizes.activities:,} activities"
    )
    t0 = time.perf_counter()
    db = Database(url)
    migrate_s = time.perf_counter() - t0
    try:
        ds, load = load_dataset(db, sizes, opts.seed, log, opts.what_if_ddl)
        load["migrate_s"] = round(migrate_s, 2)
        info: dict[str, Any] = {"load": load, "rows": ds.counts}
        with db.engine.connect() as conn:
            if backend == "postgresql" or db.dialect == "postgresql":
                info["server_version"] = conn.exec_driver_sql("SHOW server_version").scalar()
                info["database_mb"] = round(
                    (
                        conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
                        or 0
                    )
                    / 2**20,
                    1,
                )
            else:
                info["server_version"] = sqlite3.sqlite_version
        if tmp is not None:
            files = [p for p in tmp.iterdir() if p.is_file()]
            info["database_mb"] = round(sum(p.stat().st_size for p in files) / 2**20, 1)
        clock = FixedClock(NOW)
        service = CRMService(db, policy=Policy.load(POLICY_PATH), clock=clock)
        cases, actor_ids = build_cases(ds, sizes)
        actors = {role: service.actor(uid) for role, uid in actor_ids.items()}
        info["actors"] = actor_ids
        info["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
        t0 = time.perf_counter()
        results = measure(service, cases, actors, opts, log)
        info["measure_s"] = round(time.perf_counter() - t0, 1)
        info["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        info["results"] = results
        return info
    finally:
        db.dispose()


# ---------------------------------------------------------------- reporting


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "loadavg_at_start": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def markdown_table(report: dict[str, Any]) -> str:
    backends = list(report["backends"])
    head = (
        "| case | actor | "
        + " | ".join(f"{b} p50 / p95 / p99 ms" for b in backends)
        + " | p95 target | |"
    )
    lines = [head, "|" + " --- |" * (len(backends) + 4)]
    keyed: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
    for b in backends:
        for row in report["backends"][b]["results"]:
            keyed.setdefault((row["kind"], row["case"], row["actor"]), {})[b] = row
    for (kind, case, actor), per in keyed.items():
        cells, verdicts, target = [], [], "—"
        for b in backends:
            row = per.get(b)
            if row is None:
                cells.append("—")
                continue
            cells.append(f"{row['p50_ms']:.2f} / {row['p95_ms']:.2f} / {row['p99_ms']:.2f}")
            if row["target_p95_ms"] is not None:
                target = f"≤ {row['target_p95_ms']:.0f}"
                verdicts.append("ok" if row["meets_target"] else f"**miss ({b})**")
        if not verdicts:
            verdict = "reference" if kind == "baseline" else "not indexed"
        else:
            verdict = ", ".join(v for v in verdicts if v != "ok") or "ok"
        name = f"{case} (write)" if kind == "write" else case
        lines.append(f"| {name} | {actor} | " + " | ".join(cells) + f" | {target} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_crm",
        description="Latency of the CRM tools on a company-sized synthetic CRM.",
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300, help="samples per read case")
    parser.add_argument("--write-samples", type=int, default=200, help="samples per write case")
    parser.add_argument("--seed", type=int, default=20261116)
    parser.add_argument("--out", type=Path, default=Path("out/bench_crm.json"))
    parser.add_argument(
        "--explain",
        action="store_true",
        help="diagnostics: also record and print the plan of every SELECT of one call per case",
    )
    parser.add_argument(
        "--what-if-ddl",
        action="append",
        metavar="SQL",
        help="diagnostics: run this DDL (e.g. CREATE INDEX ...) after loading, to measure an "
        "index before proposing it for tools/; the schema of record is unchanged",
    )
    parser.add_argument(
        "--only", action="append", help="run only cases whose 'name actor' contains this"
    )
    opts = parser.parse_args(argv)
    sizes = Sizes(accounts=opts.accounts, activities=opts.activities)
    backends = ["sqlite", "postgres"] if opts.backend == "both" else [opts.backend]

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "benchmark": "bench_crm",
        "command": " ".join(
            [".venv/bin/python -m benchmarks.bench_crm", *map(shlex.quote, sys.argv[1:])]
        ),
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "dataset_day": TODAY.isoformat(),
        "targets_ms": {"indexed_read_p95": READ_TARGET_MS, "write_p95": WRITE_TARGET_MS},
        "what_if_ddl": opts.what_if_ddl or [],
        "backends": {},
    }
    t0 = time.perf_counter()
    for backend in backends:
        b0 = time.perf_counter()
        info = run_backend(backend, sizes, opts, log)
        info["wall_s"] = round(time.perf_counter() - b0, 1)
        report["backends"][backend] = info
        log(f"[{backend}] done in {info['wall_s']:.0f}s")
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    table = markdown_table(report)
    report["markdown"] = table
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    opts.out.with_suffix(".md").write_text(table + "\n", encoding="utf-8")
    print(table)
    log(f"wrote {opts.out} and {opts.out.with_suffix('.md')} ({report['wall_s']:.0f}s total)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
