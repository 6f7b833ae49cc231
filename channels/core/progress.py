"""A status message in the conversation, edited in place as the turn's events arrive — the
same for every chat channel; each channel gives it a way to post and to edit a message.

Edits are coalesced: at most one per `interval` seconds (Slack's chat.update is a Tier 3
method, about 50 a minute; Teams throttles edits too), and the last one always shows the
final state. The headline names the current stage (routing → sales agent →
`list_opportunities` → waiting for review); a step that takes longer than `heartbeat` seconds
gets a "still working" edit rather than silence; the reply's words stream in under the steps
as the model writes them (`reply_delta` events) and give way to the reply when it is posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from agents.conversation import stage_of

log = logging.getLogger(__name__)

WORKING = "Working on it…"
# The streamed draft shown under the steps: its last characters (a Slack message holds
# 40,000; an edit per second of a short text stays well inside the platforms' rate limits).
DRAFT_CHARS = 3000

Post = Callable[[str], Awaitable[str | None]]  # a new message; returns its id
Edit = Callable[[str, str], Awaitable[None]]  # (message id, new text)
Describe = Callable[[dict[str, Any]], "str | None"]


def describe_step(
    event: dict[str, Any], *, escape: Callable[[str], str] = lambda text: text
) -> str | None:
    """One progress line for a graph event (route, handoff, tool, gate); None to skip it.
    `escape` makes user-provided text safe for the channel's markup."""
    kind = event.get("type")
    if kind == "route":
        about = f" about {event['account']}" if event.get("account") else ""
        return f"routed to {', '.join(event.get('agents') or [])}{about}"
    if kind == "handoff":
        return f"{event['agent']} agent is on it"
    if kind == "tool":
        mark = "✓" if event.get("ok") else "✗"
        arguments = json.dumps(event.get("arguments") or {}, ensure_ascii=False)
        if len(arguments) > 120:
            arguments = arguments[:119] + "…"
        summary = escape(str(event.get("summary") or ""))
        return f"`{event['tool']}` {escape(arguments)} {mark} {summary}".rstrip()
    if kind == "gate":
        proposal = escape(str(event.get("proposal") or ""))
        if event.get("needs_review"):
            return f"⏳ needs approval: {proposal} → {', '.join(event.get('reviewers') or [])}"
        return f"→ commits now: {proposal}"
    return None


def progress_text(headline: str, lines: list[str], *, keep: int = 12) -> str:
    shown = lines[-keep:]
    more = [f"… {len(lines) - keep} earlier steps"] if len(lines) > keep else []
    return "\n".join([headline, *(f"• {line}" for line in more + shown)])


class StatusMessage:
    def __init__(
        self,
        post: Post,
        edit: Edit,
        describe: Describe,
        *,
        interval: float = 1.0,
        heartbeat: float = 10.0,
    ) -> None:
        self._post = post
        self._edit_message = edit
        self._describe = describe
        self.interval = interval
        self.heartbeat = heartbeat
        self.lines: list[str] = []
        self.headline = WORKING
        self.ts: str | None = None  # the status message's id
        self.stage: str | None = None
        self.drafts: dict[str, str] = {}  # agent -> the reply's words streamed so far
        self._shown = ""
        self._last_edit = 0.0
        self._pending: asyncio.Task[None] | None = None
        self._editing = False
        self._started = self._last_change = time.monotonic()
        self._beat: asyncio.Task[None] | None = None

    async def start(self, headline: str = WORKING) -> None:
        self.headline = headline
        self.ts = await self._post(headline)
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
            line = self._describe(event)
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
            await self._edit_message(self.ts, text)
            self._shown = text
        except Exception as exc:  # progress is a courtesy: the answer still goes out
            log.warning("Editing the status message failed: %s", exc)

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
