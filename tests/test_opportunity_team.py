"""The opportunity row's copy of its account's team stays equal to the account's team, and a
forecast read through it counts exactly the deals a join over accounts would."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from tools.catalogue.sales import OPEN_STAGES, _quarter_bounds
from tools.db import Database, upgrade
from tools.errors import ToolFailure
from tools.models import Account, Opportunity, User
from tools.permissions import account_read_filter
from tools.service import CRMService, Proposal


def team_copies(db: Database) -> dict[str, tuple[str | None, str | None]]:
    """opportunity id -> (its team copy, its account's team)."""
    with db.read_session() as session:
        rows = session.execute(
            select(Opportunity.id, Opportunity.team, Account.team).join(Account)
        ).all()
    return {opp: (copy, team) for opp, copy, team in rows}


def assert_copies_equal(db: Database) -> None:
    copies = team_copies(db)
    assert copies, "no opportunities to check"
    wrong = {opp: pair for opp, pair in copies.items() if pair[0] != pair[1]}
    assert wrong == {}


def test_loaded_fixture_carries_the_team(crm: CRMService) -> None:
    assert_copies_equal(crm.db)
    assert team_copies(crm.db)["opp-helix-1"] == ("east", "east")


def test_created_opportunity_takes_its_accounts_team(crm: CRMService) -> None:
    proposal = crm.propose(
        "create_opportunity",
        {
            "account_id": "acc-helix",
            "name": "Helix renewal",
            "amount": 5000,
            "close_date": "2026-12-15",
        },
        crm.actor("u-bob"),
    )
    assert isinstance(proposal, Proposal), proposal
    outcome = crm.execute(proposal, idempotency_key="create-helix-renewal")
    assert not isinstance(outcome, ToolFailure), outcome
    assert team_copies(crm.db)[proposal.record_id] == ("east", "east")


def test_an_account_changing_team_takes_its_deals_along(crm: CRMService) -> None:
    before = crm.read("forecast", {"quarter": "2026-Q4"}, crm.actor("u-omar"))
    with crm.db.session() as session:
        # One opportunity loaded in the session, the others not: both must follow.
        loaded = session.get(Opportunity, "opp-acme-1")
        assert loaded is not None and loaded.team == "west"
        account = session.get(Account, "acc-acme")
        assert account is not None
        account.team = "east"
        session.flush()
        assert loaded.team == "east"
    assert_copies_equal(crm.db)
    after = crm.read("forecast", {"quarter": "2026-Q4"}, crm.actor("u-omar"))
    usd = lambda f: {c["currency"]: c for c in f["by_currency"]}.get("USD")  # noqa: E731
    moved = Decimal(100000)  # opp-acme-1, proposal, USD, 2026-12-31
    assert (
        Decimal(str(usd(after)["pipeline"]))
        == Decimal(str(usd(before)["pipeline"] if usd(before) else 0)) + moved
    )
    west = crm.read("forecast", {"quarter": "2026-Q4"}, crm.actor("u-maria"))
    assert "USD" not in {c["currency"] for c in west["by_currency"]} or all(
        c["pipeline"] < 100000 for c in west["by_currency"] if c["currency"] == "USD"
    )


def test_a_deal_moved_to_another_account_takes_that_accounts_team(crm: CRMService) -> None:
    with crm.db.session() as session:
        opportunity = session.get(Opportunity, "opp-globex-1")
        assert opportunity is not None
        opportunity.account_id = "acc-initech"
    assert team_copies(crm.db)["opp-globex-1"] == ("east", "east")


def test_new_account_and_its_deal_in_one_flush(crm: CRMService) -> None:
    with crm.db.session() as session:
        session.add(Account(id="acc-new", name="New Co", team="east"))
        session.add(Opportunity(id="opp-new", account_id="acc-new", name="First deal"))
    assert team_copies(crm.db)["opp-new"] == ("east", "east")


def expected_forecast(crm: CRMService, user_id: str, quarter: str) -> dict[str, dict[str, Decimal]]:
    """The forecast recomputed in Python over the deals a join with accounts lets the user see."""
    start, end = _quarter_bounds(quarter)
    db = crm.db
    actor = crm.actor(user_id)
    stmt = (
        select(Opportunity)
        .join(Account)
        .where(account_read_filter(actor))
        .where(Opportunity.close_date >= start, Opportunity.close_date < end)
    )
    if not actor.is_admin and not actor.has("sales_manager"):
        stmt = stmt.where(Opportunity.owner_id == actor.id)
    totals: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"pipeline": Decimal(0), "closed_won": Decimal(0), "open_deals": Decimal(0)}
    )
    with db.read_session() as session:
        for opp in session.scalars(stmt):
            net = opp.amount * (100 - opp.discount_percent) / 100
            if opp.stage == "closed_won":
                totals[opp.currency]["closed_won"] += net
            elif opp.stage in OPEN_STAGES:
                totals[opp.currency]["pipeline"] += net
                totals[opp.currency]["open_deals"] += 1
    return {c: {k: round(v, 2) for k, v in t.items()} for c, t in totals.items()}


@pytest.mark.parametrize("quarter", ["2026-Q4", "2027-Q1"])
def test_forecast_matches_a_join_over_accounts_for_every_sales_user(
    crm: CRMService, quarter: str
) -> None:
    # Move an account first, so the copy is exercised after a change, not only after loading.
    with crm.db.session() as session:
        account = session.get(Account, "acc-globex")
        assert account is not None
        account.team = "east"
    with crm.db.read_session() as session:
        users = [
            u.id
            for u in session.scalars(select(User))
            if set(u.roles) & {"rep", "sales_manager", "admin"}
        ]
    assert len(users) >= 5
    for user in users:
        got = crm.read("forecast", {"quarter": quarter}, crm.actor(user))
        assert got["ok"], got
        actual = {
            c["currency"]: {
                "pipeline": Decimal(str(c["pipeline"])),
                "closed_won": Decimal(str(c["closed_won"])),
                "open_deals": Decimal(c["open_deals"]),
            }
            for c in got["by_currency"]
        }
        assert actual == expected_forecast(crm, user, quarter), user


def test_migration_backfills_existing_deals(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        upgrade(connection, "0006")
        connection.execute(
            sa.text(
                "INSERT INTO accounts (id, name, tier, team, version) "
                "VALUES ('a1', 'A', 'standard', 'west', 1), ('a2', 'B', 'standard', NULL, 1)"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO opportunities (id, account_id, name, stage, amount, currency, "
                "discount_percent, version) VALUES ('o1', 'a1', 'x', 'proposal', 10, 'USD', 0, 1), "
                "('o2', 'a2', 'y', 'proposal', 10, 'USD', 0, 1)"
            )
        )
        upgrade(connection)
        rows = dict(connection.execute(sa.text("SELECT id, team FROM opportunities")).all())
    engine.dispose()
    assert rows == {"o1": "west", "o2": None}
