"""The terminal channel: `warroom chat`, and the transcript printer the demo shares.

Shows handoffs between agents, tool calls, the policy gate's verdicts and what waits for whom,
as they happen.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from agents.conversation import ConversationError, ConversationService, TurnResult
from agents.llm_errors import LLMError
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
    try:
        turn = await convo.send(
            thread_id=thread_id,
            user_id=user_id,
            text=text,
            on_event=lambda e: render_event(console, e),
        )
    except (ConversationError, LLMError) as exc:
        message = getattr(exc, "user_message", None) or str(exc)
        console.print(f"[red]{escape(message)}[/]")
        return None
    render_turn(console, user_id, text, turn)
    return turn


async def chat_loop(
    console: Console, convo: ConversationService, *, thread_id: str, user_id: str
) -> None:
    # The requester kept in the loop: what happened while away, then news while open
    # (channels/requester_watch.py).
    watch = RequesterWatch(convo.crm, user_id)
    watch.print_away(console)
    stop = asyncio.Event()
    news = asyncio.create_task(watch.run(console, stop))
    try:
        await _chat_turns(console, convo, thread_id=thread_id, user_id=user_id, watch=watch)
    finally:
        stop.set()
        await news


async def _read_line(prompt: str) -> str:
    """One line from the terminal without blocking the event loop (news prints meanwhile); a
    daemon thread, so leaving never waits for a pending read."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        try:
            line = Console().input(prompt)
        except BaseException as exc:  # noqa: BLE001 - EOF / Ctrl-C reach the loop as they are
            loop.call_soon_threadsafe(_settle, done, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, done, line, None)

    threading.Thread(target=read, daemon=True).start()
    return await done


def _settle(done: asyncio.Future[str], line: str | None, exc: BaseException | None) -> None:
    if done.done():
        return
    if exc is not None:
        done.set_exception(EOFError() if isinstance(exc, KeyboardInterrupt) else exc)
    else:
        done.set_result(line or "")


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


async def _chat_turns(
    console: Console,
    convo: ConversationService,
    *,
    thread_id: str,
    user_id: str,
    watch: RequesterWatch,
) -> None:
    name = convo.crm.actor(user_id).name
    console.print(
        f"[bold]warroom[/] — talking as {name} in thread [cyan]{thread_id}[/]. "
        "Type /inbox for what waits for you, /trail ACCOUNT for its decisions, /quit to leave."
    )
    while True:
        try:
            text = (await _read_line("[bold magenta]you ›[/] ")).strip()
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
        if chat_command(console, convo, user_id, text):
            continue
        turn = await say(console, convo, thread_id=thread_id, user_id=user_id, text=text)
        if turn is not None:  # counters shown in this turn's reply are not news later
            watch.mark_seen([p["approval_id"] for p in turn.outcome.get("pending", [])])
