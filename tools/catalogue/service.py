"""Service tools: tickets, SLAs, escalations, account health, SLA credits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field
from sqlalchemy import func, select

from tools.catalogue.common import load_account, load_on_account, new_id, snapshot
from tools.catalogue.views import TicketView, ticket_view
from tools.context import ToolContext
from tools.errors import InvalidArguments, NotFound
from tools.models import Account, Activity, Opportunity, Project, SlaCredit, Ticket, User
from tools.permissions import account_read_filter, require_write
from tools.registry import WritePlan, choice, number, read_tool, text, write_tool
from tools.types import (
    OPEN_STAGES,
    PRIORITIES,
    TICKET_STATUSES,
    Amount,
    Args,
    Currency,
    IsoDate,
    LongText,
    Priority,
    RecordId,
    Result,
    ShortText,
    Subject,
    TicketStatus,
    WriteResult,
)

# Resolution targets per priority (the SLA policy in the knowledge base says the same).
SLA_RESOLUTION = {
    "p1": timedelta(hours=8),
    "p2": timedelta(hours=24),
    "p3": timedelta(days=5),
    "p4": timedelta(days=10),
}
LIST_LIMIT = 50


def sla_due(priority: str, opened_at: datetime) -> datetime:
    return opened_at + SLA_RESOLUTION[priority]


def _load_ticket(ctx: ToolContext, ticket_id: str) -> tuple[Ticket, Account]:
    ticket = load_on_account(ctx, Ticket, ticket_id, field="ticket_id")
    account = ctx.session.get(Account, ticket.account_id)
    assert account is not None
    return ticket, account


class ListTicketsArgs(Args):
    account_id: RecordId | None = None
    status: TicketStatus | None = None
    priority: Priority | None = None
    sla_due_before: IsoDate | None = Field(
        default=None, description="Only open/pending tickets whose SLA falls due before this day."
    )


class TicketList(Result):
    tickets: list[TicketView]
    truncated: bool = False


@read_tool(domain="service")
def list_tickets(ctx: ToolContext, args: ListTicketsArgs) -> TicketList:
    """List support tickets, optionally of one account, status or priority; soonest SLA first."""
    if args.account_id:
        load_account(ctx, args.account_id)
    stmt = select(Ticket).join(Account).where(account_read_filter(ctx.actor))
    if args.account_id:
        stmt = stmt.where(Ticket.account_id == args.account_id)
    if args.status:
        stmt = stmt.where(Ticket.status == args.status)
    if args.priority:
        stmt = stmt.where(Ticket.priority == args.priority)
    if args.sla_due_before:
        cutoff = datetime.combine(args.sla_due_before, datetime.min.time(), ctx.clock.now().tzinfo)
        stmt = stmt.where(Ticket.status.in_(("open", "pending")), Ticket.sla_due_at < cutoff)
    rows = ctx.session.scalars(
        stmt.order_by(Ticket.sla_due_at, Ticket.id).limit(LIST_LIMIT + 1)
    ).all()
    now = ctx.clock.now()
    return TicketList(
        tickets=[ticket_view(t, now) for t in rows[:LIST_LIMIT]], truncated=len(rows) > LIST_LIMIT
    )


class GetTicketArgs(Args):
    ticket_id: RecordId


@read_tool(domain="service")
def get_ticket(ctx: ToolContext, args: GetTicketArgs) -> TicketView:
    """Show one ticket, with whether its SLA is breached."""
    ticket, _ = _load_ticket(ctx, args.ticket_id)
    return ticket_view(ticket, ctx.clock.now())


class AccountHealthArgs(Args):
    account_id: RecordId


class HealthReport(Result):
    account_id: str
    score: int = Field(description="0 (at risk) to 100 (healthy)")
    status: str
    open_tickets: dict[str, int]
    sla_breaches: int
    days_since_last_activity: int | None
    open_opportunities: int
    projects_live_or_planned: int
    factors: list[str]


@read_tool(domain="service")
def account_health(ctx: ToolContext, args: AccountHealthArgs) -> HealthReport:
    """Health score of an account from open tickets, SLA breaches and recent engagement."""
    account = load_account(ctx, args.account_id)
    now = ctx.clock.now()
    tickets = ctx.session.scalars(
        select(Ticket).where(
            Ticket.account_id == account.id, Ticket.status.in_(("open", "pending"))
        )
    ).all()
    by_priority = {p: 0 for p in ("p1", "p2", "p3", "p4")}
    breaches = 0
    for t in tickets:
        by_priority[t.priority] += 1
        if t.sla_due_at is not None and t.sla_due_at < now:
            breaches += 1
    last = ctx.session.scalar(
        select(func.max(Activity.occurred_at)).where(Activity.account_id == account.id)
    )
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    days_since = (now - last).days if last else None
    open_opps = ctx.session.scalar(
        select(func.count())
        .select_from(Opportunity)
        .where(Opportunity.account_id == account.id, Opportunity.stage.in_(OPEN_STAGES))
    )
    projects = ctx.session.scalar(
        select(func.count()).select_from(Project).where(Project.account_id == account.id)
    )
    score = 100
    factors = []
    if by_priority["p1"]:
        score -= 25 * by_priority["p1"]
        factors.append(f"{by_priority['p1']} open P1 ticket(s)")
    if by_priority["p2"]:
        score -= 8 * by_priority["p2"]
        factors.append(f"{by_priority['p2']} open P2 ticket(s)")
    if breaches:
        score -= 10 * breaches
        factors.append(f"{breaches} SLA breach(es)")
    if days_since is None or days_since > 60:
        score -= 15
        factors.append("no activity in the last 60 days")
    score = max(0, min(100, score))
    status = "healthy" if score >= 70 else "watch" if score >= 40 else "at risk"
    return HealthReport(
        account_id=account.id,
        score=score,
        status=status,
        open_tickets=by_priority,
        sla_breaches=breaches,
        days_since_last_activity=days_since,
        open_opportunities=open_opps or 0,
        projects_live_or_planned=projects or 0,
        factors=factors or ["no open issues"],
    )


class CreateTicketArgs(Args):
    account_id: RecordId
    subject: Subject
    description: LongText
    priority: Priority


@write_tool(
    domain="service",
    identifying=("account_id",),
    facts={"priority": choice(PRIORITIES)},
)
def create_ticket(ctx: ToolContext, args: CreateTicketArgs) -> WritePlan:
    """Open a support ticket for an account; the SLA due time follows from the priority."""
    account = load_account(ctx, args.account_id)
    require_write(ctx.actor, "create_ticket", account)
    ticket_id = new_id(ctx, "tkt")
    opened = ctx.clock.now()

    def apply() -> WriteResult:
        ticket = Ticket(
            id=ticket_id,
            account_id=account.id,
            subject=args.subject,
            description=args.description,
            priority=args.priority,
            status="open",
            opened_at=opened,
            sla_due_at=sla_due(args.priority, opened),
        )
        ctx.session.add(ticket)
        ctx.session.flush()
        return WriteResult(
            tool="create_ticket",
            record_type="ticket",
            record_id=ticket_id,
            message=f"Opened {args.priority.upper()} ticket {ticket_id} '{args.subject}'.",
            record=snapshot(ticket),
        )

    return WritePlan(
        record_type="ticket",
        record_id=ticket_id,
        account_id=account.id,
        before=None,
        after={"subject": args.subject, "priority": args.priority, "status": "open"},
        apply=apply,
        facts={
            "account_tier": account.tier,
            "account_team": account.team,
            "priority": args.priority,
        },
        summary=f"open {args.priority} ticket '{args.subject}'",
    )


class UpdateTicketArgs(Args):
    ticket_id: RecordId
    status: TicketStatus | None = None
    priority: Priority | None = None
    assignee_id: RecordId | None = None


@write_tool(
    domain="service",
    identifying=("ticket_id",),
    facts={
        "status": choice(TICKET_STATUSES),
        "priority": choice(PRIORITIES),
        "assignee_id": text(),
    },
)
def update_ticket(ctx: ToolContext, args: UpdateTicketArgs) -> WritePlan:
    """Change a ticket's status, priority or assignee."""
    ticket, account = _load_ticket(ctx, args.ticket_id)
    require_write(ctx.actor, "update_ticket", account)
    changes = args.model_dump(exclude={"ticket_id"}, exclude_none=True)
    if not changes:
        raise InvalidArguments(
            "update_ticket needs at least one of status, priority or assignee_id.",
            fields=["status", "priority", "assignee_id"],
        )
    if args.assignee_id and ctx.session.get(User, args.assignee_id) is None:
        raise NotFound("user", args.assignee_id, field="assignee_id")
    before = snapshot(ticket)
    after = {**before, **changes}

    def apply() -> WriteResult:
        for key, value in changes.items():
            setattr(ticket, key, value)
        if args.priority and args.priority != before["priority"]:
            ticket.sla_due_at = sla_due(args.priority, ticket.opened_at)
        ctx.session.flush()
        return WriteResult(
            tool="update_ticket",
            record_type="ticket",
            record_id=ticket.id,
            message=f"Updated ticket {ticket.id}: "
            + ", ".join(f"{k} → {v}" for k, v in changes.items())
            + ".",
            record=snapshot(ticket),
        )

    return WritePlan(
        record_type="ticket",
        record_id=ticket.id,
        account_id=account.id,
        before=before,
        after=after,
        apply=apply,
        facts={"account_tier": account.tier, "account_team": account.team, **changes},
        expected_version=ticket.version,
        summary=f"update ticket {ticket.id}: {changes}",
    )


