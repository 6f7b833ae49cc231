"""`warroom ingest`: meeting transcripts (a file, a folder, or a watched folder) into the CRM.

Mounted by the main CLI with `app.add_typer(cli_ingest.app, name="ingest")`; the command is the
group's callback, so `warroom ingest PATH` works without a sub-command name.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from warroom.cli_eval import LLMChoice

__all__ = ["app", "ingest_command"]

app = typer.Typer(
    help="Ingest meeting transcripts (WebVTT, SRT, text, JSON, Word) into the CRM.",
    add_completion=False,
    # Options may follow PATH (the group has no sub-commands to confuse them with).
    context_settings={"allow_interspersed_args": True},
)
console = Console()
err_console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    """A usage error by default (exit 2): said on stderr, nothing read."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _scripted_model(script: Path | None) -> Any:
    """`--llm scripted`: extraction answers from a JSON or YAML file (a list, one per chunk);
    without a file, no model: the meeting is matched and logged only."""
    if script is None:
        return None
    import yaml

    from agents.llm import ScriptedChatModel

    try:
        outputs = yaml.safe_load(script.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _fail(f"{script}: cannot read the script ({exc}).") from exc
    if isinstance(outputs, dict):
        outputs = [outputs]
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise _fail(f"{script}: the script must be a list of extraction objects.")
    return ScriptedChatModel([{"agent": "meetings", "output": o} for o in outputs])


def _model(llm: LLMChoice | None, script: Path | None) -> Any:
    if llm is LLMChoice.scripted:
        return _scripted_model(script)
    if llm is None:
        from agents.llm import build_chat_model
        from warroom.settings import load_settings

        return build_chat_model(load_settings())
    from evals.suite import EvalSetupError, build_real_model

    try:
        return build_real_model(llm.value)  # type: ignore[arg-type]
    except EvalSetupError as exc:
        raise _fail(str(exc)) from exc


@app.callback(invoke_without_command=True)
def ingest_command(
    path: Annotated[
        Path | None, typer.Argument(help="A transcript file or a folder of them.")
    ] = None,
    as_user: Annotated[
        str,
        typer.Option(
            "--as", "--actor", envvar="WARROOM_AS", help="The user the CRM changes are made as."
        ),
    ] = "",
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Write the results as a JSON list to this file ('-': stdout, JSON only; "
            "progress and outcomes then go to stderr).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    llm: Annotated[
        LLMChoice | None,
        typer.Option(
            help="scripted: answers from --script (none: log the meeting only); local: the "
            "embedded model; openai: the configured endpoint. Default: the configured model."
        ),
    ] = None,
    script: Annotated[
        Path | None, typer.Option(help="With --llm scripted: a JSON/YAML list of extractions.")
    ] = None,
    account: Annotated[
        str | None, typer.Option(help="The account, when the transcript does not make it clear.")
    ] = None,
    day_first: Annotated[
        bool,
        typer.Option(
            "--day-first/--month-first",
            envvar="WARROOM_INGEST_DAY_FIRST",
            help="How a numeric meeting date like 03/04/2026 is read: 3 April (day first, the "
            "default) or March 4 (month first).",
        ),
    ] = True,
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy",
            envvar="WARROOM_INGEST_STRATEGY",
            help="How the model reads: chunks (the whole transcript, quoting evidence), lines "
            "(rule-picked lines in windows, citing line numbers; for small models) or auto "
            "(lines for the embedded model, chunks for any other).",
        ),
    ] = "auto",
    watch: Annotated[
        Path | None, typer.Option("--watch", help="Watch this folder; ingest files as they land.")
    ] = None,
    max_files: Annotated[
        int | None, typer.Option(min=1, help="With --watch: stop after this many files.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(min=0.1, help="With --watch: stop after this many seconds.")
    ] = None,
    memory: Annotated[
        bool, typer.Option(help="Keep facts learned in the account memory (with provenance).")
    ] = True,
    progress: Annotated[
        bool, typer.Option(help="Show a progress bar over files and chunks (on stderr).")
    ] = True,
) -> None:
    """Ingest transcripts. Each file ends ingested, already ingested, or refused (with the
    reason). Exit status: 0 when every file was ingested, 1 when any was refused, 2 for a usage
    error (nothing read)."""
    from warroom.cli_common import open_app as _app

    if not as_user:
        raise _fail("Say who ingests: --as USER (or WARROOM_AS).")
    if (path is None) == (watch is None):
        raise _fail("Give a PATH to ingest, or --watch DIR (not both).")
    if watch is not None and not watch.is_dir():
        raise _fail(f"{watch}: there is no such folder to watch.")
    if strategy not in ("auto", "chunks", "lines"):
        raise _fail(f"--strategy is auto, chunks or lines, not '{strategy}'.")
    if path is not None:
        _check_path(path)
    application = _app(entry="ingest")
    _check_user_and_account(application, as_user, account)
    # Only now, with the path, the user and the account known to be fine, is a model started.
    model = _model(llm, script)
    quiet = json_out is not None and str(json_out) == "-"
    try:
        batch = asyncio.run(
            _run(
                application,
                model,
                path=path,
                watch=watch,
                as_user=as_user,
                dry_run=dry_run,
                account=account,
                day_first=day_first,
                strategy=strategy,
                json_out=json_out,
                max_files=max_files,
                seconds=timeout,
                use_memory=memory,
                out=err_console if quiet else console,
                show_progress=progress,
            )  # fmt: skip
        )
    except KeyboardInterrupt:
        err_console.print("[dim]Stopped.[/]")
        raise typer.Exit(1) from None
    except Exception as exc:
        from agents.llm_errors import LLMError

        if isinstance(exc, LLMError):
            raise _fail(exc.user_message, code=1) from exc
        raise
    if batch.refused:
        raise typer.Exit(code=1)


