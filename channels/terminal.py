"""The terminal channel: `warroom chat`, and the transcript printer the demo shares.

Shows handoffs between agents, tool calls, the policy gate's verdicts and what waits for whom,
as they happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from agents.conversation import ConversationError, ConversationService, TurnResult, stage_of
from agents.llm_errors import LLMError
from agents.state import SPECIALISTS
from channels.requester_watch import RequesterWatch
from channels.terminal_views import render_inbox, render_trail
from tools.trail import TrailRefused
from tools.trail import trail as build_trail
from tools.worklist import inbox as build_inbox

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

    # The live draft shows the end of what is being written; the checked reply replaces it.
    DRAFT_CHARS = 800

    def __init__(self, console: Console) -> None:
        self.console = console
        self.stage = "routing"
        self.stages: list[tuple[float, str]] = []  # (seconds since start, stage)
        self.drafts: dict[str, str] = {}  # agent -> the words streamed so far
        self.first_words_at: float | None = None  # seconds since start
        self._started = time.monotonic()
        self._status = console.status(self._text(), spinner="dots")
        self._ticker: asyncio.Task[None] | None = None

    def _text(self) -> RenderableType:
        elapsed = time.monotonic() - self._started
        still = " — still working" if elapsed >= 10 else ""
        line = Text(f"{self.stage}… {elapsed:.0f}s{still}", style="dim")
        draft = "\n\n".join(text.strip() for text in self.drafts.values() if text.strip())
        if not draft:
            return line
        if len(draft) > self.DRAFT_CHARS:
            draft = "…" + draft[-self.DRAFT_CHARS :]
        return Text.assemble(draft, "\n", line)

    def start(self) -> None:
        self._started = time.monotonic()
        self._status.start()
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def update(self, stage: str) -> None:
        self.stage = stage
        self.stages.append((time.monotonic() - self._started, stage))
        self._status.update(self._text())

    def on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "reply_delta":
            agent = str(event.get("agent") or "")
            if event.get("reset"):
                self.drafts.pop(agent, None)
            else:
                if self.first_words_at is None:
                    self.first_words_at = time.monotonic() - self._started
                self.drafts[agent] = self.drafts.get(agent, "") + str(event.get("text") or "")
            self._status.update(self._text())
            return
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


LOCAL_COMMANDS = {
    "/help": "this list",
    "/whoami": "who you are talking as, and the thread",
    "/inbox": "what waits for you: reviews, cross-team requests, tasks (oldest first)",
    "/trail": "/trail ACCOUNT or /trail REQUEST: the decisions behind it",
    "/pending": "your own requests still waiting for a reviewer",
    "/quit": "leave (Ctrl-D too); Ctrl-C cancels a running answer, not the chat",
}

ReadLine = Callable[[str], Awaitable[str]]


def prompt_reader(history_file: Path | None) -> ReadLine:
    """Line editing and history (prompt_toolkit) on a terminal; plain reads otherwise."""
    if not sys.stdin.isatty():

        async def plain(prompt: str) -> str:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                raise EOFError
            return line

        return plain
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    history: Any = InMemoryHistory()
    if history_file is not None:
        with contextlib.suppress(OSError):
            history_file.parent.mkdir(parents=True, exist_ok=True)
            history = FileHistory(str(history_file))
    session: PromptSession[str] = PromptSession(history=history)
    return lambda prompt: session.prompt_async(prompt)


def _addresses_an_agent(text: str) -> bool:
    """`/sales …`, `/service …`, `/delivery …` pick the agent: those go to the conversation."""
    return text.split()[0][1:].lower() in SPECIALISTS


def _local_command(
    console: Console, convo: ConversationService, text: str, *, thread_id: str, user_id: str
) -> bool:
    """Answer a /command here (never sent to the model); False means: leave the chat."""
    command = text.split()[0].lower()
    if command in {"/quit", "/exit"}:
        return False
    if command == "/help":
        for name, meaning in LOCAL_COMMANDS.items():
            console.print(f"  [bold]{name}[/] — {escape(meaning)}")
    elif command == "/whoami":
        actor = convo.crm.actor(user_id)
        roles = ", ".join(sorted(actor.roles))
        console.print(
            f"  {escape(actor.name)} ({escape(actor.id)}; {escape(roles)}; team "
            f"{escape(actor.team or '—')}) in thread {escape(thread_id)}"
        )
    elif chat_command(console, convo, user_id, text):
        pass
    elif command in {"/inbox", "/pending"}:
        mine = command == "/inbox"
        rows = (
            convo.crm.reviews(reviewer_id=user_id)
            if mine
            else convo.crm.reviews(requested_by=user_id)
        )
        if not rows:
            console.print(
                "[dim]Nothing waits for your review.[/]"
                if mine
                else "[dim]None of your requests is waiting.[/]"
            )
        for row in rows:
            who = (
                f"from {row['requested_by']}"
                if mine
                else "waiting for " + ", ".join(row.get("reviewer_ids") or ["a reviewer"])
            )
            console.print(
                f"  {escape(row['id'])}: {escape(row['tool'])} "
                f"{escape(json.dumps(row['arguments'], ensure_ascii=False))} {escape(who)} — "
                f"{escape('; '.join(row['reasons']))}"
            )
    else:
        console.print(f"[yellow]Unknown command {escape(command)}[/]; /help lists them.")
    return True


def chat_command(console: Console, convo: ConversationService, user_id: str, text: str) -> bool:
    """`/inbox` and `/trail ACCOUNT|REQUEST`; True when the text was one of them."""
    if text == "/inbox":
        render_inbox(console, build_inbox(convo.crm, convo.crm.actor(user_id)))
        return True
    if text.startswith("/trail"):
        subject = text.removeprefix("/trail").strip()
        if not subject:
            console.print("[red]Say whose trail: /trail acc-… or /trail appr-…[/]")
            return True
        try:
            render_trail(console, build_trail(convo.crm, subject, convo.crm.actor(user_id)))
        except TrailRefused as exc:
            console.print(f"[red]{escape(str(exc))}[/]")
        return True
    return False


async def _cancellable_turn(
    console: Console, convo: ConversationService, *, thread_id: str, user_id: str, text: str
) -> TurnResult | None:
    """Run one turn; Ctrl-C (SIGINT) cancels this turn only and the chat goes on."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(
        say(console, convo, thread_id=thread_id, user_id=user_id, text=text)
    )
    installed = False
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        installed = True
    try:
        return await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
        console.print("[yellow]Cancelled.[/] [dim]Ask again, or /quit.[/]")
        return None
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)


