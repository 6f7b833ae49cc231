"""Slack retries an event it thinks was not acknowledged (X-Slack-Retry-Num); each event is
handled once — by one replica of the app, even when the retry reaches another one. Memory is
bounded in size and time: Slack gives up retrying after about five minutes, so an hour is
plenty."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.exc import IntegrityError

from tools.db import Database
from tools.models import ChannelEvent

log = logging.getLogger(__name__)


class RecentDeliveries:
    """Remembers delivery ids for `ttl_seconds`, at most `max_entries` of them."""

    def __init__(
        self,
        *,
        ttl_seconds: float = 3600.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0 or max_entries <= 0:
            raise ValueError("ttl_seconds and max_entries must be positive")
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def first_time(self, delivery_id: str) -> bool:
        """True the first time an id is seen (within the time limit), False for a repeat."""
        now = self._clock()
        while self._seen:  # insertion order is arrival order: expired ids are at the front
            oldest, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self.ttl_seconds:
                break
            del self._seen[oldest]
        if delivery_id in self._seen:
            return False
        self._seen[delivery_id] = now
        if len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return True

    async def taken_elsewhere(self, delivery_id: str) -> bool:
        return False  # no other process is asked


class SharedDeliveries:
    """Event ids claimed in the CRM database (table `channel_events`), so that every replica
    and restart of the channel agrees on which delivery came first; a process's own repeats are
    answered from memory without a round trip. Rows older than `ttl_seconds` are pruned every
    `prune_every` claims."""

    def __init__(
        self,
        db: Database,
        *,
        channel: str = "slack",
        ttl_seconds: float = 3600.0,
        prune_every: int = 500,
        local: RecentDeliveries | None = None,
    ) -> None:
        self.db = db
        self.channel = channel
        self.ttl = timedelta(seconds=ttl_seconds)
        self.prune_every = prune_every
        self.local = local or RecentDeliveries(ttl_seconds=ttl_seconds)
        self._claims = 0

    def __len__(self) -> int:
        return len(self.local)

    def first_time(self, delivery_id: str) -> bool:
        """This process's own answer, from memory (fast enough for the ack path)."""
        return self.local.first_time(delivery_id)

    async def taken_elsewhere(self, delivery_id: str) -> bool:
        """Whether another process (or this one before a restart) claimed the id first; claims
        it otherwise. Called after the ack, so the database round trip never delays one."""
        return not await asyncio.to_thread(self.claim_in_database, delivery_id)

    async def claim(self, delivery_id: str) -> bool:
        """True for the first delivery of an id across all processes, False for a repeat."""
        return self.first_time(delivery_id) and not await self.taken_elsewhere(delivery_id)

    def claim_in_database(self, delivery_id: str) -> bool:
        now = datetime.now(UTC)
        try:
            with self.db.session() as session:
                session.add(
                    ChannelEvent(channel=self.channel, event_id=delivery_id, received_at=now)
                )
        except IntegrityError:
            return False
        self._claims += 1
        if self._claims % self.prune_every == 1:
            self.prune(now)
        return True

    def prune(self, now: datetime | None = None) -> int:
        cutoff = (now or datetime.now(UTC)) - self.ttl
        with self.db.session() as session:
            result = session.execute(
                delete(ChannelEvent).where(
                    ChannelEvent.channel == self.channel,
                    ChannelEvent.received_at < cutoff,
                    ChannelEvent.status != "queued",  # the durable inbox's work is never pruned
                )
            )
            gone = cast(CursorResult[Any], result).rowcount
        if gone:
            log.debug("Pruned %d %s event ids older than %s", gone, self.channel, cutoff)
        return int(gone or 0)
