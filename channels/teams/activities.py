"""Teams activities: which ones are turns, reading one from a request body (a 4xx naming the
fault otherwise), the conversation an activity belongs to, and its text without the bot's
mention."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes, ConversationReference
from pydantic import ValidationError

from channels import http_guard
from channels.core.conversations import thread_id
from channels.teams import messages

__all__ = [
    "CHANNEL",
    "THREAD_PREFIX",
    "ReviewChannel",
    "continuation",
    "conversation_reference",
    "inbox_key",
    "is_card_submit",
    "is_turn",
    "read_activity",
    "text_without_mentions",
    "thread_id_of",
]

CHANNEL = "teams"
THREAD_PREFIX = f"{CHANNEL}:"
SHARED_CONVERSATIONS = ("channel", "groupChat")


def thread_id_of(conversation_id: str) -> str:
    return thread_id(CHANNEL, conversation_id)


@dataclass(frozen=True)
class ReviewChannel:
    """A Teams channel (of a team the bot is installed in) where every review card goes."""

    conversation_id: str
    service_url: str
    tenant_id: str | None = None

    def reference(self, bot_id: str) -> ConversationReference:
        return ConversationReference.model_validate(
            {
                "channelId": "msteams",
                "serviceUrl": self.service_url,
                "conversation": {
                    "id": self.conversation_id,
                    "isGroup": True,
                    "conversationType": "channel",
                    "tenantId": self.tenant_id,
                },
                "bot": {"id": bot_id or "warroom"},
            }
        )


def is_card_submit(activity: Activity) -> bool:
    """An `Action.Submit` of a card: a message whose value holds the inputs, and no text."""
    return (
        activity.type == ActivityTypes.message
        and isinstance(activity.value, Mapping)
        and not (activity.text or "").strip()
    )


def is_turn(activity: Activity) -> bool:
    """Whether an activity is a turn for the agents (stored in the inbox): a text message in a
    personal chat, or one that mentions the bot elsewhere. Card submissions are not."""
    if activity.type != ActivityTypes.message or is_card_submit(activity):
        return False
    conversation_type = activity.conversation.conversation_type if activity.conversation else ""
    if (conversation_type or "personal") in SHARED_CONVERSATIONS:
        return activity.is_recipient_mentioned()
    return True


# Fields a conversational activity cannot do without (outbound replies need all of them).
REQUIRED: dict[str, tuple[str, ...]] = {
    ActivityTypes.message: ("serviceUrl", "conversation.id", "from.id", "recipient.id"),
    ActivityTypes.invoke: ("serviceUrl", "conversation.id", "from.id", "recipient.id", "name"),
}


def read_activity(body: dict[str, Any]) -> Activity:
    """The activity in a request body; `Refused(400)` naming the first fault."""
    kind = body.get("type")
    if not isinstance(kind, str) or not kind.strip():
        raise http_guard.Refused(400, messages.MISSING_FIELD.format(field="type"))
    missing = _missing_fields(body, REQUIRED.get(kind, ("conversation.id",)))
    if missing:
        raise http_guard.Refused(400, messages.MISSING_FIELD.format(field=missing))
    try:
        return Activity.model_validate(body)
    except (ValidationError, ValueError, TypeError) as exc:
        raise http_guard.Refused(
            400, messages.BAD_ACTIVITY.format(error=_first_error(exc))
        ) from None


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "the activity"
        return f"{where}: {error['msg']}"
    return type(exc).__name__


def _missing_fields(body: dict[str, Any], paths: tuple[str, ...]) -> str | None:
    for path in paths:
        value: Any = body
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, str) or not value.strip():
            return path
    return None


def conversation_reference(activity: Activity) -> ConversationReference:
    """The conversation of an activity, to post new messages in (replying to nothing)."""
    reference = activity.get_conversation_reference()
    reference.activity_id = None
    return reference


def continuation(reference: ConversationReference) -> Activity:
    continuation = reference.get_continuation_activity()
    # With no id, what the callback sends is a new message, not a reply to the continuation.
    continuation.id = None
    return continuation


def inbox_key(key: str, limit: int) -> str:
    """A key as it is, or its digest when longer than the inbox column holds (the inbox only
    compares keys)."""
    return key if len(key) <= limit else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def text_without_mentions(activity: Activity) -> str:
    """The message text without the bot's `<at>…</at>` mention (Teams puts it in the text)."""
    copy = activity.model_copy()
    text = copy.remove_recipient_mention() if copy.recipient else (copy.text or "")
    return " ".join(html.unescape(text or "").split())
