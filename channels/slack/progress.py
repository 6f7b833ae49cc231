"""A status message in the thread, edited (chat.update) as the graph's events arrive.

Edits are coalesced: at most one per `interval` seconds (chat.update is a Tier 3 method, about
50 a minute), and the last one always shows the final state. The headline names the current
stage (routing → sales agent → `list_opportunities` → waiting for review); a step that takes
longer than `heartbeat` seconds gets a "still working" edit rather than silence."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agents.conversation import stage_of
from channels.slack import messages
from channels.slack.text import describe_event, progress_text

log = logging.getLogger(__name__)

# The streamed draft shown under the steps: its last characters (a Slack message holds
# 40,000; an edit per second of a short text stays well inside chat.update's rate limit).
DRAFT_CHARS = 3000


class StatusMessage:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        channel: str,
        thread_ts: str,
        interval: float = 1.0,
        heartbeat: float = 10.0,
    ) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.interval = interval
        self.lines: list[str] = []
        self.headline = messages.WORKING
        self.ts: str | None = None
        self._shown = ""
        self._last_edit = 0.0
        self._pending: asyncio.Task[None] | None = None
        self._editing = False
        self.heartbeat = heartbeat
        self.stage: str | None = None
        self._started = self._last_change = time.monotonic()
        self._beat: asyncio.Task[None] | None = None
        self.drafts: dict[str, str] = {}  # agent -> the reply's words streamed so far

    async def start(self, headline: str = messages.WORKING) -> None:
        self.headline = headline
        response = await self.client.chat_postMessage(
            channel=self.channel, thread_ts=self.thread_ts, text=headline
        )
        self.ts = response["ts"]
        self._shown = headline
        self._last_edit = self._started = self._last_change = time.monotonic()
        self._beat = asyncio.get_running_loop().create_task(self._heartbeat())

    def _current(self) -> str:
        headline = f"{self.headline} · {self.stage}" if self.stage else self.headline
        waited = time.monotonic() - self._last_change
        if waited >= self.heartbeat:
            headline += f" (still working, {time.monotonic() - self._started:.0f}s)"
        text = progress_text(headline, self.lines)
        draft = "\n\n".join(words.strip() for words in self.drafts.values() if words.strip())
        if draft:
            if len(draft) > DRAFT_CHARS:
                draft = "…" + draft[-DRAFT_CHARS:]
            text += "\n\n" + draft
        return text

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            if self._pending is None or self._pending.done():
                await self._edit(self._current())

    def on_event(self, event: dict[str, Any]) -> None:
        """The graph's event callback (synchronous): note the step or the reply's streamed
        words, schedule an edit (coalesced to one per `interval`)."""
        if event.get("type") == "reply_delta":
            agent = str(event.get("agent") or "")
            if event.get("reset"):
                self.drafts.pop(agent, None)
            else:
                self.drafts[agent] = self.drafts.get(agent, "") + str(event.get("text") or "")
        else:
            stage = stage_of(event)
            line = describe_event(event)
            if stage is None and line is None:
                return
            if stage is not None:
                self.stage = stage
            if line is not None:
                self.lines.append(line)
        self._last_change = time.monotonic()
        if self.ts is not None and (self._pending is None or self._pending.done()):
            self._pending = asyncio.get_running_loop().create_task(self._edit_soon())

    async def _edit_soon(self) -> None:
        await asyncio.sleep(max(0.0, self._last_edit + self.interval - time.monotonic()))
        self._editing = True  # from here on, let the edit land rather than race the final one
        try:
            await self._edit(self._current())
        finally:
            self._editing = False

    async def _edit(self, text: str) -> None:
        if self.ts is None or text == self._shown:
            return
        self._last_edit = time.monotonic()
        try:
            await self.client.chat_update(channel=self.channel, ts=self.ts, text=text)
            self._shown = text
        except SlackApiError as exc:  # progress is a courtesy: the answer still goes out
            log.warning("chat.update of the status message failed: %s", exc.response.get("error"))

    async def finish(self, headline: str) -> None:
        """The final edit: `headline` and the steps taken (the draft gives way to the reply,
        posted on its own); no later edit can overwrite it."""
        self.drafts.clear()
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
        if self._pending is not None and not self._pending.done():
            if not self._editing:
                self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pending
        await self._edit(progress_text(headline, self.lines))
