"""A review outcome reaches the requester's conversation once: two replicas telling it at the
same moment, or a teller that died holding the claim, never make it appear twice or not at all;
and a review asked for twice at the same moment is one request."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy.orm import Session

from agents.conversation import ConversationService, notice_key
from tools.claims import ClaimLedger
from tools.models import Approval
from tools.service import CRMService, Proposal

THREAD = "slack:T1:C1:100.000"
MESSAGE = "Your request was approved: 25% discount on Acme."
KEY = notice_key("apr-1", THREAD, MESSAGE)


class SlowToLook(ConversationService):
    """Reads the conversation, then yields for a while before acting on what it read: the
    window in which another teller, having read the same, writes."""

    async def history(self, thread_id: str) -> list[dict[str, str]]:
        seen = await super().history(thread_id)
        await asyncio.sleep(0.05)
        return seen


def replicas(crm: CRMService, count: int = 2) -> list[ConversationService]:
    saver = InMemorySaver()  # one checkpoint store, as replicas share PostgreSQL
    return [SlowToLook(crm=crm, model=None, checkpointer=saver) for _ in range(count)]


async def count(convo: ConversationService) -> int:
    return sum(m["content"] == MESSAGE for m in await convo.history(THREAD))


async def test_two_concurrent_tellers_tell_the_outcome_once(crm: CRMService) -> None:
    one, two = replicas(crm)
    heard: list[Any] = []
    for convo in (one, two):
        convo.subscribe(requester_told=lambda t, m: _append(heard, (t, m)))
    await asyncio.gather(
        *(c._tell_requester(THREAD, MESSAGE, "apr-1") for c in (one, two, one, two))
    )
    assert await count(one) == 1
    assert heard == [(THREAD, MESSAGE)]  # the channel posts it once too


async def test_a_teller_that_died_holding_the_claim_is_taken_over(crm: CRMService) -> None:
    [convo] = replicas(crm, 1)
    convo._claim_ledger = ClaimLedger(crm.db, owner="this", lease_seconds=0.3)
    dead = ClaimLedger(crm.db, owner="elsewhere:1:dead", lease_seconds=0.3)
    assert dead.claim("notice", KEY) == "won"  # ...and the process was killed
    await convo._tell_requester(THREAD, MESSAGE, "apr-1")  # waits for the lease, then tells
    assert await count(convo) == 1
    assert dead.claim("notice", KEY) == "done"


async def test_a_teller_that_died_after_writing_is_not_repeated(crm: CRMService) -> None:
    [convo] = replicas(crm, 1)
    dead = ClaimLedger(crm.db, owner="elsewhere:1:dead", lease_seconds=0.1)
    assert dead.claim("notice", KEY) == "won"
    await convo.graph.aupdate_state(  # it wrote the notice, then was killed before marking it
        {"configurable": {"thread_id": THREAD}},
        {"history": [{"role": "assistant", "content": MESSAGE}]},
        as_node="respond",
    )
    await asyncio.sleep(0.15)
    await convo._tell_requester(THREAD, MESSAGE, "apr-1")
    assert await count(convo) == 1


async def _append(into: list[Any], item: Any) -> None:
    into.append(item)


def test_a_review_requested_at_the_same_moment_twice_is_one_request(
    crm: CRMService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two replicas ingesting one transcript both ask for the same review: the second insert
    finds the first one's row and returns it instead of failing."""
    actor = crm.actor("u-alice")
    args = {"opportunity_id": "opp-acme-1", "percent": 25, "reason": "volume"}
    proposal = crm.propose("apply_discount", args, actor, proposal_id="prop-same")
    assert isinstance(proposal, Proposal)
    [decision] = crm.classify([proposal], actor)
    first = crm.request_review(proposal, decision, thread_id=THREAD, ttl=timedelta(hours=1))
    looked = Session.get

    def not_yet_there(self: Session, entity: Any, ident: Any, **kw: Any) -> Any:
        if entity is Approval and not getattr(self, "_looked_once", False):
            self._looked_once = True  # type: ignore[attr-defined]
            return None  # the other replica's insert lands after this look
        return looked(self, entity, ident, **kw)

    monkeypatch.setattr(Session, "get", not_yet_there)
    second = crm.request_review(proposal, decision, thread_id=THREAD, ttl=timedelta(hours=1))
    assert second["id"] == first["id"]
    assert len(crm.reviews(status=None)) == 1
