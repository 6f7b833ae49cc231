"""`warroom api-token`: issue and revoke HTTP API tokens, each bound to one CRM user.

Mounted by the main CLI with `app.add_typer(cli_tokens.app, name="api-token")`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from tools.api_tokens import ApiTokens, token_file
from tools.errors import NotFound
from warroom.app import App

__all__ = ["app"]

app = typer.Typer(help="HTTP API tokens: one per CRM user, stored hashed.", add_completion=False)
console = Console()
err_console = Console(stderr=True)
User = Annotated[str, typer.Argument(help="The CRM user the token acts as (e.g. u-alice).")]


@app.command("add")
def add(user: User) -> None:
    """Issue a token for USER; it is printed once, only its SHA-256 digest is kept."""
    application = App()
    try:
        application.crm().actor(user)
    except NotFound as exc:
        err_console.print(f"[red]There is no warroom user '{escape(user)}'.[/]")
        raise typer.Exit(2) from exc
    path = token_file(application.settings.data_dir)
    token = ApiTokens.issue(path, user)
    console.print(f"Token for {escape(user)} (shown once; kept hashed in {escape(str(path))}):")
    console.print(token, markup=False, highlight=False)


@app.command("revoke")
def revoke(user: User) -> None:
    """Revoke every token of USER."""
    path = token_file(App().settings.data_dir)
    gone = ApiTokens.revoke(path, user)
    console.print(f"Revoked {gone} token(s) of {escape(user)}.")
