"""The terminal channel: `warroom chat`, and the transcript printer the demo shares.

Shows handoffs between agents, tool calls, the policy gate's verdicts and what waits for whom,
as they happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from agents.conversation import ConversationError, ConversationService, TurnResult, stage_of
from agents.llm_errors import LLMError

AGENT_COLOURS = {"sales": "green", "service": "yellow", "delivery": "blue", "router": "magenta"}


def render_event(console: Console, event: dict[str, Any]) -> None:
    kind = event.get("type")
    if kind == "route":
        how = "model" if event.get("llm") else "rules"
        account = f" about {event['account']}" if event.get("account") else ""
        console.print(f"[dim]↳ routed to {', '.join(event['agents'])}{account} ({how})[/]")
    elif kind == "handoff":
        colour = AGENT_COLOURS.get(event["agent"], "white")
        console.print(f"[{colour}]● {event['agent']} agent[/]")
    elif kind == "tool":
        args = escape(json.dumps(event["arguments"], ensure_ascii=False))
        mark = "[green]✓[/]" if event["ok"] else "[red]✗[/]"
        console.print(f"  [dim]{event['tool']}({args})[/] {mark} {escape(event['summary'])}")
    elif kind == "gate":
        if event["needs_review"]:
            console.print(
                f"  [yellow]⏳ needs approval[/] {escape(event['proposal'])} "
                f"→ {', '.join(event['reviewers'])} ({', '.join(event['rules'])})"
            )
        else:
            console.print(f"  [green]→ commits now[/] {escape(event['proposal'])}")


class LiveStatus:
    """A status line shown from the first moment of a turn and updated at each stage; the
    elapsed seconds tick on long steps ("still working" rather than silence)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.stage = "routing"
        self.stages: list[tuple[float, str]] = []  # (seconds since start, stage)
        self._started = time.monotonic()
        self._status = console.status(self._text(), spinner="dots")
        self._ticker: asyncio.Task[None] | None = None

    def _text(self) -> str:
        elapsed = time.monotonic() - self._started
        still = " — still working" if elapsed >= 10 else ""
        return f"[dim]{escape(self.stage)}… {elapsed:.0f}s{still}[/]"

    def start(self) -> None:
        self._started = time.monotonic()
        self._status.start()
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def update(self, stage: str) -> None:
        self.stage = stage
        self.stages.append((time.monotonic() - self._started, stage))
        self._status.update(self._text())

    def on_event(self, event: dict[str, Any]) -> None:
        stage = stage_of(event)
        if stage is not None:
            self.update(stage)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self._status.update(self._text())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        self._status.stop()


def render_turn(console: Console, user: str, text: str, turn: TurnResult) -> None:
    console.print(Panel(escape(turn.reply), title="warroom", border_style="cyan", expand=False))
    total = turn.usage.get("total", {})
    if total:
        console.print(
            f"[dim]{total.get('calls', 0)} model call(s), "
            f"{total.get('prompt_tokens', 0)}+{total.get('completion_tokens', 0)} tokens, "
            f"{total.get('seconds', 0):.1f}s in the model[/]"
        )


async def say(
    console: Console, convo: ConversationService, *, thread_id: str, user_id: str, text: str
) -> TurnResult | None:
    """One turn with live events; errors become one sentence and the conversation goes on."""
    live = LiveStatus(console)
    live.start()

    def on_event(event: dict[str, Any]) -> None:
        live.on_event(event)
        render_event(console, event)

    try:
        turn = await convo.send(thread_id=thread_id, user_id=user_id, text=text, on_event=on_event)
    except (ConversationError, LLMError) as exc:
        message = getattr(exc, "user_message", None) or str(exc)
        console.print(f"[red]{escape(message)}[/]")
        return None
    finally:
        await live.stop()
    render_turn(console, user_id, text, turn)
    return turn


async def chat_loop(
    console: Console, convo: ConversationService, *, thread_id: str, user_id: str
) -> None:
    name = convo.crm.actor(user_id).name
    console.print(
        f"[bold]warroom[/] — talking as {name} in thread [cyan]{thread_id}[/]. "
        "Type /pending for your review inbox, /quit to leave."
    )
    while True:
        try:
            text = console.input("[bold magenta]you ›[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not text:
            continue
        if text in {"/quit", "/exit"}:
            return
        if text == "/pending":
            rows = convo.crm.reviews(reviewer_id=user_id)
            if not rows:
                console.print("[dim]Nothing waits for your review.[/]")
            for row in rows:
                console.print(
                    f"  {row['id']}: {row['tool']} {json.dumps(row['arguments'])} "
                    f"from {row['requested_by']} — {'; '.join(row['reasons'])}"
                )
            continue
        await say(console, convo, thread_id=thread_id, user_id=user_id, text=text)
