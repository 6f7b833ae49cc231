"""The requester kept in the loop: an open terminal hears of a decision taken in another process,
"while you were away" on start, and one inbox per person."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from channels.requester_watch import RequesterWatch
from memory.checkpoint import open_async_checkpointer
from tests.conftest import small_company
from tools.context import SystemClock
from tools.db import Database
from tools.fixtures import load_fixture
from tools.models import Project, Task
from tools.policy import Policy
from tools.service import CRMService
from tools.trail import trail
from tools.worklist import inbox
from warroom.settings import DEFAULT_POLICY_PATH

ROOT = Path(__file__).resolve().parents[2]


def sla_credit_steps() -> list[dict]:
    return [
        {
            "agent": "service",
            "tool_calls": [
                {
                    "name": "grant_sla_credit",
                    "arguments": {"account_id": "acc-acme", "amount": 500, "reason": "Outage"},
                }
            ],
        },
        {"agent": "service", "reply": "Asked support."},
    ]


def go_live_steps(day: str) -> list[dict]:
    return [
        {
            "agent": "delivery",
            "tool_calls": [
                {
                    "name": "schedule_go_live",
                    "arguments": {"project_id": "prj-acme", "go_live_date": day},
                }
            ],
        },
        {"agent": "delivery", "reply": "Asked delivery."},
    ]


async def ask(crm: CRMService, steps: list[dict], text: str, thread: str, checkpointer=None) -> str:
    convo = ConversationService(crm=crm, model=ScriptedChatModel(steps), checkpointer=checkpointer)
    turn = await convo.send(thread_id=thread, user_id="u-alice", text=text)
    [pending] = turn.outcome["pending"]
    return str(pending["approval_id"])


async def test_a_decision_in_another_process_reaches_the_open_terminal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    db = Database(url)
    load_fixture(db, small_company())
    crm = CRMService(db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=SystemClock())
    async with open_async_checkpointer(url) as saver:
        approval_id = await ask(
            crm, sla_credit_steps(), "Grant Acme a 500 USD SLA credit", "cli-u-alice-1", saver
        )
    watch = RequesterWatch(crm, "u-alice")
    assert watch.away() == []  # nothing decided yet
    out = io.StringIO()
    stop = asyncio.Event()
    running = asyncio.create_task(watch.run(Console(file=out, width=200), stop, interval=0.2))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "WARROOM_DATABASE_URL": url,
        "WARROOM_DATA_DIR": str(tmp_path),
    }
    decided = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "warroom", "review", "--as", "u-priya", "approve", approval_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert decided.returncode == 0, decided.stdout + decided.stderr
    for _ in range(50):  # bounded: 10 s
        if "approved" in out.getvalue():
            break
        await asyncio.sleep(0.2)
    stop.set()
    await running
    shown = out.getvalue()
    assert "Priya Shah approved: SLA credit 500 USD for Acme Corp" in shown, shown
    assert approval_id in shown
    assert watch.poll() == []  # told once
    told = [s for s in trail(crm, approval_id, crm.actor("u-alice")).steps if s.kind == "told"]
    assert {s.channel for s in told} >= {"terminal"}
    db.dispose()


async def test_while_you_were_away(crm: CRMService) -> None:
    with crm.db.session() as session:  # a later go-live, so that a pull-in can be countered
        session.get(Project, "prj-acme").go_live_date = date(2027, 2, 15)
    convo = ConversationService(crm=crm, model=ScriptedChatModel([]))
    approved = await ask(crm, sla_credit_steps(), "Grant Acme a 500 USD SLA credit", "cli-a-1")
    crm.clock.current += timedelta(minutes=5)  # type: ignore[attr-defined]
    countered = await ask(crm, go_live_steps("2027-01-06"), "Pull the Acme go-live in", "cli-a-2")
    crm.clock.current += timedelta(minutes=5)  # type: ignore[attr-defined]
    expiring = await ask(crm, go_live_steps("2027-01-20"), "Pull the Acme go-live in", "cli-a-3")
    await convo.decide(
        approval_id=approved,
        reviewer_id="u-priya",
        decision="edit",
        arguments={"amount": 300},
        comment="300 per the SLA terms",
    )
    await convo.decide(approval_id=countered, reviewer_id="u-dana", decision="approve")
    crm.clock.current += timedelta(hours=80)  # type: ignore[attr-defined]
    await convo.expire_due()
    assert crm.reviews(approval_id=expiring, status=None)[0]["status"] == "expired"

    out = io.StringIO()
    RequesterWatch(crm, "u-alice").print_away(Console(file=out, width=300))
    shown = out.getvalue()
    assert "While you were away:" in shown
    assert (
        "Priya Shah approved: SLA credit 300 USD for Acme Corp (you asked amount 500, Priya Shah "
        'approved 300) ("300 per the SLA terms"). It is done.' in shown
    ), shown
    assert "Dana Kim approved: move go-live of Acme onboarding to 2027-01-13" in shown
    assert "Your request expired without a decision" in shown
    assert shown.index(approved) < shown.index(countered) < shown.index(expiring)
    assert RequesterWatch(crm, "u-alice").away() == []  # told once per person


async def test_a_counter_made_while_away_is_news(crm: CRMService) -> None:
    with crm.db.session() as session:
        session.get(Project, "prj-acme").go_live_date = date(2027, 2, 15)
    countered = await ask(crm, go_live_steps("2027-01-06"), "Pull the Acme go-live in", "slack:x")
    news = RequesterWatch(crm, "u-alice").away()
    assert news == [
        "Delivery countered your request: go_live_date 2027-01-13 instead of go_live_date "
        "2027-01-06 (the earliest free week is 2027-01-11, with 6 free days); it waits for the "
        f"delivery lead. [{countered}]"
    ]
    watch = RequesterWatch(crm, "u-alice")
    watch.mark_seen([countered])
    assert watch.poll() == []


async def test_inbox_per_role(crm: CRMService) -> None:
    credit = await ask(crm, sla_credit_steps(), "Grant Acme a 500 USD SLA credit", "cli-a-1")
    crm.clock.current += timedelta(hours=2)  # type: ignore[attr-defined]
    crm.call(
        "create_task",
        {"subject": "Send the QBR deck", "due_date": "2026-11-27", "account_id": "acc-acme"},
        crm.actor("u-alice"),
    )
    with crm.db.session() as session:
        session.add(
            Task(
                id="tsk-queue",
                subject="Call Globex back",
                due_date=date(2026, 11, 18),
                owner_id=None,
                account_id="acc-globex",
                status="open",
            )
        )
    crm.clock.current += timedelta(hours=1)  # type: ignore[attr-defined]

    priya = inbox(crm, crm.actor("u-priya"))
    assert [(i.kind, i.id) for i in priya.items] == [  # oldest first
        ("team ticket", "tkt-helix-1"),
        ("team ticket", "tkt-acme-1"),
        ("cross-team request", credit),
    ]
    assert priya.items[-1].from_user == "Alice Wong" and priya.items[-1].age == "3h old"
    assert priya.items[0].age == "1d old"

    alice = inbox(crm, crm.actor("u-alice"))
    kinds = [(i.kind, i.title) for i in alice.items]
    assert kinds == [("team task", "Call Globex back"), ("task", "Send the QBR deck")]
    assert alice.items[1].age == "1h old"
    assert [i.id for i in alice.waiting_on_others] == [credit]

    ben = inbox(crm, crm.actor("u-ben"))  # same team: the unowned task is in his queue too
    assert [(i.kind, i.id) for i in ben.items] == [("team task", "tsk-queue")]

    sam = inbox(crm, crm.actor("u-sam"))  # support: the unassigned open tickets
    assert {(i.kind, i.id) for i in sam.items} == {
        ("team ticket", "tkt-acme-1"),
        ("team ticket", "tkt-helix-1"),
    }
    assert inbox(crm, crm.actor("u-dana")).items == []
    assert [i.kind for i in inbox(crm, crm.actor("u-omar")).items] == []
