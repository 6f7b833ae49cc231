"""`warroom review`: a reviewer's inbox, and approve / reject / edit."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from agents.review import ReviewError
from memory.checkpoint import open_async_checkpointer
from tools.service import review_trail
from tools.visibility import review_for
from warroom.app import App

app = typer.Typer(help="Review requests: your inbox, and approve / reject / edit.")
console = Console()
AsUser = Annotated[
    str, typer.Option("--as", envvar="WARROOM_AS", help="The reviewer (e.g. u-maria).")
]
Comment = Annotated[str | None, typer.Option(help="Why; the requester sees it.")]


async def _with_service(application: App, work: Any) -> Any:
    async with open_async_checkpointer(application.settings.resolved_database_url()) as saver:
        convo = application.conversation_service(
            model=None, checkpointer=saver, with_knowledge=False
        )
        return await work(convo)


def _show_request(row: dict[str, Any]) -> None:
    proposal = row["context"].get("proposal", {})
    before, after = proposal.get("before") or {}, proposal.get("after") or {}
    changes = [
        f"{k}: {before.get(k)} → {v}"
        for k, v in after.items()
        if before.get(k) != v and k != "version"
    ]
    lines = [
        f"[bold]{escape(proposal.get('summary', row['tool']))}[/]",
        f"asked by {row['requested_by']} at {str(row['created_at'])[:16]}, "
        f"expires {str(row['expires_at'])[:16]}",
        f"rule: {', '.join(row['rule_ids'])} — {escape('; '.join(row['reasons']))}",
        f"{row['tool']} {escape(json.dumps(row['arguments'], ensure_ascii=False))}",
    ]
    if changes:
        lines.append("change: " + escape("; ".join(changes)))
    lines += [escape(line) for line in review_trail(row)]
    if row["context"].get("request"):
        lines.append(f"request: “{escape(row['context']['request'])}”")
    for flag in row["context"].get("untrusted_arguments") or []:
        lines.append(
            f"[red]⚠ {escape(flag['argument'])}={escape(str(flag['value']))} comes from "
            f"{escape(', '.join(flag['sources']))}, not from the request[/]"
        )
    negotiation = row["context"].get("negotiation")
    if negotiation:
        lines.append(f"negotiation ({negotiation['outcome']}):")
        lines += [
            f"  {t['agent']}: {t['stance']} — {escape(t['reason'])}"
            for t in negotiation["transcript"]
        ]
    console.print(Panel("\n".join(lines), title=row["id"], border_style="yellow", expand=False))


@app.callback(invoke_without_command=True)
def inbox(ctx: typer.Context, as_user: AsUser) -> None:
    """List the requests waiting for you (expired ones are closed and their requesters told)."""
    ctx.obj = as_user
    if ctx.invoked_subcommand is not None:
        return
    application = App()
    expired = asyncio.run(_with_service(application, lambda c: c.expire_due()))
    crm = application.crm()
    for notice in expired:
        # Each requester is told in their own thread; here only the runner's own requests.
        if notice["requested_by"] == as_user:
            console.print(f"[dim]expired: {escape(notice['message'])}[/]")
    rows = crm.reviews(reviewer_id=as_user)
    if not rows:
        console.print("Nothing waits for your review.")
    reader = crm.actor(as_user) if rows else None
    for row in rows:
        assert reader is not None
        _show_request(review_for(reader, row))  # what the reviewer may see (tools/visibility)


def _decide(
    ctx: typer.Context,
    approval_id: str,
    decision: str,
    comment: str | None,
    arguments: dict[str, Any] | None = None,
) -> None:
    application = App()
    try:
        result = asyncio.run(
            _with_service(
                application,
                lambda c: c.decide(
                    approval_id=approval_id,
                    reviewer_id=ctx.obj,
                    decision=decision,
                    comment=comment,
                    arguments=arguments,
                ),
            )
        )
    except ReviewError as exc:
        console.print(f"[red]{escape(exc.user_message)}[/]")
        raise typer.Exit(2) from exc
    console.print(f"{escape(result.reply)}")
    if result.thread_id:
        console.print(f"[dim]The requester's thread {result.thread_id} was told.[/]")


@app.command("approve")
def approve(ctx: typer.Context, approval_id: str, comment: Comment = None) -> None:
    """Approve a request: the change is committed now, once."""
    _decide(ctx, approval_id, "approve", comment)


@app.command("reject")
def reject(ctx: typer.Context, approval_id: str, comment: Comment = None) -> None:
    """Reject a request: nothing is changed."""
    _decide(ctx, approval_id, "reject", comment)


@app.command("edit")
def edit(
    ctx: typer.Context,
    approval_id: str,
    set_: Annotated[list[str], typer.Option("--set", help="ARG=VALUE (JSON values allowed).")],
    comment: Comment = None,
) -> None:
    """Approve with changed arguments, e.g. --set percent=18."""
    arguments: dict[str, Any] = {}
    for item in set_:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            console.print(f"[red]--set needs ARG=VALUE, got {escape(item)!r}.[/]")
            raise typer.Exit(2)
        try:
            arguments[key] = json.loads(raw)
        except json.JSONDecodeError:
            arguments[key] = raw
    _decide(ctx, approval_id, "edit", comment, arguments)
