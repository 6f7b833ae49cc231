"""Block Kit for human review: the approval card, its decided state, and the reject and edit
modals. Pure functions from a review row (`CRMService.reviews`) to Slack payloads."""

from __future__ import annotations

import json
from typing import Any

from channels.core.reviews import ReviewCard, parse_edited_arguments, summary_of, when
from channels.slack import messages
from channels.slack.text import escape

__all__ = [
    "already_decided",
    "decided_card",
    "decided_line",
    "edit_modal",
    "parse_edited_arguments",
    "read_metadata",
    "reject_modal",
    "review_card",
    "submitted_value",
    "summary_of",
    "when",
]

APPROVE = "warroom_review_approve"
REJECT = "warroom_review_reject"
EDIT = "warroom_review_edit"
REJECT_VIEW = "warroom_review_reject_view"
EDIT_VIEW = "warroom_review_edit_view"
REASON_BLOCK, REASON_INPUT = "reason", "reason_input"
ARGUMENTS_BLOCK, ARGUMENTS_INPUT = "arguments", "arguments_input"
COMMENT_BLOCK, COMMENT_INPUT = "comment", "comment_input"

STATUS_MARK = {"approved": "✅", "rejected": "⛔", "expired": "⌛", "failed": "⚠️"}
_SECTION_LIMIT = 2900  # a section's text holds 3,000 characters


def _clip(text: str, limit: int = _SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _details(row: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    card = ReviewCard.of(row, names)  # what every channel's card says (channels.core)
    lines = [
        f"*{escape(card.summary)}*",
        f"Asked by {escape(card.requester)} · rule {', '.join(card.rule_ids)}: "
        f"{escape('; '.join(card.reasons))}",
    ]
    if card.changes:
        lines.append("Change: " + escape("; ".join(card.changes)))
    if card.request:
        lines.append(f"Request: “{escape(card.request)}”")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip("\n".join(lines))}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _clip(f"`{card.tool}` " + escape(card.arguments_json)),
            },
        },
    ]
    if card.negotiation_outcome or card.negotiation:
        turns = escape("\n".join(card.negotiation_lines("•")))
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _clip(f"Negotiation ({card.negotiation_outcome}):\n{turns}"),
                },
            }
        )
    if card.visibility_note:  # a shared channel's card (tools/visibility.review_for)
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": escape(card.visibility_note)}],
            }
        )
    return blocks


def review_card(
    row: dict[str, Any], names: dict[str, str], *, mention: list[str] | None = None
) -> dict[str, Any]:
    """`text` and `blocks` of a pending request's card, with approve / reject / edit buttons."""
    approval_id = row["id"]
    header = f"Review request {approval_id}"
    reviewers = ", ".join(f"<@{m}>" for m in mention or [])
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(header, 150)}},
        *_details(row, names),
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": (f"For {reviewers} · " if reviewers else "")
                    + f"expires {when(row.get('expires_at'))}",
                }
            ],
        },
        {
            "type": "actions",
            "block_id": f"review:{approval_id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": APPROVE,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": approval_id,
                },
                {
                    "type": "button",
                    "action_id": REJECT,
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Reject…"},
                    "value": approval_id,
                },
                {
                    "type": "button",
                    "action_id": EDIT,
                    "text": {"type": "plain_text", "text": "Edit…"},
                    "value": approval_id,
                },
            ],
        },
    ]
    text = f"Review request: {summary_of(row)} (asked by {names.get(row['requested_by'], '?')})"
    return {"text": text, "blocks": blocks}


def decided_line(row: dict[str, Any], names: dict[str, str]) -> str:
    status = row["status"]
    who = names.get(row.get("decided_by") or "", row.get("decided_by") or "")
    at = when(row.get("decided_at") or row.get("expires_at"))
    if status == "expired":
        return f"{STATUS_MARK[status]} Expired at {at} without a decision; nothing was changed."
    note = f" — “{escape(str(row['comment']))}”" if row.get("comment") else ""
    if status == "failed":
        return f"{STATUS_MARK[status]} Approved by {escape(who)} at {at} but not applied{note}"
    edited = " with edited arguments" if row.get("edited_arguments") else ""
    mark = STATUS_MARK.get(status, "•")
    return f"{mark} {status.capitalize()}{edited} by {escape(who)} at {at}{note}"


def decided_card(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The card after a decision: the details, who decided and when, no buttons."""
    line = decided_line(row, names)
    blocks = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(f"Review request {row['id']}", 150)},
        },
        *_details(row, names),
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(line)}},
    ]
    return {"text": f"{summary_of(row)}: {line}", "blocks": blocks}


def already_decided(row: dict[str, Any], names: dict[str, str]) -> str:
    who = names.get(row.get("decided_by") or "", row.get("decided_by") or "nobody")
    return messages.ALREADY_DECIDED.format(
        status=row["status"], who=who, when=when(row.get("decided_at"))
    )


def _metadata(approval_id: str, channel: str, ts: str) -> str:
    return json.dumps({"approval_id": approval_id, "channel": channel, "ts": ts})


def read_metadata(view: dict[str, Any]) -> dict[str, str]:
    return json.loads(view.get("private_metadata") or "{}")


def reject_modal(row: dict[str, Any], *, channel: str, ts: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": REJECT_VIEW,
        "private_metadata": _metadata(row["id"], channel, ts),
        "title": {"type": "plain_text", "text": "Reject request"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(summary_of(row))}*"}},
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Why? The requester will read it."},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "max_length": 2000,
                },
            },
        ],
    }


def edit_modal(row: dict[str, Any], *, channel: str, ts: str) -> dict[str, Any]:
    arguments = json.dumps(row.get("arguments") or {}, indent=2, ensure_ascii=False)
    return {
        "type": "modal",
        "callback_id": EDIT_VIEW,
        "private_metadata": _metadata(row["id"], channel, ts),
        "title": {"type": "plain_text", "text": "Edit and approve"},
        "submit": {"type": "plain_text", "text": "Approve edited"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(summary_of(row))}*"}},
            {
                "type": "input",
                "block_id": ARGUMENTS_BLOCK,
                "label": {"type": "plain_text", "text": f"Arguments of {row['tool']} (JSON)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": ARGUMENTS_INPUT,
                    "multiline": True,
                    "initial_value": arguments[:3000],
                },
            },
            {
                "type": "input",
                "block_id": COMMENT_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Comment for the requester"},
                "element": {"type": "plain_text_input", "action_id": COMMENT_INPUT},
            },
        ],
    }


def submitted_value(view: dict[str, Any], block_id: str, action_id: str) -> str:
    state = view.get("state", {}).get("values", {})
    return str((state.get(block_id, {}).get(action_id) or {}).get("value") or "").strip()