class EscalateTicketArgs(Args):
    ticket_id: RecordId
    reason: ShortText


@write_tool(
    domain="service",
    identifying=("ticket_id",),
    facts={"priority": choice(PRIORITIES)},
    risk_hints=("escalation",),
)
def escalate_ticket(ctx: ToolContext, args: EscalateTicketArgs) -> WritePlan:
    """Escalate a ticket to engineering management, with the reason."""
    ticket, account = _load_ticket(ctx, args.ticket_id)
    require_write(ctx.actor, "escalate_ticket", account)
    if ticket.status in ("solved", "closed"):
        raise InvalidArguments(
            f"Ticket {ticket.id} is {ticket.status}; only open or pending tickets can be "
            "escalated.",
            fields=["ticket_id"],
        )
    before = snapshot(ticket)

    def apply() -> WriteResult:
        ticket.escalated = True
        ticket.escalation_reason = args.reason
        ctx.session.flush()
        return WriteResult(
            tool="escalate_ticket",
            record_type="ticket",
            record_id=ticket.id,
            message=f"Escalated ticket {ticket.id}.",
            record=snapshot(ticket),
        )

    return WritePlan(
        record_type="ticket",
        record_id=ticket.id,
        account_id=account.id,
        before=before,
        after={**before, "escalated": True, "escalation_reason": args.reason},
        apply=apply,
        facts={
            "account_tier": account.tier,
            "account_team": account.team,
            "priority": ticket.priority,
        },
        expected_version=ticket.version,
        summary=f"escalate ticket {ticket.id} ({account.tier} account)",
    )


