"""Text between warroom and Slack: mrkdwn escaping, mentions, long answers, progress lines."""

from __future__ import annotations

import re
from typing import Any

from channels.core.progress import describe_step, progress_text

__all__ = ["describe_event", "escape", "from_slack", "progress_text", "split_message"]

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
    """One progress line for a graph event, in Slack mrkdwn (see `describe_step`)."""
    return describe_step(event, escape=escape)
