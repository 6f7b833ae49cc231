"""What a specialist already knows before its first model call.

When the router has linked the request to an account, the facts every specialist looks up first
(the account, its people and open deals; its open tickets; its projects) are read here, through
the same permission-checked tools, and handed to the model as one compact data block. A small
model then answers or acts in one call instead of spending a call (and a full prompt) on the
lookup. The block is data like any tool output: delimited, never instructions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from agents.state import SpecialistName
from tools.context import Actor
from tools.dates import dates_in
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


# The record a question is about is opened with its own read tool: the answer needs its body
# (a ticket's description, a deal's next step), which no digest carries.
RECORD_ID = re.compile(r"\b(opp|tkt|prj|con)-[a-z0-9][\w-]*", re.IGNORECASE)
READ_TOOL: dict[str, tuple[str, str]] = {
    "opp": ("get_opportunity", "opportunity_id"),
    "tkt": ("get_ticket", "ticket_id"),
    "prj": ("get_project", "project_id"),
}
MAX_RECORDS = 3


@dataclass(frozen=True)
class RecordRead:
    """One record opened for the question: the read tool, its arguments and its output."""

    tool: str
    arguments: dict[str, Any]
    output: dict[str, Any]

    @property
    def ok(self) -> bool:
        return bool(self.output.get("ok", True))


def records_asked_about(
    crm: CRMService, actor: Actor, text: str, account_id: str | None
) -> list[RecordRead]:
    """The deals, tickets, projects and contacts the words name (by id, or by name within the
    linked account), each opened with its read tool as the user may see it."""
    wanted: dict[str, str] = {}  # record id → kind, in the order named
    for match in RECORD_ID.finditer(text):
        wanted.setdefault(match.group(0).rstrip("-.").lower(), match.group(1).lower())
    contacts: list[dict[str, Any]] = []
    if account_id:
        lowered = text.lower()
        for kind, tool, key, label in (
            ("opp", "list_opportunities", "opportunities", "name"),
            ("tkt", "list_tickets", "tickets", "subject"),
            ("prj", "list_projects", "projects", "name"),
        ):
            listed = crm.read(tool, {"account_id": account_id}, actor)
            for item in listed.get(key, []) if listed.get("ok") else []:
                name = str(item.get(label) or "").lower()
                if len(name) >= 4 and name in lowered:
                    wanted.setdefault(item["id"], kind)
        account = crm.read("get_account", {"account_id": account_id}, actor)
        contacts = list(account.get("contacts") or []) if account.get("ok") else []
        for contact in contacts:
            if _names_person(lowered, str(contact.get("name") or "")):
                wanted.setdefault(contact["id"], "con")
    reads: list[RecordRead] = []
    for record_id, kind in list(wanted.items())[:MAX_RECORDS]:
        if kind == "con":
            found = next((c for c in contacts if c["id"] == record_id), None)
            if found is None:
                continue  # a contact is read through its account (no account linked: skip)
            arguments = {"account_id": account_id}
            reads.append(RecordRead("get_account", arguments, {"ok": True, "contact": found}))
            continue
        tool, argument = READ_TOOL[kind]
        arguments = {argument: record_id}
        reads.append(RecordRead(tool, arguments, crm.read(tool, arguments, actor)))
    return reads


def _names_person(lowered: str, name: str) -> bool:
    """A contact is named by their full name (first names alone are in the digest already)."""
    full = name.lower().strip()
    return bool(full) and " " in full and full in lowered


def records_block(reads: list[RecordRead]) -> str | None:
    """The opened records for the model, as data: answer from these fields."""
    shown = [r for r in reads if r.ok]
    if not shown:
        return None
    parts = []
    for read in shown:
        body = {k: v for k, v in read.output.items() if k != "ok"}
        text = json.dumps(body, ensure_ascii=False, default=str)
        parts.append(f'<data source="{read.tool}">{text}</data>')
    return (
        "The records the user asks about (answer from their fields, e.g. a ticket's "
        "description):\n" + "\n".join(parts)
    )


def opened_records(
    crm: CRMService,
    actor: Actor,
    agent: SpecialistName,
    text: str,
    account_id: str | None,
    emit: Callable[[dict[str, Any]], None],
) -> str:
    """The context lines for the records the request names ("" when none); each read is shown
    to the user as the tool call it is."""
    # A record that cannot be read (unknown, or not the user's to see) is left to the model's
    # own call, whose error it relays.
    reads = [r for r in records_asked_about(crm, actor, text, account_id) if r.ok]
    for read in reads:
        emit(
            {
                "type": "tool",
                "agent": agent,
                "tool": read.tool,
                "arguments": read.arguments,
                "ok": read.ok,
                "summary": _record_summary(read),
            }
        )
    block = records_block(reads)
    hints = date_hints(text, crm.clock.today())
    return (("\n" + block) if block else "") + hints


def _record_summary(read: RecordRead) -> str:
    if not read.ok:
        return str(read.output.get("message", "failed"))
    out = read.output
    if "contact" in out:
        return f"{out['contact']['id']} {out['contact']['name']}"
    label = out.get("subject") or out.get("name") or ""
    return f"{out.get('id')} {label}".strip()


def date_hints(text: str, today: date) -> str:
    """The dates the request's words mean, computed here ("end of March" said in November is
    next year's): the model copies them instead of doing calendar arithmetic."""
    found = dates_in(text, today)
    if not found:
        return ""
    said = "; ".join(
        f'"{words}" = {day.isoformat()} ({day.strftime("%A")})' for words, day in found
    )
    return f"\nDates in the request (use these exact dates): {said}"
