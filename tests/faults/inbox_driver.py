"""A chat message and a meeting transcript through one replica, in a process a test or benchmark
kills with SIGKILL at a chosen boundary, then restarts as one or more replicas.

    python -m tests.faults.inbox_driver WORKDIR DATABASE_URL [--kill-at N] [--acknowledge]

`--acknowledge` plays the receiving side first: the chat message is stored in the inbox (what
the Slack ack waits for) and a transcript is dropped in WORKDIR/incoming (the watched folder).
Then the process works as a replica:
  inbox    takes inbox events with the channel's `InboxWorker` (short leases, so a dead
           replica's event is taken over quickly) and runs each turn with
           `channels.inbox.run_turn` (a logged call commits at once, a 25 % discount waits for
           Maria), "posts" the reply (a line in WORKDIR/answers), marks the event done;
  review   finishes interrupted review threads (`recover`) and approves what waits for Maria;
  ingest   ingests every transcript in WORKDIR/incoming (low-risk changes commit, the amount
           change waits for Maria), then reviews again.
Boundaries — before and after each checkpoint save, after each CRM commit, after each review
request and decision, after each inbox step, after the post — are counted in
WORKDIR/boundaries as "N phase:label"; at boundary N the process kills itself.

`run()` is the same in-process, for a benchmark that forks replicas from one warmed-up parent.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
from datetime import date
from pathlib import Path
from typing import Any

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from channels.inbox import Inbox, InboxEvent, InboxWorker
from channels.inbox import run_turn as _run_turn
from channels.meetings import MeetingService
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
LEASE_SECONDS = 3.0  # renewed every second while a turn runs
TRANSCRIPT = Path(__file__).resolve().parents[1] / "meetings" / "fixtures" / "acme-2026-11-20.vtt"
MEETING_DAY = date(2026, 11, 20)


def extraction() -> dict[str, Any]:
    from tests.meetings.conftest import ACME_EXTRACTION

    return ACME_EXTRACTION


class PhasedBoundaries(Boundaries):
    phase = "start"

    def hit(self, label: str) -> None:
        super().hit(f"{self.phase}:{label}")


def instrument_inbox(inbox: Inbox, boundaries: Boundaries) -> None:
    for name in ("put", "take", "note", "done"):
        original = getattr(inbox, name)

        def wrapped(*args, __original=original, __name=name, **kwargs):  # type: ignore[no-untyped-def]
            result = __original(*args, **kwargs)
            if __name != "take" or result:  # a poll that found nothing is no boundary
                boundaries.hit(f"after-inbox-{__name}")
            return result

        setattr(inbox, name, wrapped)


def instrument_requests(crm: CRMService, boundaries: Boundaries) -> None:
    request = crm.request_review

    def request_then_boundary(*args, **kwargs):  # type: ignore[no-untyped-def]
        outcome = request(*args, **kwargs)
        boundaries.hit("after-review-request")
        return outcome

    crm.request_review = request_then_boundary  # type: ignore[method-assign]


async def run(
    work: Path, url: str, kill_at: int | None, acknowledge: bool, *, seed: bool = True
) -> None:
    from tests.conftest import small_company

    db = Database(url)
    seeded = work / "seeded"
    if seed and not seeded.exists():
        load_fixture(db, small_company())
        seeded.touch()
    crm = CRMService(
        db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=FixedClock.on(MEETING_DAY, 12)
    )
    boundaries = PhasedBoundaries(work / "boundaries", kill_at)
    inbox = Inbox(db, channel="slack", lease_seconds=LEASE_SECONDS)
    instrument_inbox(inbox, boundaries)
    instrument_requests(crm, boundaries)
    incoming = work / "incoming"
    if acknowledge:
        boundaries.phase = "inbox"
        inbox.put(EVENT_ID, THREAD, {"user": "u-alice", "text": TEXT})
        with (work / "acknowledged").open("a") as out:
            out.write(EVENT_ID + "\n")
        incoming.mkdir(exist_ok=True)
        shutil.copyfile(TRANSCRIPT, incoming / ".acme.vtt.part")
        os.replace(incoming / ".acme.vtt.part", incoming / "acme.vtt")  # dropped whole
    async with open_async_checkpointer(url) as saver:
        instrument(saver, crm, boundaries)
        convo = ConversationService(crm=crm, model=ScriptedChatModel(SCRIPT), checkpointer=saver)

        async def handle(event: InboxEvent) -> None:
            boundaries.phase = "turn"
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
            boundaries.phase = "inbox"

        # the channel's inbox worker: leases renewed while the turn runs, done after the post
        boundaries.phase = "inbox"
        stop = asyncio.Event()
        worker = asyncio.create_task(InboxWorker(inbox, handle, poll_seconds=0.1).run(stop))
        for _ in range(600):  # at most 60 s: until no event is queued (ours or another's)
            if not await asyncio.to_thread(inbox.queued):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await worker
        # the discount is decided before the meeting's writes change the same opportunity
        await review(convo, crm, boundaries)
        boundaries.phase = "ingest"
        if incoming.exists():
            meetings = MeetingService(
                crm=crm, model=ScriptedChatModel(_meeting_script()), convo=convo
            )
            batch = await meetings.ingest_path(incoming, actor_id="u-alice")
            if batch.failures:
                raise RuntimeError(f"ingestion failed: {batch.failures}")
        await review(convo, crm, boundaries)
    db.dispose()
    (work / f"done-{os.getpid()}").touch()


async def review(convo: ConversationService, crm: CRMService, boundaries: PhasedBoundaries) -> None:
    """Finish what a crash interrupted, then Maria approves what waits for her."""
    boundaries.phase = "review"
    await convo.recover()
    for row in crm.reviews():
        await convo.decide(approval_id=row["id"], reviewer_id="u-maria", decision="approve")


def _meeting_script() -> list[dict[str, Any]]:
    return [{"agent": "meetings", "output": extraction()}]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("work", type=Path)
    parser.add_argument("url")
    parser.add_argument("--kill-at", type=int)
    parser.add_argument("--acknowledge", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args.work, args.url, args.kill_at, args.acknowledge))
