"""Who may see and change what. Enforced here, in the tool layer — never left to the LLM.

Row level: reps and sales managers see their team's accounts; support and delivery see every
account; a rep changes only accounts or deals they own, a sales manager their team's.
Field level: deal money (amount, discount, forecast) is hidden from support and delivery roles;
cost and margin are hidden from everyone but managers and admins.
Consent is checked by the tools that contact people (see tools.catalogue.sales.send_email).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, select, true

from tools.context import Actor
from tools.errors import PermissionRefused
from tools.models import Account, Opportunity

SALES_ROLES = frozenset({"rep", "sales_manager"})
SUPPORT_ROLES = frozenset({"support", "support_lead"})
DELIVERY_ROLES = frozenset({"delivery", "delivery_lead"})
MANAGER_ROLES = frozenset({"sales_manager", "support_lead", "delivery_lead"})
ALL_ROLES = SALES_ROLES | SUPPORT_ROLES | DELIVERY_ROLES | {"admin"}

DEAL_MONEY_FIELDS = frozenset({"amount", "discount_percent"})
COST_FIELDS = frozenset({"cost", "margin_percent", "unit_cost"})

# Which roles may call each write tool at all (row-level checks come on top).
WRITE_ROLES: dict[str, frozenset[str]] = {
    "create_opportunity": SALES_ROLES,
    "update_opportunity": SALES_ROLES,
    "apply_discount": SALES_ROLES,
    "send_email": SALES_ROLES,
    "log_activity": SALES_ROLES | SUPPORT_ROLES | DELIVERY_ROLES,
    "create_task": SALES_ROLES | SUPPORT_ROLES | DELIVERY_ROLES,
    "create_ticket": SALES_ROLES | SUPPORT_ROLES,
    "update_ticket": SUPPORT_ROLES,
    "escalate_ticket": SUPPORT_ROLES,
    "grant_sla_credit": SUPPORT_ROLES,
    "create_project": DELIVERY_ROLES,
    "schedule_go_live": DELIVERY_ROLES,
}

_ROLE_NOUN = {
    "rep": "sales reps",
    "sales_manager": "sales managers",
    "support": "support engineers",
    "support_lead": "support leads",
    "delivery": "delivery engineers",
    "delivery_lead": "delivery leads",
    "admin": "admins",
}


def _roles_text(roles: frozenset[str]) -> str:
    return ", ".join(_ROLE_NOUN.get(r, r) for r in sorted(roles)) or "no role"


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


def can_read_account(actor: Actor, account: Account) -> bool:
    if sees_all_accounts(actor):
        return True
    if actor.has(*SALES_ROLES):
        if account.owner_id == actor.id:
            return True
        return actor.team is not None and account.team == actor.team
    return False


def require_read_account(actor: Actor, account: Account) -> None:
    if not can_read_account(actor, account):
        raise PermissionRefused(
            f"{actor.name} ({_roles_text(actor.roles)}) may not see account '{account.id}': "
            "sales roles see only their own team's accounts.",
            rule="row-level-read",
        )


def require_write(
    actor: Actor, tool: str, account: Account, opportunity: Opportunity | None = None
) -> None:
    """Refuse a write the actor is not permitted to make. Refusals are never queued."""
    allowed = WRITE_ROLES[tool]
    if actor.is_admin:
        return
    if not actor.roles & allowed:
        raise PermissionRefused(
            f"{actor.name} ({_roles_text(actor.roles)}) may not call {tool}: "
            f"it is for {_roles_text(allowed)}.",
            rule="role",
        )
    require_read_account(actor, account)
    if actor.has(*SUPPORT_ROLES, *DELIVERY_ROLES) and actor.roles & allowed - SALES_ROLES:
        return  # service and delivery act on every account in their domain
    if actor.has("sales_manager") and actor.team is not None and account.team == actor.team:
        return
    if "rep" in actor.roles:
        owns_account = account.owner_id == actor.id
        owns_deal = opportunity is not None and opportunity.owner_id == actor.id
        if owns_account or owns_deal:
            return
        raise PermissionRefused(
            f"{actor.name} may not call {tool} on account '{account.id}': reps change only "
            "accounts and deals they own; ask the owner or your sales manager.",
            rule="row-level-write",
        )
    raise PermissionRefused(
        f"{actor.name} may not call {tool} on account '{account.id}' of team "
        f"'{account.team}': managers change only their own team's accounts.",
        rule="row-level-write",
    )


def hidden_fields(actor: Actor) -> frozenset[str]:
    """Fields this actor must not see, whatever record they sit on."""
    hidden: set[str] = set()
    if not (actor.is_admin or actor.has(*MANAGER_ROLES)):
        hidden |= COST_FIELDS
    if not (actor.is_admin or actor.has(*SALES_ROLES)):
        hidden |= DEAL_MONEY_FIELDS
    return frozenset(hidden)


def mask(actor: Actor, values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Blank the fields the actor may not see; report which were hidden."""
    hide = hidden_fields(actor)
    removed = sorted(k for k in values if k in hide)
    return {k: (None if k in hide else v) for k, v in values.items()}, removed


def require_deal_money(actor: Actor, what: str) -> None:
    if DEAL_MONEY_FIELDS & hidden_fields(actor):
        raise PermissionRefused(
            f"{actor.name} ({_roles_text(actor.roles)}) may not see {what}: deal money is "
            "visible to sales roles and admins only.",
            rule="field-level",
        )
