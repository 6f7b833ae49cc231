"""Turns answered without a specialist: small talk, and the account overview.

"thanks" or "你好" needs no agent and no model. "What's open with Acme?" / "where do we stand
with Acme" / "Acme 进展如何" is answered from the permission-checked read tools, in code: open
deals only (closed ones only when asked), open tickets by priority, active projects and their
go-lives, and the review requests about the account that the user raised or must decide. A
small model phrasing four lists gets them wrong (closed deals listed as open, the project left
out); the lists themselves are the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from agents.router import link_account
from tools.context import Actor
from tools.service import CRMService

__all__ = [
    "QuickAnswer",
    "account_overview",
    "answer_without_agents",
    "is_overview",
    "quick_answer",
    "small_talk",
]

_SMALL_TALK = re.compile(
    r"^\s*(?:(?:hi|hello|hey|hiya|yo|good (?:morning|afternoon|evening))(?: there)?|"
    r"(?:many )?thanks?(?: you)?(?: (?:so|very) much| a lot| again)?|thx|ty|cheers|ok(?:ay)?|"
    r"great|perfect|cool|got it|bye|goodbye|see you|"
    r"你好|您好|嗨|谢谢(?:你|您)?|多谢|感谢|好的|好|收到|早上好|晚上好|再见)"
    r"[\s!！.。,，~～:)]*$",
    re.IGNORECASE,
)
_GREETING = re.compile(r"hi|hello|hey|hiya|yo|good|你好|您好|嗨|早上好|晚上好", re.IGNORECASE)
_GOODBYE = re.compile(r"bye|see you|再见", re.IGNORECASE)
_THANKS = re.compile(r"thank|thx|ty\b|cheers|谢|感谢", re.IGNORECASE)

_OVERVIEW = re.compile(
    r"\bwhat'?s (?:open|going on|new|happening|up)\b|\bwhere do we stand\b|"
    r"\bwhere are we\b|\b(?:account )?overview\b|\bstatus (?:of|with|on)\b|\bcatch me up\b|"
    r"进展|概况|情况如何|情况怎么样|现状",
    re.IGNORECASE,
)
# Words that turn an overview-looking request into a task for an agent.
_ACTION = re.compile(
    r"\b(log|create|add|update|set|change|move|apply|give|grant|escalate|schedule|send|e-?mail|"
    r"close|book|mark|assign|discount|forecast|tickets? (?:tkt|about)|summar\w+)\b|"
    r"记录|创建|新建|更新|修改|申请|给予|升级|安排|发送|关闭|折扣|预测",
    re.IGNORECASE,
)
_CLOSED_ASKED = re.compile(r"\bclosed\b|\bwon\b|\blost\b|赢单|丢单|已成交|已关闭", re.IGNORECASE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_PRIORITY_ORDER = {"p1": 0, "p2": 1, "p3": 2, "p4": 3}
MAX_ITEMS = 8


@dataclass(frozen=True)
class QuickAnswer:
    """A reply made in code, and the reads it came from (tool name → its output)."""

    kind: Literal["small_talk", "overview"]
    reply: str
    account_id: str | None = None
    reads: dict[str, dict[str, Any]] = field(default_factory=dict)


def small_talk(text: str) -> str | None:
    """The reply to a greeting or thanks (the whole message), or None."""
    if not _SMALL_TALK.match(text):
        return None
    zh = bool(_CJK.search(text))
    if _THANKS.search(text):
        return "不客气！还有什么需要我做的吗？" if zh else "You're welcome. Anything else?"
    if _GOODBYE.search(text):
        return "再见！" if zh else "Bye for now."
    if _GREETING.search(text):
        return (
            "你好！可以问我客户、商机、工单或项目的情况，或让我记录和更新。"
            if zh
            else "Hello! Ask me about an account, deal, ticket or project, or tell me what to "
            "log or change."
        )
    return "好的。" if zh else "OK."


def is_overview(text: str) -> bool:
    """Whether the words ask for the state of an account rather than a change to it."""
    return bool(_OVERVIEW.search(text)) and not _ACTION.search(text)


def quick_answer(
    crm: CRMService, actor: Actor, text: str, account: dict[str, Any] | None
) -> QuickAnswer | None:
    """A reply that needs no agent, or None (slash commands always go to their agent)."""
    if text.lstrip().startswith("/"):
        return None
    talk = small_talk(text)
    if talk is not None:
        return QuickAnswer(kind="small_talk", reply=talk)
    if account is not None and is_overview(text):
        return account_overview(crm, actor, account["id"], text)
    return None


def account_overview(crm: CRMService, actor: Actor, account_id: str, text: str = "") -> QuickAnswer:
    """The account's state from the read tools, as the user may see it."""
    zh = bool(_CJK.search(text))
    with_closed = bool(_CLOSED_ASKED.search(text))
    reads: dict[str, dict[str, Any]] = {}
    for tool in ("get_account", "list_opportunities", "list_tickets", "list_projects"):
        reads[tool] = crm.read(tool, {"account_id": account_id}, actor)
    account = reads["get_account"]
    if not account.get("ok"):
        message = account.get("message") or f"I cannot see account {account_id}."
        return QuickAnswer(kind="overview", reply=str(message), account_id=account_id, reads=reads)
    info = account["account"]
    deals = _items(reads["list_opportunities"], "opportunities")
    open_deals = [d for d in deals if not str(d["stage"]).startswith("closed")]
    closed = [d for d in deals if str(d["stage"]).startswith("closed")]
    tickets = [
        t for t in _items(reads["list_tickets"], "tickets") if t["status"] in ("open", "pending")
    ]
    tickets.sort(key=lambda t: (_PRIORITY_ORDER.get(t["priority"], 9), str(t["sla_due_at"])))
    projects = [
        p
        for p in _items(reads["list_projects"], "projects")
        if p["status"] not in ("done", "completed", "cancelled", "live")
    ]
    reviews = _reviews_about(crm, actor, account_id, deals, tickets, projects)

    h = _ZH if zh else _EN
    lines = [h["title"].format(name=info["name"], id=info["id"], tier=info["tier"])]
    lines.append(h["deals"].format(n=len(open_deals)))
    lines += [f"  • {_deal(d)}" for d in open_deals[:MAX_ITEMS]] or [f"  {h['none']}"]
    if with_closed:
        lines.append(h["closed"].format(n=len(closed)))
        lines += [f"  • {_deal(d)}" for d in closed[:MAX_ITEMS]] or [f"  {h['none']}"]
    lines.append(h["tickets"].format(n=len(tickets)))
    lines += [f"  • {_ticket(t)}" for t in tickets[:MAX_ITEMS]] or [f"  {h['none']}"]
    lines.append(h["projects"].format(n=len(projects)))
    lines += [f"  • {_project(p)}" for p in projects[:MAX_ITEMS]] or [f"  {h['none']}"]
    if reviews:
        lines.append(h["reviews"].format(n=len(reviews)))
        lines += [f"  • {r}" for r in reviews[:MAX_ITEMS]]
    return QuickAnswer(kind="overview", reply="\n".join(lines), account_id=account_id, reads=reads)