def _check_path(path: Path) -> None:
    """A usage error (exit 2) for a path that does not exist or cannot be read at all."""
    if not os.path.lexists(path):
        raise _fail(f"{path}: there is no such file or folder.")
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            raise _fail(f"{path}: the folder cannot be read (permission denied).")
    elif path.is_file() and not os.access(path, os.R_OK):
        raise _fail(f"{path}: the file cannot be read (permission denied).")


def _check_user_and_account(application: Any, as_user: str, account: str | None) -> None:
    from channels.meetings.errors import messages
    from channels.meetings.visibility import Visibility
    from tools.errors import NotFound

    crm = application.crm()
    try:
        actor = crm.actor(as_user)
    except NotFound as exc:
        raise _fail(
            f"There is no user '{as_user}'. Run `warroom seed` for the demo users."
        ) from exc
    if account is not None and not Visibility.load(crm.db, actor).account(account):
        raise _fail(messages.no_account("--account", account))


class _Progress:
    """A progress bar over files and, inside the current file, the model's chunks; each
    file's outcome printed as a line above it."""

    def __init__(self, out: Console, *, show: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.out = out
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            console=err_console, transient=True, disable=not show,
        )  # fmt: skip
        self.files = self.bar.add_task("files", total=None)
        self.chunks = self.bar.add_task("chunks", total=None, visible=False)

    def __enter__(self) -> _Progress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def file_started(self, path: str, number: int, total: int) -> None:
        self.bar.update(self.files, total=total, completed=number - 1,
                        description=f"file {escape(Path(path).name)}")  # fmt: skip
        self.bar.update(self.chunks, completed=0, total=None, visible=False)

    def chunk_done(self, done: int, total: int) -> None:
        self.bar.update(self.chunks, completed=done, total=total, visible=True,
                        description="chunks")  # fmt: skip

    def file_done(self, outcome: Any) -> None:
        path = getattr(outcome, "path", None) or outcome.source.get("path")
        style = "red" if outcome.outcome.startswith("refused") else "green"
        self.out.print(
            f"[{style}]{escape(str(path))}: {escape(outcome.outcome)}[/]", soft_wrap=True
        )
        if hasattr(outcome, "source"):
            self.bar.advance(self.files)


async def _run(application: Any, model: Any, **options: Any) -> Any:
    """`_ingest`, closing the model afterwards in the loop that used it."""
    try:
        return await _ingest(application, model, **options)
    finally:
        # Closed in the loop that used it: closing it from a new loop ends in
        # "RuntimeError: Event loop is closed" from the HTTP client's transports.
        if model is not None and hasattr(model, "aclose"):
            await model.aclose()


async def _ingest(
    application: Any,
    model: Any,
    *,
    path: Path | None,
    watch: Path | None,
    as_user: str,
    dry_run: bool,
    account: str | None,
    day_first: bool,
    strategy: str,
    json_out: Path | None,
    max_files: int | None,
    seconds: float | None,
    use_memory: bool,
    out: Console,
    show_progress: bool,
) -> Any:
    from channels.meetings import MeetingService
    from channels.meetings.result import IngestBatch, IngestFailure, MeetingResult
    from channels.meetings.watch import watch_folder
    from memory.checkpoint import open_async_checkpointer

    settings = application.settings
    crm = application.crm()
    account_memory = None
    if use_memory and not dry_run:
        from memory.account_memory import open_account_memory

        account_memory = open_account_memory(
            data_dir=settings.data_dir, chroma_url=settings.chroma_url,
            embeddings_base_url=settings.embeddings_base_url,
            embeddings_api_key=settings.embeddings_api_key,
            embeddings_model=settings.embeddings_model,
        )  # fmt: skip
    async with open_async_checkpointer(settings.resolved_database_url()) as saver:
        convo = application.conversation_service(model=model, checkpointer=saver, crm=crm)
        service = MeetingService(
            crm=crm, model=model, convo=convo, max_bytes=settings.ingest_max_bytes,
            memory=account_memory, review_ttl_hours=settings.review_ttl_hours,
            day_first=day_first, strategy=strategy,  # type: ignore[arg-type]
        )  # fmt: skip
        batch = IngestBatch()
        if watch is not None:

            def report(outcome: MeetingResult | IngestFailure) -> None:
                if isinstance(outcome, MeetingResult):
                    batch.results.append(outcome)
                    out.print(escape(outcome.summary()) + "\n")
                else:
                    batch.failures.append(outcome)
                out.print(f"{escape(outcome.outcome)}")

            out.print(f"Watching {watch} for transcripts (Ctrl-C to stop)…")
            await watch_folder(service, watch, actor_id=as_user, report=report, dry_run=dry_run,
                               max_files=max_files, seconds=seconds)  # fmt: skip
        else:
            assert path is not None
            with _Progress(out, show=show_progress) as bar:
                batch = await service.ingest_path(path, actor_id=as_user, dry_run=dry_run,
                                                  account_id=account, progress=bar)  # fmt: skip
            out.print(escape(batch.summary()))
    if json_out is not None:
        text = json.dumps(batch.to_list(), ensure_ascii=False, indent=2)
        if str(json_out) == "-":
            print(text)
        else:
            await asyncio.to_thread(json_out.write_text, text + "\n", encoding="utf-8")
    return batch


if __name__ == "__main__":
    app()
