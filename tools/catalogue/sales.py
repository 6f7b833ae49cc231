"""Sales tools: accounts, opportunities, activities, tasks, customer e-mail, forecast."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field
from sqlalchemy import func, or_, select

from tools.catalogue.common import (
    changed,
    load,
    load_account,
    load_opportunity,
    new_id,
    snapshot,
)
from tools.catalogue.views import (
    AccountView,
    ActivityView,
    ContactView,
    OpportunityView,
    account_view,
    activity_view,
    contact_view,
    opportunity_view,
)
from tools.context import ToolContext
from tools.errors import ConsentRefused, InvalidArguments, NotFound, PermissionRefused
from tools.models import Account, Activity, Contact, Opportunity, OutboxMessage, Task, Ticket, User
from tools.permissions import (
    account_read_filter,
    require_deal_money,
    require_write,
)
from tools.registry import WritePlan, choice, number, read_tool, text, write_tool
from tools.types import (
    OPEN_STAGES,
    STAGE_VALUES,
    ActivityKind,
    Amount,
    Args,
    Currency,
    Decimal_,
    IsoDate,
    IsoDateTime,
    LongText,
    PercentValue,
    Query,
    RecordId,
    Result,
    ShortText,
    Stage,
    Subject,
    Tier,
    WriteResult,
)
from tools.visibility import deal_money_filter, scope_of

LIST_LIMIT = 50


# ---------------------------------------------------------------- reads


class SearchAccountsArgs(Args):
    query: Query = Field(description="Part of the account name, domain or id.")


class AccountList(Result):
    accounts: list[AccountView]
    truncated: bool = False


@read_tool(domain="sales")
def search_accounts(ctx: ToolContext, args: SearchAccountsArgs) -> AccountList:
    """Find accounts whose name, domain or id contains the query (case-insensitive)."""
    pattern = f"%{args.query.lower()}%"
    stmt = (
        select(Account)
        .where(account_read_filter(ctx.actor))
        .where(
            or_(
                func.lower(Account.name).like(pattern),
                func.lower(Account.domain).like(pattern),
                func.lower(Account.id).like(pattern),
            )
        )
        .order_by(Account.name)
        .limit(LIST_LIMIT + 1)
    )
    rows = ctx.session.scalars(stmt).all()
    return AccountList(
        accounts=[account_view(a) for a in rows[:LIST_LIMIT]], truncated=len(rows) > LIST_LIMIT
    )


class ListAccountsArgs(Args):
    team: Annotated[str, Field(max_length=64)] | None = None
    tier: Tier | None = None
    owner_id: RecordId | None = None


@read_tool(domain="sales")
def list_accounts(ctx: ToolContext, args: ListAccountsArgs) -> AccountList:
    """List the accounts you may see, optionally of one team, tier or owner (by name)."""
    stmt = select(Account).where(account_read_filter(ctx.actor))
    if args.team:
        stmt = stmt.where(Account.team == args.team)
    if args.tier:
        stmt = stmt.where(Account.tier == args.tier)
    if args.owner_id:
        stmt = stmt.where(Account.owner_id == args.owner_id)
    rows = ctx.session.scalars(stmt.order_by(Account.name).limit(LIST_LIMIT + 1)).all()
    return AccountList(
        accounts=[account_view(a) for a in rows[:LIST_LIMIT]], truncated=len(rows) > LIST_LIMIT
    )


class GetAccountArgs(Args):
    account_id: RecordId


class AccountDetail(Result):
    account: AccountView
    contacts: list[ContactView]
    open_opportunities: list[OpportunityView]
    open_tickets: int
    recent_activities: list[ActivityView]


@read_tool(domain="sales")
def get_account(ctx: ToolContext, args: GetAccountArgs) -> AccountDetail:
    """Show one account with its contacts, open opportunities, open ticket count and the five
    most recent activities."""
    account = load_account(ctx, args.account_id)
    contacts = ctx.session.scalars(
        select(Contact)
        .where(Contact.account_id == account.id, Contact.erased_at.is_(None))
        .order_by(Contact.name)
    ).all()
    opportunities = ctx.session.scalars(
        select(Opportunity)
        .where(Opportunity.account_id == account.id, Opportunity.stage.in_(OPEN_STAGES))
        .order_by(Opportunity.close_date)
    ).all()
    open_tickets = ctx.session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.account_id == account.id, Ticket.status.in_(("open", "pending")))
    )
    activities = ctx.session.scalars(
        select(Activity)
        .where(Activity.account_id == account.id)
        .order_by(Activity.occurred_at.desc())
        .limit(5)
    ).all()
    return AccountDetail(
        account=account_view(account),
        contacts=[contact_view(c) for c in contacts],
        open_opportunities=[opportunity_view(ctx.actor, o) for o in opportunities],
        open_tickets=open_tickets or 0,
        recent_activities=[activity_view(ctx.actor, a, scope_of(account)) for a in activities],
    )


class ListOpportunitiesArgs(Args):
    account_id: RecordId | None = None
    owner_id: RecordId | None = None
    stage: Stage | None = None


class OpportunityList(Result):
    opportunities: list[OpportunityView]
    truncated: bool = False


@read_tool(domain="sales")
def list_opportunities(ctx: ToolContext, args: ListOpportunitiesArgs) -> OpportunityList:
    """List opportunities, optionally of one account, one owner or one stage (soonest close
    date first)."""
    if args.account_id:
        load_account(ctx, args.account_id)
    stmt = select(Opportunity).join(Account).where(account_read_filter(ctx.actor))
    if args.account_id:
        stmt = stmt.where(Opportunity.account_id == args.account_id)
    if args.owner_id:
        stmt = stmt.where(Opportunity.owner_id == args.owner_id)
    if args.stage:
        stmt = stmt.where(Opportunity.stage == args.stage)
    rows = ctx.session.scalars(
        stmt.order_by(Opportunity.close_date, Opportunity.id).limit(LIST_LIMIT + 1)
    ).all()
    return OpportunityList(
        opportunities=[opportunity_view(ctx.actor, o) for o in rows[:LIST_LIMIT]],
        truncated=len(rows) > LIST_LIMIT,
    )


class GetOpportunityArgs(Args):
    opportunity_id: RecordId


@read_tool(domain="sales")
def get_opportunity(ctx: ToolContext, args: GetOpportunityArgs) -> OpportunityView:
    """Show one opportunity."""
    opportunity, _ = load_opportunity(ctx, args.opportunity_id)
    return opportunity_view(ctx.actor, opportunity)


class ForecastArgs(Args):
    owner_id: RecordId | None = Field(
        default=None, description="Whose pipeline; default: yours (a manager's: the team's)."
    )
    quarter: str | None = Field(
        default=None,
        pattern=r"^\d{4}-Q[1-4]$",
        description="Quarter like 2026-Q4; default: the current quarter.",
    )


class CurrencyForecast(Result):
    currency: str
    pipeline: Decimal_
    weighted: Decimal_
    closed_won: Decimal_
    open_deals: int


class Forecast(Result):
    quarter: str
    scope: str
    by_currency: list[CurrencyForecast]


def _quarter_bounds(quarter: str) -> tuple[date, date]:
    year, q = int(quarter[:4]), int(quarter[-1])
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, end


@read_tool(domain="sales")
def forecast(ctx: ToolContext, args: ForecastArgs) -> Forecast:
    """Pipeline, probability-weighted forecast and closed-won amounts for a quarter, per
    currency."""
    require_deal_money(ctx.actor, "the forecast")
    today = ctx.clock.today()
    quarter = args.quarter or f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    start, end = _quarter_bounds(quarter)
    stmt = (
        select(Opportunity)
        .where(deal_money_filter(ctx.actor))  # sums of deal money: the sales rows only
        .where(Opportunity.close_date >= start, Opportunity.close_date < end)
    )
    actor = ctx.actor
    if args.owner_id:
        owner = ctx.session.get(User, args.owner_id)
        if owner is None:
            raise NotFound("user", args.owner_id, field="owner_id")
        if not actor.is_admin and args.owner_id != actor.id:
            same_team = owner.team is not None and owner.team == actor.team
            if not (actor.has("sales_manager") and same_team):
                raise PermissionRefused(
                    f"{actor.name} may see only their own forecast, not {owner.name}'s.",
                    rule="row-level-read",
                )
        stmt = stmt.where(Opportunity.owner_id == args.owner_id)
        scope = args.owner_id
    elif actor.is_admin:
        scope = "company"
    elif actor.has("sales_manager"):
        scope = f"team {actor.team}"
    else:
        stmt = stmt.where(Opportunity.owner_id == actor.id)
        scope = actor.id
    # Sums in SQL: a manager's team quarter is hundreds of deals; loading them is the slow part.
    net = Opportunity.amount * (100 - Opportunity.discount_percent) / 100
    sums = stmt.with_only_columns(
        Opportunity.currency,
        Opportunity.stage,
        func.sum(net),
        func.sum(net * func.coalesce(Opportunity.probability, 0) / 100),
        func.count(),
    ).group_by(Opportunity.currency, Opportunity.stage)
    totals: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"pipeline": Decimal(0), "weighted": Decimal(0), "won": Decimal(0), "n": Decimal(0)}
    )
    for currency, stage, total, weighted, count in ctx.session.execute(sums):
        bucket = totals[currency]
        if stage == "closed_won":
            bucket["won"] += Decimal(str(total or 0))
        elif stage in OPEN_STAGES:
            bucket["pipeline"] += Decimal(str(total or 0))
            bucket["weighted"] += Decimal(str(weighted or 0))
            bucket["n"] += count
    return Forecast(
        quarter=quarter,
        scope=scope,
        by_currency=[
            CurrencyForecast(
                currency=cur,
                pipeline=round(t["pipeline"], 2),
                weighted=round(t["weighted"], 2),
                closed_won=round(t["won"], 2),
                open_deals=int(t["n"]),
            )
            for cur, t in sorted(totals.items())
        ],
    )


# ---------------------------------------------------------------- writes


def _opportunity_facts(account: Account) -> dict[str, object]:
    return {"account_tier": account.tier, "account_team": account.team}


class CreateOpportunityArgs(Args):
    account_id: RecordId
    name: Subject
    amount: Amount
    currency: Currency = "USD"
    close_date: IsoDate
    stage: Stage = "prospecting"


@write_tool(
    domain="sales",
    identifying=("account_id",),
    facts={"stage": choice(STAGE_VALUES), "amount": number("the new deal's amount")},
)
def create_opportunity(ctx: ToolContext, args: CreateOpportunityArgs) -> WritePlan:
    """Create a new opportunity (deal) on an account."""
    account = load_account(ctx, args.account_id)
    require_write(ctx.actor, "create_opportunity", account)
    opp_id = new_id(ctx, "opp")
    owner_id = ctx.actor.id if ctx.actor.has("rep") else account.owner_id or ctx.actor.id
    values = {
        "id": opp_id,
        "account_id": account.id,
        "name": args.name,
        "stage": args.stage,
        "amount": args.amount,
        "currency": args.currency,
        "discount_percent": Decimal(0),
        "close_date": args.close_date,
        "owner_id": owner_id,
    }

    def apply() -> WriteResult:
        opportunity = Opportunity(**values)
        ctx.session.add(opportunity)
        ctx.session.flush()
        return WriteResult(
            tool="create_opportunity",
            record_type="opportunity",
            record_id=opp_id,
            message=f"Created opportunity {opp_id} '{args.name}' on {account.name}.",
            record=snapshot(opportunity),
        )

    return WritePlan(
        record_type="opportunity",
        record_id=opp_id,
        account_id=account.id,
        before=None,
        after={k: str(v) if isinstance(v, Decimal | date) else v for k, v in values.items()},
        apply=apply,
        facts={**_opportunity_facts(account), "stage": args.stage, "amount": args.amount},
        summary=f"create opportunity '{args.name}' ({args.amount} {args.currency})",
    )


class UpdateOpportunityArgs(Args):
    opportunity_id: RecordId
    stage: Stage | None = None
    amount: Amount | None = None
    close_date: IsoDate | None = None
    next_step: Annotated[str, Field(max_length=500)] | None = None
    probability: Annotated[int, Field(ge=0, le=100)] | None = None


@write_tool(
    domain="sales",
    identifying=("opportunity_id",),
    facts={
        "stage": choice(STAGE_VALUES, "the new stage (absent when unchanged)"),
        "amount_change_percent": number("how much the amount changes, up or down, in %"),
        "effective_discount_percent": number(
            "an open deal's amount lowered: the cut as a discount off the list amount, in %"
        ),
    },
    risk_hints=("closing a deal", "large amount change"),
)
def update_opportunity(ctx: ToolContext, args: UpdateOpportunityArgs) -> WritePlan:
    """Change an opportunity's stage, amount, close date, next step or probability."""
    opportunity, account = load_opportunity(ctx, args.opportunity_id)
    require_write(ctx.actor, "update_opportunity", account, opportunity)
    changes = args.model_dump(exclude={"opportunity_id"}, exclude_none=True)
    if not changes:
        raise InvalidArguments(
            "update_opportunity needs at least one of stage, amount, close_date, next_step or "
            "probability.",
            fields=["stage", "amount", "close_date", "next_step", "probability"],
        )
    before = snapshot(opportunity)
    facts: dict[str, object] = {**_opportunity_facts(account), "stage": args.stage}
    if args.amount is not None:
        old = opportunity.amount
        facts["amount_change_percent"] = (
            float(abs(args.amount - old) / old * 100) if old else (100.0 if args.amount else 0.0)
        )
        if old and args.amount < old and opportunity.stage in OPEN_STAGES:
            # A price cut is a discount by another name: the policy sees what it amounts to,
            # together with any discount already on the deal.
            kept = (args.amount / old) * (1 - Decimal(opportunity.discount_percent or 0) / 100)
            facts["effective_discount_percent"] = round(float((1 - kept) * 100), 2)
    after = {
        **before,
        **{k: str(v) if isinstance(v, Decimal | date) else v for k, v in changes.items()},
    }

    def apply() -> WriteResult:
        for key, value in changes.items():
            setattr(opportunity, key, value)
        ctx.session.flush()
        return WriteResult(
            tool="update_opportunity",
            record_type="opportunity",
            record_id=opportunity.id,
            message=f"Updated opportunity {opportunity.id}: "
            + ", ".join(f"{k} → {v}" for k, v in changes.items())
            + ".",
            record=snapshot(opportunity),
        )

    return WritePlan(
        record_type="opportunity",
        record_id=opportunity.id,
        account_id=account.id,
        before=before,
        after=after,
        apply=apply,
        facts=facts,
        expected_version=opportunity.version,
        summary=f"update {opportunity.name}: {changed(before, after)}",
    )