async def chat_loop(
    console: Console,
    convo: ConversationService,
    *,
    thread_id: str,
    user_id: str,
    read_line: ReadLine | None = None,
    history_file: Path | None = None,
) -> None:
    # The requester kept in the loop: what happened while away, then news while open
    # (channels/requester_watch.py).
    watch = RequesterWatch(convo.crm, user_id)
    watch.print_away(console)
    stop = asyncio.Event()
    news = asyncio.create_task(watch.run(console, stop))
    try:
        await _chat_turns(
            console,
            convo,
            thread_id=thread_id,
            user_id=user_id,
            watch=watch,
            read=read_line or prompt_reader(history_file),
        )
    finally:
        stop.set()
        await news


async def _chat_turns(
    console: Console,
    convo: ConversationService,
    *,
    thread_id: str,
    user_id: str,
    watch: RequesterWatch,
    read: ReadLine,
) -> None:
    name = convo.crm.actor(user_id).name
    console.print(
        f"[bold]warroom[/] — talking as {escape(name)} in thread [cyan]{escape(thread_id)}[/]. "
        "Type /help for local commands (/inbox: what waits for you), /quit to leave."
    )
    while True:
        try:
            text = (await read("you › ")).strip()
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the line
        except EOFError:
            console.print()
            return
        if not text:
            continue
        if text.startswith("/") and not _addresses_an_agent(text):
            if not _local_command(console, convo, text, thread_id=thread_id, user_id=user_id):
                return
            continue
        turn = await _cancellable_turn(
            console, convo, thread_id=thread_id, user_id=user_id, text=text
        )
        if turn is not None:  # counters shown in this turn's reply are not news later
            watch.mark_seen([p["approval_id"] for p in turn.outcome.get("pending", [])])
