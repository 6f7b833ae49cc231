"""Cross-team requests: a write another team owns, asked of that team's lead instead of refused.

A rep does not move go-live dates, support does not give discounts, delivery does not change
close dates: the tool layer refuses those writes by role (tools/permissions.py). When the write
belongs to another team's domain and the user has a relation to the account, it is not refused
but carried as a *cross-team request* to the owning team's lead, like a review
(spec/crm-contract.md, "Default policy"). The lead approves, edits or rejects; an approved
request is committed by the lead, through the same path as any approved proposal, and the
policy's own review rules still apply on top.

Plain refusal stays when
- the refusal is not about the role (another team's customer the user may not see, a
  teammate's deal, consent, invalid values);
- the tool is never delegable (a customer e-mail speaks for the account owner; new deals are
  sales' own);
- the user has no relation to the account (see `relation_to_account`);
- only some of the arguments may be asked for (delivery may ask to move a close date, not to
  change a deal's amount or stage);
- nobody but the requester holds the owning lead's role.

This module decides; tools/service.py calls it when a refused write is proposed with
`cross_team=True`, and when a request is classified and committed. The agents' side (what the
owning agent found, its counter) is agents/crossteam.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from tools.context import Actor
from tools.errors import PermissionRefused
from tools.models import Account, Contact, Opportunity, Project, Ticket, User
from tools.policy import RuleHit
from tools.visibility import DELIVERY_ROLES, SALES_ROLES, SUPPORT_ROLES

LeadRole = Literal["sales_manager", "support_lead", "delivery_lead"]
Domain = Literal["sales", "service", "delivery"]

CROSS_TEAM_RULE = "cross-team-request"
FACT = "cross_team"  # the key of a cross-team proposal's facts that carries the request

LEAD_NOUN: dict[str, str] = {
    "sales_manager": "sales manager",
    "support_lead": "support lead",
    "delivery_lead": "delivery lead",
}


@dataclass(frozen=True)
class Delegable:
    """A write tool another team may ask for: its domain, whose lead decides, and (when only
    some arguments may be asked for) which ones."""

    domain: Domain
    lead: LeadRole
    arguments: frozenset[str] | None = None


DELEGABLE: dict[str, Delegable] = {
    "schedule_go_live": Delegable("delivery", "delivery_lead"),
    "create_project": Delegable("delivery", "delivery_lead"),
    "escalate_ticket": Delegable("service", "support_lead"),
    "grant_sla_credit": Delegable("service", "support_lead"),
    "update_ticket": Delegable("service", "support_lead"),
    "apply_discount": Delegable("sales", "sales_manager"),
    "update_opportunity": Delegable(
        "sales", "sales_manager", frozenset({"opportunity_id", "close_date", "next_step"})
    ),
}

NEVER_DELEGABLE: dict[str, str] = {
    "send_email": "a message to a customer speaks for the account's owner and is never asked "
    "of another team",
    "create_opportunity": "new deals are raised by the sales team itself",
}


class CrossTeamRequest(BaseModel):
    """What a cross-team proposal carries (in `Proposal.facts["cross_team"]`): who asks, of whom,
    why they may ask, and — added by the owning agent — what it found and any counter."""

    requester_id: str
    requester_name: str
    requester_roles: list[str]
    domain: Domain
    lead_role: LeadRole
    relation: str
    refusal: str
    asked: dict[str, Any] | None = None  # the requester's own arguments, when countered
    findings: list[str] = []
    counter: dict[str, Any] | None = None  # changed arguments the owning agent proposes
    counter_reason: str | None = None

    @property
    def lead_noun(self) -> str:
        return LEAD_NOUN[self.lead_role]


@dataclass(frozen=True)
class Delegation:
    """A refused write that may be asked for: `acting_as` plans it within the owning team's
    rules (nothing is written with it), `request` is carried with the proposal."""

    acting_as: Actor
    request: CrossTeamRequest


def request_of(facts: dict[str, Any]) -> CrossTeamRequest | None:
    """The cross-team request a proposal's facts carry, if it is one."""
    raw = facts.get(FACT)
    return CrossTeamRequest.model_validate(raw) if isinstance(raw, dict) else None


def is_request(facts: dict[str, Any]) -> bool:
    return isinstance(facts.get(FACT), dict)


