"""`warroom eval`: run scenario files (spec/scenario-format.md) and summarise the results.

Mounted by the main CLI with `app.add_typer(cli_eval.app, name="eval")`; the command is the
group's callback, so `warroom eval --scenarios DIR` works without a sub-command name.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["app", "eval_command"]

app = typer.Typer(
    help="Run evaluation scenarios against a fresh CRM each and summarise the results.",
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


class LLMChoice(StrEnum):
    scripted = "scripted"
    local = "local"
    openai = "openai"


def _progress(result: dict[str, Any], run: int) -> None:
    mark = "[green]pass[/]" if result["passed"] else "[red]FAIL[/]"
    suffix = f" (run {run})" if run > 1 else ""
    console.print(f"{mark} {escape(result['id'])}{suffix} [dim]{result['seconds']:.2f}s[/]")
    for failed in (c for c in result["checks"] if not c["passed"]):
        console.print(
            f"     [red]✗ {escape(failed['name'])}[/]: {escape(failed['detail'])}",
            highlight=False,
        )


@app.callback(invoke_without_command=True)
def eval_command(
    scenarios: Annotated[
        Path, typer.Option("--scenarios", "-s", help="Directory (or file) of scenario YAML files.")
    ] = Path("evals/scenarios"),
    llm: Annotated[
        LLMChoice,
        typer.Option(
            help="scripted: replay each scenario's script; local: the embedded model; "
            "openai: the configured OpenAI-compatible endpoint."
        ),
    ] = LLMChoice.scripted,
    repeat: Annotated[int, typer.Option(min=1, help="Runs per scenario (for pass^k).")] = 1,
    out: Annotated[
        Path, typer.Option(help="Where results, summary.json/.md/.png are written.")
    ] = Path("out/evals"),
    filter_text: Annotated[
        str | None,
        typer.Option("--filter", help="Only scenarios whose id, file name or tag contains this."),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(help="Run only shard i of n ('i/n'), e.g. --shard 2/4."),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Keep the results already in --out; run only the missing ones.")
    ] = False,
) -> None:
    """Run every scenario under --scenarios; exits 1 when any scenario fails."""
    from evals.suite import EvalSetupError, build_real_model, run_suite

    kind = llm.value
    model: Any = None
    shard_of: tuple[int, int] | None = None
    if shard is not None:
        try:
            index, _, count = shard.partition("/")
            shard_of = (int(index), int(count))
        except ValueError:
            err_console.print(f"[red]--shard takes 'i/n' (e.g. 2/4), not '{escape(shard)}'.[/]")
            raise typer.Exit(code=2) from None
    try:
        if kind != "scripted":
            model = build_real_model(kind)  # type: ignore[arg-type]

        async def run_and_close() -> dict[str, Any]:
            # One event loop for the run and the model's close: the client's connections
            # belong to the loop that opened them.
            try:
                return await run_suite(
                    scenarios,
                    llm=kind,  # type: ignore[arg-type]
                    repeat=repeat,
                    out=out,
                    filter_text=filter_text,
                    model_factory=(lambda _scenario: model) if model is not None else None,
                    progress=_progress,
                    shard=shard_of,
                    resume=resume,
                )
            finally:
                if model is not None and hasattr(model, "aclose"):
                    await model.aclose()

        summary = asyncio.run(run_and_close())
    except EvalSetupError as exc:
        err_console.print(f"[red]{exc}[/]")
        raise typer.Exit(code=2) from exc
    except Exception as exc:
        from agents.llm_errors import LLMError

        if isinstance(exc, LLMError):
            err_console.print(f"[red]{exc.user_message}[/]")
            raise typer.Exit(code=2) from exc
        raise
    k = summary["repeat"]
    console.print(
        f"\n{summary['passed']}/{summary['scenarios']} scenarios passed"
        f" · pass rate {summary['pass_rate']} · pass^{k} {summary[f'pass^{k}']}"
        f" · approval precision {summary['approval_precision']}"
        f" recall {summary['approval_recall']}"
        f" · unauthorised writes {summary['unauthorised_writes']}"
        f" · injection success {summary['injection_success_rate']}"
        f" · {summary['seconds_per_scenario']} s/scenario"
    )
    console.print(f"Results in {out}/ (summary.md, summary.json, summary.png)")
    if summary["passed"] < summary["scenarios"]:
        raise typer.Exit(code=1)


if __name__ == "__main__":  # `python -m warroom.cli_eval` until the main CLI mounts `eval`
    app()
