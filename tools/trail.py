"""The decision trail: the chain behind a customer's records or one decision, from the record.

`warroom trail ACCOUNT` and `warroom trail REQUEST_ID` show who asked and in which channel, what
each agent proposed, the negotiation rounds and their evidence, what the owning team found on a
cross-team request and its counter, which policy rules fired, who reviewed and what they
changed, what was committed (before → after) and who was told. Everything is read back from the
audit log, the review records and the channels' delivery ledger — nothing here is remembered
separately — and shown through `reader_mask`, the one place that decides what this reader may
see (row level: the account; field level: deal money).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import or_, select

from tools.context import Actor
from tools.crossteam import CROSS_TEAM_RULE, request_of
from tools.models import (
    Account,
    Activity,
    Approval,
    AuditEvent,
    ChannelDelivery,
    Contact,
    Opportunity,
    Project,
    SlaCredit,
    Task,
    Ticket,
    User,
)
from tools.permissions import DEAL_MONEY_FIELDS, can_read_account, hidden_fields
from tools.service import CRMService

StepKind = Literal[
    "asked",
    "proposed",
    "negotiated",
    "cross-team",
    "rules",
    "review requested",
    "reviewed",
    "committed",
    "refused",
    "told",
]
# Within one instant, steps happen in this order.
PHASE: dict[str, int] = {
    k: i
    for i, k in enumerate(
        [
            "asked",
            "proposed",
            "negotiated",
            "cross-team",
            "rules",
            "review requested",
            "refused",
            "reviewed",
            "committed",
            "told",
        ]
    )
}
AGENT_OF_TOOL = {
    "update_opportunity": "sales", "apply_discount": "sales", "create_opportunity": "sales",
    "send_email": "sales", "log_activity": "sales", "create_task": "sales",
    "create_ticket": "service", "update_ticket": "service", "escalate_ticket": "service",
    "grant_sla_credit": "service", "create_project": "delivery", "schedule_go_live": "delivery",
}  # fmt: skip
# Arguments that are deal money, per tool (record fields are named in tools/permissions.py).
MONEY_ARGUMENTS = {
    "apply_discount": {"percent"},
    "update_opportunity": {"amount"},
    "create_opportunity": {"amount"},
}
HIDDEN = "(hidden)"
MAX_DECISIONS = 200


class TrailRefused(Exception):
    """The reader may not see this trail; the message is one sentence."""


class TrailStep(BaseModel):
    at: datetime
    kind: StepKind
    who: str  # a user's name, an agent ("delivery agent") or "policy"
    channel: str | None = None
    text: str
    decision: str  # the review request id, or the proposal id of a direct commit
    details: dict[str, Any] = {}


class Trail(BaseModel):
    subject: str
    account_id: str | None
    reader: str
    masked: bool  # something was hidden from this reader
    steps: list[TrailStep]


# ------------------------------------------------------------------ what the reader may see


class ReaderMask:
    """What one reader may see of a trail. `reader_mask` builds it: the single point to swap for
    a shared visibility model."""

    def __init__(self, reader: Actor) -> None:
        self.reader = reader
        self.hidden = hidden_fields(reader)
        self.no_money = bool(DEAL_MONEY_FIELDS & self.hidden)
        self.used = False

    def may_see_account(self, account: Account) -> bool:
        return can_read_account(self.reader, account)

    def money_tool(self, tool: str | None, record_type: str | None = None) -> bool:
        return tool in MONEY_ARGUMENTS or record_type == "opportunity"

    def values(
        self, tool: str | None, values: dict[str, Any] | None, record_type: str | None = None
    ) -> dict[str, Any]:
        if not values:
            return {}
        hide = set(self.hidden)
        if self.no_money:
            hide |= MONEY_ARGUMENTS.get(tool or "", set())
        if not self.money_tool(tool, record_type):
            hide -= DEAL_MONEY_FIELDS  # an SLA credit's amount is not deal money
        shown = {k: (HIDDEN if k in hide else v) for k, v in values.items()}
        self.used |= any(k in hide for k in values)
        return shown

    def text(self, tool: str | None, text: str, record_type: str | None = None) -> str:
        if not (self.no_money and self.money_tool(tool, record_type)):
            return text
        scrubbed = _MONEY_TEXT.sub(HIDDEN, text)
        self.used |= scrubbed != text
        return scrubbed


_MONEY_TEXT = re.compile(
    r"[$€£¥]\s?\d[\d,.]*|\d[\d,.]*\s?(?:%|percent\b|USD\b|EUR\b|GBP\b|CNY\b|JPY\b|k\b)"
    r"|\b\d{1,3}(?:,\d{3})+(?:\.\d+)?\b|(?<![\d-])\d{5,}(?![\d-])"
)


def reader_mask(reader: Actor) -> ReaderMask:
    return ReaderMask(reader)


# ------------------------------------------------------------------ channels


def channel_of(thread_id: str | None) -> str:
    """Which channel a conversation thread belongs to, from its id."""
    if not thread_id:
        return "unknown"
    for prefix, name in (
        ("slack:", "Slack"),
        ("teams:", "Teams"),
        ("meeting:", "meeting notes"),
        ("cli-", "terminal"),
        ("review:", "review"),
    ):
        if thread_id.startswith(prefix):
            return name
    return f"thread {thread_id}"


def record_told(
    crm: CRMService,
    *,
    approval_id: str,
    thread_id: str | None,
    channel: str,
    message: str,
    how: str = "the outcome was added to the requester's conversation",
) -> None:
    """Put on the record that a request's outcome reached its requester (in which channel)."""
    crm.audit_note(
        actor_id=None,
        action="told",
        outcome="told",
        reason=message,
        arguments={"approval_id": approval_id, "channel": channel, "how": how},
        thread_id=thread_id,
    )


