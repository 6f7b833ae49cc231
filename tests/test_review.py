"""Human review: approve, reject, edit, wrong reviewer, double click, expiry, restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from agents.review import ReviewError
from memory.checkpoint import open_async_checkpointer
from tools.models import Approval, AuditEvent, Opportunity, ToolExecution
from tools.service import CRMService

DISCOUNT = [
    {
        "agent": "sales",
        "tool_calls": [
            {
                "name": "apply_discount",
                "arguments": {"opportunity_id": "opp-acme-1", "percent": 25, "reason": "200 seats"},
            }
        ],
    },
    {"agent": "sales", "reply": "The 25% discount waits for Maria."},
]


async def ask_for_discount(crm: CRMService, checkpointer=None) -> tuple[ConversationService, str]:
    convo = ConversationService(
        crm=crm, model=ScriptedChatModel(DISCOUNT), checkpointer=checkpointer
    )
    turn = await convo.send(thread_id="deal-1", user_id="u-alice", text="Give Acme a 25% discount")
    [pending] = turn.outcome["pending"]
    return convo, pending["approval_id"]


def discount(crm: CRMService) -> float:
    with crm.db.read_session() as s:
        return float(s.get(Opportunity, "opp-acme-1").discount_percent)


def writes(crm: CRMService) -> int:
    with crm.db.read_session() as s:
        return s.scalar(select(func.count()).select_from(ToolExecution)) or 0


async def test_approve_commits_once_and_tells_the_requester(crm: CRMService) -> None:
    convo, approval_id = await ask_for_discount(crm)
    assert discount(crm) == 0
    inbox = crm.reviews(reviewer_id="u-maria")
    assert [r["id"] for r in inbox] == [approval_id]
    assert inbox[0]["rule_ids"] == ["discount-above-15"] and inbox[0]["requested_by"] == "u-alice"
    assert inbox[0]["context"]["proposal"]["before"]["discount_percent"] == 0
    result = await convo.decide(
        approval_id=approval_id, reviewer_id="u-maria", decision="approve", comment="ok for Q4"
    )
    assert result.thread_id == "deal-1"
    assert result.reply.startswith("Maria Lopez approved: 25% discount on Acme expansion")
    assert discount(crm) == 25
    with crm.db.read_session() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "apply_discount")).one()
        assert event.approval_id == approval_id and event.actor_id == "u-alice"
        assert event.reason == "ok for Q4"
        assert s.get(Approval, approval_id).status == "approved"
    history = await convo.history("deal-1")
    assert history[-1]["content"] == result.reply
    # double click: nothing applied again, and the requester is not told twice
    again = await convo.decide(approval_id=approval_id, reviewer_id="u-maria", decision="approve")
    assert again.reply.startswith("Already approved")
    assert writes(crm) == 1 and len(await convo.history("deal-1")) == len(history)


async def test_reject_writes_nothing(crm: CRMService) -> None:
    convo, approval_id = await ask_for_discount(crm)
    result = await convo.decide(
        approval_id=approval_id, reviewer_id="u-maria", decision="reject", comment="too deep for Q4"
    )
    assert "rejected" in result.reply and "too deep for Q4" in result.reply
    assert discount(crm) == 0 and writes(crm) == 0
    # Newest first: the requester being told (on the decision trail), then the rejection.
    assert [e.outcome for e in crm.audit_events()][:2] == ["told", "rejected"]


async def test_edit_commits_the_reviewers_arguments(crm: CRMService) -> None:
    convo, approval_id = await ask_for_discount(crm)
    result = await convo.decide(
        approval_id=approval_id,
        reviewer_id="u-maria",
        decision="edit",
        arguments={"percent": 18},
        comment="18 is the most I can do",
    )
    assert "approved" in result.reply and discount(crm) == 18
    with crm.db.read_session() as s:
        assert s.get(Approval, approval_id).edited_arguments["percent"] == 18


async def test_only_the_addressed_reviewer_may_decide(crm: CRMService) -> None:
    convo, approval_id = await ask_for_discount(crm)
    for wrong in ("u-omar", "u-alice", "u-sam"):
        with pytest.raises(ReviewError, match="Only u-maria may decide"):
            await convo.decide(approval_id=approval_id, reviewer_id=wrong, decision="approve")
    assert discount(crm) == 0 and crm.reviews()[0]["status"] == "pending"
    # the request still waits, and the right reviewer can still decide it
    await convo.decide(approval_id=approval_id, reviewer_id="u-maria", decision="approve")
    assert discount(crm) == 25
    with pytest.raises(ReviewError, match="no review request"):
        await convo.decide(approval_id="appr-nope", reviewer_id="u-maria", decision="approve")


async def test_expiry_is_reported_to_the_requester(crm: CRMService, clock) -> None:
    convo, approval_id = await ask_for_discount(crm)
    clock.current += timedelta(hours=73)  # default time to live: 72 hours
    follow_up = ConversationService(
        crm=crm,
        model=ScriptedChatModel([{"agent": "sales", "reply": "Anything else?"}]),
        checkpointer=None,
    )
    follow_up.graph, follow_up.review_graph = convo.graph, convo.review_graph
    turn = await follow_up.send(
        thread_id="deal-1", user_id="u-alice", text="any news on Acme deals?"
    )
    assert turn.reply.startswith("Your request expired without a decision: 25% discount")
    assert crm.reviews(status="expired")[0]["id"] == approval_id
    with pytest.raises(ReviewError):
        await convo.decide(approval_id=approval_id, reviewer_id="u-maria", decision="approve")
    assert discount(crm) == 0 and writes(crm) == 0


async def test_decision_from_another_process_after_a_restart(
    crm: CRMService, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'threads.sqlite3'}"
    async with open_async_checkpointer(url) as saver:
        _, approval_id = await ask_for_discount(crm, saver)
    # a new service (as in another process, hours later) with a fresh checkpointer connection
    async with open_async_checkpointer(url) as saver:
        reviewer_side = ConversationService(
            crm=crm, model=ScriptedChatModel([]), checkpointer=saver
        )
        result = await reviewer_side.decide(
            approval_id=approval_id, reviewer_id="u-maria", decision="approve"
        )
        assert "approved" in result.reply and discount(crm) == 25
        assert (await reviewer_side.history("deal-1"))[-1]["content"] == result.reply


async def test_lost_review_thread_is_recovered(crm: CRMService) -> None:
    """A request recorded in the CRM whose review thread never opened (crash) still works."""
    convo, approval_id = await ask_for_discount(crm)
    fresh = ConversationService(crm=crm, model=ScriptedChatModel([]))  # empty checkpoints
    result = await fresh.decide(approval_id=approval_id, reviewer_id="u-maria", decision="approve")
    assert "approved" in result.reply and discount(crm) == 25 and writes(crm) == 1
