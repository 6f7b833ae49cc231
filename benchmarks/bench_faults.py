"""Randomized kill -9 points through the durable inbox, meeting ingestion and human review,
each followed by a restart as two replicas on one PostgreSQL server.

    python -m benchmarks.bench_faults [--points 1000] [--seed 18] [--shard 0/1] [--parallel 2]
                                      [--postgres | --postgres-url URL] [--replicas 2]
                                      [--minutes 0] [--out out/bench_faults.jsonl]

Each point runs tests/faults/inbox_driver.py on a fresh database (a copy of a migrated, seeded
template on the one server): a chat message is stored in the inbox (the ack) and a transcript
dropped in the watched folder; the replica takes the message, runs its turn (a logged call
commits at once, a 25 % discount waits for review), posts the reply, ingests the transcript
(three low-risk changes commit, the amount change waits for review) and approves both reviews.
The process is killed with SIGKILL at a point drawn at random (seeded, per point):
  - 80 % at a boundary of the reference run, counted inside the process (before/after every
    checkpoint save — a kill "before" lands inside the node that just ran —, after every CRM
    commit — between the write and its checkpoint —, after every review request and decision,
    after every inbox step, after the post);
  - 20 % from outside, after a random delay within the first 1.5 s (a run takes about 2 s):
    anywhere — inside a statement, between a checkpoint and the next node, ...
Then `--replicas` processes start at once on the same database and finish the work (a message
whose storing was cut short is delivered again, as Slack retries an unacknowledged event).

Checked per point against the reference run's final state: committed writes by tool, tool
executions, review requests and their statuses, the conversation's messages (the turn's reply,
each review outcome told once), meeting receipts, events left in the inbox, and the
acknowledged message answered (a reply posted again because the kill fell between the post and
marking the event done is counted as a duplicate reply, which the durable inbox allows).

Fast enough for a thousand points: the parent imports everything once and forks — lanes (one
per `--parallel`), and from each lane the killed run, the replicas and the checker — so no point
pays for starting Python; databases are copied from a template (`CREATE DATABASE ... TEMPLATE`).
Resumable: points already in the JSONL output are skipped. Sharded: `--shard i/k` runs the
points p with p % k == i.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

# Imported once here, inherited by every forked process.
from tests.faults import inbox_driver

TEMPLATE = "faults_template"
TIMED_SHARE = 0.2
# Timed kills land within this many seconds of the start (a reference run takes about 1.5-2 s
# on two cores; a constant, so that a resumed run draws the same points).
TIMED_WINDOW = 1.5
REPLICA_TIMEOUT = 120.0
INBOX_CHANNEL = "slack"


# ------------------------------------------------------------------ processes


def spawn(work: Path, fn: Callable[..., Any], *args: Any) -> int:
    """Fork a child running fn(*args); its stderr goes to work/stderr-<pid>, a failure's
    traceback to work/error-<pid>; exit status 0 or 1."""
    pid = os.fork()
    if pid != 0:
        return pid
    code = 1
    try:
        err = os.open(work / f"stderr-{os.getpid()}", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(err, 2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        fn(*args)
        code = 0
    except BaseException:
        (work / f"error-{os.getpid()}").write_text(traceback.format_exc())
    finally:
        os._exit(code)


def reap(pid: int, timeout: float) -> int:
    """The child's exit: its code, -signal when killed, or None-like -999 on timeout (killed)."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -999
        time.sleep(0.02)


def replica(work: Path, url: str, kill_at: int | None, acknowledge: bool) -> None:
    asyncio.run(inbox_driver.run(work, url, kill_at, acknowledge, seed=False))


# ------------------------------------------------------------------ databases


