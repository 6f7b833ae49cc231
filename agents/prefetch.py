"""What a specialist already knows before its first model call.

When the router has linked the request to an account, the facts every specialist looks up first
(the account, its people and open deals; its open tickets; its projects) are read here, through
the same permission-checked tools, and handed to the model as one compact data block. A small
model then answers or acts in one call instead of spending a call (and a full prompt) on the
lookup. The block is data like any tool output: delimited, never instructions.
"""

from __future__ import annotations

from typing import Any

from agents.state import SpecialistName
from tools.context import Actor
from tools.service import CRMService

MAX_ITEMS = 6


def account_digest(
    crm: CRMService, actor: Actor, agent: SpecialistName, account_id: str
) -> str | None:
    """A few lines about the account for this agent, or None when the actor may not see it."""
    found = crm.read("get_account", {"account_id": account_id}, actor)
    if not found.get("ok"):
        return None
    account = found["account"]
    lines = [
        f"account {account['id']}: {account['name']} ({account['tier']}, owner "
        f"{account.get('owner_id') or 'none'})"
    ]
    if agent == "sales":
        lines += _contacts(found.get("contacts") or [])
        lines += [_opportunity(o) for o in (found.get("open_opportunities") or [])[:MAX_ITEMS]]
        if not found.get("open_opportunities"):
            lines.append("no open opportunities")
        lines.append(f"open tickets: {found.get('open_tickets', 0)}")
    elif agent == "service":
        tickets = crm.read("list_tickets", {"account_id": account_id}, actor)
        open_ = (
            [t for t in tickets.get("tickets", []) if t["status"] in ("open", "pending")]
            if tickets.get("ok")
            else []
        )
        lines += [_ticket(t) for t in open_[:MAX_ITEMS]] or ["no open tickets"]
    else:
        projects = crm.read("list_projects", {"account_id": account_id}, actor)
        listed = projects.get("projects", []) if projects.get("ok") else []
        lines += [_project(p) for p in listed[:MAX_ITEMS]] or ["no delivery projects"]
    body = "\n".join(lines)
    return f'Already looked up:\n<data source="account">\n{body}\n</data>'


def _contacts(contacts: list[dict[str, Any]]) -> list[str]:
    if not contacts:
        return ["no contacts"]
    shown = []
    for c in contacts[:MAX_ITEMS]:
        consent = "" if (c.get("consent") or {}).get("email") else ", no e-mail consent"
        shown.append(f"{c['id']} {c['name']} ({c.get('title') or 'no title'}{consent})")
    return ["contacts: " + "; ".join(shown)]


def _opportunity(o: dict[str, Any]) -> str:
    money = f"{o['amount']} {o['currency']}" if o.get("amount") is not None else "no amount"
    seats = f", {o['seats']} seats" if o.get("seats") else ""
    step = f", next step: {o['next_step']}" if o.get("next_step") else ""
    return (
        f"opportunity {o['id']} {o['name']}: {o['stage']}, {money}{seats}, closes "
        f"{o['close_date']}{step}"
    )


def _ticket(t: dict[str, Any]) -> str:
    breached = ", SLA breached" if t.get("sla_breached") else ""
    return (
        f"ticket {t['id']} {t['priority'].upper()} {t['status']}: {t['subject']} (SLA due "
        f"{str(t.get('sla_due_at'))[:16]}{breached})"
    )


def _project(p: dict[str, Any]) -> str:
    return (
        f"project {p['id']} {p['name']}: {p['status']}, {p['seats']} seats, start "
        f"{p.get('start_date')}, go-live {p.get('go_live_date')}"
    )
