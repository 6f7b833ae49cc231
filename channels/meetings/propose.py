"""Propose: the meeting's grounded facts become CRM writes, through the tool layer's proposal
path only — propose, gate, then commit low risk or request review for high risk.

Every write is keyed by the transcript's SHA-256 (idempotency key and proposal id), so a re-run
after a crash commits nothing twice. Fields a person typed go to review (a meeting rule added to
the policy gate's hits; it can only raise the risk).
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from channels.meetings.grounding import Span
from channels.meetings.matching import Match
from channels.meetings.parsers import Transcript
from channels.meetings.result import MeetingResult
from tools.context import Actor
from tools.errors import ToolFailure
from tools.policy import DOMAIN_REVIEWER, RuleHit
from tools.service import CRMService, GateDecision, Proposal

__all__ = ["IDEMPOTENCY_PREFIX", "GroundedChange", "MeetingWriter", "ReviewOpener"]

IDEMPOTENCY_PREFIX = "meeting:"


class ReviewOpener(Protocol):
    async def open_review(self, approval_id: str) -> None: ...


class GroundedChange(BaseModel):
    """A deal change the transcript states, with its verbatim evidence (the ground step's
    hand-off to this one)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    field: str
    value: Any
    evidence: Span


class MeetingWriter:
    """Writes one meeting's results as `actor`: the activity, the action items' tasks, the deal
    changes. `convo` opens the review threads of held changes."""

    def __init__(
        self,
        *,
        crm: CRMService,
        convo: ReviewOpener | None,
        review_ttl: timedelta,
        default_task_days: int,
    ) -> None:
        self.crm = crm
        self.convo = convo
        self.review_ttl = review_ttl
        self.default_task_days = default_task_days

    async def apply(
        self,
        result: MeetingResult,
        transcript: Transcript,
        match: Match,
        changes: list[GroundedChange],
        actor: Actor,
        sha: str,
        day: date,
        thread: str,
        dry_run: bool,
    ) -> None:
        assert match.account_id is not None
        ing = result.ingestion
        short = sha[:12]
        contact_ids = [a.contact_id for a in match.attendees if a.contact_id]
        occurred = transcript.started_at or datetime.combine(day, time(12), tzinfo=UTC)
        title = result.meeting["title"] or Path(result.source["path"]).stem
        activity_args = {
            "account_id": match.account_id,
            "kind": "meeting",
            "subject": f"Meeting: {title}"[:200],
            "summary": _activity_summary(result)[:10_000],
            "contact_ids": list(dict.fromkeys(contact_ids)),
            "occurred_at": occurred.isoformat(),
        }
        if match.opportunity_id:
            activity_args["opportunity_id"] = match.opportunity_id
        ing["activity"] = await self._write_low_risk(
            "log_activity",
            activity_args,
            actor,
            f"prop-mtg-{short}-act",
            f"{IDEMPOTENCY_PREFIX}{sha}:activity",
            thread,
            dry_run,
        )
        if ing["activity"]["status"] not in ("committed", "would_commit"):
            ing["problems"].append(
                "The meeting could not be logged on the account "
                f"({ing['activity'].get('message') or ing['activity']['status']}); its tasks and "
                "changes were not applied either."
            )
            return
        for item in result.action_items:
            due = item["due_date"] or (day + timedelta(days=self.default_task_days)).isoformat()
            subject = item["text"]
            if item["owner_name"] and not item["owner_id"]:
                subject = f"Follow up: {item['owner_name']} — {item['text']}"
            args: dict[str, Any] = {
                "subject": subject[:200],
                "due_date": due,
                "owner_id": item["owner_id"] or actor.id,
                "account_id": match.account_id,
            }
            if match.opportunity_id:
                args["opportunity_id"] = match.opportunity_id
            digest = hashlib.sha256(
                f"{item['text']}\x1f{item['owner_id']}\x1f{due}".encode()
            ).hexdigest()[:12]
            outcome = await self._write_low_risk(
                "create_task",
                args,
                actor,
                f"prop-mtg-{short}-t{digest}",
                f"{IDEMPOTENCY_PREFIX}{sha}:task:{digest}",
                thread,
                dry_run,
            )
            outcome.update(
                subject=args["subject"],
                due_date=due,
                owner_id=args["owner_id"],
                due_date_said=item["due_date"] is not None,
            )
            ing["tasks"].append(outcome)
        if changes:
            await self._apply_changes(result, match, changes, actor, sha, thread, dry_run)

    async def _write_low_risk(
        self,
        tool: str,
        args: dict[str, Any],
        actor: Actor,
        proposal_id: str,
        key: str,
        thread: str,
        dry_run: bool,
    ) -> dict[str, Any]:
        proposal = await self._propose(tool, args, actor, proposal_id, thread, dry_run)
        if isinstance(proposal, ToolFailure):
            return {
                "status": "refused" if proposal.kind == "refused" else "failed",
                "message": proposal.message,
                "record_id": None,
            }
        decision = (await self._gate([proposal], actor))[0]
        if decision.needs_review:  # a policy file may make even these need review
            return await self._hold(proposal, decision, thread, dry_run, evidence=None)
        if dry_run:
            return {"status": "would_commit", "record_id": None, "summary": proposal.summary}
        return await self._commit(proposal, key, thread, decision)

    async def _apply_changes(
        self,
        result: MeetingResult,
        match: Match,
        changes: list[GroundedChange],
        actor: Actor,
        sha: str,
        thread: str,
        dry_run: bool,
    ) -> None:
        assert match.opportunity_id is not None
        opp_id = match.opportunity_id
        current = await asyncio.to_thread(
            self.crm.read, "get_opportunity", {"opportunity_id": opp_id}, actor
        )
        planned: list[tuple[GroundedChange, Proposal | ToolFailure]] = []
        for change in changes:
            if current.get("ok") and _same(current.get(change.field), change.value):
                result.ingestion["dropped"]["unchanged"] += 1
                result.ingestion["dropped_items"].append(
                    {"item": f"{change.field} → {change.value}", "reason": "already the value"}
                )
                continue
            args = {"opportunity_id": opp_id, change.field: _jsonable(change.value)}
            pid = f"prop-mtg-{sha[:12]}-{change.field}"
            planned.append(
                (
                    change,
                    await self._propose("update_opportunity", args, actor, pid, thread, dry_run),
                )
            )
        proposals = [p for _, p in planned if isinstance(p, Proposal)]
        typed: list[list[RuleHit]] = []
        for candidate in proposals:
            field = next(iter(candidate.arguments.keys() - {"opportunity_id"}))
            typed_by = await asyncio.to_thread(self._typed_by_person, opp_id, field)
            typed.append(
                [
                    RuleHit(
                        "person-typed-field",
                        DOMAIN_REVIEWER["sales"],
                        f"The field was last set by {typed_by}; meeting notes do not "
                        "overwrite what a person typed without review.",
                    )
                ]
                if typed_by
                else []
            )
        decisions = {
            p.id: d
            for p, d in zip(proposals, await self._gate(proposals, actor, typed), strict=True)
        }
        # Low risk first, so the held proposals carry the opportunity's version after them.
        ordered = sorted(
            planned,
            key=lambda cp: isinstance(cp[1], Proposal) and decisions[cp[1].id].needs_review,
        )
        for change, proposal in ordered:
            entry: dict[str, Any] = {
                "tool": "update_opportunity",
                "args": {"opportunity_id": opp_id, change.field: _jsonable(change.value)},
                "evidence": change.evidence.text,
            }
            if isinstance(proposal, ToolFailure):
                entry.update(
                    risk=None,
                    message=proposal.message,
                    status="refused" if proposal.kind == "refused" else "failed",
                )
                result.proposed_changes.append(entry)
                continue
            decision = decisions[proposal.id]
            entry["risk"] = "high" if decision.needs_review else "low"
            fresh = await self._propose(
                proposal.tool, proposal.arguments, actor, proposal.id, thread, dry_run
            )
            if isinstance(fresh, ToolFailure):
                entry.update(status="failed", message=fresh.message)
            elif decision.needs_review:
                entry.update(
                    await self._hold(
                        fresh, decision, thread, dry_run, evidence=change.evidence.text
                    )
                )
            elif dry_run:
                entry["status"] = "would_commit"
            else:
                key = f"{IDEMPOTENCY_PREFIX}{sha}:change:{change.field}"
                outcome = await self._commit(fresh, key, thread, decision)
                entry["status"] = outcome["status"]
                if outcome.get("message"):
                    entry["message"] = outcome["message"]
            result.proposed_changes.append(entry)

    async def _gate(
        self,
        proposals: list[Proposal],
        actor: Actor,
        also: list[list[RuleHit]] | None = None,
    ) -> list[GateDecision]:
        """The policy gate of the tool layer, for a plan of proposals — the one place meeting
        ingestion classifies writes. `also` adds the meeting's own rule hits per proposal (a
        field a person typed goes to review); they can only raise the risk."""
        extra = {p.id: hits for p, hits in zip(proposals, also or [], strict=False) if hits}
        return await asyncio.to_thread(self.crm.classify, proposals, actor, extra_hits=extra)

    async def _propose(
        self,
        tool: str,
        args: dict[str, Any],
        actor: Actor,
        proposal_id: str,
        thread: str,
        dry_run: bool,
    ) -> Proposal | ToolFailure:
        return await asyncio.to_thread(
            self.crm.propose,
            tool,
            args,
            actor,
            proposal_id=proposal_id,
            thread_id=thread,
            audit_refusal=not dry_run,
        )

    async def _commit(
        self, proposal: Proposal, key: str, thread: str, clearance: GateDecision
    ) -> dict[str, Any]:
        outcome = await asyncio.to_thread(
            self.crm.apply, proposal, clearance, idempotency_key=key, thread_id=thread
        )
        if isinstance(outcome, ToolFailure):
            return {
                "status": "refused" if outcome.kind == "refused" else "failed",
                "message": outcome.message,
                "record_id": None,
            }
        return {
            "status": "committed",
            "record_id": outcome.result.get("record_id"),
            "replayed": outcome.replayed,
        }

    async def _hold(
        self,
        proposal: Proposal,
        decision: GateDecision,
        thread: str,
        dry_run: bool,
        *,
        evidence: str | None,
    ) -> dict[str, Any]:
        held: dict[str, Any] = {
            "reviewer_ids": decision.reviewer_ids,
            "reviewer_role": decision.reviewer_role,
            "reasons": decision.reasons,
        }
        if dry_run:
            return {"status": "would_need_approval", **held}
        review = await asyncio.to_thread(
            self.crm.request_review,
            proposal,
            decision,
            thread_id=thread,
            ttl=self.review_ttl,
            context={"request": f"Meeting notes: {proposal.summary}", "evidence": evidence},
        )
        if self.convo is not None:
            await self.convo.open_review(review["id"])
        return {"status": "pending_approval", "approval_id": review["id"], **held}

    def _typed_by_person(self, record_id: str, field: str) -> str | None:
        """Who last set the field, if a person did (per the audit trail); None if it was set by
        ingestion or never by anyone recorded (imports, seed data)."""
        for event in self.crm.audit_events(record_id=record_id, limit=500):
            if event.outcome != "committed" or event.record_type != "opportunity":
                continue
            after, before = event.after or {}, event.before or {}
            if field in after and (not before or str(before.get(field)) != str(after.get(field))):
                if (event.idempotency_key or "").startswith(IDEMPOTENCY_PREFIX):
                    return None
                return event.actor_id or "a person"
        return None


def _same(current: Any, new: Any) -> bool:
    if current is None:
        return False
    if isinstance(new, Decimal):
        try:
            return Decimal(str(current)) == new
        except ArithmeticError:
            return False
    if isinstance(new, date):
        return str(current) == new.isoformat()
    return str(current).strip().casefold() == str(new).strip().casefold()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral() else int(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _activity_summary(result: MeetingResult) -> str:
    parts = [result.summary_text or "Meeting transcript ingested."]
    if result.decisions:
        parts.append("Decisions:\n" + "\n".join(f"- {d}" for d in result.decisions))
    if result.action_items:
        parts.append(
            "Action items:\n"
            + "\n".join(
                f"- {a['text']} ({a['owner_name'] or 'no owner said'}, "
                f"{a['due_date'] or 'no date said'})"
                for a in result.action_items
            )
        )
    if result.risks:
        parts.append("Risks:\n" + "\n".join(f"- {r}" for r in result.risks))
    if result.competitors:
        parts.append("Competitors: " + ", ".join(result.competitors))
    parts.append(f"Source: {Path(result.source['path']).name} (sha256 {result.source['sha256']})")
    return "\n\n".join(parts)
