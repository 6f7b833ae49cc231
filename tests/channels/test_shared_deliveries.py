"""Slack event ids claimed in the CRM database: once across replicas, restarts and threads."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from channels.slack.dedupe import SharedDeliveries
from tools.db import Database
from tools.models import ChannelEvent


def rows(db: Database) -> int:
    with db.read_session() as session:
        return session.scalar(select(func.count()).select_from(ChannelEvent)) or 0


async def test_first_delivery_wins_across_replicas(db: Database) -> None:
    one, two = SharedDeliveries(db), SharedDeliveries(db)
    assert await one.claim("Ev1") is True
    assert await one.claim("Ev1") is False  # its own repeat, from memory
    assert await two.claim("Ev1") is False  # another replica: from the database
    assert await two.claim("Ev2") is True and await one.claim("Ev2") is False
    # another channel's ids are its own
    assert await SharedDeliveries(db, channel="teams").claim("Ev1") is True
    assert rows(db) == 3


def test_concurrent_claims_of_one_id_yield_one_winner(db: Database) -> None:
    replicas = [SharedDeliveries(db) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda r: r.claim_in_database("EvRACE"), replicas))
    assert results.count(True) == 1
    assert rows(db) == 1


def test_old_ids_are_pruned_and_recent_ones_kept(db: Database) -> None:
    deliveries = SharedDeliveries(db, ttl_seconds=3600, prune_every=1000)
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    with db.session() as session:
        session.add(ChannelEvent(channel="slack", event_id="EvOLD", received_at=long_ago))
        session.add(ChannelEvent(channel="teams", event_id="EvOLD", received_at=long_ago))
    assert deliveries.claim_in_database("EvNEW") is True  # the first claim prunes
    with db.read_session() as session:
        left = set(session.execute(select(ChannelEvent.channel, ChannelEvent.event_id)).all())
    assert left == {("slack", "EvNEW"), ("teams", "EvOLD")}  # only this channel's are pruned
    # once pruned, an id Slack no longer retries may be claimed again
    assert deliveries.claim_in_database("EvOLD") is True


def test_claims_from_many_tasks_of_one_replica(db: Database) -> None:
    deliveries = SharedDeliveries(db)

    async def burst() -> list[bool]:
        return list(await asyncio.gather(*(deliveries.claim(f"Ev{i % 5}") for i in range(20))))

    results = asyncio.run(burst())
    assert results.count(True) == 5 and rows(db) == 5
