"""A process killed after a step's tasks saved their writes but before the step's checkpoint:
the thread then looks finished (the writes show, no next node). The turn is carried on from the
checkpoint — not answered with a stale reply — and a review thread cut short while opening or
deciding still ends with the decision applied once and told once."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import func, select

from agents.conversation import ConversationService, cut_short
from agents.llm_scripted import ScriptedChatModel
from tests.faults.driver import SCRIPT
from tools.models import ToolExecution
from tools.service import CRMService

THREAD = "deal-1"
ASK = "Log a call with Jane at Acme and give a 25% discount"


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, nothing catches it."""


class DiesBeforeCheckpoint(InMemorySaver):
    """Dies just before saving the checkpoint of step `step` of a thread whose id starts with
    `prefix` — after that step's tasks saved their writes."""

    def __init__(self) -> None:
        super().__init__()
        self.armed: tuple[str, int] | None = None

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        thread = config["configurable"]["thread_id"]
        if (
            self.armed
            and thread.startswith(self.armed[0])
            and metadata.get("step") == self.armed[1]
        ):
            self.armed = None
            raise Killed
        return await super().aput(config, checkpoint, metadata, new_versions)


def executions(crm: CRMService) -> int:
    with crm.db.read_session() as session:
        return int(session.scalar(select(func.count()).select_from(ToolExecution)) or 0)


def restarted(crm: CRMService, saver: InMemorySaver) -> ConversationService:
    return ConversationService(crm=crm, model=ScriptedChatModel(SCRIPT), checkpointer=saver)


@pytest.mark.parametrize("step", [1, 2, 3])
async def test_a_turn_cut_short_is_carried_on_not_answered_stale(
    crm: CRMService, step: int
) -> None:
    saver = DiesBeforeCheckpoint()
    saver.armed = (THREAD, step)
    with pytest.raises(Killed):
        await restarted(crm, saver).send(thread_id=THREAD, user_id="u-alice", text=ASK)
    convo = restarted(crm, saver)
    snapshot = await convo.graph.aget_state({"configurable": {"thread_id": THREAD}})
    assert snapshot.next or cut_short(snapshot)  # unfinished, however it looks
    turn = await convo.resume(THREAD)
    assert turn is not None and "waits for Maria" in turn.reply
    assert executions(crm) == 1  # the logged call, once
    [review] = crm.reviews()
    decided = await convo.decide(
        approval_id=review["id"], reviewer_id="u-maria", decision="approve"
    )
    assert "approved" in decided.reply and executions(crm) == 2


@pytest.mark.parametrize("step", [0, 1, 2])
async def test_a_review_thread_cut_short_still_applies_and_tells_once(
    crm: CRMService, step: int
) -> None:
    saver = DiesBeforeCheckpoint()
    first = restarted(crm, saver)
    await first.send(thread_id=THREAD, user_id="u-alice", text=ASK)
    [review] = crm.reviews()
    # step 0: opening (before its wait); 1, 2: deciding and telling
    if step == 0:
        await saver.adelete_thread(f"review:{review['id']}")
        saver.armed = ("review:", 0)
        with pytest.raises(Killed):
            await restarted(crm, saver).open_review(review["id"])
    else:
        saver.armed = ("review:", step)
        with pytest.raises(Killed):
            await restarted(crm, saver).decide(
                approval_id=review["id"], reviewer_id="u-maria", decision="approve"
            )
    convo = restarted(crm, saver)
    await convo.recover()
    await convo.decide(approval_id=review["id"], reviewer_id="u-maria", decision="approve")
    assert crm.reviews(status=None)[0]["status"] == "approved"
    assert executions(crm) == 2
    history = await convo.history(THREAD)
    assert sum("approved" in m["content"] for m in history) == 1
