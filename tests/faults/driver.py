"""A scenario with an approval, run in its own process so a test can kill it with SIGKILL.

    python -m tests.faults.driver WORKDIR [KILL_AT]

Phase 1: Alice asks for a logged call and a 25 % discount (one write commits at once, one is held
for Maria). Phase 2: Maria approves. Every "boundary" — just before and just after each
checkpoint is saved, and just after each CRM commit — is counted; at boundary KILL_AT the
process sends itself SIGKILL, a real kill -9 with no cleanup. Run again without KILL_AT and it
picks up where the dead process left off. Boundary labels are appended to WORKDIR/boundaries.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import date
from pathlib import Path

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from memory.checkpoint import open_async_checkpointer
from tools.context import FixedClock
from tools.db import Database
from tools.fixtures import load_fixture
from tools.policy import Policy
from tools.service import CRMService
from warroom.settings import DEFAULT_POLICY_PATH

THREAD = "fault-thread"
LOG_CALL = {
    "account_id": "acc-acme",
    "kind": "call",
    "subject": "Call with Jane",
    "summary": "200 seats",
}
DISCOUNT = {"opportunity_id": "opp-acme-1", "percent": 25, "reason": "200 seats"}
SCRIPT = [
    {
        "agent": "sales",
        "tool_calls": [
            {"name": "log_activity", "arguments": LOG_CALL},
            {"name": "apply_discount", "arguments": DISCOUNT},
        ],
    },
    {"agent": "sales", "reply": "Logged; the discount waits for Maria."},
]


class Boundaries:
    def __init__(self, log: Path, kill_at: int | None) -> None:
        self.log, self.kill_at, self.count = log, kill_at, 0

    def hit(self, label: str) -> None:
        self.count += 1
        with self.log.open("a") as out:
            out.write(f"{self.count} {label}\n")
            out.flush()
            os.fsync(out.fileno())
        if self.count == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


def instrument(saver, crm: CRMService, boundaries: Boundaries) -> None:  # type: ignore[no-untyped-def]
    put = saver.aput

    async def aput(config, checkpoint, metadata, new_versions):  # type: ignore[no-untyped-def]
        thread = config["configurable"]["thread_id"]
        step = metadata.get("step")
        boundaries.hit(f"before-checkpoint {thread} step {step}")
        result = await put(config, checkpoint, metadata, new_versions)
        boundaries.hit(f"after-checkpoint {thread} step {step}")
        return result

    saver.aput = aput
    execute, decide = crm.execute, crm.decide_review

    def execute_then_boundary(*args, **kwargs):  # type: ignore[no-untyped-def]
        outcome = execute(*args, **kwargs)
        boundaries.hit(f"after-commit {args[0].tool}")
        return outcome

    def decide_then_boundary(*args, **kwargs):  # type: ignore[no-untyped-def]
        outcome = decide(*args, **kwargs)
        boundaries.hit("after-review-decision")
        return outcome

    crm.execute = execute_then_boundary  # type: ignore[method-assign]
    crm.decide_review = decide_then_boundary  # type: ignore[method-assign]


async def main(work: Path, kill_at: int | None) -> None:
    from tests.conftest import small_company

    url = f"sqlite:///{work / 'crm.sqlite3'}"
    db = Database(url)
    if not (work / "seeded").exists():
        load_fixture(db, small_company())
        (work / "seeded").touch()
    crm = CRMService(
        db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=FixedClock.on(date(2026, 11, 20), 12)
    )
    async with open_async_checkpointer(url) as saver:
        instrument(saver, crm, Boundaries(work / "boundaries", kill_at))
        convo = ConversationService(crm=crm, model=ScriptedChatModel(SCRIPT), checkpointer=saver)
        # Phase 1: the requester's turn — start it, or finish what a crash interrupted.
        snapshot = await convo.graph.aget_state({"configurable": {"thread_id": THREAD}})
        if not snapshot.values:
            await convo.send(
                thread_id=THREAD,
                user_id="u-alice",
                text="Log a call with Jane at Acme and give a 25% discount",
            )
        else:
            await convo.resume(THREAD)
        # Phase 2: after a restart, finish what a crash interrupted; then Maria approves.
        await convo.recover()
        for row in crm.reviews():
            await convo.decide(approval_id=row["id"], reviewer_id="u-maria", decision="approve")
    (work / "done").touch()


if __name__ == "__main__":
    kill = int(sys.argv[2]) if len(sys.argv) > 2 else None
    asyncio.run(main(Path(sys.argv[1]), kill))
