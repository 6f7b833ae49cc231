"""The durable inbox: an inbound chat event is stored before it is acknowledged, and handled by
whichever replica takes it — once.

    put()    one transaction: the event's dedupe key (channel, event_id) and its payload. A
             repeat delivery (a retry reaching any replica, or this one after a restart) finds
             the key taken and is acknowledged without being stored again.
    take()   a worker leases the oldest queued event of a conversation nobody is working on:
             `FOR UPDATE SKIP LOCKED` on PostgreSQL so replicas do not queue behind each other,
             and on every engine a compare-and-set UPDATE of the lease, which is what makes the
             claim exclusive (SQLite serialises writers, so that is its safe equivalent).
    renew()  the worker's heartbeat: a lease is extended while the event is being handled; a
             worker that died stops renewing, and after `lease_seconds` another one takes over.
    note()   what the handler has done so far (its stage, the conversation checkpoint it
             started from), so a takeover resumes instead of repeating (see channels.slack).
    done()   the event is finished; its row stays as the dedupe key until it is pruned.

Events of one conversation are handled in arrival order, one at a time across all replicas.
Channel-neutral: Slack (channels.slack.channel) and Teams (channels.teams.bot) put in their
request handlers before answering 200, and hand `InboxWorker` their handler.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy import CursorResult, and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from agents.conversation import ConversationService, TurnResult, cut_short
from tools.claims import holder_is_dead, process_owner, register_owner
from tools.db import Database
from tools.models import ChannelEvent

__all__ = ["GroupCommit", "Inbox", "InboxEvent", "InboxWorker", "run_turn", "worker_id"]

log = logging.getLogger(__name__)

QUEUED, DONE, FAILED = "queued", "done", "failed"


def worker_id() -> str:
    """This process, as it appears in `leased_by`: host:pid:instance (tools/claims.py)."""
    return process_owner()


class InboxEvent(BaseModel):
    channel: str
    event_id: str
    conversation: str
    payload: dict[str, Any]
    attempts: int
    stage: str | None = None
    checkpoint: str | None = None


class Inbox:
    def __init__(
        self,
        db: Database,
        *,
        channel: str,
        owner: str | None = None,
        lease_seconds: float = 60.0,
        max_attempts: int = 5,
        keep_seconds: float = 3600.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.channel = channel
        self.owner = owner or worker_id()
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.keep = timedelta(seconds=keep_seconds)
        self.clock = clock
        self._postgres = db.engine.dialect.name == "postgresql"
        register_owner(self.owner)

    def put(self, event_id: str, conversation: str, payload: dict[str, Any]) -> bool:
        """Store a new event (True); False when the event id was stored before."""
        return self.put_many([(event_id, conversation, payload)])[0]

    def put_many(self, items: list[tuple[str, str, dict[str, Any]]]) -> list[bool]:
        """`put` for several events in one statement and one transaction (group commit: one
        writer-lock round for a burst). An id stored before — by this process, a replica, or
        earlier in `items` — is left as it was and answers False. Events get distinct arrival
        times in the order given, so two of one conversation are never taken as one."""
        now = self.clock()
        rows: dict[str, dict[str, Any]] = {}
        for event_id, conversation, payload in items:
            rows.setdefault(
                event_id,
                {
                    "channel": self.channel,
                    "event_id": event_id,
                    "received_at": now + timedelta(microseconds=len(rows)),
                    "status": QUEUED,
                    "conversation": conversation,
                    "payload": payload,
                    "attempts": 0,
                },
            )
        if not rows:
            return []
        insert = postgresql_insert if self._postgres else sqlite_insert
        statement = insert(ChannelEvent).on_conflict_do_nothing().returning(ChannelEvent.event_id)
        stored = self.db.write_promptly(
            lambda session: set(session.scalars(statement, list(rows.values())))
        )
        answers = []
        for event_id, _, _ in items:
            answers.append(event_id in stored)
            stored.discard(event_id)  # a repeat later in `items` is not new
        return answers

    def take(self, limit: int = 1) -> list[InboxEvent]:
        """Lease up to `limit` events: each the oldest queued one of its conversation, whose
        lease (if any) has expired."""
        now = self.clock()
        older = aliased(ChannelEvent)
        earlier_queued = (
            select(older.event_id)
            .where(
                older.channel == ChannelEvent.channel,
                older.conversation == ChannelEvent.conversation,
                older.status == QUEUED,
                older.received_at < ChannelEvent.received_at,
            )
            .exists()
        )
        due = or_(ChannelEvent.leased_until.is_(None), ChannelEvent.leased_until < now)
        stmt = (
            select(ChannelEvent.event_id)
            .where(
                ChannelEvent.channel == self.channel,
                ChannelEvent.status == QUEUED,
                due,
                ~earlier_queued,
            )
            .order_by(ChannelEvent.received_at)
            .limit(limit)
        )
        if self._postgres:
            stmt = stmt.with_for_update(skip_locked=True, of=ChannelEvent)
        taken: list[InboxEvent] = []
        with self.db.session() as session:
            for event_id in list(session.scalars(stmt)):
                claimed = session.execute(
                    update(ChannelEvent)
                    .where(
                        ChannelEvent.channel == self.channel,
                        ChannelEvent.event_id == event_id,
                        ChannelEvent.status == QUEUED,
                        due,
                    )
                    .values(
                        leased_by=self.owner,
                        leased_until=now + self.lease,
                        attempts=ChannelEvent.attempts + 1,
                    )
                )
                if cast(CursorResult[Any], claimed).rowcount != 1:
                    continue  # another worker won it between the select and the update
                row = session.get(ChannelEvent, (self.channel, event_id), populate_existing=True)
                assert row is not None and row.payload is not None
                taken.append(
                    InboxEvent(
                        channel=row.channel,
                        event_id=row.event_id,
                        conversation=row.conversation or "",
                        payload=row.payload,
                        attempts=row.attempts,
                        stage=row.stage,
                        checkpoint=row.checkpoint,
                    )
                )
        return taken

    def _mine(self, event_id: str) -> Any:
        return and_(
            ChannelEvent.channel == self.channel,
            ChannelEvent.event_id == event_id,
            ChannelEvent.leased_by == self.owner,
            ChannelEvent.status == QUEUED,
        )

    def release_abandoned(self) -> int:
        """On start: end the leases that dead processes of this host still hold (this server
        before a crash or kill -9), so their interrupted turns resume now rather than when the
        lease runs out. Leases of other hosts are left to run out: their holders may be alive."""
        now = self.clock()
        host = socket.gethostname()[:30]
        held = select(ChannelEvent.event_id, ChannelEvent.leased_by).where(
            ChannelEvent.channel == self.channel,
            ChannelEvent.status == QUEUED,
            ChannelEvent.leased_until > now,
            ChannelEvent.leased_by.startswith(f"{host}:", autoescape=True),
        )
        released = 0
        with self.db.session() as session:
            for event_id, owner in list(session.execute(held).all()):
                if not holder_is_dead(owner):
                    continue
                result = session.execute(
                    update(ChannelEvent)
                    .where(
                        ChannelEvent.channel == self.channel,
                        ChannelEvent.event_id == event_id,
                        ChannelEvent.leased_by == owner,
                        ChannelEvent.status == QUEUED,
                    )
                    .values(leased_until=None)
                )
                released += int(cast(CursorResult[Any], result).rowcount or 0)
        if released:
            log.info(
                "Resuming %d %s events a dead process of this host held", released, self.channel
            )
        return released

    def renew(self, event_id: str) -> bool:
        """Extend this worker's lease; False when it lost the event (it must stop)."""
        with self.db.session() as session:
            result = session.execute(
                update(ChannelEvent)
                .where(self._mine(event_id))
                .values(leased_until=self.clock() + self.lease)
            )
            return cast(CursorResult[Any], result).rowcount == 1

    def note(self, event_id: str, *, stage: str, checkpoint: str | None = None) -> None:
        """Record how far the handler got (read back as `InboxEvent.stage/checkpoint`)."""
        with self.db.session() as session:
            session.execute(
                update(ChannelEvent)
                .where(self._mine(event_id))
                .values(stage=stage, checkpoint=checkpoint)
            )

    def done(self, event_id: str, *, failed: bool = False) -> None:
        with self.db.session() as session:
            session.execute(
                update(ChannelEvent)
                .where(ChannelEvent.channel == self.channel, ChannelEvent.event_id == event_id)
                .values(
                    status=FAILED if failed else DONE,
                    leased_by=None,
                    leased_until=None,
                    done_at=self.clock(),
                    payload=None,  # the text is not kept once answered
                )
            )

    def queued(self) -> int:
        stmt = select(func.count()).where(
            ChannelEvent.channel == self.channel, ChannelEvent.status == QUEUED
        )
        with self.db.read_session() as session:
            return int(session.scalar(stmt) or 0)

    def prune(self) -> int:
        """Forget finished events older than `keep_seconds` (queued ones are never pruned)."""
        cutoff = self.clock() - self.keep
        with self.db.session() as session:
            result = session.execute(
                delete(ChannelEvent).where(
                    ChannelEvent.channel == self.channel,
                    ChannelEvent.status != QUEUED,
                    ChannelEvent.received_at < cutoff,
                )
            )
            return int(cast(CursorResult[Any], result).rowcount or 0)