_EN = {
    "title": "{name} ({id}, {tier}):",
    "deals": "Open deals ({n}):",
    "closed": "Closed deals ({n}):",
    "tickets": "Open tickets ({n}, by priority):",
    "projects": "Active projects ({n}):",
    "reviews": "Waiting for review ({n}):",
    "none": "none",
}
_ZH = {
    "title": "{name}（{id}，{tier}）：",
    "deals": "进行中的商机（{n}）：",
    "closed": "已关闭的商机（{n}）：",
    "tickets": "未解决的工单（{n}，按优先级）：",
    "projects": "进行中的项目（{n}）：",
    "reviews": "等待审批（{n}）：",
    "none": "无",
}


def _items(result: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return list(result.get(key) or []) if result.get("ok") else []


def _deal(d: dict[str, Any]) -> str:
    if d.get("amount") is not None:
        money = f"{d['amount']} {d['currency']}"
    else:
        money = "amount hidden" if "amount" in (d.get("hidden_fields") or []) else "no amount"
    seats = f", {d['seats']} seats" if d.get("seats") else ""
    discount = f", {d['discount_percent']}% discount" if d.get("discount_percent") else ""
    step = f"; next step: {d['next_step']}" if d.get("next_step") else ""
    return (
        f"{d['id']} {d['name']}: {d['stage']}, {money}{seats}{discount}, closes "
        f"{d.get('close_date')}{step}"
    )


def _ticket(t: dict[str, Any]) -> str:
    breached = ", SLA breached" if t.get("sla_breached") else ""
    escalated = ", escalated" if t.get("escalated") else ""
    due = str(t.get("sla_due_at") or "")[:10]
    return (
        f"{t['id']} {str(t['priority']).upper()} {t['status']}: {t['subject']} "
        f"(SLA due {due}{breached}{escalated})"
    )


def _project(p: dict[str, Any]) -> str:
    return (
        f"{p['id']} {p['name']}: {p['status']}, {p['seats']} seats, go-live "
        f"{p.get('go_live_date') or 'not set'}"
    )


def _reviews_about(
    crm: CRMService,
    actor: Actor,
    account_id: str,
    deals: list[dict[str, Any]],
    tickets: list[dict[str, Any]],
    projects: list[dict[str, Any]],
) -> list[str]:
    """Pending review requests about this account's records that the user raised or decides."""
    ids = {account_id} | {r["id"] for r in (*deals, *tickets, *projects)}
    found = []
    for row in crm.reviews(status="pending"):
        if actor.id != row.get("requested_by") and actor.id not in (row.get("reviewer_ids") or []):
            continue
        arguments = row.get("arguments") or {}
        if not any(str(v) in ids for v in arguments.values()):
            continue
        found.append(f"{row['id']}: {row['tool']} ({'; '.join(row.get('reasons') or [])})")
    return found


def answer_without_agents(crm: CRMService, actor: Actor, text: str) -> QuickAnswer | None:
    """`quick_answer` with the account linked from the words (as the router links it)."""
    if text.lstrip().startswith("/"):
        return None
    if small_talk(text) is not None:
        return quick_answer(crm, actor, text, None)
    if not is_overview(text):
        return None
    return quick_answer(crm, actor, text, link_account(crm, actor, text))
