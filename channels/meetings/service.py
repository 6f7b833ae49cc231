"""`MeetingService`: transcript bytes in, grounded CRM updates out.

    parse → match account/attendees → extract (model, chunked) → ground → propose → gate →
    commit low risk / request review for high risk → remember facts → receipt

Every write goes through `CRMService` (propose, policy gate, execute with an idempotency key
derived from the transcript's SHA-256), so a re-run after a crash commits nothing twice, and a
second ingest of the same bytes is answered from the receipt table without touching anything.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from rapidfuzz import fuzz
from sqlalchemy.exc import IntegrityError

from agents.llm_errors import LLMError
from agents.llm_types import ChatModel
from channels.meetings.dates import find_due_date, resolve_due_date
from channels.meetings.errors import IngestError, messages
from channels.meetings.extract import ExtractionOut, extract
from channels.meetings.files import TRANSCRIPT_SUFFIXES, list_transcripts, read_limited
from channels.meetings.grounding import Grounder, Span, normalise, split_sentences
from channels.meetings.matching import Directory, Match, match_meeting
from channels.meetings.parsers import Transcript, parse_meeting_date, parse_transcript
from channels.meetings.result import IngestBatch, IngestFailure, MeetingResult, empty_ingestion
from channels.meetings.values import amounts_in, parse_amount, parse_probability, parse_stage
from channels.meetings.visibility import Visibility
from tools.context import Actor
from tools.errors import NotFound, ToolFailure
from tools.models import MeetingIngestion
from tools.policy import DOMAIN_REVIEWER, RuleHit, WriteToClassify
from tools.service import CRMService, GateDecision, Proposal

__all__ = ["IngestProgress", "MeetingService", "TRANSCRIPT_SUFFIXES", "read_limited"]

IDEMPOTENCY_PREFIX = "meeting:"
_SELF = {"i", "me", "myself", "i'll", "我", "本人", "我自己"}
_FILENAME_DATE = re.compile(r"(20\d{2})[-_.]?(\d{2})[-_.]?(\d{2})")


class ReviewOpener(Protocol):
    async def open_review(self, approval_id: str) -> None: ...


class IngestProgress(Protocol):
    """Told how a batch goes: each file as it starts (1-based), each chunk read by the model,
    each file's outcome."""

    def file_started(self, path: str, number: int, total: int) -> None: ...

    def chunk_done(self, done: int, total: int) -> None: ...

    def file_done(self, outcome: MeetingResult | IngestFailure) -> None: ...


class FactMemory(Protocol):
    def remember(
        self,
        account_id: str,
        text: str,
        *,
        author_id: str,
        source_kind: str,
        source_ref: str,
        contact_ids: Sequence[str] = (),
        at: datetime,
    ) -> Any: ...


@dataclass
class _Change:
    field: str
    value: Any
    evidence: Span