class ApplyDiscountArgs(Args):
    opportunity_id: RecordId
    percent: PercentValue
    reason: ShortText


@write_tool(
    domain="sales",
    identifying=("opportunity_id",),
    facts={"percent": number("the discount")},
    risk_hints=("discount",),
)
def apply_discount(ctx: ToolContext, args: ApplyDiscountArgs) -> WritePlan:
    """Set the discount (percent off the amount) of an opportunity, with the reason."""
    opportunity, account = load_opportunity(ctx, args.opportunity_id)
    require_write(ctx.actor, "apply_discount", account, opportunity)
    if opportunity.stage in ("closed_won", "closed_lost"):
        raise InvalidArguments(
            f"Opportunity {opportunity.id} is {opportunity.stage}; a closed deal's discount "
            "cannot change.",
            fields=["opportunity_id"],
        )
    before = snapshot(opportunity)
    after = {**before, "discount_percent": float(args.percent)}

    def apply() -> WriteResult:
        opportunity.discount_percent = args.percent
        ctx.session.flush()
        return WriteResult(
            tool="apply_discount",
            record_type="opportunity",
            record_id=opportunity.id,
            message=f"Applied a {args.percent}% discount to {opportunity.id}.",
            record=snapshot(opportunity),
        )

    return WritePlan(
        record_type="opportunity",
        record_id=opportunity.id,
        account_id=account.id,
        before=before,
        after=after,
        apply=apply,
        facts={**_opportunity_facts(account), "percent": float(args.percent)},
        expected_version=opportunity.version,
        summary=f"{args.percent}% discount on {opportunity.name}",
    )


