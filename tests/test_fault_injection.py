"""Kill -9 at every node boundary of a scenario with an approval, resume, and check that no
write happened twice and no review request was lost.

Each kill point runs the scenario in a subprocess (tests/faults/driver.py) that sends itself
SIGKILL at that boundary — before and after every checkpoint save, and after every CRM commit —
then runs it again to completion.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent


def drive(work: Path, kill_at: int | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "tests.faults.driver", str(work)]
    if kill_at is not None:
        args.append(str(kill_at))
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)


def state_of(work: Path) -> dict[str, object]:
    engine = create_engine(f"sqlite:///{work / 'crm.sqlite3'}")
    with engine.connect() as conn:
        commits = dict(
            conn.execute(
                text(
                    "select action, count(*) from audit_events where outcome = 'committed' "
                    "group by action"
                )
            ).all()
        )
        approvals = conn.execute(text("select status from approvals")).scalars().all()
        executions = conn.execute(text("select count(*) from tool_executions")).scalar()
        discount = conn.execute(
            text("select discount_percent from opportunities where id = 'opp-acme-1'")
        ).scalar()
    engine.dispose()
    return {
        "commits": commits,
        "approvals": approvals,
        "executions": executions,
        "discount": float(discount),
    }


def requester_notices(work: Path) -> int:
    import asyncio

    from agents.conversation import ConversationService
    from memory.checkpoint import open_async_checkpointer

    async def count() -> int:
        async with open_async_checkpointer(f"sqlite:///{work / 'crm.sqlite3'}") as saver:
            convo = ConversationService(crm=None, model=None, checkpointer=saver)  # type: ignore[arg-type]
            history = await convo.history("fault-thread")
        return sum("approved: 25% discount" in m["content"] for m in history)

    return asyncio.run(count())


EXPECTED = {
    "commits": {"log_activity": 1, "apply_discount": 1},
    "approvals": ["approved"],
    "executions": 2,
    "discount": 25.0,
}


def _label(work: Path, kill_at: int) -> str:
    lines = (work / "boundaries").read_text().splitlines() if (work / "boundaries").exists() else []
    return lines[kill_at - 1] if len(lines) >= kill_at else f"never reached ({len(lines)} seen)"


def kill_and_resume(base: Path, kill_at: int) -> dict[str, object]:
    work = base / f"kill-{kill_at:02d}"
    work.mkdir()
    killed = drive(work, kill_at)
    resumed = drive(work)
    return {
        "kill_at": kill_at,
        "killed_by_signal": killed.returncode == -signal.SIGKILL,
        "boundary": _label(work, kill_at),
        "killed_stderr": killed.stderr[-1500:],
        "resumed_ok": resumed.returncode == 0 and (work / "done").exists(),
        "stderr": resumed.stderr[-2000:],
        "state": state_of(work) if (work / "crm.sqlite3").exists() else None,
        "notices": requester_notices(work),
    }


def test_kill_at_every_boundary_then_resume(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    assert drive(reference).returncode == 0
    assert state_of(reference) == EXPECTED
    boundaries = (reference / "boundaries").read_text().splitlines()
    assert len(boundaries) >= 20  # every node of both threads, twice, plus the commits

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(lambda k: kill_and_resume(tmp_path, k), range(1, len(boundaries) + 1))
        )
    problems = [
        r
        for r in results
        if not (
            r["killed_by_signal"]
            and r["resumed_ok"]
            and r["state"] == EXPECTED
            and r["notices"] == 1
        )
    ]
    assert problems == [], json.dumps(problems, indent=1, default=str)
