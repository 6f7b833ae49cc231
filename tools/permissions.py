"""Who may change what, enforced here in the tool layer — never left to the LLM. Who may *see*
what (rows and fields, on every surface) is decided in tools/visibility.py; this module asks it.

Row level: a rep changes only accounts or deals they own, a sales manager their team's; support
and delivery act on every account in their domain. A record the user may not see is reported
exactly like one that does not exist.
Consent is checked by the tools that contact people (see tools.catalogue.sales.send_email).
"""

from __future__ import annotations

from tools.context import Actor
from tools.errors import NotFound, PermissionRefused
from tools.models import Account, Opportunity
from tools.visibility import (
    ALL_ROLES,
    COST_FIELDS,
    DEAL_MONEY_FIELDS,
    DELIVERY_ROLES,
    SALES_ROLES,
    SUPPORT_ROLES,
    account_read_filter,
    can_read_account,
    hidden_fields,
    opportunity_read_filter,
    sees,
    sees_all_accounts,
)

__all__ = [
    "ALL_ROLES",
    "COST_FIELDS",
    "DEAL_MONEY_FIELDS",
    "WRITE_ROLES",
    "account_read_filter",
    "can_read_account",
    "hidden_fields",
    "opportunity_read_filter",
    "require_deal_money",
    "require_read_account",
    "require_write",
    "sees_all_accounts",
]

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


def require_read_account(actor: Actor, account: Account, *, field: str | None = None) -> None:
    """An account the actor may not see reads as one that does not exist."""
    if not can_read_account(actor, account):
        raise NotFound("account", account.id, field=field)


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


def require_deal_money(actor: Actor, what: str) -> None:
    if not sees(actor, "deal_money"):
        raise PermissionRefused(
            f"{actor.name} ({_roles_text(actor.roles)}) may not see {what}: deal money is "
            "visible to sales roles and admins only.",
            rule="field-level",
        )