# ------------------------------------------------------------------ building


def _not_found(subject: str) -> str:
    return f"There is no account or review request '{subject}' (or you may not see it)."


def trail(crm: CRMService, subject: str, reader: Actor) -> Trail:
    """The trail of an account id or a review request id, as `reader` may see it."""
    mask = reader_mask(reader)
    with crm.db.read_session() as session:
        approval = session.get(Approval, subject)
        account = session.get(Account, subject)
        if approval is None and account is None:
            raise TrailRefused(_not_found(subject))
        if approval is not None:
            account_id = (approval.context.get("proposal") or {}).get("account_id")
            approvals = [approval]
            direct: list[AuditEvent] = []
        else:
            assert account is not None
            account_id = account.id
            approvals, direct = _account_decisions(session, account.id)
        if account_id:
            owner = session.get(Account, account_id)
            if owner is not None and not mask.may_see_account(owner):
                # A hidden account reads exactly like a missing one (tools/visibility.py).
                raise TrailRefused(_not_found(subject))
        names = {u.id: u.name for u in session.scalars(select(User))}
        steps: list[TrailStep] = []
        for row in approvals:
            steps += _approval_steps(session, row, names, mask)
        for event in direct:
            steps += _direct_steps(session, event, names, mask)
    # Decisions in the order they started; within one, steps in their logical order (a commit
    # and the decision it belongs to are one transaction, microseconds apart either way).
    started: dict[str, datetime] = {}
    for step in steps:
        started[step.decision] = min(step.at, started.get(step.decision, step.at))
    steps.sort(key=lambda s: (started[s.decision], s.decision, PHASE[s.kind], s.at))
    return Trail(
        subject=subject,
        account_id=account_id,
        reader=reader.id,
        masked=mask.used,
        steps=steps,
    )


