"""Adaptive Cards for human review, rendered from the shared review card model
(`channels.core.reviews.ReviewCard`), and reading what a reviewer submitted from one.

The card carries Universal Actions (`Action.Execute`, answered in place with the updated card);
submissions of older clients (`Action.Submit`, a message whose `value` holds the inputs) read the
same way. A card's inputs: `comment` (the reason; required to reject) and `arguments` (JSON, for
approve with edits).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from microsoft_agents.activity import Attachment

from channels.core.reviews import ReviewCard, parse_edited_arguments
from channels.teams import messages

__all__ = [
    "CARD_CONTENT_TYPE",
    "CardAction",
    "CardActionError",
    "decided_card",
    "read_card_action",
    "review_card",
]

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


def read_card_action(verb: Any, data: Any) -> CardAction:
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
        arguments, problem = parse_edited_arguments(data.get("arguments"))
        if problem:
            raise CardActionError(f"{problem} {messages.NOTHING_CHANGED}")
    return CardAction(verb, approval_id.strip(), comment, arguments)


def review_card(row: Mapping[str, Any], names: Mapping[str, str]) -> Attachment:
    """The approval request as the reviewer sees it, with approve / reject / edit."""
    card = ReviewCard.of(row, names)
    data = {"warroom": MARKER, "approval_id": card.approval_id}
    body: list[dict[str, Any]] = [
        *_header(card),
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
            "value": card.arguments_json,
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


def decided_card(
    row: Mapping[str, Any], names: Mapping[str, str], note: str | None = None
) -> Attachment:
    """The same request once decided (or expired): who, when, and no buttons any more."""
    card = ReviewCard.of(row, names)
    who = f" by {card.decided_by}" if card.decided_by else ""
    at = f" at {card.decided_at}" if card.decided_at else ""
    outcome = f"{STATUS_WORDS.get(card.status, card.status.capitalize())}{who}{at}"
    body = [
        *_header(card),
        {
            "type": "TextBlock",
            "text": outcome,
            "weight": "Bolder",
            "color": "Good" if card.status == "approved" else "Attention",
            "wrap": True,
        },
    ]
    if card.comment:
        body.append({"type": "TextBlock", "text": f"Reason: {card.comment}", "wrap": True})
    if row.get("edited_arguments"):
        edited = json.dumps(row["edited_arguments"], ensure_ascii=False)
        body.append({"type": "TextBlock", "text": f"Applied with: {edited}", "wrap": True})
    if note:
        body.append({"type": "TextBlock", "text": note, "isSubtle": True, "wrap": True})
    return _card(body, [])


def _header(card: ReviewCard) -> list[dict[str, Any]]:
    facts = [
        {"title": "Asked by", "value": card.requester},
        {"title": "Rule", "value": ", ".join(card.rule_ids) or "—"},
        {"title": "Why", "value": "; ".join(card.reasons) or "—"},
        {"title": "Action", "value": card.tool},
    ]
    if card.changes:
        facts.append({"title": "Change", "value": "; ".join(card.changes)})
    if card.expires:
        facts.append({"title": "Expires", "value": card.expires})
    blocks: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": "Review request", "size": "Small", "isSubtle": True},
        {
            "type": "TextBlock",
            "text": card.summary,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {"type": "FactSet", "facts": facts},
    ]
    if card.request:
        blocks.append({"type": "TextBlock", "text": f"Request: “{card.request}”", "wrap": True})
    if card.negotiation_outcome or card.negotiation:
        lines = [f"Negotiation ({card.negotiation_outcome}):", *card.negotiation_lines()]
        blocks.append({"type": "TextBlock", "text": "\n".join(lines), "wrap": True})
    if card.visibility_note:  # a shared channel's card (tools/visibility.review_for)
        blocks.append({"type": "TextBlock", "text": card.visibility_note, "isSubtle": True})
    blocks.append(
        {"type": "TextBlock", "text": f"Request id: {card.approval_id}", "isSubtle": True}
    )
    return blocks


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> Attachment:
    return Attachment(
        content_type=CARD_CONTENT_TYPE,
        content={
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4",
            "body": body,
            "actions": actions,
        },
    )
