"""The Slack app under load: ack latency, lost or duplicated replies, throughput.

    python -m benchmarks.bench_slack [--conversations 50] [--messages 10] [--mode closed]
                                     [--retry-fraction 0.1] [--json out/bench_slack.json]

The real Slack app (Bolt over aiohttp, ConversationService, SQLite CRM and checkpoints) runs in
its own process on 127.0.0.1, as it would in production; this process plays Slack: it signs and
posts Events API deliveries to /slack/events and serves a local fake of the Slack Web API that
receives what the app sends. The model echoes a marker from each request (a scripted model:
no LLM), so every reply can be traced to the one message that caused it.

`--mode closed`: each conversation (a Slack thread) sends its next message when the previous
answer arrived, as a person would. `--mode burst`: every message is sent at once, the worst
case for the ack path. A share of deliveries is repeated as Slack's retries
(X-Slack-Retry-Num) to show that a retried event is answered once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import platform
import random
import re
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from slack_sdk.signature import SignatureVerifier

from agents.llm_budget import Budget, estimate_tokens
from agents.llm_types import ChatResult, Message, TokenUsage
from channels.slack.config import SlackConfig
from tests.channels.slack_fake_api import BOT_TOKEN, BOT_USER, TEAM, FakeSlackAPI

ANCHOR = date(2026, 11, 23)
SECRET = "bench-signing-secret"
REPS = ["u-alice", "u-ben", "u-bob", "u-chen"]
MARKER = re.compile(r"#c\d+-m\d+")
ACK_TARGET_P99_MS = 300.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class EchoModel:
    """A scripted model whose script is the request: it answers with the request's marker."""

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget.unlimited()

    def for_turn(self, budget: Budget | None = None) -> EchoModel:
        return EchoModel(budget or self.budget.fresh())

    async def chat(
        self,
        *,
        agent: str,
        messages: list[Message],
        tools: Any = None,
        tool_choice: Any = None,
        on_text: Any = None,
    ) -> ChatResult:
        users = [m for m in messages if m.get("role") == "user"]
        found = MARKER.findall(str(users[-1].get("content") if users else ""))
        text = f"Answer to {found[-1] if found else '?'}: Acme expansion is in proposal."
        usage = TokenUsage(estimate_tokens(messages), estimate_tokens(text))
        self.budget.charge(agent, usage, 0.0)
        return ChatResult(text=text, usage=usage, model="echo", finish_reason="stop")

    async def structured(self, *, agent: str, messages: list[Message], schema: Any) -> Any:
        raise RuntimeError("the benchmark's requests are routed by rules, not by the model")


# --------------------------------------------------------------------------- the app


def _serve_app(
    work: str,
    api_url: str,
    turns: int | None,
    dedupe: str,
    ready: Any,
    stop: Any,
    report: Any,
) -> None:
    """The app process: the production wiring with the echo model; reports its port."""
    asyncio.run(_app_main(Path(work), api_url, turns, dedupe, ready, stop, report))


async def _app_main(
    work: Path, api_url: str, turns: int | None, dedupe: str, ready: Any, stop: Any, report: Any
) -> None:
    from agents.conversation import ConversationService
    from channels.slack.server import build_channel, conversations_on, serving_http
    from channels.slack.worker import WorkerLoop
    from tools.context import FixedClock
    from tools.db import Database
    from tools.policy import Policy
    from tools.service import CRMService
    from warroom.app import App, conversation_service
    from warroom.settings import DEFAULT_POLICY_PATH, Settings

    url = f"sqlite:///{work / 'crm.sqlite3'}"
    settings = Settings(
        data_dir=work,
        database_url=url,
        identity_map_path=work / "identities.yaml",
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=api_url,
    )
    db = Database(url)
    crm = CRMService(db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=FixedClock.on(ANCHOR, 10))
    worker = WorkerLoop().start()

    def build(saver: Any) -> ConversationService:
        return conversation_service(crm, EchoModel(), checkpointer=saver)

    async with conversations_on(worker, database_url=url, build=build) as convo:
        config = SlackConfig.from_settings(settings, socket_mode=False)
        if turns:
            config = replace(config, max_concurrent_turns=turns)
        channel = build_channel(
            app=App(settings), convo=convo, config=config, ingest=None, worker=worker
        )
        if dedupe == "memory":  # comparison only: event ids remembered by this process alone
            from channels.slack.dedupe import RecentDeliveries

            channel.deliveries = RecentDeliveries()
        async with serving_http(channel, host="127.0.0.1", port=0) as base:
            ready.put(base)
            await asyncio.get_running_loop().run_in_executor(None, stop.wait)
            await channel.drain(60)
            report.put({"deliveries_remembered": len(channel.deliveries)})
    worker.stop()
    db.dispose()


