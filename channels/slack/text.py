"""Text between warroom and Slack: mrkdwn escaping, mentions, long answers, progress lines."""

from __future__ import annotations

import json
import re
from typing import Any

# chat.postMessage truncates `text` after 40,000 characters and Slack asks for under 4,000 per
# message; a section block holds at most 3,000. Answers are split below both.
MESSAGE_LIMIT = 3_000
# More parts than this read badly as a stream of messages: the answer is attached instead.
MAX_PARTS = 4

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def escape(text: str) -> str:
    """Slack reads &, < and > as control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def from_slack(text: str, *, bot_user_id: str | None) -> str:
    """A user's message as plain text: the bot's own mention removed, entities decoded."""
    if bot_user_id:
        text = _MENTION.sub(lambda m: "" if m.group(1) == bot_user_id else m.group(0), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t]+", " ", text).strip()


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Parts of at most `limit` characters, cut at paragraph, line or word boundaries."""
    if limit < 100:
        raise ValueError("limit must be at least 100 characters")
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), 0)
        if cut < limit // 2:
            cut = window.rfind("\n")
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            cut = limit  # one long word: cut it
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


def describe_event(event: dict[str, Any]) -> str | None:
    """One progress line for a graph event (route, handoff, tool, gate); None to skip it."""
    kind = event.get("type")
    if kind == "route":
        about = f" about {event['account']}" if event.get("account") else ""
        return f"routed to {', '.join(event.get('agents') or [])}{about}"
    if kind == "handoff":
        return f"{event['agent']} agent is on it"
    if kind == "tool":
        mark = "✓" if event.get("ok") else "✗"
        arguments = json.dumps(event.get("arguments") or {}, ensure_ascii=False)
        if len(arguments) > 120:
            arguments = arguments[:119] + "…"
        summary = escape(str(event.get("summary") or ""))
        return f"`{event['tool']}` {escape(arguments)} {mark} {summary}".rstrip()
    if kind == "gate":
        proposal = escape(str(event.get("proposal") or ""))
        if event.get("needs_review"):
            return f"⏳ needs approval: {proposal} → {', '.join(event.get('reviewers') or [])}"
        return f"→ commits now: {proposal}"
    return None


def progress_text(headline: str, lines: list[str], *, keep: int = 12) -> str:
    shown = lines[-keep:]
    more = [f"… {len(lines) - keep} earlier steps"] if len(lines) > keep else []
    return "\n".join([headline, *(f"• {line}" for line in more + shown)])
