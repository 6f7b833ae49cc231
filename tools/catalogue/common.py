"""Helpers the catalogue shares: loading records by id, snapshots, new ids."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import inspect as sa_inspect

from tools.context import ToolContext
from tools.errors import NotFound
from tools.models import Account, Base, Opportunity
from tools.permissions import require_read_account
from tools.visibility import can_read_account

M = TypeVar("M", bound=Base)

RECORD_NAMES: dict[type[Base], str] = {}


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral() else int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def snapshot(record: Base) -> dict[str, Any]:
    """Column values of a record as JSON-friendly data (for audit before/after)."""
    mapper = sa_inspect(record).mapper
    return {attr.key: jsonable(getattr(record, attr.key)) for attr in mapper.column_attrs}


def record_noun(model: type[Base]) -> str:
    """'opportunity' for opportunities, 'ticket' for tickets: one noun per table, so a hidden
    record and a missing one are reported in the same words."""
    name = str(model.__tablename__)
    name = name[:-3] + "y" if name.endswith("ies") else name.removesuffix("s")
    return name.replace("_", " ")


def load(ctx: ToolContext, model: type[M], record_id: str, *, field: str) -> M:
    record = ctx.session.get(model, record_id)
    if record is None:
        raise NotFound(record_noun(model), record_id, field=field)
    return record


def load_account(ctx: ToolContext, account_id: str, *, field: str = "account_id") -> Account:
    account = load(ctx, Account, account_id, field=field)
    require_read_account(ctx.actor, account, field=field)
    return account


def load_on_account(ctx: ToolContext, model: type[M], record_id: str, *, field: str) -> M:
    """A record that sits on an account (ticket, project, ...), if the actor may see that
    account; otherwise it reads exactly like a record that does not exist."""
    record = load(ctx, model, record_id, field=field)
    account = ctx.session.get(Account, record.account_id)  # type: ignore[attr-defined]
    if account is None or not can_read_account(ctx.actor, account):
        raise NotFound(record_noun(model), record_id, field=field)
    return record


def load_opportunity(
    ctx: ToolContext, opportunity_id: str, *, field: str = "opportunity_id"
) -> tuple[Opportunity, Account]:
    opportunity = load(ctx, Opportunity, opportunity_id, field=field)
    account = ctx.session.get(Account, opportunity.account_id)
    assert account is not None  # foreign key
    if not can_read_account(ctx.actor, account):  # reads exactly like a missing deal
        raise NotFound("opportunity", opportunity_id, field=field)
    return opportunity, account


def new_id(ctx: ToolContext, prefix: str) -> str:
    """A new record id. Derived from the proposal when there is one, so a write prepared again
    at commit time (after review, or after a crash) creates the same record id."""
    seed = ctx.extra.get("id_seed")
    if seed:
        return f"{prefix}-{hashlib.sha256(str(seed).encode()).hexdigest()[:12]}"
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in after.items() if before.get(k) != v}
