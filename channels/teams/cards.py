"""Adaptive Cards for human review, and reading what a reviewer submitted from one.

The card carries Universal Actions (`Action.Execute`, answered in place with the updated card);
submissions of older clients (`Action.Submit`, a message whose `value` holds the inputs) read the
same way. A card's inputs: `comment` (the reason; required to reject) and `arguments` (JSON, for
approve with edits).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from botbuilder.core import CardFactory
from botbuilder.schema import Attachment

from channels.teams import messages

Verb = Literal["approve", "reject", "edit"]
VERBS: tuple[Verb, ...] = ("approve", "reject", "edit")
MARKER = "review"  # data.warroom on every action of a review card
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
STATUS_WORDS = {"approved": "Approved", "rejected": "Rejected", "expired": "Expired"}


class CardActionError(ValueError):
    """A card submission that cannot be a decision; `str(exc)` tells the reviewer why."""


@dataclass(frozen=True)
class CardAction:
    verb: Verb
    approval_id: str
    comment: str | None
    arguments: dict[str, Any] | None


def read_card_action(verb: str | None, data: Mapping[str, Any] | None) -> CardAction:
    """A reviewer's decision from a card's action verb and submitted data (inputs included).

    For `Action.Submit` the verb travels in the data (`data["verb"]`)."""
    if not isinstance(data, Mapping) or data.get("warroom") != MARKER:
        raise CardActionError(messages.NOT_A_CARD_ACTION)
    verb = verb or data.get("verb")
    if verb not in VERBS:
        raise CardActionError(messages.UNKNOWN_CARD_ACTION.format(verb=verb))
    approval_id = data.get("approval_id")
    if not isinstance(approval_id, str) or not approval_id.strip():
        raise CardActionError(messages.MISSING_APPROVAL_ID)
    comment = str(data.get("comment") or "").strip() or None
    arguments = None
    if verb == "reject" and comment is None:
        raise CardActionError(messages.REJECT_NEEDS_REASON)
    if verb == "edit":
        arguments = _edited_arguments(data.get("arguments"))
    return CardAction(verb, approval_id.strip(), comment, arguments)  # type: ignore[arg-type]


def _edited_arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        parsed: Any = dict(raw)
    else:
        text = str(raw or "").strip()
        if not text:
            raise CardActionError(messages.EDIT_NEEDS_ARGUMENTS)
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CardActionError(
                messages.EDIT_NOT_JSON.format(error=exc.msg, line=exc.lineno, column=exc.colno)
            ) from exc
    if not isinstance(parsed, dict):
        raise CardActionError(messages.EDIT_NOT_OBJECT.format(kind=type(parsed).__name__))
    if not parsed:
        raise CardActionError(messages.EDIT_NEEDS_ARGUMENTS)
    return parsed


# ----------------------------------------------------------------------------- building cards

NameOf = Callable[[str | None], str]


def review_card(row: Mapping[str, Any], name_of: NameOf) -> Attachment:
    """The approval request as the reviewer sees it, with approve / reject / edit."""
    data = {"warroom": MARKER, "approval_id": row["id"]}
    body: list[dict[str, Any]] = [
        *_header(row, name_of),
        {
            "type": "Input.Text",
            "id": "comment",
            "label": "Reason (shown to the requester; required to reject)",
            "isMultiline": True,
            "maxLength": 2000,
        },
        {
            "type": "Input.Text",
            "id": "arguments",
            "label": "Arguments (JSON), for Approve with edits",
            "isMultiline": True,
            "value": json.dumps(row["arguments"], ensure_ascii=False),
        },
    ]
    actions = [
        {"type": "Action.Execute", "title": title, "verb": verb, "data": data}
        for verb, title in (
            ("approve", "Approve"),
            ("reject", "Reject"),
            ("edit", "Approve with edits"),
        )
    ]
    return _card(body, actions)


def decided_card(row: Mapping[str, Any], name_of: NameOf, note: str | None = None) -> Attachment:
    """The same request once decided (or expired): who, when, and no buttons any more."""
    status = row["status"]
    when = _when(row.get("decided_at")) or _when(row.get("expires_at"))
    who = f" by {name_of(row['decided_by'])}" if row.get("decided_by") else ""
    outcome = f"{STATUS_WORDS.get(status, status.capitalize())}{who}" + (
        f" at {when}" if when else ""
    )
    body = [
        *_header(row, name_of),
        {
            "type": "TextBlock",
            "text": outcome,
            "weight": "Bolder",
            "color": "Good" if status == "approved" else "Attention",
            "wrap": True,
        },
    ]
    if row.get("comment"):
        body.append({"type": "TextBlock", "text": f"Reason: {row['comment']}", "wrap": True})
    if row.get("edited_arguments"):
        edited = json.dumps(row["edited_arguments"], ensure_ascii=False)
        body.append({"type": "TextBlock", "text": f"Applied with: {edited}", "wrap": True})
    if note:
        body.append({"type": "TextBlock", "text": note, "isSubtle": True, "wrap": True})
    return _card(body, [])


def card_content(attachment: Attachment) -> dict[str, Any]:
    return dict(attachment.content)


def _header(row: Mapping[str, Any], name_of: NameOf) -> list[dict[str, Any]]:
    context = row.get("context") or {}
    proposal = context.get("proposal") or {}
    before, after = proposal.get("before") or {}, proposal.get("after") or {}
    changes = [
        f"{k}: {before.get(k)} → {v}"
        for k, v in after.items()
        if before.get(k) != v and k != "version"
    ]
    facts = [
        {"title": "Asked by", "value": name_of(row["requested_by"])},
        {"title": "Rule", "value": ", ".join(row.get("rule_ids") or []) or "—"},
        {"title": "Why", "value": "; ".join(row.get("reasons") or []) or "—"},
        {"title": "Action", "value": row["tool"]},
    ]
    if changes:
        facts.append({"title": "Change", "value": "; ".join(changes)})
    if row.get("expires_at"):
        facts.append({"title": "Expires", "value": _when(row["expires_at"])})
    blocks: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": "Review request", "size": "Small", "isSubtle": True},
        {
            "type": "TextBlock",
            "text": proposal.get("summary") or row["tool"],
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {"type": "FactSet", "facts": facts},
    ]
    if context.get("request"):
        blocks.append(
            {"type": "TextBlock", "text": f"Request: “{context['request']}”", "wrap": True}
        )
    negotiation = context.get("negotiation")
    if negotiation:
        lines = [f"Negotiation ({negotiation['outcome']}):"] + [
            f"- {t['agent']}: {t['stance']} — {t['reason']}" for t in negotiation["transcript"]
        ]
        blocks.append({"type": "TextBlock", "text": "\n".join(lines), "wrap": True})
    blocks.append({"type": "TextBlock", "text": f"Request id: {row['id']}", "isSubtle": True})
    return blocks


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> Attachment:
    return CardFactory.adaptive_card(
        {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4",
            "body": body,
            "actions": actions,
        }
    )


def _when(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M %Z").strip() or value.isoformat()
    return str(value)
