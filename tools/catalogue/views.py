"""What read tools return: records as the acting user may see them (hidden fields blanked and
named in `hidden_fields`, so an agent can say "I can't see the amount" instead of guessing),
decided by tools/visibility.py."""

from __future__ import annotations

from datetime import date, datetime

from tools.context import Actor
from tools.models import Account, Activity, Contact, Opportunity, Project, Task, Ticket
from tools.types import Decimal_, Result
from tools.visibility import Reader, SalesScope, mask_record, render_for


class AccountView(Result):
    id: str
    name: str
    domain: str | None
    industry: str | None
    tier: str
    owner_id: str | None
    team: str | None
    region: str | None


class ContactView(Result):
    id: str
    account_id: str
    name: str
    email: str | None
    phone: str | None
    title: str | None
    consent: dict[str, bool]


class OpportunityView(Result):
    id: str
    account_id: str
    name: str
    stage: str
    amount: Decimal_ | None
    currency: str
    discount_percent: Decimal_ | None
    close_date: date | None
    probability: int | None
    owner_id: str | None
    next_step: str | None
    seats: int | None
    cost: Decimal_ | None = None
    margin_percent: Decimal_ | None = None
    version: int
    hidden_fields: list[str] = []


class ActivityView(Result):
    id: str
    kind: str
    subject: str
    summary: str
    occurred_at: datetime
    author_id: str | None
    opportunity_id: str | None
    contact_ids: list[str]


class TaskView(Result):
    id: str
    subject: str
    due_date: date
    owner_id: str | None
    account_id: str | None
    opportunity_id: str | None
    status: str


class TicketView(Result):
    id: str
    account_id: str
    subject: str
    description: str
    priority: str
    status: str
    assignee_id: str | None
    opened_at: datetime
    sla_due_at: datetime | None
    sla_breached: bool
    escalated: bool
    version: int


class ProjectView(Result):
    id: str
    account_id: str
    opportunity_id: str | None
    name: str
    seats: int
    status: str
    start_date: date | None
    go_live_date: date | None
    lead_id: str | None
    version: int


def account_view(account: Account) -> AccountView:
    return AccountView.model_validate(account, from_attributes=True)


def contact_view(contact: Contact) -> ContactView:
    return ContactView(
        id=contact.id,
        account_id=contact.account_id,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        title=contact.title,
        consent={
            "email": contact.consent_email,
            "phone": contact.consent_phone,
            "marketing": contact.consent_marketing,
        },
    )


def opportunity_view(actor: Actor, opportunity: Opportunity) -> OpportunityView:
    values = {
        name: getattr(opportunity, name)
        for name in OpportunityView.model_fields
        if name != "hidden_fields"
    }
    scope = SalesScope(team=opportunity.team, owner_id=opportunity.owner_id)
    visible, hidden = mask_record(actor, "opportunities", values, scope)
    return OpportunityView(**visible, hidden_fields=hidden)


def activity_view(
    reader: Reader, activity: Activity, scope: SalesScope | None = None
) -> ActivityView:
    """An activity as the reader may read it: its subject and summary (often written from a
    meeting or a deal) rendered per reader (tools/visibility.render_for)."""
    view = ActivityView.model_validate(activity, from_attributes=True)
    return view.model_copy(
        update={
            "subject": render_for(reader, view.subject, scope),
            "summary": render_for(reader, view.summary, scope),
        }
    )


def task_view(task: Task) -> TaskView:
    return TaskView.model_validate(task, from_attributes=True)


def ticket_view(ticket: Ticket, now: datetime) -> TicketView:
    breached = (
        ticket.sla_due_at is not None
        and ticket.status in ("open", "pending")
        and ticket.sla_due_at < now
    )
    return TicketView(
        id=ticket.id,
        account_id=ticket.account_id,
        subject=ticket.subject,
        description=ticket.description,
        priority=ticket.priority,
        status=ticket.status,
        assignee_id=ticket.assignee_id,
        opened_at=ticket.opened_at,
        sla_due_at=ticket.sla_due_at,
        sla_breached=breached,
        escalated=ticket.escalated,
        version=ticket.version,
    )


def project_view(project: Project) -> ProjectView:
    return ProjectView.model_validate(project, from_attributes=True)