def _account_decisions(session: Any, account_id: str) -> tuple[list[Approval], list[AuditEvent]]:
    approvals = [
        a
        for a in session.scalars(select(Approval).order_by(Approval.created_at, Approval.id))
        if (a.context.get("proposal") or {}).get("account_id") == account_id
    ][-MAX_DECISIONS:]
    record_ids = {account_id}
    for model in (Opportunity, Project, Ticket, Task, Activity, Contact, SlaCredit):
        column = model.account_id
        record_ids |= set(session.scalars(select(model.id).where(column == account_id)))
    reviewed = {a.id for a in approvals}
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.outcome.in_(("committed", "refused")))
        .where(or_(AuditEvent.record_id.in_(record_ids), AuditEvent.record_id.is_(None)))
        .order_by(AuditEvent.id)
    ).all()
    direct = [
        e
        for e in events
        if e.approval_id not in reviewed
        and (e.record_id in record_ids or _mentions(e.arguments or {}, record_ids))
    ]
    return approvals, direct[-MAX_DECISIONS:]


def _mentions(arguments: dict[str, Any], record_ids: set[str]) -> bool:
    return any(isinstance(v, str) and v in record_ids for v in arguments.values())


def _base_proposal(proposal_id: str) -> str:
    """A proposal and the ones derived from it (negotiated -n, countered -x, edited -edit)."""
    return re.sub(r"(-n|-x|-edit)+$", "", proposal_id)


def _negotiations(session: Any, proposal_id: str) -> list[AuditEvent]:
    base = _base_proposal(proposal_id)
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "negotiation", AuditEvent.proposal_id.like(f"{base}%"))
            .order_by(AuditEvent.id)
        )
    )


def _negotiation_steps(
    events: list[AuditEvent], decision: str, tool: str, mask: ReaderMask
) -> list[TrailStep]:
    steps = []
    for event in events:
        transcript = (event.arguments or {}).get("transcript") or []
        rounds = [
            {
                "agent": t.get("agent"),
                "stance": t.get("stance"),
                "reason": mask.text(tool, str(t.get("reason") or "")),
                "counter": mask.values(tool, t.get("counter_arguments")),
                "evidence": [mask.text(tool, str(e)) for e in t.get("evidence") or []],
            }
            for t in transcript
        ]
        steps.append(
            TrailStep(
                at=event.at,
                kind="negotiated",
                who=" ↔ ".join(dict.fromkeys(str(r["agent"]) for r in rounds)) or "agents",
                text=f"{event.outcome.replace('_', ' ')} after {len(rounds)} turn(s)",
                decision=decision,
                details={"rounds": rounds},
            )
        )
    return steps