class Server:
    """One PostgreSQL server; a fresh database per point, copied from a seeded template."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.admin = self.url.set(drivername="postgresql", database="postgres")

    def _execute(self, *statements: str) -> None:
        import psycopg

        dsn = self.admin.render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]

    def url_of(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def prepare_template(self, work: Path) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"', f'CREATE DATABASE "{TEMPLATE}"')
        pid = spawn(work, _seed_template, self.url_of(TEMPLATE))
        if reap(pid, 300) != 0:
            raise SystemExit(f"preparing the template failed; see {work}")

    def fresh(self, name: str) -> str:
        self._execute(
            f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"'
        )
        return self.url_of(name)

    def drop(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}"')


def _seed_template(url: str) -> None:
    from memory.checkpoint import open_async_checkpointer
    from tests.conftest import small_company
    from tools.db import Database
    from tools.fixtures import load_fixture

    db = Database(url)
    load_fixture(db, small_company())
    db.dispose()

    async def checkpoint_tables() -> None:
        async with open_async_checkpointer(url):
            pass

    asyncio.run(checkpoint_tables())


# ------------------------------------------------------------------ the state after a point


def snapshot(url: str, out: Path) -> None:
    """What a point left (written as JSON to `out`, by a forked child)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from agents.conversation import ConversationService
    from memory.checkpoint import open_async_checkpointer

    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:

        def scalar(sql: str) -> int:
            return int(conn.execute(text(sql)).scalar() or 0)

        commits = dict(
            conn.execute(
                text(
                    "select action, count(*) from audit_events where outcome = 'committed' "
                    "group by action"
                )
            ).all()
        )
        state: dict[str, Any] = {
            "commits": commits,
            "approvals": sorted(conn.execute(text("select status from approvals")).scalars()),
            "executions": scalar("select count(*) from tool_executions"),
            "receipts": scalar("select count(*) from meeting_ingestions"),
            "queued": scalar("select count(*) from channel_events where status = 'queued'"),
            "told_notes": scalar("select count(*) from audit_events where action = 'told'"),
        }
        threads = list(
            conn.execute(
                text(
                    "select distinct thread_id from checkpoints where thread_id not like "
                    "'review:%' order by thread_id"
                )
            ).scalars()
        )
    engine.dispose()

    async def histories() -> dict[str, int]:
        """Each message of each conversation (the chat thread, the meeting's), counted."""
        async with open_async_checkpointer(url, pool_size=1) as saver:
            convo = ConversationService(crm=None, model=None, checkpointer=saver)  # type: ignore[arg-type]
            counted: Counter[str] = Counter()
            for thread in threads:
                for message in await convo.history(thread):
                    counted[f"{thread} | {message['content']}"] += 1
            return dict(counted)

    state["history"] = asyncio.run(histories())
    out.write_text(json.dumps(state))


