"""Slack messages go through the durable inbox: stored before the ack, answered by whichever
process takes them — including events a dead process acknowledged and never answered, and turns
it finished without posting (answered from the checkpoint, the model not asked again)."""

from __future__ import annotations

import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from channels.inbox import Inbox
from channels.slack.threads import SlackThread
from tests.channels.slack_fake_api import BOT_USER, TEAM
from tests.channels.slack_harness import CHANNEL, mention, slack_stack
from tests.conftest import small_company
from tools.db import Database
from tools.fixtures import load_fixture
from tools.models import ChannelEvent

ACME = [{"agent": "sales", "reply": "Acme expansion closes Dec 31."}]


async def test_a_message_is_stored_before_the_ack_and_answered_once(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, steps=ACME) as slack:
        event = mention("Acme deal status", ts="700.000")
        assert (await slack.event(event, event_id="EvSTORED1")).status == 200
        with slack.crm.db.read_session() as session:
            row = session.get(ChannelEvent, ("slack", "EvSTORED1"))
            assert row is not None  # stored by the time the ack was sent
        await slack.wait_for(
            lambda: "Acme expansion closes Dec 31." in slack.fake.posted(CHANNEL, "700.000"),
            what="the answer",
        )
        assert (await slack.event(event, event_id="EvSTORED1", retry=1)).status == 200
        await slack.settle()
        with slack.crm.db.read_session() as session:
            row = session.get(ChannelEvent, ("slack", "EvSTORED1"))
            assert row is not None and row.status == "done" and row.payload is None
        assert slack.fake.posted(CHANNEL, "700.000").count("Acme expansion closes Dec 31.") == 1


async def test_what_a_dead_process_acknowledged_is_answered_after_a_restart(
    tmp_path: Path,
) -> None:
    async with slack_stack(tmp_path, steps=ACME * 2) as slack:
        db = slack.crm.db
        past = datetime.now(UTC) - timedelta(minutes=5)
        dead = Inbox(db, channel="slack", owner="dead-replica", clock=lambda: past)
        # 2. taken by a process that ran the whole turn and died before posting the reply
        done_event = mention("Acme deal status again", ts="900.000")
        done_thread = SlackThread(TEAM, CHANNEL, thread_ts="900.000")
        config = {"configurable": {"thread_id": done_thread.id}}
        before = await slack.channel.convo.graph.aget_state(config)
        mark = str((before.config or {}).get("configurable", {}).get("checkpoint_id") or "")
        with db.session() as session:  # leased for 2 more seconds by the dying process
            session.add(
                ChannelEvent(
                    channel="slack",
                    event_id="EvDEAD2",
                    received_at=past,
                    status="queued",
                    conversation=done_thread.id,
                    payload={"team": TEAM, "event": done_event, "bot_user_id": None},
                    attempts=1,
                    leased_by="dead-replica",
                    leased_until=datetime.now(UTC) + timedelta(seconds=2),
                    stage="turn",
                    checkpoint=mark,
                )
            )
        await slack.channel.convo.send(
            thread_id=done_thread.id, user_id="u-alice", text="Acme deal status again"
        )
        assert slack.model.remaining == 1
        # 1. acknowledged (stored) by a process that died before taking it (stored after the
        # turn above, so that the live worker's polling cannot run it first)
        event = mention("Acme deal status", ts="800.000")
        thread = SlackThread(TEAM, CHANNEL, thread_ts="800.000")
        assert dead.put("EvDEAD1", thread.id, {"team": TEAM, "event": event, "bot_user_id": None})
        # the live process takes both: the first at once, the second when its lease runs out
        assert slack.channel.inbox_worker is not None
        slack.channel.inbox_worker.wake()
        await slack.wait_for(
            lambda: slack.fake.posted(CHANNEL, "800.000") and slack.fake.posted(CHANNEL, "900.000"),
            what="both answers",
        )
        await slack.settle()
        assert "Acme expansion closes Dec 31." in slack.fake.posted(CHANNEL, "800.000")
        assert "Acme expansion closes Dec 31." in slack.fake.posted(CHANNEL, "900.000")
        assert slack.model.remaining == 0  # the finished turn was not run a second time
        with db.read_session() as session:
            statuses = session.scalars(
                select(ChannelEvent.status).where(ChannelEvent.event_id.in_(["EvDEAD1", "EvDEAD2"]))
            ).all()
        assert statuses == ["done", "done"]


