"""Concurrent conversations across replicas on one PostgreSQL database: no lost update.

    python -m benchmarks.bench_replica_conversations [--conversations 50] [--turns 3]
                                                     [--replicas 2] [--postgres-url URL]

`--conversations` conversations run at once, their messages spread over `--replicas` processes
through the durable inbox (message k of conversation c is received by replica (c + k) % n; any
replica may answer it; one conversation's turns run one after another, in order). Every turn
logs a call on Acme and sets the next step of the one Acme deal — all conversations write the
same row, the worst case for lost updates. The model is scripted by the message itself.

Checked: every message answered exactly once; every call logged once; every next-step write
either committed or refused as a conflict (optimistic locking) and never lost — the committed
writes form one chain of versions (the row's version went up by one per committed write, no two
writes committed on the same version) and the row holds the last one; every conversation's
checkpointed history holds each of its turns once, in order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from agents.llm_budget import Budget
from agents.llm_types import ChatResult, TokenUsage, ToolCall
from benchmarks.bench_faults import reap, spawn

# the request's own marker (the prompt also shows the account's recent calls and next step)
MARKER = re.compile(r"set the next step (#c\d+-t\d+)")
OPPORTUNITY = "opp-acme-1"


class MarkerModel:
    """Reads the marker #cC-tK of the last user message: first asks for the two writes, then,
    once their results are in, replies."""

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget.unlimited()

    def for_turn(self, budget: Budget | None = None) -> MarkerModel:
        return MarkerModel(budget or self.budget.fresh())

    async def chat(
        self,
        *,
        agent: str,
        messages: list[Any],
        tools: Any = None,
        tool_choice: Any = None,
        on_text: Any = None,
    ) -> ChatResult:
        last_user = max(i for i, m in enumerate(messages) if m.get("role") == "user")
        marker = MARKER.search(str(messages[last_user].get("content")))
        tag = marker.group(1) if marker else "#?"
        if any(m.get("role") == "tool" for m in messages[last_user:]):
            return ChatResult(text=f"Done {tag}.", usage=TokenUsage(1, 1), finish_reason="stop")
        calls = [
            ToolCall(
                id=f"{tag}-log",
                name="log_activity",
                arguments={
                    "account_id": "acc-acme",
                    "kind": "call",
                    "subject": f"Call {tag}",
                    "summary": "Spoke with Jane",
                },
            ),
            ToolCall(
                id=f"{tag}-next",
                name="update_opportunity",
                arguments={"opportunity_id": OPPORTUNITY, "next_step": f"Follow up {tag}"},
            ),
        ]
        return ChatResult(
            text=None, tool_calls=calls, usage=TokenUsage(1, 1), finish_reason="tool_calls"
        )

    async def structured(self, *, agent: str, messages: list[Any], schema: Any) -> Any:
        raise RuntimeError("these messages are routed by rules, not by the model")


def text_of(c: int, k: int) -> str:
    return f"Log a call with Jane at Acme and set the next step #c{c}-t{k}"


def thread_of(c: int) -> str:
    return f"slack:T1:C1:{1000 + c}.000"


def seed(url: str) -> None:
    from memory.checkpoint import open_async_checkpointer
    from tests.conftest import small_company
    from tools.db import Database
    from tools.fixtures import load_fixture

    db = Database(url)
    load_fixture(db, small_company())
    db.dispose()

    async def tables() -> None:
        async with open_async_checkpointer(url):
            pass

    asyncio.run(tables())


def replica(index: int, count: int, url: str, work: Path, conversations: int, turns: int) -> None:
    asyncio.run(_replica(index, count, url, work, conversations, turns))


async def _replica(
    index: int, count: int, url: str, work: Path, conversations: int, turns: int
) -> None:
    from datetime import date

    from agents.conversation import ConversationService
    from channels.inbox import Inbox, InboxEvent, InboxWorker, run_turn
    from memory.checkpoint import open_async_checkpointer
    from tools.context import FixedClock
    from tools.db import Database
    from tools.policy import Policy
    from tools.service import CRMService
    from warroom.settings import DEFAULT_POLICY_PATH

    db = Database(url, run_migrations=False)
    crm = CRMService(
        db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=FixedClock.on(date(2026, 11, 20), 12)
    )
    inbox = Inbox(db, channel="slack", lease_seconds=30)
    # this replica receives its share of the messages (in order within each conversation)
    mine = [
        (f"Ev{c:03d}-{k}", thread_of(c), {"user": "u-alice", "text": text_of(c, k)})
        for k in range(turns)
        for c in range(conversations)
        if (c + k) % count == index
    ]
    async with open_async_checkpointer(url, pool_size=20) as saver:
        convo = ConversationService(crm=crm, model=MarkerModel(), checkpointer=saver)  # type: ignore[arg-type]
        answers = work / f"answers-{index}"

        async def handle(event: InboxEvent) -> None:
            turn = await run_turn(
                convo,
                thread_id=event.conversation,
                user_id=str(event.payload["user"]),
                text=str(event.payload["text"]),
                stored=event,
                inbox=inbox,
            )
            with answers.open("a") as out:
                out.write(json.dumps({"event": event.event_id, "reply": turn.reply}) + "\n")

        stop = asyncio.Event()
        worker = InboxWorker(inbox, handle, concurrency=conversations, poll_seconds=0.1)
        running = asyncio.create_task(worker.run(stop))
        # A user sends the next message once the previous one is answered (by either replica).
        waiting = list(mine)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            finished = await asyncio.to_thread(done_events, db)
            if len(finished) == conversations * turns:
                break
            ready = [m for m in waiting if m[0].endswith("-0") or _previous(m[0]) in finished]
            if ready:
                await asyncio.to_thread(inbox.put_many, ready)
                waiting = [m for m in waiting if m not in ready]
                worker.wake()
            await asyncio.sleep(0.1)
        stop.set()
        await running
    db.dispose()


def done_events(db: Any) -> set[str]:
    from sqlalchemy import select

    from tools.models import ChannelEvent

    with db.read_session() as session:
        stmt = select(ChannelEvent.event_id).where(ChannelEvent.status == "done")
        return set(session.scalars(stmt))


def _previous(event_id: str) -> str:
    head, k = event_id.rsplit("-", 1)
    return f"{head}-{int(k) - 1}"


def check(url: str, work: Path, conversations: int, turns: int) -> dict[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from agents.conversation import ConversationService
    from memory.checkpoint import open_async_checkpointer

    answered: Counter[str] = Counter()
    replies: list[str] = []
    for path in work.glob("answers-*"):
        for line in path.read_text().splitlines():
            answered[json.loads(line)["event"]] += 1
            replies.append(json.loads(line)["reply"])
    told_committed = sum(f"Updated opportunity {OPPORTUNITY}" in r for r in replies)
    told_conflict = sum(f"Not done: opportunity {OPPORTUNITY}" in r for r in replies)
    expected = {f"Ev{c:03d}-{k}" for c in range(conversations) for k in range(turns)}
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        calls = Counter(
            conn.execute(
                text("select subject from activities where subject like 'Call #c%'")
            ).scalars()
        )
        updates = conn.execute(
            text(
                "select before, after from audit_events "
                "where action = 'update_opportunity' and outcome = 'committed' order by id"
            )
        ).all()
        version, next_step = conn.execute(
            text("select version, next_step from opportunities where id = :id"),
            {"id": OPPORTUNITY},
        ).one()
    engine.dispose()
    committed = list(updates)
    steps = [(u.after or {}).get("next_step") for u in committed]
    bases = [(u.before or {}).get("version") for u in committed]

    async def histories() -> dict[int, list[str]]:
        async with open_async_checkpointer(url, pool_size=2) as saver:
            convo = ConversationService(crm=None, model=None, checkpointer=saver)  # type: ignore[arg-type]
            found = {}
            for c in range(conversations):
                history = await convo.history(thread_of(c))
                found[c] = [m["content"] for m in history if m["role"] == "user"]
            return found

    users = asyncio.run(histories())
    histories_ok = sum(users[c] == [text_of(c, k) for k in range(turns)] for c in users)
    return {
        "messages": len(expected),
        "answered_once": sum(answered[e] == 1 for e in expected),
        "unanswered": sum(answered[e] == 0 for e in expected),
        "answered_twice": sum(answered[e] > 1 for e in expected),
        "calls_logged_once": sum(
            calls[f"Call #c{c}-t{k}"] == 1 for c, k in _pairs(conversations, turns)
        ),
        "next_step_committed": len(committed),
        "next_step_told_committed": told_committed,
        "next_step_told_conflict": told_conflict,
        # a write neither committed nor reported to its user as a conflict: a lost update
        "lost_updates": len(expected) - len(committed) - told_conflict,
        "version_went_up_by_commits": version == 1 + len(committed),
        "two_commits_on_one_version": len(bases) - len(set(bases)) if None not in bases else None,
        "row_holds_last_commit": bool(steps) and next_step == steps[-1],
        "histories_complete_in_order": histories_ok,
        "conflict_reply_example": next((r for r in replies if "Not done" in r), None),
    }


def _pairs(conversations: int, turns: int) -> list[tuple[int, int]]:
    return [(c, k) for c in range(conversations) for k in range(turns)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--postgres-url", help="an existing server (default: a throwaway one)")
    parser.add_argument("--work", type=Path, default=Path("out/bench_replica_conversations"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    for old in args.work.iterdir():
        if old.is_file():
            old.unlink()
    with ExitStack() as stack:
        url = args.postgres_url
        if url is None:
            from warroom.pgtemp import temporary_postgres

            url = stack.enter_context(temporary_postgres())
        if reap(spawn(args.work, seed, url), 300) != 0:
            raise SystemExit(f"seeding failed; see {args.work}")
        started = time.monotonic()
        pids = [
            spawn(
                args.work, replica, i, args.replicas, url, args.work, args.conversations, args.turns
            )  # fmt: skip
            for i in range(args.replicas)
        ]
        codes = [reap(pid, 900) for pid in pids]
        seconds = time.monotonic() - started
        result = check(url, args.work, args.conversations, args.turns)
    report = {
        "benchmark": "replica_conversations",
        "conversations": args.conversations,
        "turns": args.turns,
        "replicas": args.replicas,
        "replicas_ok": all(code == 0 for code in codes),
        "seconds": round(seconds, 1),
        "load_average": os.getloadavg(),
        **result,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