def _approval_steps(
    session: Any, row: Approval, names: dict[str, str], mask: ReaderMask
) -> list[TrailStep]:
    proposal = row.context.get("proposal") or {}
    tool = row.tool
    requester = names.get(row.requested_by, row.requested_by)
    channel = channel_of(row.thread_id)
    asked = row.context.get("request") or proposal.get("summary") or tool
    at = row.created_at
    steps = [
        TrailStep(
            at=at,
            kind="asked",
            who=requester,
            channel=channel,
            text=mask.text(tool, str(asked)),
            decision=row.id,
        ),
        TrailStep(
            at=at,
            kind="proposed",
            who=f"{AGENT_OF_TOOL.get(tool, 'the')} agent",
            # What was proposed, before any reviewer's edit (the review steps show the edit).
            text=mask.text(
                tool, str(row.context.get("requested_summary") or proposal.get("summary") or tool)
            ),
            decision=row.id,
            details={"tool": tool, "arguments": mask.values(tool, row.arguments)},
        ),
    ]
    steps += _negotiation_steps(_negotiations(session, row.proposal_id), row.id, tool, mask)
    request = request_of(proposal.get("facts") or {})
    if request is not None:
        text = f"{request.requester_name} may not make this write ({request.relation}); asked of "
        text += f"the {request.lead_noun}"
        if request.counter:
            offered = mask.values(tool, request.counter)
            text += f"; {request.domain} counters: " + ", ".join(
                f"{k} {v}" for k, v in offered.items()
            )
        steps.append(
            TrailStep(
                at=at,
                kind="cross-team",
                who=f"{request.domain} agent",
                text=mask.text(tool, text),
                decision=row.id,
                details={
                    "findings": [mask.text(tool, f) for f in request.findings],
                    "asked": mask.values(tool, request.asked),
                    "counter": mask.values(tool, request.counter),
                    "counter_reason": request.counter_reason,
                },
            )
        )
    rules = [r for r in row.rule_ids if r != CROSS_TEAM_RULE] or list(row.rule_ids)
    steps.append(
        TrailStep(
            at=at,
            kind="rules",
            who="policy",
            text=", ".join(rules),
            decision=row.id,
            details={
                "rules": list(row.rule_ids),
                "reasons": [  # the cross-team reason is the cross-team step above
                    mask.text(tool, reason)
                    for rule, reason in zip(row.rule_ids, row.reasons, strict=False)
                    if rule != CROSS_TEAM_RULE
                ],
            },
        )
    )
    reviewers = ", ".join(names.get(r, r) for r in row.reviewer_ids) or row.reviewer_role
    steps.append(
        TrailStep(
            at=at,
            kind="review requested",
            who="policy",
            text=f"{row.reviewer_role} {reviewers}",
            decision=row.id,
            details={"reviewer_ids": list(row.reviewer_ids), "expires_at": row.expires_at},
        )
    )
    if row.status != "pending":
        decider = names.get(row.decided_by or "", row.decided_by or "nobody")
        changes: dict[str, Any] = {}
        if row.edited_arguments:
            asked_args = mask.values(tool, row.arguments)
            applied_args = mask.values(tool, row.edited_arguments)
            changes = {
                k: {"asked": asked_args.get(k), "applied": v}
                for k, v in applied_args.items()
                if row.arguments.get(k) != row.edited_arguments.get(k)
            }
        verb = "approved with changes" if changes else row.status
        steps.append(
            TrailStep(
                at=row.decided_at or at,
                kind="reviewed",
                who=decider,
                text=verb + (f' — "{mask.text(tool, row.comment)}"' if row.comment else ""),
                decision=row.id,
                details={"status": row.status, "changes": changes},
            )
        )
    for event in session.scalars(
        select(AuditEvent)
        .where(AuditEvent.approval_id == row.id, AuditEvent.outcome == "committed")
        .order_by(AuditEvent.id)
    ):
        steps.append(_committed(event, names, mask, row.id))
    steps += _told(session, row, names)
    return steps


def _committed(
    event: AuditEvent, names: dict[str, str], mask: ReaderMask, decision: str
) -> TrailStep:
    before = mask.values(event.action, event.before, event.record_type)
    after = mask.values(event.action, event.after, event.record_type)
    raw_before = event.before or {}
    changed = {
        k: {"before": before.get(k), "after": v}
        for k, v in after.items()
        if event.before is not None  # a new record: its arguments say what it holds
        and raw_before.get(k) != (event.after or {}).get(k)
        and k != "version"
    }
    return TrailStep(
        at=event.at,
        kind="committed",
        who=names.get(event.actor_id or "", event.actor_id or "system"),
        channel=channel_of(event.thread_id) if event.thread_id else None,
        text=f"{event.action} {'on' if event.before is not None else 'created'} "
        f"{event.record_type} {event.record_id}",
        decision=decision,
        details={"changes": changed, "arguments": mask.values(event.action, event.arguments)},
    )