class GroupCommit:
    """Stores events arriving together in one transaction: `await store(...)` returns when the
    event is in the database (True if new), as `Inbox.put` does, but a burst of acks shares
    each commit instead of queueing for the writer one by one."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self._pending: list[tuple[tuple[str, str, dict[str, Any]], asyncio.Future[bool]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def store(self, event_id: str, conversation: str, payload: dict[str, Any]) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append(((event_id, conversation, payload), future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                stored = await asyncio.to_thread(self.inbox.put_many, [item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), new in zip(batch, stored, strict=True):
                if not future.done():
                    future.set_result(new)


Handler = Callable[[InboxEvent], Awaitable[None]]


class InboxWorker:
    """Takes events from an inbox and hands each to `handle`, up to `concurrency` at a time,
    renewing their leases while they run. `wake()` makes it look at once (after a local put);
    otherwise it polls every `poll_seconds` (events put by other replicas, leases that
    expired)."""

    def __init__(
        self,
        inbox: Inbox,
        handle: Handler,
        *,
        concurrency: int = 8,
        poll_seconds: float = 1.0,
    ) -> None:
        self.inbox = inbox
        self.handle = handle
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def busy(self) -> int:
        return len(self._running)

    def wake(self) -> None:
        """Thread-safe: look for events now."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Take events until `stop`; first, the ones a dead process of this host was handling."""
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self.inbox.release_abandoned)
        except Exception:
            log.exception("releasing abandoned %s leases failed", self.inbox.channel)
        rounds = 0
        while not stop.is_set():
            self._wake.clear()
            free = self.concurrency - len(self._running)
            if free > 0:
                try:
                    events = await asyncio.to_thread(self.inbox.take, free)
                except Exception:
                    log.exception("taking %s events failed", self.inbox.channel)
                    events = []
                for event in events:
                    task = asyncio.create_task(self._handle(event), name=f"inbox {event.event_id}")
                    self._running.add(task)
                    task.add_done_callback(self._finished)
                if len(events) == free:
                    continue  # there may be more
            rounds += 1
            if rounds % 600 == 0:
                await asyncio.to_thread(self.inbox.prune)
            waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waits, timeout=self.poll_seconds, return_when="FIRST_COMPLETED")
            for waiting in waits:
                waiting.cancel()
        if self._running:
            await asyncio.wait(list(self._running), timeout=30)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()  # a slot is free (and the conversation may have a next event)

    async def _handle(self, event: InboxEvent) -> None:
        heartbeat = asyncio.create_task(self._renew(event.event_id))
        failed = False
        try:
            await self.handle(event)
        except Exception:
            failed = event.attempts >= self.inbox.max_attempts
            log.exception(
                "%s event %s failed (attempt %d of %d)",
                self.inbox.channel,
                event.event_id,
                event.attempts,
                self.inbox.max_attempts,
            )
            if not failed:
                return  # the lease runs out and the event is taken again
        finally:
            heartbeat.cancel()
        await asyncio.to_thread(self.inbox.done, event.event_id, failed=failed)

    async def _renew(self, event_id: str) -> None:
        every = max(self.inbox.lease.total_seconds() / 3, 0.05)
        while True:
            await asyncio.sleep(every)
            if not await asyncio.to_thread(self.inbox.renew, event_id):
                log.warning("lost the lease of %s event %s", self.inbox.channel, event_id)
                return