# ------------------------------------------------------------------- playing Slack


@dataclass
class Tally:
    replies: Counter[str] = field(default_factory=Counter)
    arrived: dict[str, float] = field(default_factory=dict)
    waiting: dict[str, asyncio.Event] = field(default_factory=dict)


class BenchSlackAPI(FakeSlackAPI):
    """The fake Web API, also counting the answers per request marker."""

    def __init__(self, tally: Tally) -> None:
        super().__init__([])
        self.tally = tally

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        text = str(args.get("text") or "")
        if text.startswith("Answer to "):
            for marker in MARKER.findall(text)[:1]:
                self.tally.replies[marker] += 1
                self.tally.arrived.setdefault(marker, time.perf_counter())
                if marker in self.tally.waiting:
                    self.tally.waiting[marker].set()
        return super()._chat_postMessage(args)


@dataclass
class Sent:
    marker: str
    ack_ms: float
    status: int
    at: float
    retries_acked: int = 0


async def _deliver(
    session: aiohttp.ClientSession, url: str, verifier: SignatureVerifier, body: str, retry: int
) -> tuple[int, float]:
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": str(verifier.generate_signature(timestamp=stamp, body=body)),
    }
    if retry:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    started = time.perf_counter()
    async with session.post(url, data=body.encode(), headers=headers) as response:
        await response.read()
        return response.status, (time.perf_counter() - started) * 1000


async def _conversation(
    c: int,
    *,
    messages: int,
    url: str,
    session: aiohttp.ClientSession,
    tally: Tally,
    closed: bool,
    retry_fraction: float,
    rng: random.Random,
    answer_timeout: float,
) -> list[Sent]:
    verifier = SignatureVerifier(SECRET)
    channel, root = f"CBENCH{c % 5}", f"1700{c:06d}.000000"
    sent: list[Sent] = []
    for m in range(messages):
        marker = f"#c{c}-m{m}"
        tally.waiting[marker] = asyncio.Event()
        ts = root if m == 0 else f"1700{c:06d}.{m:06d}"
        event = {
            "type": "app_mention",
            "user": f"UBENCH{c}",
            "text": f"<@{BOT_USER}> how is the Acme pipeline? {marker}",
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
            **({"thread_ts": root} if m else {}),
        }
        body = json.dumps(
            {
                "type": "event_callback",
                "team_id": TEAM,
                "api_app_id": "ABENCH",
                "event": event,
                "event_id": f"Ev{c:03d}{m:03d}",
                "event_time": int(time.time()),
            }
        )
        at = time.perf_counter()
        status, ack_ms = await _deliver(session, url, verifier, body, 0)
        record = Sent(marker, ack_ms, status, at)
        sent.append(record)
        if rng.random() < retry_fraction:  # Slack believed the first delivery lost
            retry_status, _ = await _deliver(session, url, verifier, body, 1)
            record.retries_acked += retry_status == 200
        if closed:
            try:
                await asyncio.wait_for(tally.waiting[marker].wait(), timeout=answer_timeout)
            except TimeoutError:
                pass  # counted as lost below
    return sent


