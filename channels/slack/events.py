"""The Slack events warroom acts on, typed: checked when they arrive (a malformed one is refused
with 400 before it is stored or acknowledged), read back from the durable inbox."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["MessageEvent", "event_problem", "wanted"]

MESSAGE_TYPES = ("app_mention", "message")


class MessageEvent(BaseModel):
    """A mention or a direct message (with or without files)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    channel: str
    ts: str
    user: str = ""
    text: str = ""
    thread_ts: str | None = None
    channel_type: str | None = None
    subtype: str | None = None
    bot_id: str | None = None
    team: str | None = None
    files: list[dict[str, Any]] | None = None


def event_problem(event: Any) -> str | None:
    """One sentence naming what is wrong with an Events API `event`, or None."""
    if not isinstance(event, dict):
        return "The event must be a JSON object."
    if event.get("type") not in MESSAGE_TYPES:
        return None  # not ours to read; Bolt ignores what nothing listens to
    try:
        MessageEvent.model_validate(event)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        return (
            f"The {event.get('type')} event has missing or malformed fields: {', '.join(fields)}."
        )
    return None


def wanted(event: Any) -> bool:
    """Whether warroom answers this event: a mention, or a person's direct message (not a bot's,
    not an edit, deletion or join; channel messages reach us as app_mention)."""
    if not isinstance(event, dict) or event_problem(event) is not None:
        return False
    if event.get("type") == "app_mention":
        return True
    if event.get("type") != "message" or event.get("channel_type") != "im" or event.get("bot_id"):
        return False
    return event.get("subtype") in (None, "file_share", "thread_broadcast")
