"""The audit trail as one user may read it (`warroom audit --as USER`).

Rows: admins read every event; anyone else reads the events on accounts they may see, and
their own actions. An event that sits on no account (a privacy request, a system action) is for
admins and its actor only. Fields: before/after payloads, arguments (negotiation transcripts
included) and reasons go through tools/visibility.py like every other surface, so a support
lead reads "(hidden)" where a deal's amount changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from tools.context import Actor
from tools.models import (
    Account,
    Activity,
    AuditEvent,
    Base,
    Contact,
    Opportunity,
    OutboxMessage,
    Project,
    Task,
    Ticket,
)
from tools.visibility import can_read_account, mask_arguments, render_for, scope_of

__all__ = ["AuditRow", "audit_trail"]

_RECORDS: dict[str, type[Base]] = {
    "account": Account,
    "activity": Activity,
    "contact": Contact,
    "opportunity": Opportunity,
    "outbox": OutboxMessage,
    "project": Project,
    "task": Task,
    "ticket": Ticket,
}
_SCAN_FACTOR = 20  # events read per event shown, at most, when most are hidden from the reader


class AuditRow(BaseModel):
    id: int
    at: datetime
    actor_id: str | None
    action: str
    outcome: str
    record_type: str | None
    record_id: str | None
    arguments: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    proposal_id: str | None
    approval_id: str | None
    thread_id: str | None


def _account_id(session: Session, event: AuditEvent) -> str | None:
    for payload in (event.after, event.before, event.arguments):
        if isinstance(payload, dict) and isinstance(payload.get("account_id"), str):
            return str(payload["account_id"])
    if event.record_type == "account":
        return event.record_id
    model = _RECORDS.get(event.record_type or "")
    if model is None or event.record_id is None:
        return None
    record = session.get(model, event.record_id)
    return getattr(record, "account_id", None)


def audit_trail(
    session: Session,
    reader: Actor,
    *,
    limit: int = 50,
    actor_id: str | None = None,
    record_id: str | None = None,
) -> list[AuditRow]:
    """The newest `limit` events the reader may see, masked for the reader."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    if actor_id:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if record_id:
        stmt = stmt.where(AuditEvent.record_id == record_id)
    rows: list[AuditRow] = []
    accounts: dict[str, Account | None] = {}
    for event in session.scalars(stmt.limit(limit * _SCAN_FACTOR)):
        account_id = _account_id(session, event)
        account = None
        if account_id is not None:
            if account_id not in accounts:
                accounts[account_id] = session.get(Account, account_id)
            account = accounts[account_id]
        own = event.actor_id == reader.id
        if not reader.is_admin and not own:
            if account is None or not can_read_account(reader, account):
                continue
        scope = scope_of(account)
        tool = event.action
        rows.append(
            AuditRow(
                id=event.id,
                at=event.at,
                actor_id=event.actor_id,
                action=event.action,
                outcome=event.outcome,
                record_type=event.record_type,
                record_id=event.record_id,
                arguments=mask_arguments(reader, tool, event.arguments or {}, scope),
                before=mask_arguments(reader, tool, event.before, scope),
                after=mask_arguments(reader, tool, event.after, scope),
                reason=render_for(reader, event.reason, scope) if event.reason else None,
                proposal_id=event.proposal_id,
                approval_id=event.approval_id,
                thread_id=event.thread_id,
            )
        )
        if len(rows) >= limit:
            break
    return rows
