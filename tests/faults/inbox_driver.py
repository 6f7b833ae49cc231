"""A chat message through the durable inbox, in a process a test or benchmark kills with
SIGKILL at a chosen boundary, then restarts as one or more replicas.

    python -m tests.faults.inbox_driver WORKDIR DATABASE_URL [--kill-at N] [--acknowledge]

`--acknowledge` plays the channel's receiving side first: the message is stored in the inbox
(what the Slack ack waits for). Then the process works as a replica: takes inbox events with
the channel's `InboxWorker` (5 s leases, so a dead replica's event is taken over quickly), runs
each turn with `channels.inbox.run_turn` (a logged call commits at once, a 25 % discount waits
for Maria),
"posts" the reply (a line in WORKDIR/answers), marks the event done, finishes interrupted
review threads (`recover`), and approves what waits for Maria. Boundaries — before and after
each checkpoint save, after each CRM commit, after each inbox step, after the post, after the
review decision — are counted in WORKDIR/boundaries; at boundary N the process kills itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import date
from pathlib import Path

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from channels.inbox import Inbox, InboxEvent, InboxWorker
from channels.inbox import run_turn as _run_turn
from memory.checkpoint import open_async_checkpointer
from tests.faults.driver import SCRIPT, Boundaries, instrument
from tools.context import FixedClock
from tools.db import Database
from tools.fixtures import load_fixture
from tools.policy import Policy
from tools.service import CRMService
from warroom.settings import DEFAULT_POLICY_PATH

THREAD = "slack:T1:C1:100.000"
EVENT_ID = "EvFAULT1"
TEXT = "Log a call with Jane at Acme and give a 25% discount"
LEASE_SECONDS = 5.0  # renewed every 1.7 s while a turn runs


def instrument_inbox(inbox: Inbox, boundaries: Boundaries) -> None:
    for name in ("put", "take", "note", "done"):
        original = getattr(inbox, name)

        def wrapped(*args, __original=original, __name=name, **kwargs):  # type: ignore[no-untyped-def]
            result = __original(*args, **kwargs)
            if __name != "take" or result:  # a poll that found nothing is no boundary
                boundaries.hit(f"after-inbox-{__name}")
            return result

        setattr(inbox, name, wrapped)


async def main(work: Path, url: str, kill_at: int | None, acknowledge: bool) -> None:
    from tests.conftest import small_company

    db = Database(url)
    seeded = work / "seeded"
    if not seeded.exists():
        load_fixture(db, small_company())
        seeded.touch()
    crm = CRMService(
        db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=FixedClock.on(date(2026, 11, 20), 12)
    )
    boundaries = Boundaries(work / "boundaries", kill_at)
    inbox = Inbox(db, channel="slack", lease_seconds=LEASE_SECONDS)
    instrument_inbox(inbox, boundaries)
    if acknowledge:
        inbox.put(EVENT_ID, THREAD, {"user": "u-alice", "text": TEXT})
        with (work / "acknowledged").open("a") as out:
            out.write(EVENT_ID + "\n")
    async with open_async_checkpointer(url) as saver:
        instrument(saver, crm, boundaries)
        convo = ConversationService(crm=crm, model=ScriptedChatModel(SCRIPT), checkpointer=saver)

        async def handle(event: InboxEvent) -> None:
            turn = await _run_turn(
                convo,
                thread_id=event.conversation,
                user_id=str(event.payload["user"]),
                text=str(event.payload["text"]),
                stored=event,
                inbox=inbox,
            )
            with (work / "answers").open("a") as out:
                out.write(f"{event.event_id} {turn.reply!r}\n")
                out.flush()
                os.fsync(out.fileno())
            boundaries.hit("after-post")

        # the channel's inbox worker: leases renewed while the turn runs, done after the post
        stop = asyncio.Event()
        worker = asyncio.create_task(InboxWorker(inbox, handle, poll_seconds=0.2).run(stop))
        for _ in range(600):  # at most 60 s: until no event is queued (ours or another's)
            if not await asyncio.to_thread(inbox.queued):
                break
            await asyncio.sleep(0.1)
        stop.set()
        await worker
        await convo.recover()
        for row in crm.reviews():
            await convo.decide(approval_id=row["id"], reviewer_id="u-maria", decision="approve")
    db.dispose()
    (work / f"done-{os.getpid()}").touch()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("work", type=Path)
    parser.add_argument("url")
    parser.add_argument("--kill-at", type=int)
    parser.add_argument("--acknowledge", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.work, args.url, args.kill_at, args.acknowledge))