class LogActivityArgs(Args):
    account_id: RecordId
    kind: ActivityKind
    subject: Subject
    summary: LongText
    opportunity_id: RecordId | None = None
    contact_ids: Annotated[list[RecordId], Field(max_length=50)] = []
    occurred_at: IsoDateTime | None = None


def _check_contacts(ctx: ToolContext, account: Account, contact_ids: list[str]) -> None:
    for contact_id in contact_ids:
        contact = load(ctx, Contact, contact_id, field="contact_ids")
        if contact.account_id != account.id:
            raise InvalidArguments(
                f"Contact {contact_id} belongs to account {contact.account_id}, not {account.id}.",
                fields=["contact_ids"],
            )


@write_tool(
    domain="sales",
    identifying=("account_id", "opportunity_id"),
    facts={"kind": choice(("call", "meeting", "email", "note"))},
)
def log_activity(ctx: ToolContext, args: LogActivityArgs) -> WritePlan:
    """Record a call, meeting, e-mail or note on an account (and optionally a deal and
    contacts)."""
    account = load_account(ctx, args.account_id)
    opportunity = None
    if args.opportunity_id:
        opportunity, opp_account = load_opportunity(ctx, args.opportunity_id)
        if opp_account.id != account.id:
            raise InvalidArguments(
                f"Opportunity {opportunity.id} belongs to account {opp_account.id}, not "
                f"{account.id}.",
                fields=["opportunity_id"],
            )
    require_write(ctx.actor, "log_activity", account, opportunity)
    _check_contacts(ctx, account, args.contact_ids)
    activity_id = new_id(ctx, "act")
    occurred_at: datetime = args.occurred_at or ctx.clock.now()

    def apply() -> WriteResult:
        activity = Activity(
            id=activity_id,
            account_id=account.id,
            opportunity_id=args.opportunity_id,
            contact_ids=list(args.contact_ids),
            kind=args.kind,
            subject=args.subject,
            summary=args.summary,
            occurred_at=occurred_at,
            author_id=ctx.actor.id,
        )
        ctx.session.add(activity)
        ctx.session.flush()
        return WriteResult(
            tool="log_activity",
            record_type="activity",
            record_id=activity_id,
            message=f"Logged {args.kind} '{args.subject}' on {account.name}.",
            record=snapshot(activity),
        )

    return WritePlan(
        record_type="activity",
        record_id=activity_id,
        account_id=account.id,
        before=None,
        after={
            "kind": args.kind,
            "subject": args.subject,
            "summary": args.summary,
            "contact_ids": list(args.contact_ids),
        },
        apply=apply,
        facts={**_opportunity_facts(account), "kind": args.kind},
        summary=f"log {args.kind} '{args.subject}'",
    )


