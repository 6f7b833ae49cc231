"""Delivery tools: onboarding/implementation projects, capacity, go-live dates."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator
from sqlalchemy import select

from tools.catalogue.common import (
    load_account,
    load_on_account,
    load_opportunity,
    new_id,
    snapshot,
)
from tools.catalogue.views import ProjectView, project_view
from tools.context import ToolContext
from tools.errors import InvalidArguments
from tools.models import Account, Capacity, Project
from tools.permissions import account_read_filter, require_write
from tools.registry import WritePlan, number, read_tool, write_tool
from tools.types import Args, Decimal_, IsoDate, RecordId, Result, ShortText, Subject, WriteResult

LIST_LIMIT = 50
MAX_CAPACITY_WEEKS = 26


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def free_days(ctx: ToolContext, week: date) -> Decimal:
    """Free delivery days in the week starting `week`, over every delivery team."""
    rows = ctx.session.scalars(select(Capacity).where(Capacity.week_start == week)).all()
    return sum((r.available_days - r.booked_days for r in rows), Decimal(0))


def _load_project(ctx: ToolContext, project_id: str) -> tuple[Project, Account]:
    project = load_on_account(ctx, Project, project_id, field="project_id")
    account = ctx.session.get(Account, project.account_id)
    assert account is not None
    return project, account


class ListProjectsArgs(Args):
    account_id: RecordId | None = None


class ProjectList(Result):
    projects: list[ProjectView]
    truncated: bool = False


@read_tool(domain="delivery")
def list_projects(ctx: ToolContext, args: ListProjectsArgs) -> ProjectList:
    """List onboarding and implementation projects, optionally of one account (soonest
    go-live first)."""
    if args.account_id:
        load_account(ctx, args.account_id)
    stmt = select(Project).join(Account).where(account_read_filter(ctx.actor))
    if args.account_id:
        stmt = stmt.where(Project.account_id == args.account_id)
    rows = ctx.session.scalars(
        stmt.order_by(Project.go_live_date, Project.id).limit(LIST_LIMIT + 1)
    ).all()
    return ProjectList(
        projects=[project_view(p) for p in rows[:LIST_LIMIT]], truncated=len(rows) > LIST_LIMIT
    )


class GetProjectArgs(Args):
    project_id: RecordId


@read_tool(domain="delivery")
def get_project(ctx: ToolContext, args: GetProjectArgs) -> ProjectView:
    """Show one delivery project."""
    project, _ = _load_project(ctx, args.project_id)
    return project_view(project)


class CheckCapacityArgs(Args):
    start_date: IsoDate
    end_date: IsoDate
    effort_days: Annotated[float, Field(gt=0, le=1000)] | None = Field(
        default=None, description="Delivery days the work needs; says whether it fits."
    )

    @model_validator(mode="after")
    def _ordered(self) -> CheckCapacityArgs:
        if self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        if (self.end_date - self.start_date).days > 7 * MAX_CAPACITY_WEEKS:
            raise ValueError(f"the range may span at most {MAX_CAPACITY_WEEKS} weeks")
        return self


class CapacityWeek(Result):
    week_start: date
    available_days: Decimal_
    booked_days: Decimal_
    free_days: Decimal_
    fully_booked: bool


class CapacityReport(Result):
    weeks: list[CapacityWeek]
    total_free_days: Decimal_
    fits: bool | None = None
    first_week_with_room: date | None = None


@read_tool(domain="delivery")
def check_capacity(ctx: ToolContext, args: CheckCapacityArgs) -> CapacityReport:
    """Delivery capacity per week between two dates, and whether a piece of work fits."""
    first, last = week_start(args.start_date), week_start(args.end_date)
    rows = ctx.session.scalars(
        select(Capacity).where(Capacity.week_start >= first, Capacity.week_start <= last)
    ).all()
    per_week: dict[date, list[Decimal]] = {}
    for row in rows:
        avail, booked = per_week.setdefault(row.week_start, [Decimal(0), Decimal(0)])
        per_week[row.week_start] = [avail + row.available_days, booked + row.booked_days]
    weeks = []
    day = first
    while day <= last:
        avail, booked = per_week.get(day, [Decimal(0), Decimal(0)])
        free = max(Decimal(0), avail - booked)
        weeks.append(
            CapacityWeek(
                week_start=day,
                available_days=avail,
                booked_days=booked,
                free_days=free,
                fully_booked=free <= 0,
            )
        )
        day += timedelta(days=7)
    total = sum((w.free_days for w in weeks), Decimal(0))
    first_room = next((w.week_start for w in weeks if not w.fully_booked), None)
    fits = None if args.effort_days is None else total >= Decimal(str(args.effort_days))
    return CapacityReport(
        weeks=weeks, total_free_days=total, fits=fits, first_week_with_room=first_room
    )


class CreateProjectArgs(Args):
    account_id: RecordId
    name: Subject
    seats: Annotated[int, Field(ge=1, le=1_000_000)]
    start_date: IsoDate
    go_live_date: IsoDate
    opportunity_id: RecordId | None = None

    @model_validator(mode="after")
    def _ordered(self) -> CreateProjectArgs:
        if self.go_live_date < self.start_date:
            raise ValueError("go_live_date must not be before start_date")
        return self


@write_tool(
    domain="delivery",
    identifying=("account_id", "opportunity_id"),
    facts={"go_live_week_free_days": number("free delivery days in the go-live week")},
)
def create_project(ctx: ToolContext, args: CreateProjectArgs) -> WritePlan:
    """Create an onboarding/implementation project with seats, start and go-live dates."""
    account = load_account(ctx, args.account_id)
    if args.opportunity_id:
        opportunity, opp_account = load_opportunity(ctx, args.opportunity_id)
        if opp_account.id != account.id:
            raise InvalidArguments(
                f"Opportunity {opportunity.id} belongs to account {opp_account.id}, not "
                f"{account.id}.",
                fields=["opportunity_id"],
            )
    require_write(ctx.actor, "create_project", account)
    project_id = new_id(ctx, "prj")
    week_free = free_days(ctx, week_start(args.go_live_date))

    def apply() -> WriteResult:
        project = Project(
            id=project_id,
            account_id=account.id,
            opportunity_id=args.opportunity_id,
            name=args.name,
            seats=args.seats,
            status="planned",
            start_date=args.start_date,
            go_live_date=args.go_live_date,
            lead_id=ctx.actor.id,
        )
        ctx.session.add(project)
        ctx.session.flush()
        return WriteResult(
            tool="create_project",
            record_type="project",
            record_id=project_id,
            message=f"Created project {project_id} '{args.name}', go-live {args.go_live_date}.",
            record=snapshot(project),
        )

    return WritePlan(
        record_type="project",
        record_id=project_id,
        account_id=account.id,
        before=None,
        after={
            "name": args.name,
            "seats": args.seats,
            "go_live_date": args.go_live_date.isoformat(),
        },
        apply=apply,
        facts={
            "account_tier": account.tier,
            "account_team": account.team,
            "go_live_week_free_days": float(week_free),
        },
        summary=f"project '{args.name}' going live {args.go_live_date}",
    )


class ScheduleGoLiveArgs(Args):
    project_id: RecordId
    go_live_date: IsoDate
    reason: ShortText | None = None


@write_tool(
    domain="delivery",
    identifying=("project_id",),
    facts={
        "go_live_delay_days": number(
            "days the go-live moves later (negative: earlier)", signed=True
        ),
        "go_live_week_free_days": number("free delivery days in the new go-live week"),
    },
    risk_hints=("customer-facing date",),
)
def schedule_go_live(ctx: ToolContext, args: ScheduleGoLiveArgs) -> WritePlan:
    """Set or move a project's go-live date (say why when moving it)."""
    project, account = _load_project(ctx, args.project_id)
    require_write(ctx.actor, "schedule_go_live", account)
    if project.start_date and args.go_live_date < project.start_date:
        raise InvalidArguments(
            f"go_live_date {args.go_live_date} is before the project's start {project.start_date}.",
            fields=["go_live_date"],
        )
    before = snapshot(project)
    delay = (args.go_live_date - project.go_live_date).days if project.go_live_date else 0
    week_free = free_days(ctx, week_start(args.go_live_date))

    def apply() -> WriteResult:
        project.go_live_date = args.go_live_date
        ctx.session.flush()
        return WriteResult(
            tool="schedule_go_live",
            record_type="project",
            record_id=project.id,
            message=f"Go-live of {project.name} set to {args.go_live_date}"
            + (f" ({delay:+d} days)." if delay else "."),
            record=snapshot(project),
        )

    return WritePlan(
        record_type="project",
        record_id=project.id,
        account_id=account.id,
        before=before,
        after={**before, "go_live_date": args.go_live_date.isoformat()},
        apply=apply,
        facts={
            "account_tier": account.tier,
            "account_team": account.team,
            "go_live_delay_days": delay,
            "go_live_week_free_days": float(week_free),
        },
        expected_version=project.version,
        summary=f"move go-live of {project.name} to {args.go_live_date} ({delay:+d} days)",
    )