class GrantSlaCreditArgs(Args):
    account_id: RecordId
    amount: Annotated[Amount, Field(gt=0)]
    currency: Currency = "USD"
    reason: ShortText


@write_tool(
    domain="service",
    identifying=("account_id",),
    facts={"amount": number("the credit")},
    risk_hints=("money to a customer",),
)
def grant_sla_credit(ctx: ToolContext, args: GrantSlaCreditArgs) -> WritePlan:
    """Grant a service credit to an account for a missed SLA."""
    account = load_account(ctx, args.account_id)
    require_write(ctx.actor, "grant_sla_credit", account)
    credit_id = new_id(ctx, "cred")

    def apply() -> WriteResult:
        credit = SlaCredit(
            id=credit_id,
            account_id=account.id,
            amount=args.amount,
            currency=args.currency,
            reason=args.reason,
            granted_by=ctx.actor.id,
            granted_at=ctx.clock.now(),
        )
        ctx.session.add(credit)
        ctx.session.flush()
        return WriteResult(
            tool="grant_sla_credit",
            record_type="sla_credit",
            record_id=credit_id,
            message=f"Granted an SLA credit of {args.amount} {args.currency} to {account.name}.",
            record=snapshot(credit),
        )

    return WritePlan(
        record_type="sla_credit",
        record_id=credit_id,
        account_id=account.id,
        before=None,
        after={"amount": str(args.amount), "currency": args.currency, "reason": args.reason},
        apply=apply,
        facts={
            "account_tier": account.tier,
            "account_team": account.team,
            "amount": float(args.amount),
        },
        summary=f"SLA credit {args.amount} {args.currency} for {account.name}",
    )
