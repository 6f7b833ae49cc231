"""`warroom serve slack|teams`: the chat channel servers."""

from __future__ import annotations

from typing import Annotated

import typer

from warroom.cli_common import open_app

app = typer.Typer(help="Run a chat channel server (Slack or Microsoft Teams).")
Port = Annotated[
    int | None,
    typer.Option(min=0, max=65535, help="Port to listen on (default: WARROOM_HTTP_PORT)."),
]


@app.command("slack")
def slack(
    port: Port = None,
    socket: Annotated[bool, typer.Option("--socket", help="Socket Mode instead of HTTP.")] = False,
) -> None:
    """The Slack app: Events API, interactivity and /warroom at /slack/events (or Socket Mode)."""
    from channels.slack import SlackStartError
    from channels.slack.server import run

    try:
        run(open_app(entry="serve slack"), port=port, socket_mode=socket)
    except SlackStartError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command("teams")
def teams(port: Port = None) -> None:
    """The Microsoft Teams bot (Bot Framework) at /api/messages."""
    from channels.teams import TeamsStartError
    from channels.teams.server import run

    try:
        run(open_app(entry="serve teams"), port=port)
    except TeamsStartError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command("api")
def api(port: Port = None) -> None:
    """The HTTP API: POST /ingest (meeting transcripts), GET /healthz. Needs a user token:
    `warroom api-token add USER`."""
    from channels.http_api import run

    run(open_app(entry="serve api"), port=port)
