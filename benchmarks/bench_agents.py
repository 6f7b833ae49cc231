"""Conversation turns with the embedded local model: latency, feedback, model calls, tokens.

    python -m benchmarks.bench_agents [--repeat 1] [--only KIND] [--baseline]
                                      [--out out/bench_agents.json]

For 22 requests on the demo company (English and Chinese: account overview, record reads,
single writes, writes needing review, negotiation, small talk) it measures, per turn: wall
time, time to the first visible feedback (the first event a channel can show), time to the
reply, the time spent inside model calls, model calls and prompt tokens sent; for a question
about one record, whether that record was opened with its read tool. With --baseline, a single
agent shown every tool answers the same requests with the same model (prompt-token ratio).
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
from agents.llm_scripted import ScriptedChatModel
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
# (kind, user, request, record the answer must open or None)
REQUESTS: list[tuple[str, str, str, str | None]] = [
    ("overview", "u-alice", "What's open with Acme?", None),
    ("overview", "u-alice", "Where do we stand with Globex?", None),
    ("overview", "u-chen", "华星科技进展如何？", None),
    ("overview", "u-sam", "What's open with Helix?", None),
    (
        "read",
        "u-sam",
        "What's the latest on ticket tkt-helix-1? Give me a short summary of "
        "what the customer needs.",
        "tkt-helix-1",
    ),
    ("read", "u-sam", "Summarise ticket tkt-helix-2 for me.", "tkt-helix-2"),
    ("read", "u-alice", "What is the next step on opp-acme-1?", "opp-acme-1"),
    ("read", "u-dana", "When does project prj-helix go live and how many seats?", "prj-helix"),
    ("read", "u-chen", "商机 opp-huaxing-1 现在是什么阶段？", "opp-huaxing-1"),
    ("read", "u-sam", "Which P1 tickets breach SLA this week?", None),
    ("read", "u-alice", "What is my forecast for this quarter?", None),
    (
        "write",
        "u-alice",
        "Log a call with Jane at Acme: they want 200 seats, close by Dec 31.",
        None,
    ),
    (
        "write",
        "u-alice",
        "Create a task to send Acme the security questionnaire by next Friday.",
        None,
    ),
    (
        "write",
        "u-alice",
        "Log a call with Jane at Acme about pricing and create a task to send the quote by Friday.",
        None,
    ),
    ("write", "u-chen", "给华星科技记录一次电话：客户想在下周五前拿到报价。", None),
    ("review", "u-alice", "Give opp-acme-1 a 25% discount for the 200-seat expansion.", None),
    ("review", "u-chen", "给华星科技的商机 opp-huaxing-1 打八折。", None),
    ("review", "u-sam", "Escalate tkt-helix-1, it blocks 300 clinical users.", None),
    ("negotiation", "u-admin", "Close Helix at 500 seats with go-live Jan 4.", None),
    ("small talk", "u-alice", "thanks", None),
    ("small talk", "u-chen", "谢谢！", None),
    ("small talk", "u-sam", "hi", None),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# Kinds answered in code, without a model call: measurable with --offline.
OFFLINE_KINDS = ("overview", "small talk")


async def run(
    repeat: int, only: str | None = None, baseline: bool = False, offline: bool = False
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="warroom-bench-agents-"))
    url = f"sqlite:///{work / 'crm.sqlite3'}"
    db = Database(url)
    seed_demo(db, anchor=ANCHOR)
    crm = CRMService(db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=FixedClock.on(ANCHOR, 10))
    settings = load_settings(data_dir=work)
    # Offline: a model with an empty script, so any model call fails the turn visibly.
    model = ScriptedChatModel([]) if offline else build_chat_model(settings)
    rows: list[dict[str, Any]] = []
    requests = [
        r
        for r in REQUESTS
        if (only is None or r[0] == only) and (not offline or r[0] in OFFLINE_KINDS)
    ]
    try:
        async with open_async_checkpointer(url) as saver:
            convo = conversation_service(crm, model, checkpointer=saver)
            for round_ in range(repeat):
                for index, (kind, user, text, record) in enumerate(requests):
                    seen: list[tuple[float, dict[str, Any]]] = []
                    started = time.perf_counter()
                    turn = await convo.send(
                        thread_id=f"b-{round_}-{index}",
                        user_id=user,
                        text=text,
                        on_event=lambda e, seen=seen: seen.append((time.perf_counter(), e)),
                    )
                    wall = time.perf_counter() - started
                    total = turn.usage["total"]
                    opened = None
                    if record is not None:
                        opened = any(
                            e.get("type") == "tool"
                            and e.get("tool", "").startswith("get_")
                            and record in json.dumps(e.get("arguments"))
                            and e.get("ok")
                            for _, e in seen
                        )
                    row = {
                        "kind": kind,
                        "request": text,
                        "round": round_,
                        "wall_s": wall,
                        "first_feedback_s": (seen[0][0] - started) if seen else wall,
                        # The first streamed word of the reply; a reply built in code (no
                        # model) or not streamed is seen whole when the turn ends.
                        "first_reply_token_s": next(
                            (
                                at - started
                                for at, e in seen
                                if e.get("type") == "reply_delta" and e.get("text")
                            ),
                            wall,
                        ),
                        "llm_s": total.get("seconds", 0.0),
                        "calls": total.get("calls", 0),
                        "prompt_tokens": total.get("prompt_tokens", 0),
                        "evaluated_tokens": total.get("evaluated_tokens", 0),
                        "completion_tokens": total.get("completion_tokens", 0),
                        "record_opened": opened,
                        "regenerated": sum(
                            1 for _, e in seen if e.get("type") == "grounding" and e["regenerated"]
                        ),
                        "reply": turn.reply[:400],
                    }
                    if baseline:
                        base = await baseline_turn(crm, model, user, text, f"base-{round_}-{index}")
                        row["baseline_prompt_tokens"] = base["prompt_tokens"]
                        row["baseline_calls"] = base["calls"]
                    rows.append(row)
                    print(
                        f"{round_}:{index:2d} {kind:11s} {wall:6.1f}s feedback "
                        f"{row['first_feedback_s']:.2f}s llm {row['llm_s']:5.1f}s calls "
                        f"{row['calls']} prompt {row['prompt_tokens']:5d} evaluated "
                        f"{row['evaluated_tokens']:5d} first word "
                        f"{row['first_reply_token_s']:5.1f}s"
                        + (f" opened={opened}" if opened is not None else "")
                        + f" — {turn.reply[:80]!r}",
                        flush=True,
                    )
    finally:
        if hasattr(model, "aclose"):
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


def summarise(rows: list[dict[str, Any]], repeat: int) -> dict[str, Any]:
    def stats(selected: list[dict[str, Any]]) -> dict[str, Any]:
        walls = [r["wall_s"] for r in selected]
        opened = [r["record_opened"] for r in selected if r["record_opened"] is not None]
        return {
            "turns": len(selected),
            "turn_p50_s": statistics.median(walls),
            "turn_p95_s": percentile(walls, 95),
            "first_feedback_p50_s": statistics.median(r["first_feedback_s"] for r in selected),
            "first_feedback_max_s": max(r["first_feedback_s"] for r in selected),
            "first_reply_token_p50_s": statistics.median(
                r["first_reply_token_s"] for r in selected
            ),
            "llm_share": sum(r["llm_s"] for r in selected) / max(1e-9, sum(walls)),
            "model_calls_median": statistics.median(r["calls"] for r in selected),
            "model_calls_total": sum(r["calls"] for r in selected),
            "prompt_tokens_median": statistics.median(r["prompt_tokens"] for r in selected),
            "prompt_tokens_total": sum(r["prompt_tokens"] for r in selected),
            "evaluated_tokens_total": sum(r.get("evaluated_tokens", 0) for r in selected),
            "record_opened_rate": (sum(opened) / len(opened)) if opened else None,
        }

    kinds = sorted({r["kind"] for r in rows})
    return {
        "repeat": repeat,
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
            "runtime": os.environ.get("WARROOM_LOCAL_RUNTIME", "auto"),
        },
        "turns": rows,
        "per_kind": {kind: stats([r for r in rows if r["kind"] == kind]) for kind in kinds},
        "overall": stats(rows),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| kind | request | turn (s) | first feedback (s) | first reply word (s) | model calls "
        "| prompt tokens sent / evaluated | record opened |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["turns"]:
        opened = "" if r["record_opened"] is None else ("yes" if r["record_opened"] else "no")
        lines.append(
            f"| {r['kind']} | {r['request']} | {r['wall_s']:.1f} | {r['first_feedback_s']:.2f} "
            f"| {r['first_reply_token_s']:.1f} | {r['calls']} "
            f"| {r['prompt_tokens']} / {r.get('evaluated_tokens', 0)} | {opened} |"
        )
    lines += [
        "",
        "| kind | turns | turn p50 (s) | turn p95 (s) | calls (median) | prompt tokens (median) |",
        "|---|---|---|---|---|---|",
    ]
    for kind, k in result["per_kind"].items():
        lines.append(
            f"| {kind} | {k['turns']} | {k['turn_p50_s']:.1f} | {k['turn_p95_s']:.1f} | "
            f"{k['model_calls_median']:.0f} | {k['prompt_tokens_median']:.0f} |"
        )
    o = result["overall"]
    opened = o["record_opened_rate"]
    lines += [
        "",
        f"All {o['turns']} turns: p50 {o['turn_p50_s']:.1f} s, p95 {o['turn_p95_s']:.1f} s; "
        f"first feedback p50 {o['first_feedback_p50_s']:.2f} s (max "
        f"{o['first_feedback_max_s']:.2f} s); first reply token p50 "
        f"{o['first_reply_token_p50_s']:.1f} s; model share "
        f"{o['llm_share']:.0%}; {o['model_calls_total']} model calls, "
        f"{o['prompt_tokens_total']} prompt tokens sent, {o['evaluated_tokens_total']} "
        "evaluated"
        + (f"; record opened in {opened:.0%} of record questions." if opened is not None else "."),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", help="Only requests of this kind (overview, read, ...).")
    parser.add_argument("--baseline", action="store_true", help="Also run the single agent.")
    parser.add_argument(
        "--offline", action="store_true", help="Only the kinds answered without a model call."
    )
    parser.add_argument(
        "--prompt-cache-bytes",
        type=int,
        default=None,
        help="RAM prompt cache of llama-server (0: off; default 1 GiB).",
    )
    parser.add_argument(
        "--runtime",
        choices=["auto", "llama-server", "llama-cpp-python"],
        default=None,
        help="Server of the embedded model (default: the WARROOM_LOCAL_RUNTIME setting).",
    )
    parser.add_argument("--out", type=Path, default=Path("out/bench_agents.json"))
    args = parser.parse_args()
    if args.prompt_cache_bytes is not None:
        import agents.local_model_server as server

        server.PROMPT_CACHE_BYTES = args.prompt_cache_bytes
    if args.runtime is not None:
        os.environ["WARROOM_LOCAL_RUNTIME"] = args.runtime
    result = asyncio.run(run(args.repeat, args.only, args.baseline, args.offline))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(markdown(result))


if __name__ == "__main__":
    main()
