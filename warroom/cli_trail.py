"""`warroom trail ACCOUNT|REQUEST_ID`: the chain of decisions behind a customer or one request,
masked by what the reader may see; a Rich timeline, JSON, or a Mermaid sequence diagram."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from channels.terminal_views import render_trail
from tools.errors import NotFound
from tools.trail import TrailRefused, mermaid
from tools.trail import trail as build_trail
from warroom.app import App

app = typer.Typer(add_completion=False)
console = Console()
err = Console(stderr=True)


@app.command()
def trail(
    subject: Annotated[str, typer.Argument(help="An account id (acc-…) or a request id (appr-…).")],
    as_user: Annotated[
        str,
        typer.Option(
            "--as", envvar="WARROOM_AS", help="The reader; what they may not see is hidden."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the trail as JSON.")] = False,
    as_mermaid: Annotated[
        bool, typer.Option("--mermaid", help="Print a Mermaid sequence diagram.")
    ] = False,
) -> None:
    """Who asked what, in which channel; proposals, negotiation, rules, reviews, commits, told."""
    crm = App().crm()
    try:
        reader = crm.actor(as_user)
        result = build_trail(crm, subject, reader)
    except NotFound as exc:
        err.print(f"[bold red]error:[/] There is no user '{as_user}'.")
        raise typer.Exit(2) from exc
    except TrailRefused as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        print(result.model_dump_json(indent=2))
    elif as_mermaid:
        print(mermaid(result), end="")
    else:
        render_trail(console, result)
