"""One inbox per person: everything that waits for them, oldest first, with its age.

- reviews they may decide, and cross-team requests asked of them (both are review records);
- tasks assigned to them, and their team's queue (open tasks nobody owns on their team's
  accounts);
- for support roles, tickets assigned to them and the unassigned open tickets (the support
  queue);
- and, apart, their own requests still waiting for someone else.

`warroom inbox --as USER` and `/inbox` in chat both show `inbox(...)`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from tools.context import Actor
from tools.crossteam import CROSS_TEAM_RULE
from tools.models import Account, AuditEvent, Task, Ticket, User
from tools.service import CRMService
from tools.visibility import SUPPORT_ROLES

ItemKind = Literal["review", "cross-team request", "task", "team task", "ticket", "team ticket"]
MAX_ITEMS = 100


class InboxItem(BaseModel):
    kind: ItemKind
    id: str
    title: str
    account_id: str | None = None
    from_user: str | None = None
    since: datetime | None = None  # when it started waiting, when known
    due: date | None = None
    age: str


class Inbox(BaseModel):
    user_id: str
    items: list[InboxItem]  # waiting for them, oldest first
    waiting_on_others: list[InboxItem]  # their own requests, still pending


def inbox(crm: CRMService, actor: Actor) -> Inbox:
    now = crm.clock.now()
    items: list[InboxItem] = []
    with crm.db.read_session() as session:
        names = {u.id: u.name for u in session.scalars(select(User))}
    for row in crm.reviews(reviewer_id=actor.id):
        items.append(_review_item(row, names, now))
    mine = [_review_item(r, names, now) for r in crm.reviews(requested_by=actor.id)]
    with crm.db.read_session() as session:
        tasks = session.scalars(
            select(Task).where(Task.status == "open", Task.owner_id == actor.id)
        ).all()
        queue: list[Task] = []
        if actor.team:
            queue = list(
                session.scalars(
                    select(Task)
                    .join(Account, Task.account_id == Account.id)
                    .where(Task.status == "open", Task.owner_id.is_(None))
                    .where(Account.team == actor.team)
                )
            )
        created = _created_at(session, [t.id for t in [*tasks, *queue]])
        for task, kind in [*((t, "task") for t in tasks), *((t, "team task") for t in queue)]:
            since = created.get(task.id)
            items.append(
                InboxItem(
                    kind=kind,  # type: ignore[arg-type]
                    id=task.id,
                    title=task.subject,
                    account_id=task.account_id,
                    since=since,
                    due=task.due_date,
                    age=_age(now, since, task.due_date),
                )
            )
        if actor.has(*SUPPORT_ROLES):
            tickets = session.scalars(
                select(Ticket).where(
                    Ticket.status.in_(("open", "pending")),
                    (Ticket.assignee_id == actor.id) | Ticket.assignee_id.is_(None),
                )
            ).all()
            for ticket in tickets:
                items.append(
                    InboxItem(
                        kind="ticket" if ticket.assignee_id == actor.id else "team ticket",
                        id=ticket.id,
                        title=f"{ticket.priority.upper()} {ticket.subject}",
                        account_id=ticket.account_id,
                        since=ticket.opened_at,
                        age=_age(now, ticket.opened_at, None),
                    )
                )
    items.sort(key=_oldest_first)
    mine.sort(key=_oldest_first)
    return Inbox(user_id=actor.id, items=items[:MAX_ITEMS], waiting_on_others=mine[:MAX_ITEMS])


def _review_item(row: dict[str, Any], names: dict[str, str], now: datetime) -> InboxItem:
    proposal = (row.get("context") or {}).get("proposal") or {}
    cross = CROSS_TEAM_RULE in (row.get("rule_ids") or [])
    since = row["created_at"]
    if isinstance(since, str):
        since = datetime.fromisoformat(since)
    return InboxItem(
        kind="cross-team request" if cross else "review",
        id=row["id"],
        title=str(proposal.get("summary") or row["tool"]),
        account_id=proposal.get("account_id"),
        from_user=names.get(row["requested_by"], row["requested_by"]),
        since=since,
        age=_age(now, since, None),
    )


def _created_at(session: Session, task_ids: list[str]) -> dict[str, datetime]:
    if not task_ids:
        return {}
    stmt = select(AuditEvent.record_id, AuditEvent.at).where(
        AuditEvent.action == "create_task",
        AuditEvent.outcome == "committed",
        AuditEvent.record_id.in_(task_ids),
    )
    return {str(rid): at for rid, at in session.execute(stmt)}


def _oldest_first(item: InboxItem) -> datetime:
    if item.since is not None:
        return item.since
    if item.due is not None:
        return datetime.combine(item.due, time.min, UTC)
    return datetime.max.replace(tzinfo=UTC)


def _age(now: datetime, since: datetime | None, due: date | None) -> str:
    if since is not None:
        return _span(now - since) + " old"
    if due is not None:
        days = (due - now.date()).days
        if days < 0:
            return f"{-days}d overdue"
        return "due today" if days == 0 else f"due in {days}d"
    return "?"


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 3600:
        return f"{max(seconds // 60, 0)}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
