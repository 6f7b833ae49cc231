"""Run a directory of scenarios (each `--repeat` times) and write results and the summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals.runner import LLMKind, ModelFactory, run_scenario
from evals.scenario import LoadFailure, ScenarioFile, load_scenarios
from evals.summary import ScenarioRuns, summarise, write_summary

__all__ = ["EvalSetupError", "build_real_model", "run_suite"]


class EvalSetupError(Exception):
    """The eval cannot start (no scenarios, no model endpoint); one sentence for the user."""


def build_real_model(llm: LLMKind) -> Any:
    """The model of `--llm local|openai`, built once for the whole suite."""
    from agents.llm import build_chat_model
    from warroom.settings import load_settings

    settings = load_settings()
    if llm == "openai":
        if not settings.uses_external_llm():
            raise EvalSetupError(
                "--llm openai needs an endpoint: set WARROOM_LLM_BASE_URL (and "
                "WARROOM_LLM_API_KEY), e.g. https://api.openai.com/v1."
            )
        return build_chat_model(settings)
    # local: the embedded model, even when an endpoint is configured for other commands.
    settings = settings.model_copy(update={"llm_base_url": None, "llm_api_key": None})
    return build_chat_model(settings)


async def run_suite(
    scenarios: Path,
    *,
    llm: LLMKind = "scripted",
    repeat: int = 1,
    out: Path | None = None,
    filter_text: str | None = None,
    model_factory: ModelFactory | None = None,
    progress: Callable[[dict[str, Any], int], None] | None = None,
    shard: tuple[int, int] | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Every scenario under `scenarios`, `repeat` times; returns the summary (also written to
    `out` with one `<id>.json` result per scenario and run, and a `<id>.trace.json`).

    `shard=(i, n)` runs the i-th of n interleaved slices (1-based; scenario k belongs to shard
    k mod n + 1), so n runs — one after another or on n machines — cover the suite once.
    `resume` reuses the results already written to `out` (an interrupted run goes on where it
    stopped); the summary covers them all."""
    items = _prepare(scenarios, out, filter_text)
    if shard is not None:
        index, count = shard
        if not 1 <= index <= count:
            raise EvalSetupError(
                f"--shard {index}/{count}: the shard must be between 1 and {count}."
            )
        items = [item for k, item in enumerate(items) if k % count == index - 1]
    entries: list[ScenarioRuns] = []
    for item in items:
        results = []
        for run in range(1, repeat + 1):
            ident = item.scenario.id if isinstance(item, ScenarioFile) else item.id
            suffix = f".run{run}" if repeat > 1 else ""
            saved = out / f"{ident}{suffix}.json" if out is not None else None
            if resume and saved is not None and saved.is_file():
                try:
                    results.append(json.loads(saved.read_text(encoding="utf-8")))
                    continue
                except ValueError:
                    pass  # a result cut off mid-write: run the scenario again
            trace: dict[str, Any] = {}
            result = await run_scenario(
                item, llm=llm, model_factory=model_factory, trace_sink=trace
            )
            results.append(result)
            if out is not None:
                _dump(out / f"{result['id']}{suffix}.json", result)
                if trace:
                    _dump(out / f"{result['id']}{suffix}.trace.json", trace)
            if progress:
                progress(result, run)
        scenario = item.scenario if isinstance(item, ScenarioFile) else None
        ident = item.scenario.id if isinstance(item, ScenarioFile) else item.id
        entries.append(ScenarioRuns(ident, scenario, results))
    summary = summarise(entries, llm=llm)
    if out is not None:
        write_summary(summary, out)
    return summary


def _prepare(
    scenarios: Path, out: Path | None, filter_text: str | None
) -> list[ScenarioFile | LoadFailure]:
    if not scenarios.exists():
        raise EvalSetupError(f"There is no scenario directory {scenarios}.")
    items = load_scenarios(scenarios, filter_text=filter_text)
    if not items:
        what = f" matching '{filter_text}'" if filter_text else ""
        raise EvalSetupError(f"No scenario files (*.yaml){what} under {scenarios}.")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    return items


def _dump(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