class MeetingService:
    """Ingest meeting transcripts for a user. `convo` opens the review threads of held changes
    (ConversationService.open_review); without it the review requests are recorded in the CRM
    and found by `warroom review`. `memory` (AccountMemory) keeps facts with provenance."""

    def __init__(
        self,
        *,
        crm: CRMService,
        model: ChatModel | None = None,
        convo: ReviewOpener | None = None,
        max_bytes: int = 20_000_000,
        memory: FactMemory | None = None,
        chunk_tokens: int = 1500,
        review_ttl_hours: float = 72.0,
        default_task_days: int = 7,
        day_first: bool = True,
    ) -> None:
        self.crm = crm
        self.model = model
        self.convo = convo
        self.max_bytes = max_bytes
        self.memory = memory
        self.chunk_tokens = chunk_tokens
        self.review_ttl = timedelta(hours=review_ttl_hours)
        self.default_task_days = default_task_days
        self.day_first = day_first  # how "03/04/2026" in a transcript's header is read

    # ------------------------------------------------------------ entry points

    async def ingest_path(
        self,
        path: Path | str,
        *,
        actor_id: str,
        dry_run: bool = False,
        account_id: str | None = None,
        thread_id: str | None = None,
        progress: IngestProgress | None = None,
    ) -> IngestBatch:
        """A file, or every transcript file in a folder (recursively, in name order). A file
        that fails is reported with its name and reason; the others go on. Links out of the
        folder, FIFOs and devices are refused by name before anything is read."""
        root = Path(path)
        batch = IngestBatch()
        listing = await asyncio.to_thread(list_transcripts, root)
        if listing is None:
            batch.failures.append(IngestFailure(str(root), messages.not_found(str(root))))
            return batch
        for refused, why in listing.refused:
            batch.failures.append(IngestFailure(str(refused), why))
            if progress is not None:
                progress.file_done(batch.failures[-1])
        for number, file in enumerate(listing.files, start=1):
            if progress is not None:
                progress.file_started(str(file), number, len(listing.files))
            outcome: MeetingResult | IngestFailure
            try:
                data = await asyncio.to_thread(read_limited, file, self.max_bytes)
                outcome = await self.ingest_bytes(
                    filename=str(file),
                    data=data,
                    actor_id=actor_id,
                    dry_run=dry_run,
                    thread_id=thread_id,
                    account_id=account_id,
                    on_chunk=progress.chunk_done if progress is not None else None,
                )
                batch.results.append(outcome)
            except IngestError as exc:
                outcome = IngestFailure(str(file), exc.message)
                batch.failures.append(outcome)
            if progress is not None:
                progress.file_done(outcome)
        return batch

    async def ingest_bytes(
        self,
        *,
        filename: str,
        data: bytes,
        actor_id: str,
        dry_run: bool = False,
        thread_id: str | None = None,
        account_id: str | None = None,
        meeting_date: date | None = None,
        on_chunk: Callable[[int, int], None] | None = None,
    ) -> MeetingResult:
        """Ingest one transcript. Raises IngestError (with `status`) for a file that cannot be
        read or a user who does not exist; anything else ends in the returned result."""
        if len(data) > self.max_bytes:
            raise IngestError(
                messages.too_large(filename, len(data), self.max_bytes),
                filename=filename,
                status=413,
            )
        try:
            actor = await asyncio.to_thread(self.crm.actor, actor_id)
        except NotFound as exc:
            raise IngestError(messages.unknown_user(actor_id), status=403) from exc
        sha = hashlib.sha256(data).hexdigest()
        stored = await asyncio.to_thread(self._receipt, sha)
        if stored is not None:
            return await asyncio.to_thread(self._already, stored, filename, dry_run)
        transcript = await asyncio.to_thread(parse_transcript, data, filename)
        day, day_note = self._meeting_date(transcript, filename, meeting_date)
        result = MeetingResult(
            source={"path": filename, "format": transcript.format, "sha256": sha},
            meeting={
                "title": transcript.title,
                "date": day.isoformat(),
                "duration_minutes": transcript.duration_minutes,
            },
            ingestion=empty_ingestion(dry_run=dry_run),
        )
        if day_note:
            result.ingestion["notes"].append(day_note)
        directory = await asyncio.to_thread(Directory.load, self.crm.db)
        seen = await asyncio.to_thread(Visibility.load, self.crm.db, actor)
        text = " ".join(s.text for s in transcript.segments)
        if account_id is not None and not seen.account(account_id):
            raise IngestError(messages.no_account(filename, account_id), status=400)

        def matched(given: str | None) -> Match:
            return match_meeting(
                directory,
                speakers=transcript.speakers,
                attendee_labels=transcript.attendees,
                text=text,
                title=transcript.title,
                filename=Path(filename).name,
                account_id=given,
            )

        match = matched(account_id)
        if account_id is not None:
            # The account named by the person is checked against what the meeting says, so a
            # wrong file or a wrong --account is reported instead of fitted to the account.
            said = matched(None).account_id
            if said is not None and said != account_id:
                raise IngestError(messages.other_account(filename, account_id), status=409)
            if said is None:
                result.ingestion["problems"].append(
                    f"Nothing in the transcript names {directory.accounts[account_id].name} or "
                    "its people; it was logged there because you said so. Check that this is "
                    "the right meeting."
                )
        if match.account_id is not None and not seen.account(match.account_id):
            # Nothing about it is told: not its id, its people or its deals.
            raise IngestError(messages.hidden_account(filename), filename=filename, status=403)
        result.account_id, result.opportunity_id = match.account_id, match.opportunity_id
        result.attendees = [seen.attendee(a.to_dict()) for a in match.attendees]
        result.ingestion["ambiguities"] = [seen.redact(text) for text in match.ambiguities]
        grounder = Grounder(transcript.segments)
        extraction = await self._extract(
            transcript, match, directory, day, filename, result, on_chunk
        )
        changes = self._ground(extraction, grounder, match, directory, day, result)
        if match.account_id is None:
            result.ingestion["status"] = "not_applied"
            return result
        thread = thread_id or f"{IDEMPOTENCY_PREFIX}{sha[:16]}"
        await self._apply(result, transcript, match, changes, actor, sha, day, thread, dry_run)
        if dry_run:
            return result
        if (result.ingestion["activity"] or {}).get("status") != "committed":
            # Not applied (refused, say): no receipt, so someone allowed to can ingest it.
            result.ingestion["status"] = "not_applied"
            return result
        await self._remember(result, match, actor, sha, filename)
        return await asyncio.to_thread(self._store_receipt, result, actor, sha, filename)

    # ------------------------------------------------------------ steps

    def _meeting_date(
        self, transcript: Transcript, filename: str, given: date | None
    ) -> tuple[date, str | None]:
        if given:
            return given, None
        stated = transcript.meeting_date(day_first=self.day_first)
        if stated:
            return stated, None
        if transcript.started_at:
            return transcript.started_at.date(), None
        name = Path(filename).name
        found = _FILENAME_DATE.search(name)
        parsed = parse_meeting_date("-".join(found.groups())) if found else None
        parsed = parsed or parse_meeting_date(name.replace("_", " "), day_first=self.day_first)
        if parsed and not transcript.date_text:
            return parsed, None
        today = self.crm.clock.today()
        if transcript.date_text:
            return parsed or today, (
                f"The meeting date '{transcript.date_text[:60]}' could not be read; relative "
                f"dates were read against {(parsed or today).isoformat()}."
            )
        return today, (
            f"The transcript names no meeting date; relative dates were read against today "
            f"({today.isoformat()})."
        )

    async def _extract(
        self,
        transcript: Transcript,
        match: Match,
        directory: Directory,
        day: date,
        filename: str,
        result: MeetingResult,
        on_chunk: Callable[[int, int], None] | None = None,
    ) -> ExtractionOut:
        if self.model is None:
            result.ingestion["notes"].append(
                "No language model was used for this ingestion: the meeting was matched and "
                "logged, but no action items or changes were read from it."
            )
            return ExtractionOut()
        context = _context(transcript, match, directory, day)
        try:
            extraction, chunks = await extract(
                self.model.for_turn(),
                transcript.segments,
                context=context,
                max_tokens=self.chunk_tokens,
                on_chunk=on_chunk,
            )
        except LLMError as exc:
            raise IngestError(
                f"{filename}: the language model could not read the transcript "
                f"({exc.user_message})",
                filename=filename,
                status=502,
            ) from exc
        result.ingestion["chunks"] = chunks
        return extraction

    def _ground(  # noqa: C901
        self,
        out: ExtractionOut,
        grounder: Grounder,
        match: Match,
        directory: Directory,
        day: date,
        result: MeetingResult,
    ) -> list[_Change]:
        ing = result.ingestion

        def drop(kind: str, what: str, reason: str) -> None:
            ing["dropped"][kind] += 1
            ing["dropped_items"].append({"item": what[:200], "reason": reason})

        result.meeting["title"] = result.meeting["title"] or (out.title.strip() or None)
        result.summary_text = self._supported_summary(out.summary, grounder, result, drop)
        for notes, bucket in ((out.decisions, result.decisions), (out.risks, result.risks)):
            for note in notes:
                if not note.text.strip():
                    continue
                span = grounder.locate(note.evidence, note.line) or grounder.find(note.text)
                if span is None:
                    drop("ungrounded", note.text, "no verbatim evidence in the transcript")
                    continue
                bucket.append(note.text.strip()[:500])
        account_names = {
            normalise(n)
            for a in ([directory.accounts[match.account_id]] if match.account_id else [])
            for n in a.aliases
        }
        for name in out.competitors:
            name = name.strip()
            if name and grounder.contains(name) and normalise(name) not in account_names:
                if normalise(name) not in {normalise(c) for c in result.competitors}:
                    result.competitors.append(name)
            elif name:
                drop("ungrounded", name, "competitor not named in the transcript")
        haystack = normalise(" ".join(s.text for s in grounder.segments))
        for key in ("budget", "authority", "need", "timeline"):
            value = getattr(out.qualification, key).strip()
            if not value:
                result.qualification[key] = None
            elif fuzz.partial_ratio(normalise(value), haystack) >= 75:
                result.qualification[key] = value[:300]
            else:
                result.qualification[key] = None
                drop("ungrounded", f"{key}: {value}", "not said in the transcript")
        for item in out.action_items:
            span = grounder.locate(item.evidence, item.line)
            if span is None or not item.text.strip():
                drop("ungrounded", item.text or item.evidence, "no verbatim evidence")
                continue
            ing["evidence_from"][span.found_by] += 1
            owner_name, owner_id = _owner(item.owner, span, match, grounder)
            due_words = item.due if item.due and grounder.contains(item.due) else None
            due = find_due_date(due_words, span.text, meeting=day)
            result.action_items.append(
                {
                    "text": item.text.strip()[:200],
                    "owner_id": owner_id,
                    "owner_name": owner_name,
                    "due_date": due.isoformat() if due else None,
                    "evidence": span.text,
                }
            )
        changes: list[_Change] = []
        for change in out.changes:
            span = grounder.locate(change.evidence, change.line)
            label = f"{change.field} → {change.value}"
            if span is None:
                drop("ungrounded", label, "no verbatim evidence")
                continue
            if match.opportunity_id is None:
                drop("no_opportunity", label, "no single open opportunity to change")
                continue
            value = _value(
                change.field,
                change.value,
                span,
                day,
                said_in_transcript=grounder.contains(change.value),
            )
            if value is None:
                drop("invalid", label, f"'{change.value}' is not a {change.field}")
                continue
            if span.found_by == "line" and not _stated_in(change.field, value, span.text, day):
                drop("ungrounded", label, "the evidence line does not state this value")
                continue
            changes.append(_Change(change.field, value, span))
            ing["evidence_from"][span.found_by] += 1
        return changes

    @staticmethod
    def _supported_summary(
        summary: str,
        grounder: Grounder,
        result: MeetingResult,
        drop: Callable[[str, str, str], None],
    ) -> str:
        """The summary's sentences that the transcript supports, each with the lines it rests
        on (`ingestion.summary_support`); the others are dropped, so what the CRM context said
        (an industry, a deal amount) never becomes a fact of the meeting."""
        kept: list[str] = []
        for sentence in split_sentences(summary):
            lines = grounder.support(sentence)
            if lines is None:
                drop("ungrounded", sentence, "summary sentence not supported by the transcript")
                continue
            kept.append(sentence)
            result.ingestion["summary_support"].append({"sentence": sentence, "lines": lines})
        return " ".join(kept)

    async def _apply(
        self,
        result: MeetingResult,
        transcript: Transcript,
        match: Match,
        changes: list[_Change],
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
        decision = (await asyncio.to_thread(self.crm.gate, [proposal], actor))[0]
        if decision.needs_review:  # a policy file may make even these need review
            return await self._hold(proposal, decision, thread, dry_run, evidence=None)
        if dry_run:
            return {"status": "would_commit", "record_id": None, "summary": proposal.summary}
        return await self._commit(proposal, key, thread)

    async def _apply_changes(
        self,
        result: MeetingResult,
        match: Match,
        changes: list[_Change],
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
        planned: list[tuple[_Change, Proposal | ToolFailure]] = []
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
        hits_per = self.crm.policy.classify_plan(
            [WriteToClassify(p.tool, p.facts) for p in proposals]
        )
        decisions: dict[str, GateDecision] = {}
        for candidate, hits in zip(proposals, hits_per, strict=True):
            typed_by = await asyncio.to_thread(
                self._typed_by_person,
                opp_id,
                next(iter(candidate.arguments.keys() - {"opportunity_id"})),
            )
            if typed_by:
                hits = [
                    *hits,
                    RuleHit(
                        "person-typed-field",
                        DOMAIN_REVIEWER["sales"],
                        f"The field was last set by {typed_by}; meeting notes do not "
                        "overwrite what a person typed without review.",
                    ),
                ]
            decisions[candidate.id] = await asyncio.to_thread(
                self.crm.decision, candidate, hits, actor
            )
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
                outcome = await self._commit(fresh, key, thread)
                entry["status"] = outcome["status"]
                if outcome.get("message"):
                    entry["message"] = outcome["message"]
            result.proposed_changes.append(entry)

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

    async def _commit(self, proposal: Proposal, key: str, thread: str) -> dict[str, Any]:
        outcome = await asyncio.to_thread(
            self.crm.execute, proposal, idempotency_key=key, thread_id=thread
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

    async def _remember(
        self, result: MeetingResult, match: Match, actor: Actor, sha: str, filename: str
    ) -> None:
        if self.memory is None or match.account_id is None:
            return
        day = result.meeting["date"]
        facts = [f"Decision in the meeting of {day}: {d}" for d in result.decisions]
        facts += [f"Risk raised in the meeting of {day}: {r}" for r in result.risks]
        facts += [f"Competitor mentioned in the meeting of {day}: {c}" for c in result.competitors]
        facts += [
            f"{k.capitalize()} (meeting of {day}): {v}"
            for k, v in result.qualification.items()
            if v
        ]
        if result.summary_text:
            facts.append(f"Meeting of {day}: {result.summary_text}")
        contacts = [a.contact_id for a in match.attendees if a.contact_id]
        ref = f"{Path(filename).name}#sha256={sha}"
        now = self.crm.clock.now()
        for fact in facts:
            await asyncio.to_thread(
                self.memory.remember,
                match.account_id,
                fact,
                author_id=actor.id,
                source_kind="meeting",
                source_ref=ref,
                contact_ids=contacts,
                at=now,
            )
        result.ingestion["memory_facts"] = len(facts)

    # ------------------------------------------------------------ receipts

    def _receipt(self, sha: str) -> MeetingIngestion | None:
        with self.crm.db.read_session() as session:
            return session.get(MeetingIngestion, sha)

    def _already(self, stored: MeetingIngestion, filename: str, dry_run: bool) -> MeetingResult:
        result = MeetingResult.from_dict(stored.result)
        result.ingestion["status"] = "already_ingested"
        result.ingestion["dry_run"] = dry_run
        result.ingestion["first_ingested_at"] = stored.ingested_at.isoformat()
        result.ingestion["first_ingested_by"] = stored.actor_id
        result.ingestion["first_path"] = stored.source_path
        result.source["path"] = filename
        for change in result.proposed_changes:  # tell where held changes stand now
            if change.get("approval_id"):
                rows = self.crm.reviews(status=None, approval_id=change["approval_id"])
                if rows and rows[0]["status"] != "pending":
                    change["status"] = rows[0]["status"]
        return result

    def _store_receipt(
        self, result: MeetingResult, actor: Actor, sha: str, filename: str
    ) -> MeetingResult:
        try:
            with self.crm.db.session() as session:
                session.add(
                    MeetingIngestion(
                        sha256=sha,
                        source_path=filename[:1000],
                        format=result.source["format"],
                        account_id=result.account_id,
                        actor_id=actor.id,
                        result=result.to_dict(),
                        ingested_at=self.crm.clock.now(),
                    )
                )
        except IntegrityError:  # the same bytes ingested concurrently: theirs is the receipt
            stored = self._receipt(sha)
            if stored is not None:
                return self._already(stored, filename, False)
        return result


# ---------------------------------------------------------------- helpers


def _owner(
    said: str, span: Span, match: Match, grounder: Grounder
) -> tuple[str | None, str | None]:
    """(owner_name, owner_id): the speaker for 'I', an attendee by name, a name the transcript
    contains; nothing when nobody was named."""
    said = (said or "").strip()
    if not said:
        return None, None
    if said.casefold() in _SELF:
        if not span.speaker:
            return None, None
        said = span.speaker
    attendee = match.person(said)
    if attendee is not None:
        return attendee.name, attendee.user_id
    if grounder.contains(said):
        return said, None
    return None, None


# What a model writes for "nothing was said" instead of leaving a value empty.
_NO_VALUE = frozenset({"", "none", "null", "n/a", "na", "unknown", "-", "无", "没有", "未知"})


def _value(field: str, said: str, span: Span, day: date, *, said_in_transcript: bool) -> Any:
    if said.strip().casefold() in _NO_VALUE:
        return None
    if field == "amount":
        return parse_amount(said) or None
    if field == "stage":
        return parse_stage(said) or parse_stage(span.text)
    if field == "probability":
        return parse_probability(said)
    if field == "close_date":
        # Dates come from the transcript's words, resolved in code: the evidence's own date
        # first, else the model's words if they are the transcript's; a date the model
        # computed itself ("2027-02-14" for "月底前") is not taken.
        return resolve_due_date(span.text, day) or (
            resolve_due_date(said, day) if said_in_transcript else None
        )
    if field == "next_step":
        text = said.strip()
        return text[:500] if text else None
    return None


def _stated_in(field: str, value: Any, line: str, day: date) -> bool:
    """Evidence taken from a cited line (the model's quote was a paraphrase) must state the
    new value itself: the amount or percentage, the stage, the date. A next step is a sentence
    of the model's; the line it cites grounds it."""
    if field in ("amount", "probability"):
        return Decimal(value) in amounts_in(line)
    if field == "stage":
        return parse_stage(line) == value
    if field == "close_date":
        return resolve_due_date(line, day) == value
    return True


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


def _context(transcript: Transcript, match: Match, directory: Directory, day: date) -> str:
    lines = [f"Meeting date: {day.isoformat()} ({day.strftime('%A')})"]
    if transcript.title:
        lines.append(f"Title: {transcript.title}")
    if match.account_id:
        lines.append(f"Customer: {directory.accounts[match.account_id].name}")
    for opp in directory.opportunities.get(match.account_id or "", []):
        if match.opportunity_id in (None, opp.id):
            lines.append(
                f"Open deal: {opp.name} — stage {opp.stage}, amount {opp.amount} {opp.currency}, "
                f"close date {opp.close_date}, next step: {opp.next_step or 'none'}"
            )
    people = []
    for a in match.attendees:
        side = {"internal": "our side", "customer": "customer"}.get(a.side or "", "unknown side")
        people.append(f"{a.name} ({side})")
    if people:
        lines.append("Attendees: " + ", ".join(people))
    return "\n".join(lines)


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
