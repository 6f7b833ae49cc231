"""An event loop in its own thread for the agents' work, so an ack never waits in a queue
behind graph steps: Slack gets its answer within milliseconds while turns run next door."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class WorkerLoop:
    def __init__(self, name: str = "warroom-slack-work") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> WorkerLoop:
        self._thread.start()
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self.loop)

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on the worker loop and wait for it from the calling loop."""
        return await asyncio.wrap_future(self.submit(work))

    def stop(self, within: float = 10.0) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=within)
        if not self._thread.is_alive():
            self.loop.close()