async def run_turn(
    convo: ConversationService,
    *,
    thread_id: str,
    user_id: str,
    text: str,
    stored: InboxEvent | None = None,
    inbox: Inbox | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> TurnResult:
    """The turn of a message — exactly once across crashes when the message came from the
    inbox. Before the turn starts, the conversation's checkpoint id is noted on the event; a
    worker taking the event over after a crash then
      - finds no turn input checkpointed since: the turn never started, so it runs it (a review
        outcome told into the conversation meanwhile moves the checkpoint, but is no turn);
      - finds it moved and the graph mid-way: resumes from the last checkpoint (steps that
        finished are not run again; the one that was running re-runs, and its writes carry
        idempotency keys, so nothing is written twice);
      - finds it moved and the graph finished: answers with the turn's reply, running nothing
        (but opening the review threads of its pending requests, if the crash came first).
    """
    config = {"configurable": {"thread_id": thread_id}}
    before = await convo.graph.aget_state(config)
    mark = str((before.config or {}).get("configurable", {}).get("checkpoint_id") or "")
    if (
        stored is not None
        and stored.stage == "turn"
        and await _started_since(convo, config, stored.checkpoint or "")
    ):
        if before.next or cut_short(before):
            log.info("Resuming the interrupted turn of %s in %s", stored.event_id, thread_id)
            resumed = await convo.resume(thread_id)
            if resumed is not None:
                return resumed
            before = await convo.graph.aget_state(config)
        log.info("The turn of %s had finished; answering it", stored.event_id)
        finished = before.values.get("outcome") if before.values else None
        outcome = finished.model_dump(mode="json") if finished is not None else {}
        for pending in outcome.get("pending", []):
            # the crash may have come before the turn opened its review threads
            await convo.open_review(pending["approval_id"])
        return TurnResult(
            thread_id=thread_id,
            reply=str((before.values or {}).get("reply") or ""),
            outcome=outcome,
        )
    if stored is not None and inbox is not None:
        await asyncio.to_thread(inbox.note, stored.event_id, stage="turn", checkpoint=mark)
    return await convo.send(thread_id=thread_id, user_id=user_id, text=text, on_event=on_event)


async def _started_since(convo: ConversationService, config: dict[str, Any], mark: str) -> bool:
    """Whether a turn's input was checkpointed after checkpoint `mark` (newest first)."""
    async for snapshot in convo.graph.aget_state_history(config):
        checkpoint = str((snapshot.config or {}).get("configurable", {}).get("checkpoint_id"))
        if checkpoint == mark:
            return False
        if (snapshot.metadata or {}).get("source") == "input":
            return True
    return False
