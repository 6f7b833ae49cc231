"""The lines under an answer that say what was done and what waits, in the request's language.

English is the default; a request written in Chinese gets its labels, its waiting lines and the
common writes' done lines in Chinese (names, ids and amounts as the CRM holds them). A write
this module has no Chinese line for keeps the tool's own message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any, Literal

from agents.state import CommittedWrite, PendingWrite

__all__ = ["Language", "committed_line", "labels", "language_of", "pending_line"]

Language = Literal["en", "zh"]

_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def language_of(request: str) -> Language:
    """Chinese when the request has more Chinese characters than Latin words (ids, names and
    product words in Latin letters inside a Chinese sentence do not make it English)."""
    cjk = len(_CJK.findall(request))
    return "zh" if cjk >= 2 and cjk >= len(_LATIN_WORD.findall(request)) else "en"


_LABELS: dict[Language, dict[str, str]] = {
    "en": {
        "done": "Done:",
        "waiting": "Waiting for approval:",
        "not_done": "Not done:",
        "refused": "Refused:",
    },
    "zh": {
        "done": "已完成：",
        "waiting": "等待审批：",
        "not_done": "未完成：",
        "refused": "已拒绝：",
    },
}


def labels(language: Language) -> dict[str, str]:
    return _LABELS[language]


def pending_line(item: PendingWrite, who: str, language: Language) -> str:
    more = f"; then {', '.join(item.steps[1:])}" if len(item.steps) > 1 else ""
    reasons = "; ".join(item.reasons) + more
    if language == "zh":
        then = f"；之后：{'、'.join(item.steps[1:])}" if len(item.steps) > 1 else ""
        return (
            f"  ⏳ {item.summary} — 等待{who}审批（{'；'.join(item.reasons)}{then}）"
            f" [{item.approval_id}]"
        )
    return f"  ⏳ {item.summary} — waits for {who} ({reasons}) [{item.approval_id}]"


def committed_line(
    item: CommittedWrite, language: Language, contact_names: Callable[[list[str]], list[str]]
) -> str:
    """`contact_names` turns contact ids into the names the user knows."""
    english = f"  ✓ {item.message or item.summary}"
    if language != "zh":
        return english
    render = _ZH.get(item.tool)
    said = render(item.before or {}, item.after, contact_names) if render else None
    return f"  ✓ {said}" if said else english


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _zh_day(day: date) -> str:
    return f"{day.month}月{day.day}日"


def _chinese_part(name: str) -> str:
    """ "王芳 Wang Fang" is 王芳 to a Chinese reader; a name with no Chinese stays as it is."""
    chinese = "".join(_CJK.findall(name))
    return chinese or name


_KINDS = {"call": "通话", "meeting": "会议", "email": "邮件", "note": "备注"}


def _log_activity(
    before: dict[str, Any], after: dict[str, Any], names: Callable[[list[str]], list[str]]
) -> str | None:
    kind = _KINDS.get(str(after.get("kind")), "记录")
    people = [_chinese_part(n) for n in names(list(after.get("contact_ids") or []))]
    if people:
        return f"已记录与{'、'.join(people)}的{kind}（{after.get('subject', '')}）"
    return f"已记录{kind}（{after.get('subject', '')}）"


def _create_task(
    before: dict[str, Any], after: dict[str, Any], names: Callable[[list[str]], list[str]]
) -> str | None:
    due = _day(after.get("due_date"))
    when = f"，{_zh_day(due)}前完成" if due else ""
    return f"已创建任务「{after.get('subject', '')}」{when}"


def _schedule_go_live(
    before: dict[str, Any], after: dict[str, Any], names: Callable[[list[str]], list[str]]
) -> str | None:
    new, old = _day(after.get("go_live_date")), _day(before.get("go_live_date"))
    if new is None:
        return None
    moved = "定在" if old is None or old == new else ("提前到" if new < old else "推迟到")
    return f"{after.get('name', '')}上线日期已{moved}{_zh_day(new)}"


def _apply_discount(
    before: dict[str, Any], after: dict[str, Any], names: Callable[[list[str]], list[str]]
) -> str | None:
    percent = after.get("discount_percent")
    return f"已为{after.get('name', '')}打{percent}%的折扣" if percent is not None else None


def _escalate_ticket(
    before: dict[str, Any], after: dict[str, Any], names: Callable[[list[str]], list[str]]
) -> str | None:
    return f"已升级工单 {after.get('id', '')}（{after.get('subject', '')}）"


_ZH: dict[
    str,
    Callable[[dict[str, Any], dict[str, Any], Callable[[list[str]], list[str]]], str | None],
] = {
    "log_activity": _log_activity,
    "create_task": _create_task,
    "schedule_go_live": _schedule_go_live,
    "apply_discount": _apply_discount,
    "escalate_ticket": _escalate_ticket,
}
