"""Which of its tools a specialist is shown for one request.

Every tool schema is re-sent with every model call, so a specialist sees only the tools the
request can need: its read tools (those the request's words point at, else all of them) and the
write tools whose verbs the request uses. A request without a write verb gets no write tool.
Selection only narrows what the model is *shown*: a call to any tool of the specialist's own
toolset still runs (through permissions and the policy gate as always), so a narrow guess never
blocks a sensible call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from agents.state import SpecialistName

# A verb that asks for a change (English and Chinese).
WRITE_INTENT = re.compile(
    r"\b(open (an? |the )?(new )?(tickets?|cases?|incidents?|projects?)|new (tickets?|cases?|"
    r"deals?|opportunit\w*|projects?)|log|record|note|add|create|file|update|change|set|move|push|pull|close|mark|"
    r"win|won|lose|lost|apply|give|offer|discount|send|e-?mail|write|draft|remind|schedule|"
    r"reschedule|book|assign|escalate|resolve|grant|credit|refund|cancel|kick ?off|start|"
    r"open (?:a|an|the|new)|lower|raise|increase|reduce|cut|drop|bring|forward|triage|"
    r"make|handle|take care|act on|do what|follow[- ]?ups?|go through|concession|goodwill)\b|"
    r"记录|记下|新建|创建|添加|更新|修改|改成|改为|调整|推迟|提前|关闭|结束|赢单|丢单|申请|给予|打折|"
    r"发送|发邮件|提醒|安排|预约|分配|升级|解决|补偿|赔偿|退款|取消|启动|打.{0,6}折|发.{0,6}邮件|"
    r"处理|跟进|做什么|降低|提高|减少|增加",
    re.IGNORECASE,
)

# Write tools and the words that call for them.
WRITE_TOOLS: dict[str, re.Pattern[str]] = {
    "log_activity": re.compile(
        r"\b(log|record|note|calls?|called|meetings?|met|demo|visit)\b|记录|记下|电话|会议|拜访",
        re.IGNORECASE,
    ),
    "create_task": re.compile(
        r"\b(tasks?|to-?dos?|follow[- ]?ups?|remind\w*|action items?)\b|任务|待办|跟进|提醒|"
        r"(?:前|之前|以前)(?:发|给|准备|提交)",
        re.IGNORECASE,
    ),
    "update_opportunity": re.compile(
        r"\b(update|change|set|move|push|pull|close[ds]?|closing|mark|won|win|lost|lose|stage|"
        r"amount|seats?|next step|competitor|probability|deals?|opportunit\w*|opp-\w+|lower|"
        r"raise|increase|reduce|cut|drop)\b|"
        r"更新|修改|阶段|金额|席位|关闭|赢单|丢单|商机|降低|提高|减少|增加",
        re.IGNORECASE,
    ),
    "create_opportunity": re.compile(
        r"\b(new (deal|opportunity)|create (a |an )?(deal|opportunity))\b|新建商机|创建商机|新商机",
        re.IGNORECASE,
    ),
    "apply_discount": re.compile(
        r"\b(discount\w*|\d+ ?% off|concession|goodwill)\b|折扣|打.{0,6}折|优惠", re.IGNORECASE
    ),
    "send_email": re.compile(r"\b(e-?mails?|send|mail|write to)\b|邮件|发送", re.IGNORECASE),
    "create_ticket": re.compile(
        r"\b(open|create|file|raise|new|log|report)\b.{0,30}\b(tickets?|issues?|cases?|"
        r"incidents?|bugs?)\b|新建工单|创建工单|报障",
        re.IGNORECASE,
    ),
    "update_ticket": re.compile(
        r"\b(update|change|set|assign|reassign|resolve[ds]?|close[ds]?|reopen|priority|status|"
        r"tkt-\w+)\b|更新|修改|分配|解决|关闭|优先级|状态",
        re.IGNORECASE,
    ),
    "escalate_ticket": re.compile(r"\bescalat\w*\b|升级", re.IGNORECASE),
    "grant_sla_credit": re.compile(r"\b(credits?|refund\w*|compensat\w*)\b|补偿|赔偿|退款", re.I),
    "create_project": re.compile(
        r"\b(create|new|open|start|set up|kick ?off)\b.{0,30}\bprojects?\b|"
        r"新建项目|创建项目|启动项目",
        re.IGNORECASE,
    ),
    "schedule_go_live": re.compile(
        r"\b(go[- ]?live|launch|schedule|reschedule|move|push|pull|date|forward|earlier|later)\b|"
        r"上线|排期|推迟|提前",
        re.IGNORECASE,
    ),
}

# Read tools and the words that point at them; a read tool without an entry is always shown.
READ_TOOLS: dict[str, re.Pattern[str]] = {
    "forecast": re.compile(
        r"\b(forecast\w*|pipeline|quarter|q[1-4]|quota|commit|weighted)\b|预测|季度|管道",
        re.IGNORECASE,
    ),
    "search_knowledge": re.compile(
        r"\b(how|why|policy|policies|price|pricing|cost|plans?|tiers?|discount|terms?|"
        r"playbook|security|compliance|competitor\w*|battlecard|product|feature\w*|faq|"
        r"renewal|onboarding|document\w*|guide)\b|怎么|如何|为什么|政策|价格|定价|产品|"
        r"功能|安全|合规|竞品|竞争|续约|手册|文档",
        re.IGNORECASE,
    ),
    "recall_account_memory": re.compile(
        r"\b(remember\w*|recall|said|told|mentioned|earlier|last time|previous\w*|history|"
        r"learned|know about|background|context)\b|记得|提到|之前|上次|说过|了解|背景",
        re.IGNORECASE,
    ),
    "search_accounts": re.compile(
        r"\b(find|search|look ?up|which accounts?|accounts? (named|called))\b|查找|搜索",
        re.IGNORECASE,
    ),
}


# "Handle it", "do what it needs", "处理一下": a change is asked for without saying which, so
# every write of the agent is shown (the gate and permissions still judge what is proposed).
VAGUE_WRITE = re.compile(
    r"\b(handle|take care|act on|do what|whatever|follow[- ]?ups?|go through|set up what|"
    r"do for|should (?:i|we) do)\b|处理|跟进|做什么",
    re.IGNORECASE,
)


# Writes a request names outright, so that one left out of a plan with several actions ("log
# the call and create a task") can be asked for by name. Narrower than WRITE_TOOLS, which only
# decides what to show.
ASKED_WRITES: dict[str, re.Pattern[str]] = {
    "create_task": re.compile(
        r"\b(create|add|make|set up|open)\s+(an? |the |\d+ )?(follow[- ]up |new )?(tasks?|to-?dos?|"
        r"reminders?)\b|(创建|新建|建|加)(\d{1,2}个|一个|个)?(跟进)?任务|(?:前|之前)(?:发|给|准备|提交)",
        re.IGNORECASE,
    ),
    "log_activity": re.compile(
        r"\blog\s+(an? |the |this )?(call|meeting|visit|demo|note)\b|"
        r"记录.{0,12}(电话|通话|会议|拜访)",
        re.IGNORECASE,
    ),
    "create_ticket": re.compile(
        r"\b(open|create|file|raise|log)\s+(an? |the |new )*(p[1-4] )?(tickets?|cases?)\b|"
        r"(新建|创建|开)(一个|个)?工单",
        re.IGNORECASE,
    ),
    "escalate_ticket": re.compile(r"\bescalate\b|升级到", re.IGNORECASE),
    # "email Jane", "send Raj …" (a capitalised name follows), "send an e-mail to", "发邮件".
    "send_email": re.compile(
        r"\b(?:[Ee]-?mail|[Ss]end)\s+(?!(?:The|A|An|It|Them|This|That)\b)[A-Z][a-z]+|"
        r"(?i:\bsend\s+(?:an? |the )?(?:e-?mail|message)\s+to\b)|发(?:一封|封)?邮件",
    ),
}


_HOW_MANY = re.compile(
    r"\b(\d{1,2})\s+(?:new |follow[- ]up )*(tasks?|to-?dos?|reminders?|tickets?)\b|"
    r"(\d{1,2})\s*个(?:跟进)?(任务|工单)",
    re.IGNORECASE,
)
_COUNTED = {"task": "create_task", "todo": "create_task", "to-do": "create_task",
            "reminder": "create_task", "ticket": "create_ticket", "任务": "create_task",
            "工单": "create_ticket"}  # fmt: skip


def asked_writes(request: str) -> dict[str, int]:
    """The writes the request names outright (see ASKED_WRITES), each with how many it asks
    for ("create 10 follow-up tasks": 10; otherwise 1)."""
    asked = {tool: 1 for tool, words in ASKED_WRITES.items() if words.search(request)}
    for found in _HOW_MANY.finditer(request):
        number = found.group(1) or found.group(3)
        noun = (found.group(2) or found.group(4)).lower().rstrip("s")
        tool = _COUNTED.get(noun)
        if tool and tool in asked:
            asked[tool] = max(asked[tool], int(number))
    return asked


# "Give me a short summary", "show me", "tell me": reading words that look like a change verb.
_READ_PHRASES = re.compile(
    r"\b(?:give|get|send|make)\s+(?:me|us)\s+(?:a\s+|an\s+|the\s+)?(?:short\s+|quick\s+|"
    r"brief\s+|full\s+)?(?:summary|overview|list|update|rundown|breakdown|status|recap|idea)\b",
    re.IGNORECASE,
)
_QUESTION_END = re.compile(r"[?？]\s*$|[吗呢]\s*[。.]?\s*$")


def wants_write(request: str) -> bool:
    return WRITE_INTENT.search(_READ_PHRASES.sub(" ", request)) is not None


def asks_only(request: str) -> bool:
    """A question that asks for no change ("What's the latest on tkt-…? Give me a short
    summary."): no write verb, and it ends as a question or asks for a summary."""
    text = request.strip()
    if wants_write(text):
        return False
    return bool(_QUESTION_END.search(text) or _READ_PHRASES.search(text))


def select_tools(
    agent: SpecialistName,
    toolset: tuple[str, ...],
    kinds: Mapping[str, str],
    request: str,
    *,
    account_known: bool,
) -> tuple[str, ...]:
    """The subset of `toolset` (in its order) to show for `request`.

    `kinds` maps tool name → "read" | "write". Reads: those whose words appear (always the
    unkeyed ones); `search_accounts` is dropped when the account is already known. Writes: only
    with a write verb, then those whose words appear — or all the agent's writes when none do."""
    reads = [t for t in toolset if kinds[t] == "read"]
    writes = [t for t in toolset if kinds[t] == "write"]
    shown_reads = [
        t
        for t in reads
        if (t not in READ_TOOLS or READ_TOOLS[t].search(request))
        and not (t == "search_accounts" and account_known)
    ]
    shown_writes: list[str] = []
    if VAGUE_WRITE.search(request):
        shown_writes = writes
    elif wants_write(request):
        shown_writes = [t for t in writes if t in WRITE_TOOLS and WRITE_TOOLS[t].search(request)]
        if not shown_writes:
            shown_writes = writes
    chosen = set(shown_reads) | set(shown_writes)
    return tuple(t for t in toolset if t in chosen)
