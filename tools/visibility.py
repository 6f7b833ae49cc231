"""Who sees what: the one visibility model every surface that shows data to a person applies.

Rows: sales roles (rep, sales_manager) see their team's accounts (a rep without a team only
their own); support and delivery roles see every account; admins see everything. Whatever sits
on an account (opportunities, activities, tickets, projects, memory facts, audit events, meeting
receipts) is visible exactly when the account is.

Fields: deal money — an opportunity's amount and discount, forecast figures, price-cut facts —
is for sales roles (within their rows) and admins; cost and margin are for sales managers and
admins. Support and delivery leads manage their own domain, not deal money.

Derived text (meeting summaries, activities, memory facts, negotiation messages, review cards,
audit reasons) is stored with what it reveals: a figure taken from a restricted field is
written as a tagged span, ``⟦amount|120000 EUR⟧``, and `render_for(reader, text)` shows it, or
"(amount hidden)", per reader. Untagged text from people and customers ("we need 20% off, so
EUR 96k") is masked by pattern for a reader who may not see deal money. A reader is one user or
an `Audience` (a shared channel): an audience sees only what every member may see.

"Not found" and "not yours" read the same: a record the reader may not see is reported exactly
like a record that does not exist (`NotFound`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, false, select, true

from tools.context import Actor
from tools.models import Account, Opportunity

__all__ = [
    "ALL_ROLES",
    "COST_FIELDS",
    "DEAL_MONEY_FIELDS",
    "Audience",
    "FieldClass",
    "Reader",
    "SalesScope",
    "account_read_filter",
    "deal_money_filter",
    "can_read_account",
    "hidden_classes",
    "hidden_fields",
    "mask_arguments",
    "mask_record",
    "opportunity_read_filter",
    "receipt_for",
    "render_for",
    "review_for",
    "sees",
    "sees_all_accounts",
    "tag",
]

SALES_ROLES = frozenset({"rep", "sales_manager"})
SUPPORT_ROLES = frozenset({"support", "support_lead"})
DELIVERY_ROLES = frozenset({"delivery", "delivery_lead"})
ALL_ROLES = SALES_ROLES | SUPPORT_ROLES | DELIVERY_ROLES | {"admin"}

FieldClass = Literal["deal_money", "cost"]

# Which roles may read each class of restricted field (admins always may).
FIELD_READERS: dict[FieldClass, frozenset[str]] = {
    "deal_money": SALES_ROLES,
    "cost": frozenset({"sales_manager"}),
}

# Restricted fields of records, by table. Only these tables carry deal money: an SLA credit's
# amount is service money, visible to whoever sees the ticket side of the account.
RECORD_FIELDS: dict[str, dict[str, FieldClass]] = {
    "opportunities": {
        "amount": "deal_money",
        "discount_percent": "deal_money",
        "cost": "cost",
        "margin_percent": "cost",
    },
    "products": {"unit_cost": "cost"},
}
# The same fields as tool arguments and facts (the name a tool or a policy fact gives them).
ARGUMENT_FIELDS: dict[str, dict[str, FieldClass]] = {
    "create_opportunity": {"amount": "deal_money"},
    "update_opportunity": {"amount": "deal_money"},
    "apply_discount": {"percent": "deal_money"},
}
FACT_FIELDS: dict[str, FieldClass] = {
    "amount": "deal_money",
    "old_amount": "deal_money",
    "new_amount": "deal_money",
    "discount_percent": "deal_money",
    "percent": "deal_money",
    "effective_discount_percent": "deal_money",
    "amount_change_percent": "deal_money",
    "pipeline": "deal_money",
    "weighted": "deal_money",
    "closed_won": "deal_money",
    "cost": "cost",
    "margin_percent": "cost",
    "unit_cost": "cost",
}
# What a tagged span is called when it is hidden ("(amount hidden)").
TAG_CLASSES: dict[str, FieldClass] = {
    "amount": "deal_money",
    "discount": "deal_money",
    "forecast": "deal_money",
    "price_cut": "deal_money",
    "cost": "cost",
    "margin": "cost",
}
DEAL_MONEY_FIELDS = frozenset(
    f for fields in RECORD_FIELDS.values() for f, c in fields.items() if c == "deal_money"
)
COST_FIELDS = frozenset(
    f for fields in RECORD_FIELDS.values() for f, c in fields.items() if c == "cost"
)


@dataclass(frozen=True)
class Audience:
    """Several readers at once (a shared review channel): sees what every member may see."""

    members: tuple[Actor, ...]

    @classmethod
    def of(cls, members: Iterable[Actor]) -> Audience:
        return cls(tuple(members))


Reader = Actor | Audience


@dataclass(frozen=True)
class SalesScope:
    """The account a record sits on, as far as deal money cares: its sales team and owner."""

    team: str | None
    owner_id: str | None


def in_sales_scope(actor: Actor, scope: SalesScope) -> bool:
    """Whether the account is in the actor's sales rows (a rep who is also in support sees
    every account, but deal money only on their own team's)."""
    if actor.team is not None and scope.team == actor.team:
        return True
    return scope.owner_id is not None and scope.owner_id == actor.id


