"""The review card model: what a card of a review request says, whichever channel renders it
(Slack's Block Kit in `channels.slack.cards`, Teams' Adaptive Cards in `channels.teams.cards`).

Built from a review row (`CRMService.reviews`) already cut to what its reader may see
(`tools.visibility.review_for`) and the names of the people it mentions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from channels.core import messages
from tools.errors import NotFound
from tools.service import CRMService
from tools.visibility import Audience, review_for

__all__ = [
    "CardDelivery",
    "ReviewCard",
    "card_deliveries",
    "names_of",
    "parse_edited_arguments",
    "summary_of",
    "when",
]


def when(value: Any) -> str:
    """'2026-11-20 12:00 UTC' from an ISO timestamp or datetime (or the value as it is)."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip() if moment.tzinfo else str(value)


def summary_of(row: Mapping[str, Any]) -> str:
    return str((row.get("context") or {}).get("proposal", {}).get("summary") or row["tool"])


def names_of(crm: CRMService, user_ids: Iterable[str | None]) -> dict[str, str]:
    """CRM user id → display name (the id itself for someone the CRM does not know)."""
    names: dict[str, str] = {}
    for user_id in filter(None, set(user_ids)):
        try:
            names[user_id] = crm.actor(user_id).name
        except NotFound:
            names[user_id] = user_id
    return names


class NegotiationTurn(BaseModel):
    model_config = ConfigDict(frozen=True)

    agent: str
    stance: str
    reason: str


class ReviewCard(BaseModel):
    """Everything a review card shows, channel-neutral and typed."""

    model_config = ConfigDict(frozen=True)

    approval_id: str
    summary: str
    tool: str
    arguments: dict[str, Any]
    requester: str
    rule_ids: list[str]
    reasons: list[str]
    changes: list[str]
    request: str | None
    negotiation_outcome: str | None
    negotiation: list[NegotiationTurn]
    expires: str | None
    visibility_note: str | None
    status: str
    decided_by: str | None
    decided_at: str | None
    comment: str | None
    edited: bool

    @classmethod
    def of(cls, row: Mapping[str, Any], names: Mapping[str, str]) -> ReviewCard:
        context = row.get("context") or {}
        proposal = context.get("proposal") or {}
        before, after = proposal.get("before") or {}, proposal.get("after") or {}
        negotiation = context.get("negotiation") or {}
        decided_by = row.get("decided_by")
        return cls(
            approval_id=row["id"],
            summary=summary_of(row),
            tool=row["tool"],
            arguments=dict(row.get("arguments") or {}),
            requester=names.get(row["requested_by"], row["requested_by"]),
            rule_ids=list(row.get("rule_ids") or []),
            reasons=[str(r) for r in row.get("reasons") or []],
            changes=[
                f"{k}: {before.get(k)} → {v}"
                for k, v in after.items()
                if before.get(k) != v and k != "version"
            ],
            request=str(context["request"]) if context.get("request") else None,
            negotiation_outcome=negotiation.get("outcome") if negotiation else None,
            negotiation=[
                NegotiationTurn(agent=t["agent"], stance=t["stance"], reason=str(t["reason"]))
                for t in negotiation.get("transcript", [])
            ],
            expires=when(row["expires_at"]) if row.get("expires_at") else None,
            visibility_note=row.get("visibility_note"),
            status=row.get("status") or "pending",
            decided_by=names.get(decided_by, decided_by) if decided_by else None,
            decided_at=when(moment)
            if (moment := row.get("decided_at") or row.get("expires_at"))
            else None,
            comment=str(row["comment"]) if row.get("comment") else None,
            edited=bool(row.get("edited_arguments")),
        )

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)

    def negotiation_lines(self, bullet: str = "-") -> list[str]:
        return [f"{bullet} {t.agent}: {t.stance} — {t.reason}" for t in self.negotiation]


def parse_edited_arguments(raw: Any) -> tuple[dict[str, Any] | None, str | None]:
    """A reviewer's edited arguments: (arguments, None) or (None, the sentence saying what is
    wrong). `raw` is the JSON text a reviewer typed (or an object a card already parsed)."""
    if isinstance(raw, Mapping):
        value: Any = dict(raw)
    else:
        text = str(raw or "")
        if not text.strip():
            return None, messages.ARGUMENTS_EMPTY
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return None, messages.ARGUMENTS_NOT_JSON.format(
                problem=exc.msg, line=exc.lineno, column=exc.colno
            )
    if not isinstance(value, dict) or not value:
        return None, messages.ARGUMENTS_NOT_OBJECT
    return value, None


class CardDelivery(BaseModel):
    """One card of a review request: for a reviewer (their direct chat) or, with `reviewer_id`
    None, for the shared review channel; `shown` is the row cut to what its readers may see."""

    model_config = ConfigDict(frozen=True)

    reviewer_id: str | None
    shown: dict[str, Any]


def card_deliveries(
    crm: CRMService, row: Mapping[str, Any], *, review_channel: bool, reachable: Iterable[str]
) -> list[CardDelivery]:
    """Where the cards of a pending request go and what each may show (tools/visibility): one
    card in the review channel, showing what everyone there may see; without a review channel,
    one per reviewer the channel can reach, showing what that reviewer may see."""
    if review_channel:
        return [CardDelivery(reviewer_id=None, shown=review_for(Audience(()), dict(row)))]
    can_reach = set(reachable)
    return [
        CardDelivery(reviewer_id=rid, shown=review_for(crm.actor(rid), dict(row)))
        for rid in row.get("reviewer_ids") or []
        if rid in can_reach
    ]
