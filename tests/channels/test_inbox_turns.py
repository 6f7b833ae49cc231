"""`channels.inbox.run_turn` when an event is taken over: a review outcome told into the
conversation after the turn was noted (the checkpoint moved, but no turn ran) does not make the
message look answered — its turn runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from channels.inbox import Inbox, run_turn
from tools.service import CRMService

THREAD = "slack:T1:C1:300.000"


def now() -> datetime:
    return datetime.now(UTC)


ANSWER = [{"agent": "sales", "reply": "Acme expansion closes Dec 31."}]


async def test_a_notice_told_after_the_note_is_no_turn(crm: CRMService) -> None:
    convo = ConversationService(crm=crm, model=ScriptedChatModel(ANSWER))
    config = {"configurable": {"thread_id": THREAD}}
    inbox = Inbox(crm.db, channel="slack", owner="dead", lease_seconds=60)
    assert inbox.put("EvT1", THREAD, {"user": "u-alice", "text": "Acme deal status"})
    [event] = inbox.take()
    before = await convo.graph.aget_state(config)
    mark = str((before.config or {}).get("configurable", {}).get("checkpoint_id") or "")
    inbox.note("EvT1", stage="turn", checkpoint=mark)  # ...and the worker was killed
    await convo._tell_requester(THREAD, "Maria Lopez approved: 25% discount.", "apr-9")
    later = Inbox(crm.db, channel="slack", owner="live", clock=lambda: now() + timedelta(minutes=2))
    [again] = later.take()  # the lease ran out
    assert again.stage == "turn" and again.checkpoint == mark
    turn = await run_turn(
        convo, thread_id=THREAD, user_id="u-alice", text="Acme deal status", stored=again
    )
    assert "Acme expansion closes Dec 31." in turn.reply
    assert event.event_id == again.event_id