class CreateTaskArgs(Args):
    subject: Subject
    due_date: IsoDate
    owner_id: RecordId | None = Field(default=None, description="Default: you.")
    account_id: RecordId | None = None
    opportunity_id: RecordId | None = None


@write_tool(
    domain="sales",
    identifying=("account_id", "opportunity_id"),
    facts={"owner_id": text("who the task is for")},
)
def create_task(ctx: ToolContext, args: CreateTaskArgs) -> WritePlan:
    """Create a follow-up task with a due date, for you or a colleague."""
    account: Account | None = None
    opportunity = None
    if args.opportunity_id:
        opportunity, account = load_opportunity(ctx, args.opportunity_id)
        if args.account_id and args.account_id != account.id:
            raise InvalidArguments(
                f"Opportunity {opportunity.id} belongs to account {account.id}, not "
                f"{args.account_id}.",
                fields=["account_id", "opportunity_id"],
            )
    elif args.account_id:
        account = load_account(ctx, args.account_id)
    if account is not None:
        require_write(ctx.actor, "create_task", account, opportunity)
    owner_id = args.owner_id or ctx.actor.id
    if ctx.session.get(User, owner_id) is None:
        raise NotFound("user", owner_id, field="owner_id")
    task_id = new_id(ctx, "task")

    def apply() -> WriteResult:
        task = Task(
            id=task_id,
            subject=args.subject,
            due_date=args.due_date,
            owner_id=owner_id,
            account_id=account.id if account else None,
            opportunity_id=args.opportunity_id,
            status="open",
        )
        ctx.session.add(task)
        ctx.session.flush()
        return WriteResult(
            tool="create_task",
            record_type="task",
            record_id=task_id,
            message=f"Created task '{args.subject}' for {owner_id}, due {args.due_date}.",
            record=snapshot(task),
        )

    facts: dict[str, object] = {"owner_id": owner_id}
    if account is not None:
        facts.update(_opportunity_facts(account))
    return WritePlan(
        record_type="task",
        record_id=task_id,
        account_id=account.id if account else None,
        before=None,
        after={
            "subject": args.subject,
            "due_date": args.due_date.isoformat(),
            "owner_id": owner_id,
        },
        apply=apply,
        facts=facts,
        summary=f"task '{args.subject}' due {args.due_date}",
    )