async def test_a_message_is_acknowledged_without_bolt_and_the_apps_own_is_not_stored(
    tmp_path: Path,
) -> None:
    async with slack_stack(tmp_path, steps=ACME) as slack:
        through_bolt: list[str] = []
        dispatch = slack.channel.bolt.async_dispatch

        async def spy(request):  # type: ignore[no-untyped-def]
            through_bolt.append(request.body["event_id"])
            return await dispatch(request)

        slack.channel.bolt.async_dispatch = spy  # type: ignore[method-assign]
        event = mention("Acme deal status", ts="1000.000")
        assert (await slack.event(event, event_id="EvFAST1")).status == 200
        assert (await slack.event(event, event_id="EvFAST1", retry=1)).status == 200
        own = mention("a note to myself", user=BOT_USER, ts="1001.000")
        assert (await slack.event(own, event_id="EvOWN1")).status == 200
        assert through_bolt == ["EvOWN1"]  # verify, store, answer: Bolt only sees the rest
        await slack.wait_for(
            lambda: "Acme expansion closes Dec 31." in slack.fake.posted(CHANNEL, "1000.000"),
            what="the answer",
        )
        await slack.settle()
        with slack.crm.db.read_session() as session:
            assert session.get(ChannelEvent, ("slack", "EvOWN1")) is None
        assert slack.fake.posted(CHANNEL, "1000.000").count("Acme expansion closes Dec 31.") == 1
        assert slack.fake.posted(CHANNEL, "1001.000") == []


def gone_pid() -> int:
    probe = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
    return int(probe.stdout)  # the shell has exited and been waited for


async def test_on_start_the_server_resumes_the_turn_its_killed_predecessor_was_running(
    tmp_path: Path,
) -> None:
    """kill -9 of the server mid-turn leaves the event leased for a minute; the restarted
    server on the same host takes it at once instead of waiting for the lease to run out."""
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    db = Database(url)
    load_fixture(db, small_company())
    dead = gone_pid()
    killed = f"{socket.gethostname()[:30]}:{dead}:0badc0de"
    elsewhere = f"other-host:{dead}:0badc0de"
    for event_id, ts, owner in (("EvKILLED", "950.000", killed), ("EvOTHER", "960.000", elsewhere)):
        thread = SlackThread(TEAM, CHANNEL, thread_ts=ts)
        with db.session() as session:
            session.add(
                ChannelEvent(
                    channel="slack",
                    event_id=event_id,
                    received_at=datetime.now(UTC),
                    status="queued",
                    conversation=thread.id,
                    payload={
                        "team": TEAM,
                        "event": mention("Acme deal status", ts=ts),
                        "bot_user_id": None,
                    },
                    attempts=1,
                    leased_by=owner,
                    leased_until=datetime.now(UTC) + timedelta(seconds=60),
                    stage="turn",
                    checkpoint="",
                )
            )
    db.dispose()
    async with slack_stack(tmp_path / "app", steps=ACME * 2, database_url=url) as slack:
        await slack.wait_for(
            lambda: slack.fake.posted(CHANNEL, "950.000"), what="the resumed turn", within=15
        )
        await slack.settle()
        assert "Acme expansion closes Dec 31." in slack.fake.posted(CHANNEL, "950.000")
        # another host's lease may belong to a live replica: it is left to run out
        assert not slack.fake.posted(CHANNEL, "960.000")