def _actor_sees(actor: Actor, field_class: FieldClass, scope: SalesScope | None) -> bool:
    if actor.is_admin:
        return True
    if not actor.has(*FIELD_READERS[field_class]):
        return False
    return scope is None or in_sales_scope(actor, scope)


def hidden_classes(reader: Reader, scope: SalesScope | None = None) -> frozenset[FieldClass]:
    """The classes of restricted field this reader may not see (on the account `scope`, when
    known). An empty audience (nobody known) sees nothing restricted."""
    members = reader.members if isinstance(reader, Audience) else (reader,)
    classes: tuple[FieldClass, ...] = ("deal_money", "cost")
    if not members:
        return frozenset(classes)
    return frozenset(c for c in classes if not all(_actor_sees(m, c, scope) for m in members))


def sees(reader: Reader, field_class: FieldClass, scope: SalesScope | None = None) -> bool:
    return field_class not in hidden_classes(reader, scope)


def hidden_fields(
    reader: Reader, table: str = "opportunities", scope: SalesScope | None = None
) -> frozenset[str]:
    """Fields of `table` the reader may not see (on the account `scope`, when known)."""
    hidden = hidden_classes(reader, scope)
    return frozenset(f for f, c in RECORD_FIELDS.get(table, {}).items() if c in hidden)


