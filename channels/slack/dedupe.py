"""Slack retries an event it thinks was not acknowledged (X-Slack-Retry-Num); each event is
handled once. The memory is bounded in size and time: Slack gives up retrying after about five
minutes, so an hour is plenty."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


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
