"""Randomized kill -9 points through the durable inbox, restarted as several replicas.

    python -m benchmarks.bench_faults [--points 100] [--seed 18] [--shard 0/1] [--replicas 2]
                                      [--postgres] [--parallel 2] [--out out/bench_faults.jsonl]

Each point runs tests/faults/inbox_driver.py: a chat message is stored in the inbox (the ack),
then taken, its turn run (one write commits at once, one waits for review), its reply posted,
the review approved. The process kills itself with SIGKILL at a boundary drawn at random (seeded)
from every boundary of a reference run — before/after each checkpoint save, after each CRM
commit, after each inbox step (put, take, note, done), after the reply is posted, after the
review decision — so kills land inside nodes, between a write and its checkpoint, during the
review decision and during inbox processing. Then `--replicas` processes start at once on the
same database and finish the work.

Checked per point: every write committed exactly once (no lost turn, no duplicated write), the
review approved exactly once and its outcome told once, no event left in the inbox, and the
acknowledged message answered (at least once; a reply posted again because the kill fell
between the post and marking the event done is counted as a duplicate reply).

Resumable: points already in the JSONL output are skipped. Sharded: `--shard i/k` runs the
points p with p % k == i, so several machines (or terminals) can split a run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {
    "commits": {"log_activity": 1, "apply_discount": 1},
    "approvals": ["approved"],
    "executions": 2,
    "discount": 25.0,
}


def drive(work: Path, url: str, *flags: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "tests.faults.inbox_driver", str(work), url, *flags]
    return subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str], timeout: float = 180) -> tuple[int, str]:
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return process.returncode, (err or "")[-1500:]


def state_of(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    with engine.connect() as conn:
        commits = dict(
            conn.execute(
                text(
                    "select action, count(*) from audit_events where outcome = 'committed' "
                    "group by action"
                )
            ).all()
        )
        approvals = list(conn.execute(text("select status from approvals")).scalars())
        executions = conn.execute(text("select count(*) from tool_executions")).scalar()
        discount = conn.execute(
            text("select discount_percent from opportunities where id = 'opp-acme-1'")
        ).scalar()
        queued = conn.execute(
            text("select count(*) from channel_events where status = 'queued'")
        ).scalar()
    engine.dispose()
    return {
        "commits": commits,
        "approvals": approvals,
        "executions": executions,
        "discount": float(discount or 0),
        "queued": queued,
    }


def notices(url: str) -> int:
    from agents.conversation import ConversationService
    from memory.checkpoint import open_async_checkpointer
    from tests.faults.inbox_driver import THREAD

    async def count() -> int:
        async with open_async_checkpointer(url) as saver:
            convo = ConversationService(crm=None, model=None, checkpointer=saver)  # type: ignore[arg-type]
            history = await convo.history(THREAD)
        return sum("approved: 25% discount" in m["content"] for m in history)

    return asyncio.run(count())


class Databases:
    """A fresh database per point: a SQLite file, or a database on one PostgreSQL server."""

    def __init__(self, postgres_url: str | None) -> None:
        self.postgres_url = postgres_url

    def fresh(self, work: Path, name: str) -> str:
        if self.postgres_url is None:
            return f"sqlite:///{work / 'crm.sqlite3'}"
        admin = create_engine(self.postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.postgres_url.rsplit("/", 1)[0] + f"/{name}"


def reference(base: Path, dbs: Databases) -> list[str]:
    work = base / "reference"
    work.mkdir(parents=True, exist_ok=True)
    for old in work.iterdir():
        old.unlink()
    url = dbs.fresh(work, "ref")
    code, err = finish(drive(work, url, "--acknowledge"))
    if code != 0:
        raise SystemExit(f"the reference run failed:\n{err}")
    state = state_of(url)
    if {k: state[k] for k in EXPECTED} != EXPECTED:
        raise SystemExit(f"the reference run ended in an unexpected state: {state}")
    return (work / "boundaries").read_text().splitlines()


def run_point(base: Path, dbs: Databases, point: int, kill_at: int, replicas: int) -> dict:
    work = base / f"point-{point:05d}"
    work.mkdir(parents=True, exist_ok=True)
    for old in work.iterdir():
        old.unlink()
    url = dbs.fresh(work, f"p{point}")
    started = time.monotonic()
    killed_code, killed_err = finish(drive(work, url, "--acknowledge", "--kill-at", str(kill_at)))
    lines = (work / "boundaries").read_text().splitlines()
    boundary = lines[kill_at - 1] if len(lines) >= kill_at else "never reached"
    restarted = [drive(work, url) for _ in range(replicas)]
    results = [finish(p) for p in restarted]
    state = state_of(url)
    answers = (work / "answers").read_text().splitlines() if (work / "answers").exists() else []
    told = notices(url)
    commits = state["commits"]
    record = {
        "point": point,
        "kill_at": kill_at,
        "boundary": boundary.split(" ", 1)[-1],
        "killed": killed_code == -signal.SIGKILL,
        "replicas_ok": all(code == 0 for code, _ in results),
        "lost_turn": any(commits.get(t, 0) == 0 for t in EXPECTED["commits"]),  # type: ignore[attr-defined]
        "duplicated_writes": sum(max(0, n - 1) for n in commits.values())
        + max(0, int(state["executions"] or 0) - 2),
        "review_lost": state["approvals"] != ["approved"],
        "review_told": told,
        "queued_left": state["queued"],
        "answered": len(answers) >= 1,
        "duplicate_answers": max(0, len(answers) - 1),
        "seconds": round(time.monotonic() - started, 2),
    }
    if not record["replicas_ok"]:
        record["stderr"] = [err for code, err in results if code != 0][:1]
    if not record["killed"]:
        record["killed_stderr"] = killed_err
    return record


def summarise(records: list[dict]) -> dict[str, Any]:
    return {
        "points": len(records),
        "killed_by_sigkill": sum(r["killed"] for r in records),
        "replica_failures": sum(not r["replicas_ok"] for r in records),
        "lost_turns": sum(r["lost_turn"] for r in records),
        "duplicated_writes": sum(r["duplicated_writes"] for r in records),
        "lost_reviews": sum(r["review_lost"] for r in records),
        "reviews_told_not_once": sum(r["review_told"] != 1 for r in records),
        "events_left_in_inbox": sum(r["queued_left"] for r in records),
        "unanswered_messages": sum(not r["answered"] for r in records),
        "duplicate_replies": sum(r["duplicate_answers"] for r in records),
        "boundaries_hit": dict(Counter(r["boundary"].split(" ")[0] for r in records)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--shard", default="0/1", help="i/k: run the points p with p %% k == i")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL server")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=0, help="stop starting points after")
    parser.add_argument("--work", type=Path, default=Path("out/bench_faults"))
    parser.add_argument("--out", type=Path, default=Path("out/bench_faults.jsonl"))
    args = parser.parse_args()
    index, count = (int(x) for x in args.shard.split("/"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if args.out.exists():
        done = {json.loads(line)["point"] for line in args.out.read_text().splitlines() if line}
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else None
    with ExitStack() as stack:
        postgres_url = None
        if args.postgres:
            from warroom.pgtemp import temporary_postgres

            postgres_url = stack.enter_context(temporary_postgres())
        dbs = Databases(postgres_url)
        boundaries = reference(args.work, dbs)
        rng = random.Random(args.seed)
        plan = [(p, rng.randint(1, len(boundaries))) for p in range(args.points)]
        todo = [(p, k) for p, k in plan if p % count == index and p not in done]

        def one(item: tuple[int, int]) -> dict | None:
            if deadline is not None and time.monotonic() > deadline:
                return None
            record = run_point(args.work, dbs, item[0], item[1], args.replicas)
            with args.out.open("a") as out:
                out.write(json.dumps(record) + "\n")
            return record

        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            list(pool.map(one, todo))
    records = [json.loads(line) for line in args.out.read_text().splitlines() if line]
    summary = {
        "benchmark": "faults",
        "seed": args.seed,
        "replicas": args.replicas,
        "database": "postgresql" if args.postgres else "sqlite",
        "boundaries_in_reference_run": len(boundaries),
        **summarise(records),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