class SendEmailArgs(Args):
    contact_id: RecordId
    subject: Subject
    body: Annotated[str, Field(min_length=1, max_length=20_000)]


@write_tool(
    domain="sales",
    identifying=("contact_id",),
    facts={"contact_id": text("the recipient")},
    risk_hints=("message to a customer",),
)
def send_email(ctx: ToolContext, args: SendEmailArgs) -> WritePlan:
    """Send an e-mail to a customer contact (queued in the outbox; only to contacts who gave
    e-mail consent)."""
    contact = load(ctx, Contact, args.contact_id, field="contact_id")
    account = load_account(ctx, contact.account_id)
    require_write(ctx.actor, "send_email", account)
    if contact.erased_at is not None or not contact.email:
        raise ConsentRefused(
            f"Contact {contact.id} has no e-mail address on record.", rule="consent"
        )
    if not contact.consent_email:
        raise ConsentRefused(
            f"{contact.name} ({contact.id}) has not consented to e-mail; no message may be sent.",
            rule="consent",
        )
    message_id = new_id(ctx, "msg")
    to_email = contact.email

    def apply() -> WriteResult:
        message = OutboxMessage(
            id=message_id,
            contact_id=contact.id,
            to_email=to_email,
            subject=args.subject,
            body=args.body,
            status="queued",
            created_by=ctx.actor.id,
            created_at=ctx.clock.now(),
        )
        ctx.session.add(message)
        ctx.session.flush()
        return WriteResult(
            tool="send_email",
            record_type="outbox",
            record_id=message_id,
            message=f"Queued e-mail '{args.subject}' to {contact.name}.",
            record=snapshot(message),
        )

    return WritePlan(
        record_type="outbox",
        record_id=message_id,
        account_id=account.id,
        before=None,
        after={"to": to_email, "subject": args.subject, "body": args.body},
        apply=apply,
        facts={**_opportunity_facts(account), "contact_id": contact.id},
        summary=f"e-mail '{args.subject}' to {contact.name}",
    )
