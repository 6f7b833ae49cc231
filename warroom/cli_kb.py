"""`warroom kb`: add documents to the knowledge base and search it."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from memory.demo import seed_demo_knowledge
from memory.knowledge import KnowledgeBase, open_knowledge_base
from memory.models import IngestReport
from warroom.settings import Settings, load_settings

__all__ = ["app", "seed_demo_knowledge"]

app = typer.Typer(help="Knowledge base: add documents, search.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _knowledge_base(settings: Settings, *, workers: int = 1) -> KnowledgeBase:
    return open_knowledge_base(
        data_dir=settings.data_dir,
        chroma_url=settings.chroma_url,
        embeddings_base_url=settings.embeddings_base_url,
        embeddings_api_key=settings.embeddings_api_key,
        embeddings_model=settings.embeddings_model,
        embedding_workers=workers,
    )


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="Cores the bundled embedding model may use (default: every core of this machine).",
    ),
]


def _print_report(report: IngestReport, *, as_json: bool) -> None:
    if as_json:
        console.print_json(report.model_dump_json())
        return
    console.print(
        f"[green]{len(report.added)} added[/], [cyan]{len(report.replaced)} replaced[/], "
        f"{len(report.unchanged)} unchanged, [red]{len(report.failed)} failed[/] "
        f"({report.chunks_written} chunks written, {report.chunks_embedded} embedded)."
    )
    for failure in report.failed:
        err_console.print(f"[red]Could not ingest {failure.name}:[/] {failure.reason}")


@app.command("add")
def add(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    workers: Workers = None,
) -> None:
    """Ingest Markdown, text, HTML, PDF and DOCX files (folders are searched recursively)."""
    kb = _knowledge_base(load_settings(), workers=workers or _usable_cores())
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=as_json,
    ) as bar:
        task = bar.add_task("Reading", total=None)

        def progress(description: str, completed: int, total: int) -> None:
            bar.update(task, description=description, completed=completed, total=total)

        report = kb.add_paths(paths, progress=progress)
    _print_report(report, as_json=as_json)
    if report.failed and not (report.added or report.replaced or report.unchanged):
        raise typer.Exit(code=1)


@app.command("seed-demo")
def seed_demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    workers: Workers = None,
) -> None:
    """Ingest the demo company's knowledge base (Beacon)."""
    report = seed_demo_knowledge(
        _knowledge_base(load_settings(), workers=workers or _usable_cores())
    )
    _print_report(report, as_json=as_json)


class SearchMode(StrEnum):
    hybrid = "hybrid"
    vector = "vector"
    lexical = "lexical"


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in English or Chinese.")],
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="How many passages.")] = 5,
    mode: Annotated[SearchMode, typer.Option(help="How passages are ranked.")] = SearchMode.hybrid,
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="WARROOM_AS",
            help="Search as this CRM user (their roles decide what they may read).",
        ),
    ] = None,
    roles: Annotated[
        list[str] | None,
        typer.Option("--role", help="Search as a holder of these roles instead (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print hits as JSON.")] = False,
) -> None:
    """Show ranked passages with source, title, section and score."""
    if as_user and roles:
        err_console.print("[red]Give --as USER or --role ROLE, not both.[/]")
        raise typer.Exit(code=2)
    if as_user:
        from warroom.cli_common import fail, open_app

        crm = open_app().crm()
        actor = crm.actor(as_user)
        if not actor.roles:
            raise fail(f"There is no user '{as_user}'. Run `warroom seed` for the demo users.")
        roles = sorted(actor.roles)
    kb = _knowledge_base(load_settings())
    hits = kb.search(query, k=k, roles=roles or None, mode=mode.value)  # type: ignore[arg-type]
    if as_json:
        console.print_json(json.dumps([hit.model_dump() for hit in hits], ensure_ascii=False))
        return
    if not hits:
        console.print("No passages found.")
        return
    table = Table(title=f"Knowledge base: {query}", show_lines=True)
    table.add_column("#", justify="right", width=2)
    table.add_column("source", style="cyan", overflow="fold", max_width=28)
    table.add_column("title", overflow="fold", max_width=24)
    table.add_column("section", style="magenta", overflow="fold", max_width=24)
    table.add_column("score", justify="right", width=6)
    table.add_column("passage", overflow="fold", ratio=1, min_width=30)
    for rank, hit in enumerate(hits, 1):
        passage = hit.text if len(hit.text) <= 400 else hit.text[:400] + "…"
        table.add_row(
            str(rank), hit.source, hit.title, hit.section or "", f"{hit.score:.3f}", passage
        )
    console.print(table)
