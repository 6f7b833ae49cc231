"""The durable inbox (channels.inbox) on SQLite and PostgreSQL: stored once per event id,
leased to one worker at a time, one event per conversation at a time and in order, taken over
when a worker stops renewing its lease."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from channels.inbox import Inbox, InboxEvent, InboxWorker
from tools.db import Database


def test_put_is_once_per_event_id_and_take_leases(db: Database) -> None:
    now = [datetime(2026, 12, 1, 9, tzinfo=UTC)]
    one = Inbox(db, channel="slack", owner="one", lease_seconds=60, clock=lambda: now[0])
    two = Inbox(db, channel="slack", owner="two", lease_seconds=60, clock=lambda: now[0])
    assert one.put("Ev1", "thread-a", {"text": "first"})
    assert not two.put("Ev1", "thread-a", {"text": "first"})  # a retry reaching a replica
    now[0] += timedelta(seconds=1)
    assert one.put("Ev2", "thread-a", {"text": "second"})
    assert one.put("Ev3", "thread-b", {"text": "other"})
    [first] = one.take(limit=5)[:1]
    assert first.event_id == "Ev1" and first.attempts == 1
    # Ev2 waits for Ev1 (same conversation); Ev3 is free (or was taken by `one` already)
    taken_by_two = [e.event_id for e in two.take(limit=5)]
    assert "Ev1" not in taken_by_two and "Ev2" not in taken_by_two
    one.note("Ev1", stage="turn", checkpoint="cp-1")
    # `one` dies: its lease runs out and `two` takes the event over, with what was noted
    now[0] += timedelta(seconds=61)
    [again] = [e for e in two.take(limit=5) if e.event_id == "Ev1"]
    assert again.attempts == 2 and again.stage == "turn" and again.checkpoint == "cp-1"
    assert not one.renew("Ev1")  # the dead worker's heartbeat, had it come back, is refused
    assert two.renew("Ev1")
    two.done("Ev1")
    now[0] += timedelta(seconds=61)
    assert [e.event_id for e in one.take(limit=5) if e.conversation == "thread-a"] == ["Ev2"]
    assert one.queued() == 2  # Ev2 leased, Ev3 queued or leased


def test_a_group_commit_stores_each_id_once_and_keeps_the_order(db: Database) -> None:
    now = [datetime(2026, 12, 1, 9, tzinfo=UTC)]
    inbox = Inbox(db, channel="slack", owner="one", clock=lambda: now[0])
    assert inbox.put("Ev0", "thread-a", {"n": 0})
    now[0] += timedelta(milliseconds=1)
    # a retry of a stored event, a repeat inside the batch, and three of one conversation
    # arriving in the same commit (and so at the same clock reading)
    batch = [
        ("Ev1", "thread-a", {"n": 1}),
        ("Ev0", "thread-a", {"n": 0}),
        ("Ev2", "thread-a", {"n": 2}),
        ("Ev1", "thread-a", {"n": 1}),
        ("Ev3", "thread-b", {"n": 3}),
    ]
    assert inbox.put_many(batch) == [True, False, True, False, True]
    assert inbox.put_many([]) == []
    order = []
    for _ in range(6):
        taken = [e for e in inbox.take(limit=5) if e.conversation == "thread-a"]
        assert len(taken) <= 1  # one event of a conversation at a time
        for event in taken:
            order.append(event.event_id)
            inbox.done(event.event_id)
    assert order == ["Ev0", "Ev1", "Ev2"]


def test_workers_on_many_replicas_handle_each_event_once_in_order(db: Database) -> None:
    feeder = Inbox(db, channel="slack", owner="feeder")
    expected: dict[str, list[str]] = defaultdict(list)
    for n in range(120):
        conversation = f"thread-{n % 12}"
        event_id = f"Ev{n:04d}"
        assert feeder.put(event_id, conversation, {"n": n})
        expected[conversation].append(event_id)
    seen: dict[str, list[str]] = defaultdict(list)
    handled: list[str] = []
    active: set[str] = set()
    overlaps: list[str] = []
    lock = threading.Lock()

    def replica(name: str) -> None:
        inbox = Inbox(db, channel="slack", owner=name, lease_seconds=30)
        rng = random.Random(name)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and inbox.queued():
            for event in inbox.take(limit=3):
                with lock:
                    if event.conversation in active:
                        overlaps.append(event.event_id)
                    active.add(event.conversation)
                    seen[event.conversation].append(event.event_id)
                    handled.append(event.event_id)
                time.sleep(rng.random() / 500)
                with lock:
                    active.discard(event.conversation)
                inbox.done(event.event_id)

    threads = [threading.Thread(target=replica, args=(f"r{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(handled) == sorted(e for ids in expected.values() for e in ids)  # once each
    assert overlaps == []
    assert dict(seen) == dict(expected)  # each conversation in arrival order


async def test_the_worker_renews_leases_and_retries_a_failed_event(sqlite_db: Database) -> None:
    inbox = Inbox(sqlite_db, channel="teams", owner="w", lease_seconds=1.5, max_attempts=3)
    assert inbox.put("A1", "conv", {"fail": 1})
    assert inbox.put("A2", "conv", {"slow": True})
    calls: list[tuple[str, int]] = []

    async def handle(event: InboxEvent) -> None:
        calls.append((event.event_id, event.attempts))
        if event.payload.get("fail") and event.attempts < 2:
            raise RuntimeError("the chat API was down")
        if event.payload.get("slow"):
            await asyncio.sleep(3.0)  # longer than the lease: the heartbeat keeps it

    stop = asyncio.Event()
    worker = InboxWorker(inbox, handle, concurrency=2, poll_seconds=0.05)
    task = asyncio.create_task(worker.run(stop))
    for _ in range(400):  # at most 20 s
        if not inbox.queued():
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert calls == [("A1", 1), ("A1", 2), ("A2", 1)]
    assert inbox.queued() == 0
