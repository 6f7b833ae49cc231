"""`warroom inbox`: what waits for one person — reviews, cross-team requests, tasks and their
team's queue — oldest first, with age."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from channels.terminal_views import render_inbox
from tools.errors import NotFound
from tools.worklist import inbox as build_inbox
from warroom.app import App

app = typer.Typer(add_completion=False)
console = Console()
err = Console(stderr=True)


@app.command()
def inbox(
    as_user: Annotated[
        str, typer.Option("--as", envvar="WARROOM_AS", help="Whose inbox (e.g. u-dana).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """What waits for you: reviews, cross-team requests, your tasks and your team's queue."""
    crm = App().crm()
    try:
        actor = crm.actor(as_user)
    except NotFound as exc:
        err.print(f"[bold red]error:[/] There is no user '{as_user}'.")
        raise typer.Exit(2) from exc
    box = build_inbox(crm, actor)
    if as_json:
        print(box.model_dump_json(indent=2))
        return
    render_inbox(console, box)
