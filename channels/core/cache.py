"""A small time-limited cache for what chat platforms tell about people (profiles and roster
entries change rarely; asking on every message would cost a round trip each)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["MISSING", "TimedCache"]

MISSING: Any = object()


class TimedCache:
    """At most `max_entries` values, each kept for `ttl_seconds`; `get` returns MISSING for a
    key never stored or stored too long ago."""

    def __init__(self, ttl_seconds: float, max_entries: int, clock: Callable[[], float]) -> None:
        self.ttl_seconds, self.max_entries, self._clock = ttl_seconds, max_entries, clock
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str) -> Any:
        item = self._items.get(key)
        if item is None or self._clock() - item[0] >= self.ttl_seconds:
            self._items.pop(key, None)
            return MISSING
        return item[1]

    def put(self, key: str, value: Any) -> None:
        self._items[key] = (self._clock(), value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)