def _told(session: Any, row: Approval, names: dict[str, str]) -> list[TrailStep]:
    steps = []
    requester = names.get(row.requested_by, row.requested_by)
    for event in session.scalars(
        select(AuditEvent).where(AuditEvent.action == "told").order_by(AuditEvent.id)
    ):
        if (event.arguments or {}).get("approval_id") != row.id:
            continue
        steps.append(
            TrailStep(
                at=event.at,
                kind="told",
                who=requester,
                channel=str((event.arguments or {}).get("channel") or channel_of(event.thread_id)),
                text=str((event.arguments or {}).get("how") or "the requester was told"),
                decision=row.id,
            )
        )
    for delivery in session.scalars(
        select(ChannelDelivery).where(ChannelDelivery.approval_id == row.id)
    ):
        if delivery.channel.startswith("tty-"):
            continue  # a terminal's own ledger; what it told is a "told" event above
        if delivery.kind == "card":
            who = ", ".join(names.get(r, r) for r in row.reviewer_ids)
            text = "the request card reached the reviewers"
        else:
            who, text = requester, f"the requester was told ({delivery.kind})"
        steps.append(
            TrailStep(
                at=delivery.delivered_at,
                kind="told",
                who=who,
                channel=delivery.channel,
                text=text,
                decision=row.id,
            )
        )
    return steps


def _direct_steps(
    session: Any, event: AuditEvent, names: dict[str, str], mask: ReaderMask
) -> list[TrailStep]:
    decision = event.proposal_id or f"event-{event.id}"
    who = names.get(event.actor_id or "", event.actor_id or "system")
    tool = event.action
    if event.outcome == "refused":
        return [
            TrailStep(
                at=event.at,
                kind="refused",
                who=who,
                channel=channel_of(event.thread_id) if event.thread_id else None,
                text=mask.text(tool, f"{tool}: {event.reason or 'refused'}"),
                decision=decision,
                details={"arguments": mask.values(tool, event.arguments)},
            )
        ]
    steps = [
        TrailStep(
            at=event.at,
            kind="asked",
            who=who,
            channel=channel_of(event.thread_id),
            text=f"{tool} (no review needed)",
            decision=decision,
        )
    ]
    if event.proposal_id:
        steps += _negotiation_steps(_negotiations(session, event.proposal_id), decision, tool, mask)
    steps.append(_committed(event, names, mask, decision))
    return steps


# ------------------------------------------------------------------ rendering


def mermaid(trail_: Trail) -> str:
    """A Mermaid sequence diagram of the trail, for pasting into docs."""
    lines = ["sequenceDiagram", "    autonumber"]
    people: dict[str, str] = {}

    def alias(name: str) -> str:
        if name not in people:
            people[name] = f"P{len(people)}"
            lines.insert(2 + len(people) - 1, f"    participant {people[name]} as {_safe(name)}")
        return people[name]

    for step in trail_.steps:
        by = alias(step.who)
        text = _safe(step.text)
        if step.kind == "asked":
            lines.append(
                f"    {by}->>{alias('agents')}: asks in {_safe(step.channel or '?')}: {text}"
            )
        elif step.kind in ("proposed", "cross-team"):
            lines.append(f"    {by}->>{alias('policy')}: {step.kind}: {text}")
        elif step.kind == "negotiated":
            lines.append(f"    Note over {by}: negotiated: {text}")
        elif step.kind == "rules":
            lines.append(f"    Note over {by}: rules fired: {text}")
        elif step.kind == "review requested":
            lines.append(f"    {by}->>{alias(text.split(' ', 1)[-1])}: review requested")
        elif step.kind == "reviewed":
            lines.append(f"    {by}->>{alias('CRM')}: {text}")
        elif step.kind == "committed":
            lines.append(f"    {alias('CRM')}-->>{by}: committed {text}")
        elif step.kind == "refused":
            lines.append(f"    {alias('policy')}-->>{by}: refused: {text}")
        elif step.kind == "told":
            lines.append(f"    {alias('CRM')}-->>{by}: told in {_safe(step.channel or '?')}")
    return "\n".join(lines) + "\n"


def _safe(text: str, limit: int = 90) -> str:
    cleaned = re.sub(r"[;#\n\r<>]", " ", text).replace(":", " -")
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
