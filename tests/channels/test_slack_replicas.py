"""Two replicas of the Slack app on one PostgreSQL database: conversations spread over both,
each message sent to one of them and a share re-sent to the other as Slack's retry — every
message answered exactly once."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from agents.conversation import ConversationService
from benchmarks.bench_slack import EchoModel
from tests.channels.slack_harness import CHANNEL, mention, slack_stack
from tests.conftest import _truncate, small_company
from tools.db import Database
from tools.fixtures import load_fixture
from tools.service import CRMService

CONVERSATIONS, MESSAGES = 20, 3


def echo(crm: CRMService) -> ConversationService:
    return ConversationService(crm=crm, model=EchoModel())  # type: ignore[arg-type]


async def test_two_replicas_on_one_postgres_answer_each_message_once(
    tmp_path: Path, postgres_url: str, _postgres_db: Database
) -> None:
    _truncate(_postgres_db)
    load_fixture(_postgres_db, small_company())
    shared = {"database_url": postgres_url, "convo_factory": echo}
    async with (
        slack_stack(tmp_path / "a", **shared) as one,  # type: ignore[arg-type]
        slack_stack(tmp_path / "b", **shared) as two,  # type: ignore[arg-type]
    ):
        replicas = [one, two]

        async def conversation(c: int) -> None:
            thread_ts = f"{1000 + c}.000"
            for m in range(MESSAGES):
                ts = thread_ts if m == 0 else f"{1000 + c}.{m:03d}"
                event = mention(
                    f"How is the Acme pipeline? #c{c}-m{m}",
                    ts=ts,
                    thread_ts=None if m == 0 else thread_ts,
                )
                event_id = f"EvR{c:03d}{m}"
                first = replicas[(c + m) % 2]
                assert (await first.event(event, event_id=event_id)).status == 200
                if (c + m) % 4 == 0:  # Slack's retry reaching the other replica
                    other = replicas[(c + m + 1) % 2]
                    assert (await other.event(event, event_id=event_id, retry=1)).status == 200

        await asyncio.gather(*(conversation(c) for c in range(CONVERSATIONS)))

        def answers() -> dict[str, int]:
            texts = one.fake.posted(CHANNEL) + two.fake.posted(CHANNEL)
            found: dict[str, int] = {}
            for text in texts:
                for marker in re.findall(r"Answer to (#c\d+-m\d+)", text):
                    found[marker] = found.get(marker, 0) + 1
            return found

        total = CONVERSATIONS * MESSAGES
        await one.wait_for(lambda: len(answers()) == total, what="every answer", within=240)
        await one.settle(within=60)
        await two.settle(within=60)
        counts = answers()
        assert len(counts) == total, json.dumps(counts)
        assert set(counts.values()) == {1}, json.dumps({k: v for k, v in counts.items() if v != 1})
        # both replicas did part of the work
        assert one.fake.posted(CHANNEL) and two.fake.posted(CHANNEL)