async def _play(args: argparse.Namespace, url: str, tally: Tally) -> dict[str, Any]:
    rng = random.Random(args.seed)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        results = await asyncio.gather(
            *[
                _conversation(
                    c,
                    messages=args.messages,
                    url=url,
                    session=session,
                    tally=tally,
                    closed=args.mode == "closed",
                    retry_fraction=args.retry_fraction,
                    rng=random.Random(rng.random()),
                    answer_timeout=args.answer_timeout,
                )
                for c in range(args.conversations)
            ]
        )
        sent = [s for conversation in results for s in conversation]
        # every answer due, or the deadline: a bounded wait
        every_answer = asyncio.gather(*(tally.waiting[s.marker].wait() for s in sent))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(every_answer, timeout=args.answer_timeout)
        await asyncio.sleep(0.5)  # room for a late duplicate to show up
        wall = time.perf_counter() - started
    acks = [s.ack_ms for s in sent]
    answered = [s for s in sent if s.marker in tally.arrived]
    reply_ms = [(tally.arrived[s.marker] - s.at) * 1000 for s in answered]
    last_answer = max(tally.arrived.values(), default=started)
    return {
        "deliveries": len(sent),
        "retried_deliveries": sum(s.retries_acked for s in sent),
        "non_200_acks": sum(s.status != 200 for s in sent),
        "ack_ms": {
            "p50": round(percentile(acks, 50), 1),
            "p90": round(percentile(acks, 90), 1),
            "p99": round(percentile(acks, 99), 1),
            "max": round(max(acks), 1),
            "mean": round(statistics.fmean(acks), 1),
        },
        "reply_ms": {
            "p50": round(percentile(reply_ms, 50), 1) if reply_ms else None,
            "p99": round(percentile(reply_ms, 99), 1) if reply_ms else None,
        },
        "lost_replies": sum(1 for s in sent if tally.replies[s.marker] == 0),
        "duplicated_replies": sum(1 for s in sent if tally.replies[s.marker] > 1),
        "throughput_replies_per_s": round(len(answered) / max(last_answer - started, 1e-9), 1),
        "wall_seconds": round(wall, 2),
    }


async def _run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    tally = Tally()
    fake = BenchSlackAPI(tally)
    await fake.start()
    context = mp.get_context("spawn")
    ready, report, stop = context.Queue(), context.Queue(), context.Event()
    app = context.Process(
        target=_serve_app,
        args=(str(work), fake.api_url, args.turns, args.dedupe, ready, stop, report),
        daemon=True,
    )
    app.start()
    try:
        base = await asyncio.get_running_loop().run_in_executor(None, ready.get, True, 120)
        figures = await _play(args, base + "/slack/events", tally)
        stop.set()
        app_report = await asyncio.get_running_loop().run_in_executor(None, report.get, True, 90)
        figures["app"] = app_report
        figures["web_api_calls"] = dict(Counter(c.method for c in fake.calls))
    finally:
        stop.set()
        app.join(timeout=30)
        if app.is_alive():
            app.terminate()
        await fake.stop()
    return figures


def _prepare(work: Path, conversations: int) -> None:
    from tools.db import Database
    from tools.seed import seed_demo

    db = Database(f"sqlite:///{work / 'crm.sqlite3'}")
    seed_demo(db, anchor=ANCHOR)
    db.dispose()
    mapping = {"slack": {f"UBENCH{c}": REPS[c % len(REPS)] for c in range(conversations)}}
    (work / "identities.yaml").write_text(yaml.safe_dump(mapping))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--messages", type=int, default=10, help="Messages per conversation.")
    parser.add_argument("--mode", choices=["closed", "burst"], default="closed")
    parser.add_argument("--retry-fraction", type=float, default=0.1)
    parser.add_argument("--answer-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--turns", type=int, help="Turns running at once in the app (default: the app's own)."
    )
    parser.add_argument(
        "--dedupe",
        choices=["database", "memory"],
        default="database",
        help="Where event ids are claimed: the CRM database (as shipped) or this process's "
        "memory (for comparison).",
    )
    parser.add_argument("--json", type=Path, help="Also write the figures as JSON here.")
    args = parser.parse_args()
    if args.conversations < 1 or args.messages < 1 or not 0 <= args.retry_fraction <= 1:
        parser.error("conversations and messages must be at least 1; retry-fraction in [0, 1]")
    with tempfile.TemporaryDirectory(prefix="warroom-bench-slack-") as tmp:
        work = Path(tmp)
        _prepare(work, args.conversations)
        figures = asyncio.run(_run(args, work))
    result = {
        "benchmark": "slack",
        "conversations": args.conversations,
        "messages_per_conversation": args.messages,
        "mode": args.mode,
        "dedupe": args.dedupe,
        "retry_fraction": args.retry_fraction,
        "concurrent_turns": args.turns or SlackConfig(bot_token="xoxb-").max_concurrent_turns,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **figures,
        "ack_p99_target_ms": ACK_TARGET_P99_MS,
        "ack_p99_within_target": figures["ack_ms"]["p99"] < ACK_TARGET_P99_MS,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