def delegate(
    session: Session, actor: Actor, tool: str, arguments: dict[str, Any], refusal: PermissionRefused
) -> Delegation:
    """The delegation of a write refused to `actor`, or the refusal (re-raised, with why it cannot
    be asked of another team either) when it may not become a cross-team request."""
    if refusal.rule != "role" or actor.is_admin:
        raise refusal
    if tool in NEVER_DELEGABLE:
        raise _still_refused(refusal, NEVER_DELEGABLE[tool])
    rule = DELEGABLE.get(tool)
    if rule is None:
        raise refusal
    extra = sorted(set(arguments) - rule.arguments) if rule.arguments is not None else []
    if extra:
        raise _still_refused(
            refusal,
            f"another team may ask the {LEAD_NOUN[rule.lead]} only for "
            f"{', '.join(sorted((rule.arguments or set()) - {'opportunity_id'}))}, "
            f"not {', '.join(extra)}",
        )
    account = account_of(session, arguments)
    if account is None:
        raise refusal
    relation = relation_to_account(session, actor, account)
    if relation is None:
        raise _still_refused(
            refusal,
            f"{actor.name} has no relation to account '{account.id}' (not its owner, its team, "
            "a deal, a ticket or a project on it), so it is not asked of another team either",
        )
    leads = session.scalars(select(User).order_by(User.id)).all()
    if not any(rule.lead in (u.roles or []) and u.id != actor.id for u in leads):
        raise _still_refused(
            refusal, f"nobody holds the {LEAD_NOUN[rule.lead]} role to decide such a request"
        )
    acting_as = Actor(
        id=actor.id,
        name=actor.name,
        roles=frozenset({rule.lead}),
        team=account.team,
        manager_id=actor.manager_id,
        email=actor.email,
    )
    request = CrossTeamRequest(
        requester_id=actor.id,
        requester_name=actor.name,
        requester_roles=sorted(actor.roles),
        domain=rule.domain,
        lead_role=rule.lead,
        relation=relation,
        refusal=refusal.message,
    )
    return Delegation(acting_as=acting_as, request=request)


def account_of(session: Session, arguments: dict[str, Any]) -> Account | None:
    """The account a write's arguments point at (directly or through its record)."""
    if isinstance(arguments.get("account_id"), str):
        return session.get(Account, arguments["account_id"])
    through: list[tuple[str, Any]] = [
        ("opportunity_id", Opportunity),
        ("project_id", Project),
        ("ticket_id", Ticket),
        ("contact_id", Contact),
    ]
    for key, model in through:
        if isinstance(arguments.get(key), str):
            record = session.get(model, arguments[key])
            return session.get(Account, record.account_id) if record is not None else None
    return None


def relation_to_account(session: Session, actor: Actor, account: Account) -> str | None:
    """Why `actor` may ask another team about `account`, or None (another team's customer)."""
    if actor.has(*SALES_ROLES):
        if account.owner_id == actor.id:
            return "owns the account"
        deal = session.scalar(
            select(Opportunity.id).where(
                Opportunity.account_id == account.id, Opportunity.owner_id == actor.id
            )
        )
        if deal is not None:
            return f"owns deal {deal}"
        if actor.team is not None and account.team == actor.team:
            return f"the account is on their team ({actor.team})"
    if actor.has(*SUPPORT_ROLES):
        stmt = select(Ticket.id).where(Ticket.account_id == account.id).order_by(Ticket.id)
        if not actor.has("support_lead"):
            stmt = stmt.where(Ticket.assignee_id == actor.id)
        ticket = session.scalars(stmt).first()
        if ticket is not None:
            return f"works ticket {ticket}"
    if actor.has(*DELIVERY_ROLES):
        stmt = select(Project.id).where(Project.account_id == account.id).order_by(Project.id)
        if not actor.has("delivery_lead"):
            stmt = stmt.where(Project.lead_id == actor.id)
        project = session.scalars(stmt).first()
        if project is not None:
            return f"delivers project {project}"
    return None


def request_hit_reason(request: CrossTeamRequest) -> str:
    """The reason the review card and the requester read: who asks of whom, what the owning
    agent found, and its counter."""
    roles = ", ".join(request.requester_roles) or "no role"
    parts = [
        f"Cross-team request from {request.requester_name} ({roles}; {request.relation}) "
        f"to the {request.lead_noun}"
    ]
    if request.findings:
        parts.append(f"{request.domain} found: " + "; ".join(request.findings))
    if request.counter and request.asked is not None:
        asked = ", ".join(f"{k} {request.asked.get(k)}" for k in request.counter)
        offered = ", ".join(f"{k} {v}" for k, v in request.counter.items())
        parts.append(
            f"{request.domain} counters: {offered} instead of {asked}"
            + (f" ({request.counter_reason})" if request.counter_reason else "")
        )
    return " — ".join(parts)


def committer(facts: dict[str, Any], actor_id: str, reviewer_id: str) -> str:
    """Who makes an approved write: the requester, or for a cross-team request the lead who
    decided it (their permission is checked again when it commits)."""
    return reviewer_id if is_request(facts) else actor_id


def _still_refused(refusal: PermissionRefused, why: str) -> PermissionRefused:
    return PermissionRefused(f"{refusal.message} It cannot be requested: {why}.", rule=refusal.rule)


def with_request_hit(facts: dict[str, Any], hits: list[RuleHit]) -> list[RuleHit]:
    """A cross-team proposal's rule hits: the owning lead's step first, then the policy's own
    (which still apply on top). Not in the policy file: a request cannot be configured away."""
    request = request_of(facts)
    if request is None:
        return hits
    hit = RuleHit(CROSS_TEAM_RULE, request.lead_role, request_hit_reason(request))
    return [hit, *(h for h in hits if h.rule_id != CROSS_TEAM_RULE)]
