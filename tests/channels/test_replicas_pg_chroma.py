"""Two replicas of the Slack app on one PostgreSQL database and one Chroma server, as
docs/SCALE_OUT.md deploys them: conversations, review decisions and ingestions (meeting
transcripts shared as Slack files, knowledge documents) reach both — each message answered once,
each transcript ingested once, each review applied and told once, and what one replica put in
the knowledge base found by the other."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from agents.conversation import ConversationService
from agents.llm_structured import parse_structured
from benchmarks.bench_slack import EchoModel
from channels.slack import cards
from memory.knowledge import KnowledgeBase
from memory.store import chroma_client
from tests.channels.slack_harness import CHANNEL, MARIA, OMAR, direct_message, mention, slack_stack
from tests.chroma_server import chroma_server
from tests.conftest import _truncate, small_company
from tests.knowledge.conftest import CachingEmbedder
from tests.meetings.conftest import ACME_EXTRACTION, FIXTURES
from tools.db import Database
from tools.fixtures import load_fixture
from tools.models import AuditEvent, MeetingIngestion, ToolExecution
from tools.service import CRMService

CONVERSATIONS, MESSAGES = 8, 2
T = TypeVar("T")


class ReplicaModel(EchoModel):
    """Echoes conversations (routed by rules) and reads every transcript as the Acme meeting."""

    def for_turn(self, budget: Any = None) -> ReplicaModel:
        return ReplicaModel(budget or self.budget.fresh())

    async def structured(self, *, agent: str, messages: Any, schema: Any) -> Any:
        if agent != "meetings":
            raise RuntimeError(f"no structured answer scripted for {agent}")
        return parse_structured(json.dumps(ACME_EXTRACTION), schema)


def replica_convo(crm: CRMService, checkpointer: Any) -> ConversationService:
    """Each replica's service on the one database's checkpoints, as in production."""
    return ConversationService(crm=crm, model=ReplicaModel(), checkpointer=checkpointer)  # type: ignore[arg-type]


def request_discount(crm: CRMService, user: str, opportunity: str, ts: str) -> str:
    """A held 25 % discount raised through the tool layer, told in a Slack thread."""
    actor = crm.actor(user)
    arguments = {"opportunity_id": opportunity, "percent": 25, "reason": "volume"}
    proposal = crm.propose("apply_discount", arguments, actor)
    [decision] = crm.classify([proposal], actor)  # type: ignore[list-item]
    thread = f"slack:T0001:{CHANNEL}:{ts}"
    row = crm.request_review(proposal, decision, thread_id=thread, ttl=timedelta(hours=72))  # type: ignore[arg-type]
    return str(row["id"])


async def on_worker(replica: Any, work: Coroutine[Any, Any, T]) -> T:
    """Run on the replica's worker loop, where its conversation service lives."""
    return await replica.channel.worker.run(work)


@pytest.fixture
def chroma_url(tmp_path: Path) -> Any:
    with chroma_server(tmp_path / "chroma-server") as url:
        yield url