def compare(got: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    actions = set(got["commits"]) | set(want["commits"])
    lost = {a: want["commits"].get(a, 0) - got["commits"].get(a, 0) for a in actions}
    extra_exec = got["executions"] - want["executions"]
    messages = set(got["history"]) | set(want["history"])
    history = {m: got["history"].get(m, 0) - want["history"].get(m, 0) for m in messages}
    turn_tools = ("log_activity", "apply_discount")
    reply_kept = all(got["history"].get(m, 0) >= n for m, n in want["history"].items())
    return {
        "lost_writes": sum(n for n in lost.values() if n > 0) + max(0, -extra_exec),
        "duplicated_writes": sum(-n for n in lost.values() if n < 0) + max(0, extra_exec),
        "lost_turn": any(lost.get(t, 0) > 0 for t in turn_tools) or not reply_kept,
        "lost_reviews": max(0, len(want["approvals"]) - len(got["approvals"]))
        + sum(s != "approved" for s in got["approvals"]),
        "duplicated_reviews": max(0, len(got["approvals"]) - len(want["approvals"])),
        "lost_messages": sum(n for n in history.values() if n < 0) * -1,
        "duplicated_messages": sum(n for n in history.values() if n > 0),
        "lost_ingestions": max(0, want["receipts"] - got["receipts"]),
        "queued_left": got["queued"],
    }


# ------------------------------------------------------------------ one point


def category_of(where: str) -> str:
    """Which of the kill categories a point fell in (from the boundary it was killed at, or the
    last one passed before a timed kill)."""
    phase, _, label = where.removeprefix("after ").partition(":")
    if phase == "ingest":
        return "during ingestion"
    if phase == "review":
        return "during review decisions"
    if phase in ("inbox", "before the first boundary") or label.startswith(
        ("after-inbox", "after-post")
    ):
        return "during inbox processing"
    if label.startswith(("after-commit", "after-review-request")):
        return "between a write and its checkpoint"
    return "inside nodes"


def plan_of(seed: int, point: int, boundaries: int) -> dict[str, Any]:
    rng = random.Random(f"{seed}:{point}")
    if rng.random() < TIMED_SHARE:
        return {"mode": "timed", "delay": round(rng.uniform(0.0, TIMED_WINDOW), 3)}
    return {"mode": "boundary", "kill_at": rng.randint(1, boundaries)}


def run_point(
    server: Server, base: Path, point: int, plan: dict[str, Any], want: dict[str, Any], n: int
) -> dict[str, Any]:
    work = base / f"point-{point:05d}"
    work.mkdir(parents=True, exist_ok=True)
    for old in work.iterdir():
        if old.is_file():
            old.unlink()
    name = f"fault_{point}"
    url = server.fresh(name)
    started = time.monotonic()
    kill_at = plan.get("kill_at")
    pid = spawn(work, replica, work, url, kill_at, True)
    if plan["mode"] == "timed":
        time.sleep(plan["delay"])
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    killed_code = reap(pid, REPLICA_TIMEOUT)
    lines = (work / "boundaries").read_text().splitlines() if (work / "boundaries").exists() else []
    if kill_at is not None:
        where = lines[kill_at - 1].split(" ", 1)[1] if len(lines) >= kill_at else "never reached"
    else:
        where = ("after " + lines[-1].split(" ", 1)[1]) if lines else "before the first boundary"
    acknowledged = (work / "acknowledged").exists()
    # Slack retries an event it got no ack for: the first replica receives it again.
    pids = [spawn(work, replica, work, url, None, i == 0 and not acknowledged) for i in range(n)]
    codes = [reap(p, REPLICA_TIMEOUT) for p in pids]
    checker = spawn(work, snapshot, url, work / "state.json")
    checked = reap(checker, REPLICA_TIMEOUT) == 0
    got = json.loads((work / "state.json").read_text()) if checked else None
    answers = (work / "answers").read_text().splitlines() if (work / "answers").exists() else []
    record: dict[str, Any] = {
        "point": point,
        **plan,
        "where": where,
        "phase": where.removeprefix("after ").split(":", 1)[0],
        "category": category_of(where),
        "killed": killed_code == -signal.SIGKILL,
        "acknowledged_before_kill": acknowledged,
        "replicas_ok": all(c == 0 for c in codes) and checked,
        "answered": len(answers) >= 1,
        "duplicate_answers": max(0, len(answers) - 1),
        "seconds": round(time.monotonic() - started, 2),
    }
    if got is not None:
        record.update(compare(got, want))
    failed = not record["replicas_ok"] or any(
        record.get(k) for k in ("lost_writes", "duplicated_writes", "lost_turn", "lost_reviews",
                                "duplicated_reviews", "lost_messages", "duplicated_messages",
                                "lost_ingestions", "queued_left")
    )  # fmt: skip
    if failed or not record["answered"]:
        record["errors"] = [p.read_text()[-1500:] for p in sorted(work.glob("error-*"))][:2]
        record["state"] = got
    else:
        server.drop(name)  # kept for a look when something was wrong
    return record


def lane(
    server: Server,
    base: Path,
    todo: list[tuple[int, dict[str, Any]]],
    want: dict[str, Any],
    replicas: int,
    out: Path,
    deadline: float | None,
) -> None:
    for point, plan in todo:
        if deadline is not None and time.monotonic() > deadline:
            return
        record = run_point(server, base, point, plan, want, replicas)
        line = (json.dumps(record) + "\n").encode()
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            os.write(fd, line)  # one append: lanes never interleave a line
        finally:
            os.close(fd)


def reference(server: Server, base: Path) -> tuple[list[str], dict[str, Any], float]:
    work = base / "reference"
    work.mkdir(parents=True, exist_ok=True)
    for old in work.iterdir():
        if old.is_file():
            old.unlink()
    url = server.fresh("fault_reference")
    started = time.monotonic()
    if reap(spawn(work, replica, work, url, None, True), REPLICA_TIMEOUT) != 0:
        raise SystemExit(f"the reference run failed; see {work}")
    seconds = time.monotonic() - started
    if reap(spawn(work, snapshot, url, work / "state.json"), REPLICA_TIMEOUT) != 0:
        raise SystemExit(f"reading the reference state failed; see {work}")
    want = json.loads((work / "state.json").read_text())
    if want["approvals"] != ["approved", "approved"] or want["queued"]:
        raise SystemExit(f"the reference run ended in an unexpected state: {want}")
    return (work / "boundaries").read_text().splitlines(), want, seconds


# ------------------------------------------------------------------ the run


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    def total(key: str) -> int:
        return sum(int(r.get(key) or 0) for r in records)

    return {
        "points": len(records),
        "killed_by_sigkill": sum(r["killed"] for r in records),
        "replica_failures": sum(not r["replicas_ok"] for r in records),
        "lost_turns": sum(bool(r.get("lost_turn")) for r in records),
        "lost_writes": total("lost_writes"),
        "duplicated_writes": total("duplicated_writes"),
        "lost_reviews": total("lost_reviews"),
        "duplicated_reviews": total("duplicated_reviews"),
        "lost_messages": total("lost_messages"),
        "duplicated_messages": total("duplicated_messages"),
        "lost_ingestions": total("lost_ingestions"),
        "events_left_in_inbox": total("queued_left"),
        "unanswered_messages": sum(not r["answered"] for r in records),
        "duplicate_replies": total("duplicate_answers"),
        "by_mode": dict(Counter(r["mode"] for r in records)),
        "by_category": dict(Counter(r.get("category") or category_of(r["where"]) for r in records)),
        "by_phase": dict(Counter(r["phase"] for r in records)),
        "by_boundary": dict(
            Counter(
                r["where"].removeprefix("after ").split(":", 1)[-1].split(" ")[0] for r in records
            )
        ),  # fmt: skip
        "median_seconds": sorted(r["seconds"] for r in records)[len(records) // 2]
        if records
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--shard", default="0/1", help="i/k: run the points p with p %% k == i")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL server")
    parser.add_argument("--postgres-url", help="an existing server (a database on it is used)")
    parser.add_argument("--parallel", type=int, default=2, help="points run at once")
    parser.add_argument("--minutes", type=float, default=0, help="stop starting points after")
    parser.add_argument("--work", type=Path, default=Path("out/bench_faults"))
    parser.add_argument("--out", type=Path, default=Path("out/bench_faults.jsonl"))
    args = parser.parse_args()
    try:
        index, count = (int(x) for x in args.shard.split("/"))
        if not 0 <= index < count:
            raise ValueError
    except ValueError:
        parser.error(f"--shard must be i/k with 0 <= i < k, not {args.shard!r}")
    if not (args.postgres or args.postgres_url):
        parser.error("the benchmark runs on PostgreSQL: give --postgres or --postgres-url")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    done = set()
    if args.out.exists():
        done = {json.loads(line)["point"] for line in args.out.read_text().splitlines() if line}
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else None
    started = time.monotonic()
    with ExitStack() as stack:
        url = args.postgres_url
        if url is None:
            from warroom.pgtemp import temporary_postgres

            url = stack.enter_context(temporary_postgres())
        server = Server(url)
        server.prepare_template(args.work)
        boundaries, want, seconds = reference(server, args.work)
        plans = [(p, plan_of(args.seed, p, len(boundaries))) for p in range(args.points)]
        todo = [(p, plan) for p, plan in plans if p % count == index and p not in done]
        lanes = []
        for i in range(max(1, args.parallel)):
            share = todo[i :: max(1, args.parallel)]
            lanes.append(
                spawn(
                    args.work,
                    lane,
                    server,
                    args.work,
                    share,
                    want,
                    args.replicas,
                    args.out,
                    deadline,
                )  # fmt: skip
            )
        for pid in lanes:
            reap(pid, 24 * 3600)
    records = [json.loads(line) for line in args.out.read_text().splitlines() if line]
    summary = {
        "benchmark": "faults",
        "seed": args.seed,
        "replicas": args.replicas,
        "database": "postgresql",
        "boundaries_in_reference_run": len(boundaries),
        "reference_run_seconds": round(seconds, 2),
        "this_run_points": len(records) - len(done),
        "this_run_minutes": round((time.monotonic() - started) / 60, 1),
        "load_average": os.getloadavg(),
        **summarise(records),
    }
    print(json.dumps(summary, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