def mask_record(
    reader: Reader, table: str, values: Mapping[str, Any], scope: SalesScope | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The record's values with the fields the reader may not see blanked, and their names."""
    hide = hidden_fields(reader, table, scope)
    removed = sorted(k for k in values if k in hide)
    return {k: (None if k in hide else v) for k, v in values.items()}, removed


def mask_arguments(
    reader: Reader, tool: str | None, arguments: Any, scope: SalesScope | None = None
) -> Any:
    """Tool arguments, policy facts or an audit payload as the reader may see them: restricted
    values replaced by "(hidden)", free text rendered with `render_for`, recursively."""
    hidden = hidden_classes(reader, scope)
    fields = {**FACT_FIELDS, **ARGUMENT_FIELDS.get(tool or "", {})}
    if tool == "grant_sla_credit":
        fields.pop("amount", None)  # service money, not deal money

    def walk(value: Any) -> Any:
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                field_class = fields.get(str(key))
                if field_class in hidden and item is not None:
                    out[key] = "(hidden)"
                else:
                    out[key] = walk(item)
            return out
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return render_for(reader, value, scope)
        return value

    return walk(arguments)


# ---------------------------------------------------------------- derived text

_TAG = re.compile(r"⟦(?P<name>[a-z_]+)\|(?P<value>[^⟦⟧]*)⟧")
_CURRENCY = (
    r"(?:USD|EUR|GBP|CHF|JPY|CNY|RMB|AUD|CAD|SEK|NOK|DKK|INR|SGD|HKD|US\$|\$|€|£|¥|"
    r"dollars?|euros?|pounds?|bucks|yuan|美元|元|人民币)"
)
_NUMBER = r"\d[\d,.' ]*\d(?:\s?(?:k|K|m|M|mn|bn|million|thousand|万|千))?|\d(?:\s?(?:k|K|m|M))?"
_MONEY = re.compile(
    rf"(?<![\w⟦]){_CURRENCY}\s?(?:{_NUMBER})(?!\w)|(?<![\w.])(?:{_NUMBER})\s?{_CURRENCY}(?![\w])"
)
_PERCENT_WORDS = (
    r"discount|off|rebate|price[- ]cut|cut|markdown|margin|markup|concession|reduction|"
    r"折扣|折|优惠|降价|毛利"
)
_PRICE_CUT = re.compile(
    rf"(?:\d+(?:\.\d+)?\s?%[^.\n;]{{0,30}}?(?:{_PERCENT_WORDS}))"
    rf"|(?:(?:{_PERCENT_WORDS})[^.\n;%]{{0,30}}?\d+(?:\.\d+)?\s?%)",
    re.IGNORECASE,
)


def tag(name: str, value: Any) -> str:
    """A figure from a restricted field, as it is written into derived text: the span is
    shown to readers who may see `name` ("amount", "discount", "forecast", "price_cut",
    "cost", "margin") and hidden from the others."""
    if name not in TAG_CLASSES:
        raise ValueError(f"Unknown visibility tag {name!r}; use one of {sorted(TAG_CLASSES)}.")
    text = str(value).replace("⟦", "").replace("⟧", "").replace("|", "/")
    return f"⟦{name}|{text}⟧"


def _hidden_label(name: str) -> str:
    return f"({name.replace('_', ' ')} hidden)"


def render_for(reader: Reader, text: str | None, scope: SalesScope | None = None) -> str:
    """Derived text as this reader may read it: tagged spans shown or replaced by "(amount
    hidden)"; for a reader without deal money, untagged money amounts and price cuts too."""
    if not text:
        return text or ""
    hidden = hidden_classes(reader, scope)

    def span(match: re.Match[str]) -> str:
        name = match.group("name")
        if TAG_CLASSES.get(name, "deal_money") in hidden:
            return _hidden_label(name)
        return match.group("value")

    if "⟦" in text:
        text = _TAG.sub(span, text)
    if "deal_money" in hidden:
        text = _PRICE_CUT.sub(_hidden_label("price_cut"), text)
        text = _MONEY.sub(_hidden_label("amount"), text)
    return text


def strip_tags(text: str) -> str:
    """The text with its tags' values shown (for a reader who sees everything, e.g. search)."""
    return _TAG.sub(lambda m: m.group("value"), text)


# ---------------------------------------------------------------- rows


def sees_all_accounts(actor: Actor) -> bool:
    return actor.is_admin or actor.has(*SUPPORT_ROLES, *DELIVERY_ROLES)


def account_read_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on Account rows the actor may see (used by every list query)."""
    if sees_all_accounts(actor):
        return true()
    if actor.has(*SALES_ROLES) and actor.team:
        return Account.team == actor.team
    if actor.has(*SALES_ROLES):
        return Account.owner_id == actor.id
    return Account.id.is_(None)  # a user with no known role sees nothing


def opportunity_read_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on Opportunity rows whose account the actor may see: the same rule as
    `account_read_filter`, read from the opportunity's copy of its account's team so that a
    team-wide aggregate needs no join (tools/models.py keeps the copy equal)."""
    if sees_all_accounts(actor):
        return true()
    if actor.has(*SALES_ROLES) and actor.team:
        return Opportunity.team == actor.team
    if actor.has(*SALES_ROLES):
        return Opportunity.account_id.in_(select(Account.id).where(Account.owner_id == actor.id))
    return false()


def deal_money_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on Opportunity rows whose money the actor may see (forecast sums): the
    sales rows, not the wider rows a support or delivery role adds."""
    if actor.is_admin:
        return true()
    if not actor.has(*SALES_ROLES):
        return false()
    if actor.team:
        return Opportunity.team == actor.team
    return Opportunity.account_id.in_(select(Account.id).where(Account.owner_id == actor.id))


def scope_of(account: Account | None) -> SalesScope | None:
    return None if account is None else SalesScope(team=account.team, owner_id=account.owner_id)


def can_read_account(actor: Actor, account: Account) -> bool:
    if sees_all_accounts(actor):
        return True
    if actor.has(*SALES_ROLES):
        if account.owner_id == actor.id:
            return True
        return actor.team is not None and account.team == actor.team
    return False


# ---------------------------------------------------------------- review requests

_SHARED_NOTE = (
    "Figures this channel may not see are hidden; the reviewer's own view (the Edit dialog, "
    "or `warroom review --as YOU`) shows them."
)


def review_for(reader: Reader, row: Mapping[str, Any]) -> dict[str, Any]:
    """A review request (a row of `CRMService.reviews`) as the reader may see it: arguments,
    the proposal (summary, before/after, facts), negotiation transcripts and comments masked.
    For a shared channel pass an `Audience`; `Audience(())` shows only what everyone may see."""
    context = row.get("context") or {}
    facts = (context.get("proposal") or {}).get("facts") or {}
    team = facts.get("account_team")
    scope = SalesScope(team=team, owner_id=None) if isinstance(team, str) else None
    tool = row.get("tool")
    keep = {
        *("id", "proposal_id", "tool", "requested_by", "reviewer_role", "reviewer_ids"),
        *("rule_ids", "status", "thread_id", "decided_by", "decided_at", "created_at"),
        *("expires_at", "version"),
    }
    shown = {
        key: (value if key in keep else mask_arguments(reader, tool, value, scope))
        for key, value in row.items()
    }
    if isinstance(reader, Audience) and hidden_classes(reader, scope):
        shown["visibility_note"] = _SHARED_NOTE
    return shown


# ---------------------------------------------------------------- ingestion receipts


def receipt_for(
    reader: Actor, *, first_actor_id: str, account: Account | None, result: Mapping[str, Any]
) -> dict[str, Any] | None:
    """An earlier ingestion's result (a meeting receipt) as `reader` may see it, or None when
    the reader may not see it at all: only its first ingester, an admin, or someone who may
    read the account it was applied to. Deal figures in it are masked like everywhere else."""
    if reader.id != first_actor_id and not reader.is_admin:
        if account is None or not can_read_account(reader, account):
            return None
    shown = mask_arguments(reader, None, dict(result), scope_of(account))
    assert isinstance(shown, dict)
    return shown