async def test_two_replicas_on_one_postgres_and_one_chroma_server(
    tmp_path: Path, postgres_url: str, _postgres_db: Database, chroma_url: str
) -> None:
    _truncate(_postgres_db)
    load_fixture(_postgres_db, small_company())
    shared = {"database_url": postgres_url, "durable_convo": replica_convo, "real_meetings": True}
    async with (
        slack_stack(tmp_path / "a", **shared) as one,  # type: ignore[arg-type]
        slack_stack(tmp_path / "b", **shared) as two,  # type: ignore[arg-type]
    ):
        replicas = [one, two]

        # -- ingestions: the same transcript shared to both replicas at once, ingested once
        data = (FIXTURES / "acme-2026-11-20.vtt").read_bytes()
        for n, replica in enumerate(replicas):
            file = replica.fake.add_file(f"F{n}", "acme-2026-11-20.vtt", data)
            share = direct_message("", ts=f"90{n}.000", subtype="file_share", files=[file])
            assert (await replica.event(share, event_id=f"EvFILE{n}")).status == 200

        # -- knowledge documents through each replica's own client of the one Chroma server
        embedder = CachingEmbedder()
        kbs = [
            KnowledgeBase(
                client=chroma_client(data_dir=tmp_path / name, chroma_url=chroma_url),
                embedder=embedder,
                lexical_refresh_seconds=0.0,
            )
            for name in ("a", "b")
        ]
        sla = {"id": "sla", "title": "SLA", "text": "P1 tickets get a response within 1 hour."}
        onboarding = {"id": "onb", "title": "Onboarding", "text": "Kick-off within 5 days."}
        await asyncio.gather(
            asyncio.to_thread(kbs[0].add_documents, [sla]),
            asyncio.to_thread(kbs[1].add_documents, [sla, onboarding]),  # sla sent to both
        )

        # -- conversations over both replicas, a share re-sent to the other as Slack's retry
        async def conversation(c: int) -> None:
            thread_ts = f"{1000 + c}.000"
            for m in range(MESSAGES):
                ts = thread_ts if m == 0 else f"{1000 + c}.{m:03d}"
                event = mention(
                    f"How is the Acme pipeline? #c{c}-m{m}",
                    ts=ts,
                    thread_ts=None if m == 0 else thread_ts,
                )
                event_id = f"EvPC{c:03d}{m}"
                first = replicas[(c + m) % 2]
                assert (await first.event(event, event_id=event_id)).status == 200
                if (c + m) % 3 == 0:
                    other = replicas[(c + m + 1) % 2]
                    assert (await other.event(event, event_id=event_id, retry=1)).status == 200

        await asyncio.gather(*(conversation(c) for c in range(CONVERSATIONS)))

        # -- reviews: two more requests; every card clicked on both replicas at once
        crm = one.crm
        await one.wait_for(
            lambda: len(crm.reviews(status=None)) == 1, what="the meeting's review", within=60
        )
        requests = [
            *(r["id"] for r in crm.reviews(status=None)),
            request_discount(crm, "u-ben", "opp-globex-1", "2001.000"),
            request_discount(crm, "u-bob", "opp-helix-1", "2002.000"),
        ]
        reviewer = {requests[0]: MARIA, requests[1]: MARIA, requests[2]: OMAR}
        for replica, approval_id in zip(replicas, requests[1:], strict=True):
            await on_worker(replica, replica.channel.convo.open_review(approval_id))  # card out

        def card(approval_id: str) -> tuple[Any, tuple[str, str]] | None:
            channel = "D" + reviewer[approval_id].id
            for replica in replicas:
                try:
                    return replica, replica.card_of(approval_id, channel)
                except AssertionError:
                    continue
            return None

        for approval_id in requests:
            _, where = await one.wait_for(
                lambda a=approval_id: card(a), what=f"the card of {approval_id}", within=60
            )
            user = reviewer[approval_id].id
            await asyncio.gather(
                *(r.click(cards.APPROVE, approval_id, user=user, card=where) for r in replicas)
            )

        # -- every message answered once
        def answers() -> dict[str, int]:
            found: dict[str, int] = {}
            for text in one.fake.posted(CHANNEL) + two.fake.posted(CHANNEL):
                for marker in re.findall(r"Answer to (#c\d+-m\d+)", text):
                    found[marker] = found.get(marker, 0) + 1
            return found

        total = CONVERSATIONS * MESSAGES
        await one.wait_for(lambda: len(answers()) == total, what="every answer", within=60)

        def told(thread_ts: str, channel: str = CHANNEL) -> int:
            posts = one.fake.posted(channel, thread_ts) + two.fake.posted(channel, thread_ts)
            return sum("approved" in p for p in posts)

        await one.wait_for(
            lambda: told("2001.000") and told("2002.000"), what="the outcomes", within=60
        )
        await one.settle(within=60)
        await two.settle(within=60)
        counts = answers()
        assert set(counts.values()) == {1}, json.dumps({k: v for k, v in counts.items() if v != 1})
        assert one.fake.posted(CHANNEL) and two.fake.posted(CHANNEL)  # both did part of it

        # -- each review applied and told once
        statuses = {r["id"]: r["status"] for r in crm.reviews(status=None)}
        assert statuses == dict.fromkeys(requests, "approved")
        with crm.db.read_session() as session:
            assert session.scalar(select(func.count()).select_from(MeetingIngestion)) == 1
            committed = dict(
                session.execute(
                    select(AuditEvent.action, func.count())
                    .where(AuditEvent.outcome == "committed")
                    .group_by(AuditEvent.action)
                ).all()
            )
            executions = session.scalar(select(func.count()).select_from(ToolExecution))
        # the meeting: its activity, two tasks, the next step (low risk) and the amount
        # (approved); the two approved discounts — each once
        assert committed == {
            "log_activity": 1,
            "create_task": 2,
            "update_opportunity": 2,
            "apply_discount": 2,
        }, committed
        assert executions == sum(committed.values())
        assert told("2001.000") == 1 and told("2002.000") == 1
        meeting_thread = crm.reviews(status=None, approval_id=requests[0])[0]["thread_id"]
        channel, ts = meeting_thread.split(":")[2:4]
        assert told(ts, channel) == 1
        for approval_id in requests:  # once in the conversation as well (the told ledger)
            thread = crm.reviews(status=None, approval_id=approval_id)[0]["thread_id"]
            history = await on_worker(one, one.channel.convo.history(thread))
            notices = [m for m in history if "approved" in m["content"]]
            assert len(notices) == 1, (approval_id, history)

        # -- the knowledge one replica stored is found by the other, stored once
        for kb in kbs:
            hits = kb.search("response time for P1 tickets", k=2)
            assert "sla" in [h.source for h in hits]
        assert kbs[0].search("kick-off", k=1)[0].source == "onb"
        alone = KnowledgeBase(client=chroma_client(data_dir=tmp_path / "alone"), embedder=embedder)
        alone.add_documents([sla, onboarding])
        assert kbs[0]._collection.count() == alone._collection.count()  # no chunk twice
