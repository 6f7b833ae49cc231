"""The router: which specialists a request needs, and which account it is about.

Slash commands and requests whose words make the domain obvious skip the LLM; the rest get one
structured-output call. The account is linked deterministically from the names of the accounts
the user may see, so a small model never has to guess an id.
"""

from __future__ import annotations

import re
from typing import Any

from agents.llm_types import ChatModel
from agents.state import SPECIALISTS, RouteDecision, SpecialistName
from prompts import render_prompt
from tools.context import Actor
from tools.service import CRMService

SLASH = re.compile(r"^/(sales|service|delivery)\b\s*", re.IGNORECASE)

# Words that make a domain obvious (English and Chinese).
KEYWORDS: dict[SpecialistName, re.Pattern[str]] = {
    "service": re.compile(
        r"\b(tickets?|sla|p[1-4]|outages?|incidents?|escalat\w*|support|health|credits?|"
        r"breach\w*|tkt-\w+)\b|工单|故障|升级|服务|健康|赔偿",
        re.IGNORECASE,
    ),
    "delivery": re.compile(
        r"\b(go[- ]?live|onboarding|implementation|projects?|capacity|kick-?off|rollout|"
        r"prj-\w+)\b|上线|实施|项目|交付|产能",
        re.IGNORECASE,
    ),
    "sales": re.compile(
        r"\b(deals?|opportunit\w*|discounts?|quotes?|pipeline|forecast|close[ds]?|closing|"
        r"renewal|seats|price|pricing|calls?|meetings?|e-?mails?|follow[- ]?up|tasks?|"
        r"what'?s open|opp-\w+)\b|商机|折扣|报价|预测|合同|会议|电话|邮件",
        re.IGNORECASE,
    ),
}


OVERVIEW = re.compile(r"\bwhat'?s (open|going on|new)\b|\boverview\b|进展|概况", re.IGNORECASE)


def route_by_rules(text: str) -> list[SpecialistName] | None:
    """Specialists named by a slash command or obvious words, in a fixed order; else None."""
    slash = SLASH.match(text.strip())
    if slash:
        return [slash.group(1).lower()]  # type: ignore[list-item]
    found = [name for name in SPECIALISTS if KEYWORDS[name].search(text)]
    if OVERVIEW.search(text):
        found = list(dict.fromkeys([*found, "sales", "service"]))
        found = [name for name in SPECIALISTS if name in found]
    return found or None


def strip_slash(text: str) -> str:
    return SLASH.sub("", text.strip(), count=1)


def link_account(crm: CRMService, actor: Actor, text: str) -> dict[str, Any] | None:
    """The one visible account the text names (by id, full name or distinctive first word)."""
    listed = crm.read("list_accounts", {}, actor)
    if not listed.get("ok"):
        return None
    accounts = listed["accounts"]
    if listed.get("truncated"):
        # Large books: search by the capitalised words and CJK runs in the text instead.
        accounts = []
        for word in set(re.findall(r"[A-Z][\w&-]{2,}|[\u4e00-\u9fff]{2,}", text)):
            found = crm.read("search_accounts", {"query": word}, actor)
            accounts.extend(found.get("accounts", []) if found.get("ok") else [])
    lowered = text.lower()
    matches: dict[str, dict[str, Any]] = {}
    for account in accounts:
        names = {account["id"].lower(), account["name"].lower()}
        for part in re.split(r"\s+", account["name"]):
            if len(part) >= 3 and part.lower() not in GENERIC_NAME_WORDS:
                names.add(part.lower())
                break  # only the distinctive first word ("Acme" of "Acme Corp")
        if brand := cjk_brand(account["name"]):
            names.add(brand)  # "华星" of "华星科技"
        if any(_mentions(lowered, name) for name in names):
            matches[account["id"]] = account
    return next(iter(matches.values())) if len(matches) == 1 else None


GENERIC_NAME_WORDS = {"the", "group", "corp", "inc", "ltd", "global", "health", "tech", "retail"}
# What a Chinese company name ends in after its distinctive part (科技 = technology, 集团 =
# group, 有限公司 = limited company, ...): "华星科技" is called "华星".
CJK_NAME_ENDINGS = ("股份有限公司", "有限公司", "公司", "科技", "集团", "医疗", "零售", "银行",
                    "软件", "网络", "信息", "电子", "控股", "实业")  # fmt: skip


def cjk_brand(name: str) -> str | None:
    """The distinctive part of a Chinese company name (at least two characters), if it ends in
    a generic word; None for other names."""
    stem = name.strip()
    changed = True
    while changed:
        changed = False
        for ending in CJK_NAME_ENDINGS:
            if stem.endswith(ending) and len(stem) - len(ending) >= 2:
                stem, changed = stem[: -len(ending)], True
    if stem == name.strip() or not re.fullmatch(r"[\u4e00-\u9fff]{2,}", stem):
        return None
    return stem


def _mentions(text: str, name: str) -> bool:
    if re.search(r"[\u4e00-\u9fff]", name):
        return name in text
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


async def llm_route(model: ChatModel, text: str, today: str) -> RouteDecision:
    messages = [
        {"role": "system", "content": render_prompt("router", today=today)},
        {"role": "user", "content": text},
    ]
    return await model.structured(agent="router", messages=messages, schema=RouteDecision)


async def decide_route(
    model: ChatModel, crm: CRMService, actor: Actor, text: str
) -> tuple[RouteDecision, dict[str, Any] | None, bool]:
    """(route, linked account, whether the LLM was asked)."""
    account = link_account(crm, actor, text)
    agents = route_by_rules(text)
    if agents:
        return RouteDecision(agents=agents, intent="rules"), account, False
    decision = await llm_route(model, strip_slash(text), crm.clock.today().isoformat())
    if account is None and decision.account:
        account = link_account(crm, actor, decision.account)
    return decision, account, True
