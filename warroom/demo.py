"""`warroom demo`: a non-interactive showcase on the demo company.

It builds the demo company, then walks through what the CRM layer guarantees: what each role
may see, a low-risk write committed at once, high-risk writes held for the right reviewer by the
policy, a refused write, a consent refusal, and the audit trail those left.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from tools.errors import ToolFailure
from tools.service import CRMService, GateDecision, Proposal
from warroom.app import App


def _say(console: Console, who: str, text: str) -> None:
    console.print(f"[bold magenta]{who}[/] › {text}")


def _attempt(
    console: Console, crm: CRMService, user: str, tool: str, args: dict[str, Any]
) -> tuple[Proposal | ToolFailure, GateDecision | None]:
    actor = crm.actor(user)
    console.print(f"  [dim]{actor.name} → {tool}({json.dumps(args, ensure_ascii=False)})[/]")
    proposal = crm.propose(tool, args, actor, thread_id="demo")
    if isinstance(proposal, ToolFailure):
        console.print(f"  [red]refused[/] {proposal.message}")
        return proposal, None
    decision = crm.classify([proposal], actor)[0]
    if decision.needs_review:
        console.print(
            f"  [yellow]held for review[/] by {', '.join(decision.reviewer_ids)} "
            f"({decision.reviewer_role}): {'; '.join(decision.reasons)}"
        )
        return proposal, decision
    outcome = crm.apply(proposal, decision, idempotency_key=f"demo:{proposal.id}", thread_id="demo")
    if isinstance(outcome, ToolFailure):
        console.print(f"  [red]failed[/] {outcome.message}")
    else:
        console.print(f"  [green]committed[/] {outcome.result['message']}")
    return proposal, decision


def run_crm_showcase(application: App, console: Console, *, anchor: date) -> dict[str, int]:
    from tools.seed import seed_demo

    counts = seed_demo(application.db, anchor=anchor, replace=True)
    console.print(
        Panel.fit(
            ", ".join(f"{n} {k}" for k, n in counts.items()),
            title="Demo company",
            border_style="cyan",
        )
    )
    crm = application.crm()

    console.rule("Who sees what")
    for user in ("u-alice", "u-sam", "u-maria"):
        actor = crm.actor(user)
        opp = crm.read("get_opportunity", {"opportunity_id": "opp-acme-1"}, actor)
        if not opp.get("ok"):
            console.print(f"{actor.name:<12} {opp['message']}")
            continue
        shown = {k: opp[k] for k in ("amount", "discount_percent", "cost", "margin_percent")}
        console.print(f"{actor.name:<12} ({', '.join(sorted(actor.roles))}) sees {shown}")
    listed = crm.read("list_accounts", {}, crm.actor("u-alice"))
    teams = sorted({a["team"] for a in listed["accounts"]})
    console.print(f"Alice's account list covers team(s) {teams} only.")

    console.rule("Writes through the policy gate")
    _say(console, "Alice", "log the call with Jane at Acme")
    _attempt(console, crm, "u-alice", "log_activity", {
        "account_id": "acc-acme", "kind": "call", "subject": "Call with Jane",
        "summary": "Jane wants 200 seats, close by Dec 31.", "contact_ids": ["con-jane"],
    })  # fmt: skip
    _say(console, "Alice", "give Acme 12 % off")
    _attempt(
        console,
        crm,
        "u-alice",
        "apply_discount",
        {"opportunity_id": "opp-acme-1", "percent": 12, "reason": "multi-year"},
    )
    _say(console, "Alice", "make that 25 % off")
    _attempt(
        console,
        crm,
        "u-alice",
        "apply_discount",
        {"opportunity_id": "opp-acme-1", "percent": 25, "reason": "200-seat expansion"},
    )
    _say(console, "Alice", "mark Acme expansion closed won")
    _attempt(
        console,
        crm,
        "u-alice",
        "update_opportunity",
        {"opportunity_id": "opp-acme-1", "stage": "closed_won"},
    )
    _say(console, "Alice", "discount Helix by 5 % (not her account)")
    _attempt(
        console,
        crm,
        "u-alice",
        "apply_discount",
        {"opportunity_id": "opp-helix-1", "percent": 5, "reason": "goodwill"},
    )
    _say(console, "Alice", "e-mail Raj at Acme (no e-mail consent)")
    _attempt(
        console,
        crm,
        "u-alice",
        "send_email",
        {"contact_id": "con-raj", "subject": "Quote", "body": "Hi Raj"},
    )
    _say(console, "Priya", "grant Helix a 2,000 USD SLA credit for the outage")
    _attempt(
        console,
        crm,
        "u-priya",
        "grant_sla_credit",
        {"account_id": "acc-helix", "amount": 2000, "reason": "P1 outage"},
    )
    _say(console, "Devon", "check delivery capacity for the next eight weeks")
    start = anchor.isoformat()
    end = date.fromordinal(anchor.toordinal() + 56).isoformat()
    cap = crm.read("check_capacity", {"start_date": start, "end_date": end}, crm.actor("u-dev"))
    table = Table("week", "free days", "fully booked", title="Delivery capacity")
    for week in cap["weeks"]:
        table.add_row(
            week["week_start"], str(week["free_days"]), "yes" if week["fully_booked"] else ""
        )
    console.print(table)

    console.rule("Audit trail")
    events = crm.audit_events(limit=20)
    audit = Table("actor", "action", "outcome", "record", title="Latest audit events")
    for event in events:
        audit.add_row(
            event.actor_id or "",
            event.action,
            event.outcome,
            f"{event.record_type or ''} {event.record_id or ''}",
        )
    console.print(audit)
    return counts


DEMO_CONVERSATIONS: list[tuple[str, str]] = [
    ("u-alice", "What's open with Acme?"),
    ("u-alice", "Log a call with Jane at Acme: they want 200 seats at 25% off, close by Dec 31."),
    ("u-sam", "Which P1 tickets breach SLA this week?"),
    ("u-dana", "When can we go live with Helix?"),
    ("u-chen", "华星科技有哪些进行中的商机？"),
]


async def run_conversations(application: App, console: Console) -> None:
    """A few conversations across the three agents, then what was written and what waits."""
    from agents.llm import build_chat_model
    from channels.terminal import say
    from memory.checkpoint import open_async_checkpointer

    settings = application.settings
    model = build_chat_model(settings)
    crm = application.crm(with_knowledge=True)
    started = crm.clock.now()
    try:
        async with open_async_checkpointer(settings.resolved_database_url()) as saver:
            convo = application.conversation_service(model=model, checkpointer=saver, crm=crm)
            for index, (user, text) in enumerate(DEMO_CONVERSATIONS, start=1):
                actor = crm.actor(user)
                console.rule(f"{actor.name} ({', '.join(sorted(actor.roles))})")
                console.print(f"[bold magenta]{actor.name}[/] › {text}")
                await say(console, convo, thread_id=f"demo-{index}", user_id=user, text=text)
    finally:
        await model.aclose()
    console.rule("Summary")
    written = [e for e in crm.audit_events(limit=200, since=started) if e.outcome == "committed"]
    table = Table("actor", "tool", "record", title="Written during the conversations")
    for event in written:
        table.add_row(event.actor_id or "", event.action, f"{event.record_type} {event.record_id}")
    console.print(table if written else "Nothing was written.")
    pending = [r for r in crm.reviews() if (r["created_at"] or "") >= started.isoformat()]
    waits = Table("request", "tool", "asked by", "reviewer", "why", title="Waiting for approval")
    for row in pending:
        waits.add_row(
            row["id"],
            row["tool"],
            row["requested_by"],
            ", ".join(row["reviewer_ids"]),
            "; ".join(row["reasons"]),
        )
    console.print(waits if pending else "Nothing waits for approval.")
