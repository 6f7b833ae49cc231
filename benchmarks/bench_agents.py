"""Conversation turns with the embedded local model: latency, LLM share, prompt tokens.

    python -m benchmarks.bench_agents [--repeat 3] [--out out/bench_agents.json]

For five typical requests on the demo company it measures, per turn: wall time, the time spent
inside model calls, everything else (routing, tools, database, graph, checkpoints), and prompt
tokens. In the same run, a baseline single agent that is shown every tool answers the same
requests with the same model, so the prompt-token ratio compares like with like.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from agents.llm import build_chat_model
from agents.specialist import SpecialistRun
from memory.checkpoint import open_async_checkpointer
from tools.catalogue import REGISTRY
from tools.context import FixedClock
from tools.db import Database
from tools.policy import Policy
from tools.seed import seed_demo
from tools.service import CRMService
from warroom.app import conversation_service
from warroom.settings import DEFAULT_POLICY_PATH, load_settings

ANCHOR = date(2026, 11, 23)
REQUESTS: list[tuple[str, str]] = [
    ("u-alice", "What's open with Acme?"),
    ("u-alice", "Log a call with Jane at Acme: they want 200 seats, close by Dec 31."),
    ("u-sam", "Which P1 tickets breach SLA this week?"),
    ("u-dana", "When can we go live with Helix?"),
    ("u-alice", "What is my forecast for this quarter?"),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def run(repeat: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="warroom-bench-agents-"))
    url = f"sqlite:///{work / 'crm.sqlite3'}"
    db = Database(url)
    seed_demo(db, anchor=ANCHOR)
    crm = CRMService(db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=FixedClock.on(ANCHOR, 10))
    settings = load_settings(data_dir=work)
    model = build_chat_model(settings)
    rows: dict[str, dict[str, list[float]]] = {}
    try:
        async with open_async_checkpointer(url) as saver:
            convo = conversation_service(crm, model, checkpointer=saver)
            for round_ in range(repeat):
                for index, (user, text) in enumerate(REQUESTS):
                    started = time.perf_counter()
                    turn = await convo.send(
                        thread_id=f"b-{round_}-{index}", user_id=user, text=text
                    )
                    wall = time.perf_counter() - started
                    total = turn.usage["total"]
                    row = rows.setdefault(
                        text,
                        {
                            k: []
                            for k in (
                                "wall",
                                "llm",
                                "other",
                                "prompt",
                                "calls",
                                "base_prompt",
                                "base_wall",
                                "base_calls",
                            )
                        },
                    )
                    row["wall"].append(wall)
                    row["llm"].append(total["seconds"])
                    row["other"].append(wall - total["seconds"])
                    row["prompt"].append(total["prompt_tokens"])
                    row["calls"].append(total["calls"])
                    base = await baseline_turn(crm, model, user, text, f"base-{round_}-{index}")
                    row["base_prompt"].append(base["prompt_tokens"])
                    row["base_wall"].append(base["wall"])
                    row["base_calls"].append(base["calls"])
                    print(
                        f"{round_}:{index} {wall:6.1f}s llm {total['seconds']:6.1f}s "
                        f"prompt {total['prompt_tokens']:5d} (baseline "
                        f"{base['prompt_tokens']:5d}) — {turn.reply[:70]!r}",
                        flush=True,
                    )
    finally:
        await model.aclose()
        db.dispose()
    return summarise(rows, repeat)


async def baseline_turn(
    crm: CRMService, model: Any, user: str, text: str, thread: str
) -> dict[str, Any]:
    """One agent shown every tool of the catalogue, same loop, same model."""
    turn_model = model.for_turn()
    run_ = SpecialistRun(
        name="sales",
        crm=crm,
        model=turn_model,
        actor=crm.actor(user),
        thread_id=thread,
        turn=1,
        toolset=tuple(REGISTRY.names()),
        prompt_name="single_agent",
    )
    started = time.perf_counter()
    await run_.run(text, [], "", lambda _event: None)
    total = turn_model.budget.report()["total"]
    return {
        "prompt_tokens": total["prompt_tokens"],
        "calls": total["calls"],
        "wall": time.perf_counter() - started,
    }


def summarise(rows: dict[str, dict[str, list[float]]], repeat: int) -> dict[str, Any]:
    per_request = []
    all_wall, all_llm, all_other, prompt, base_prompt = [], [], [], [], []
    for text, row in rows.items():
        per_request.append(
            {
                "request": text,
                "turn_p50_s": statistics.median(row["wall"]),
                "turn_p95_s": percentile(row["wall"], 95),
                "llm_share": sum(row["llm"]) / sum(row["wall"]),
                "other_median_ms": statistics.median(row["other"]) * 1000,
                "prompt_tokens_median": statistics.median(row["prompt"]),
                "baseline_prompt_tokens_median": statistics.median(row["base_prompt"]),
                "llm_calls_median": statistics.median(row["calls"]),
                "baseline_llm_calls_median": statistics.median(row["base_calls"]),
            }
        )
        all_wall += row["wall"]
        all_llm += row["llm"]
        all_other += row["other"]
        prompt += row["prompt"]
        base_prompt += row["base_prompt"]
    return {
        "repeat": repeat,
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "per_request": per_request,
        "overall": {
            "turn_p50_s": statistics.median(all_wall),
            "turn_p95_s": percentile(all_wall, 95),
            "orchestration_share": sum(all_other) / sum(all_wall),
            "prompt_tokens_per_turn_median": statistics.median(prompt),
            "baseline_prompt_tokens_per_turn_median": statistics.median(base_prompt),
            "prompt_token_ratio": sum(prompt) / max(1, sum(base_prompt)),
        },
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| request | turn p50 (s) | turn p95 (s) | LLM share | other (ms, median) | "
        "prompt tokens (median) | baseline prompt tokens | calls / baseline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["per_request"]:
        lines.append(
            f"| {r['request']} | {r['turn_p50_s']:.1f} | {r['turn_p95_s']:.1f} | "
            f"{r['llm_share']:.1%} | {r['other_median_ms']:.0f} | "
            f"{r['prompt_tokens_median']:.0f} | {r['baseline_prompt_tokens_median']:.0f} | "
            f"{r['llm_calls_median']:.0f} / {r['baseline_llm_calls_median']:.0f} |"
        )
    o = result["overall"]
    lines += [
        "",
        f"All turns: p50 {o['turn_p50_s']:.1f} s, p95 {o['turn_p95_s']:.1f} s; orchestration "
        f"and tools {o['orchestration_share']:.2%} of turn time; prompt tokens per turn "
        f"{o['prompt_tokens_per_turn_median']:.0f} (median) vs "
        f"{o['baseline_prompt_tokens_per_turn_median']:.0f} for the single-agent baseline "
        f"(ratio of totals {o['prompt_token_ratio']:.0%}).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("out/bench_agents.json"))
    args = parser.parse_args()
    result = asyncio.run(run(args.repeat))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(markdown(result))


if __name__ == "__main__":
    main()
