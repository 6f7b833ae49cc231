"""`warroom ingest`: meeting transcripts (a file, a folder, or a watched folder) into the CRM.

Mounted by the main CLI with `app.add_typer(cli_ingest.app, name="ingest")`; the command is the
group's callback, so `warroom ingest PATH` works without a sub-command name.
"""

from __future__ import annotations

import asyncio
import json
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
    err_console.print(f"[bold red]error:[/] {escape(message)}")
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
        typer.Option("--json", help="Write the results as a JSON list to this file ('-': stdout)."),
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
) -> None:
    """Ingest transcripts; exits 1 when any file could not be read."""
    from warroom.cli_common import open_app as _app
    from warroom.cli_common import require_path

    if not as_user:
        raise _fail("Say who ingests: --as USER (or WARROOM_AS).")
    if (path is None) == (watch is None):
        raise _fail("Give a PATH to ingest, or --watch DIR (not both).")
    if watch is not None and not watch.is_dir():
        raise _fail(f"{watch}: there is no such folder to watch.")
    if path is not None:
        require_path(path, "PATH")  # before the model starts
    application = _app(entry="ingest")
    model = _model(llm, script)
    try:
        failures = asyncio.run(
            _run(
                application,
                model,
                path=path,
                watch=watch,
                as_user=as_user,
                dry_run=dry_run,
                account=account,
                json_out=json_out,
                max_files=max_files,
                seconds=timeout,
                use_memory=memory,
            )  # fmt: skip
        )
    except KeyboardInterrupt:
        console.print("[dim]Stopped watching.[/]")
        failures = 0
    except Exception as exc:
        from agents.llm_errors import LLMError

        if isinstance(exc, LLMError):
            raise _fail(exc.user_message) from exc
        raise
    finally:
        if model is not None and hasattr(model, "aclose"):
            asyncio.run(model.aclose())
    if failures:
        raise typer.Exit(code=1)


async def _run(
    application: Any,
    model: Any,
    *,
    path: Path | None,
    watch: Path | None,
    as_user: str,
    dry_run: bool,
    account: str | None,
    json_out: Path | None,
    max_files: int | None,
    seconds: float | None,
    use_memory: bool,
) -> int:
    from channels.meetings import MeetingService
    from channels.meetings.result import IngestBatch, IngestFailure, MeetingResult
    from channels.meetings.watch import watch_folder
    from memory.checkpoint import open_async_checkpointer
    from tools.errors import NotFound

    settings = application.settings
    crm = application.crm()
    try:
        crm.actor(as_user)
    except NotFound as exc:
        raise _fail(
            f"There is no user '{as_user}'. Run `warroom seed` for the demo users."
        ) from exc
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
        )  # fmt: skip
        batch = IngestBatch()
        if watch is not None:

            def report(outcome: MeetingResult | IngestFailure) -> None:
                if isinstance(outcome, MeetingResult):
                    batch.results.append(outcome)
                    console.print(escape(outcome.summary()) + "\n")
                else:
                    batch.failures.append(outcome)
                    err_console.print(f"[red]FAILED — {escape(outcome.reason)}[/]")

            console.print(f"Watching {watch} for transcripts (Ctrl-C to stop)…")
            await watch_folder(service, watch, actor_id=as_user, report=report, dry_run=dry_run,
                               max_files=max_files, seconds=seconds)  # fmt: skip
        else:
            assert path is not None
            batch = await service.ingest_path(path, actor_id=as_user, dry_run=dry_run,
                                              account_id=account)  # fmt: skip
            console.print(escape(batch.summary()))
    if json_out is not None:
        text = json.dumps(batch.to_list(), ensure_ascii=False, indent=2)
        if str(json_out) == "-":
            print(text)
        else:
            await asyncio.to_thread(json_out.write_text, text + "\n", encoding="utf-8")
    return len(batch.failures)


if __name__ == "__main__":
    app()
