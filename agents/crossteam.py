"""Cross-team requests on the agents' side: what the owning agent found, and its counter.

tools/crossteam.py turns a write the user may not make, but may ask another team for, into a
cross-team proposal. Before the policy gate classifies it, the owning agent looks at it with its
own tools — deterministic reads, facts computed in code, read with the requester's own
visibility (so support never sees deal money it asked about):

- delivery (go-live dates): the capacity of the target week; when it is fully booked, a counter
  with the same weekday in the earliest week that has room (for a pull-in, only when that week
  is still before the current go-live);
- service (escalations, SLA credits, tickets): the account's open tickets and SLA breaches;
- sales (concessions, close dates): the deal's stage and close date.

A counter replaces the proposal (the requester's own values are kept as `asked`); the lead
decides either way, and may edit back to what was asked. A request whose values the model took
only from data it read (agents/untrusted.py) is refused, not forwarded: nobody asked for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from agents.state import AgentReport, ProposedWrite, ToolTrace
from tools.context import Actor
from tools.crossteam import FACT, CrossTeamRequest, request_of
from tools.service import CRMService, Proposal

Emit = Callable[[dict[str, Any]], None]

CAPACITY_WEEKS = 26
MAX_FINDINGS = 5


async def prepare_requests(
    *,
    crm: CRMService,
    actor: Actor,
    reports: list[AgentReport],
    thread_id: str,
    emit: Emit,
) -> list[AgentReport]:
    """The reports with every cross-team proposal looked at by its owning agent: findings added,
    countered where its rules say so, or refused when its values come from data only."""
    done: list[AgentReport] = []
    for report in reports:
        kept: list[ProposedWrite] = []
        trace = [step.model_copy() for step in report.trace]
        for raw in report.proposals:
            request = request_of(raw.facts)
            if request is None:
                kept.append(raw)
                continue
            proposal = Proposal.model_validate(raw.model_dump(exclude={"agent"}))
            flags = proposal.facts.get("untrusted_arguments") or []
            if flags:
                await asyncio.to_thread(_refuse_untrusted, crm, proposal, flags, thread_id, trace)
                continue
            proposal, looked = await asyncio.to_thread(
                _look, crm, actor, proposal, request, thread_id
            )
            emit(
                {
                    "type": "crossteam",
                    "proposal": proposal.summary,
                    "lead_role": looked.lead_role,
                    "findings": looked.findings,
                    "counter": looked.counter,
                }
            )
            kept.append(ProposedWrite(**proposal.model_dump(), agent=raw.agent))
        done.append(report.model_copy(update={"proposals": kept, "trace": trace}))
    return done


def _look(
    crm: CRMService, actor: Actor, proposal: Proposal, request: CrossTeamRequest, thread_id: str
) -> tuple[Proposal, CrossTeamRequest]:
    findings, counter, why = _findings(crm, actor, proposal)
    request = request.model_copy(update={"findings": findings[:MAX_FINDINGS]})
    if counter:
        countered = crm.propose(
            proposal.tool,
            {**proposal.arguments, **counter},
            actor,
            proposal_id=f"{proposal.id}-x",
            thread_id=thread_id,
            cross_team=True,
        )
        if isinstance(countered, Proposal):
            request = request.model_copy(
                update={"asked": proposal.arguments, "counter": counter, "counter_reason": why}
            )
            proposal = countered
    facts = {**proposal.facts, FACT: request.model_dump(mode="json")}
    return proposal.model_copy(update={"facts": facts}), request


def _findings(
    crm: CRMService, actor: Actor, proposal: Proposal
) -> tuple[list[str], dict[str, Any] | None, str | None]:
    """What the owning agent's tools say about the request, and a counter if its rules make one."""
    if "go_live_date" in proposal.arguments:
        return _capacity(crm, actor, proposal)
    if proposal.tool in ("escalate_ticket", "grant_sla_credit", "update_ticket"):
        return _tickets(crm, actor, proposal.account_id), None, None
    if "opportunity_id" in proposal.arguments:
        return _deal(crm, actor, proposal), None, None
    return [], None, None


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _capacity(
    crm: CRMService, actor: Actor, proposal: Proposal
) -> tuple[list[str], dict[str, Any] | None, str | None]:
    wanted = date.fromisoformat(str(proposal.arguments["go_live_date"]))
    first = _week(wanted)
    found = crm.read(
        "check_capacity",
        {
            "start_date": first.isoformat(),
            "end_date": (first + timedelta(weeks=CAPACITY_WEEKS - 1)).isoformat(),
        },
        actor,
    )
    weeks = found.get("weeks", []) if found.get("ok") else []
    if not weeks:
        return ["no capacity figures for that week"], None, None
    target = weeks[0]
    if not target["fully_booked"]:
        return [f"the week of {first} has {target['free_days']} free delivery days"], None, None
    findings = [f"the week of {first} is fully booked"]
    room = next((w for w in weeks[1:] if not w["fully_booked"]), None)
    if room is None:
        findings.append(f"no week with room in the {CAPACITY_WEEKS} weeks after it")
        return findings, None, None
    room_week = date.fromisoformat(str(room["week_start"]))
    current = (proposal.before or {}).get("go_live_date")
    if current and wanted < date.fromisoformat(str(current)) <= room_week:
        findings.append(f"no week with room before the current go-live {current}")
        return findings, None, None
    counter_day = wanted + (room_week - first)
    why = f"the earliest free week is {room_week}, with {room['free_days']} free days"
    return findings, {"go_live_date": counter_day.isoformat()}, why


def _tickets(crm: CRMService, actor: Actor, account_id: str | None) -> list[str]:
    if not account_id:
        return []
    found = crm.read("list_tickets", {"account_id": account_id, "status": "open"}, actor)
    tickets = found.get("tickets", []) if found.get("ok") else []
    lines = [
        f"{t['id']} {t['priority'].upper()} open: {t['subject']}"
        + (" (SLA breached)" if t.get("sla_breached") else "")
        for t in tickets
    ]
    return lines or ["no open tickets on the account"]


def _deal(crm: CRMService, actor: Actor, proposal: Proposal) -> list[str]:
    found = crm.read(
        "get_opportunity", {"opportunity_id": proposal.arguments["opportunity_id"]}, actor
    )
    if not found.get("ok"):
        return []
    line = f"{found['id']} {found['name']}: {found['stage']}, closes {found['close_date']}"
    if found.get("discount_percent") is not None:
        line += f", discount now {found['discount_percent']}%"
    return [line, *_tickets(crm, actor, proposal.account_id)]


def _refuse_untrusted(
    crm: CRMService,
    proposal: Proposal,
    flags: list[dict[str, Any]],
    thread_id: str,
    trace: list[ToolTrace],
) -> None:
    names = ", ".join(sorted({str(f.get("argument")) for f in flags}))
    message = (
        f"Not requested from another team: {proposal.summary} — its {names} come from data "
        "the assistant read, not from what you asked."
    )
    crm.audit_note(
        actor_id=proposal.actor_id,
        action=proposal.tool,
        outcome="refused",
        reason=message,
        arguments=proposal.arguments,
        proposal_id=proposal.id,
        thread_id=thread_id,
    )
    for step in trace:
        if step.tool == proposal.tool and step.kind == "write" and step.ok:
            step.ok = False
            step.summary = message
            break
