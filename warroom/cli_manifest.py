"""`warroom slack manifest` and `warroom teams manifest`: the app manifests, from the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from warroom.cli_common import ConfigError, console

slack_app = typer.Typer(help="The Slack app: its manifest.", no_args_is_help=True)
teams_app = typer.Typer(help="The Microsoft Teams app: its package.", no_args_is_help=True)


# Callbacks keep each a group (`warroom slack manifest`), with room for more sub-commands.
@slack_app.callback()
def slack() -> None:
    """The Slack app: its manifest."""


@teams_app.callback()
def teams() -> None:
    """The Microsoft Teams app: its package."""


@slack_app.command("manifest")
def slack_manifest(
    url: Annotated[
        str | None, typer.Option(help="The server's public HTTPS address (HTTP mode).")
    ] = None,
    socket: Annotated[bool, typer.Option("--socket", help="Socket Mode (no public URL).")] = False,
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Print (or write) the Slack app manifest to paste at api.slack.com/apps."""
    from warroom.manifests import slack_manifest as build
    from warroom.settings import load_settings

    try:
        text = build(load_settings(), public_url=url, socket_mode=socket)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"Wrote the Slack app manifest to {out}.")


@teams_app.command("manifest")
def teams_manifest(
    developer: Annotated[str, typer.Option(help="Your company's name.")] = "warroom",
    website: Annotated[
        str, typer.Option(help="Your company's website (privacy and terms under it).")
    ] = "https://example.com",
    version: Annotated[str, typer.Option(help="The app package version.")] = "1.0.0",
    out: Annotated[Path, typer.Option(help="The zip to write.")] = Path("warroom-teams.zip"),
) -> None:
    """Write the Teams app package (manifest.json + icons, zipped) to upload in Teams."""
    from warroom.manifests import teams_package
    from warroom.settings import load_settings

    try:
        path = teams_package(load_settings(), out, developer=developer, website=website,
                             version=version)  # fmt: skip
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    console.print(f"Wrote the Teams app package to {path}; upload it in Teams (Apps → Manage "
                  "your apps → Upload an app).")  # fmt: skip
