"""`MeetingService`: transcript bytes in, grounded CRM updates out. It runs the steps, each a
module of its own:

    files (what a path gives) → parsers (parse) → matching (account, attendees) →
    extract (the model, chunked) → ground (verbatim evidence, dates, owners, summary lines) →
    propose (the tool layer: propose, gate, commit low risk / request review) →
    remember facts → receipt

Every write goes through `CRMService` (propose, policy gate, execute with an idempotency key
derived from the transcript's SHA-256), so a re-run after a crash commits nothing twice, and a
second ingest of the same bytes is answered from the receipt table without touching anything.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy.exc import IntegrityError

from agents.llm_errors import LLMError
from agents.llm_types import ChatModel
from channels.meetings.cues import RuleFindings, combine, read_cues
from channels.meetings.errors import IngestError, messages
from channels.meetings.extract import ExtractionOut, extract
from channels.meetings.files import TRANSCRIPT_SUFFIXES, list_transcripts, read_limited
from channels.meetings.ground import ground
from channels.meetings.grounding import Grounder
from channels.meetings.lines import extract_lines
from channels.meetings.matching import Directory, Match, match_meeting
from channels.meetings.parsers import Transcript, parse_meeting_date, parse_transcript
from channels.meetings.propose import (
    IDEMPOTENCY_PREFIX,
    MeetingWriter,
    ReviewOpener,
)
from channels.meetings.result import IngestBatch, IngestFailure, MeetingResult, empty_ingestion
from channels.meetings.resume import WindowMemo
from channels.meetings.visibility import Visibility
from tools.context import Actor
from tools.errors import NotFound
from tools.models import Account, MeetingIngestion
from tools.service import CRMService
from tools.visibility import receipt_for

__all__ = ["IngestProgress", "MeetingService", "TRANSCRIPT_SUFFIXES", "read_limited"]

_FILENAME_DATE = re.compile(r"(20\d{2})[-_.]?(\d{2})[-_.]?(\d{2})")


ExtractStrategy = Literal["auto", "chunks", "lines"]
# Servers of the embedded small model: it reads rule-picked lines (the "lines" strategy).
_SMALL_MODEL_DIALECTS = frozenset({"llama-server", "llama-cpp-python"})


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
        strategy: ExtractStrategy = "auto",
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
        # chunks: the whole transcript, chunk by chunk, the model quoting its evidence;
        # lines: rule-picked candidate lines in windows, the model citing line numbers;
        # auto: lines for the embedded small model, chunks for any other.
        self.strategy = strategy

    def strategy_for(self, model: ChatModel) -> Literal["chunks", "lines"]:
        if self.strategy != "auto":
            return self.strategy
        dialect = getattr(getattr(model, "dialect", None), "name", "")
        return "lines" if dialect in _SMALL_MODEL_DIALECTS else "chunks"

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
            earlier = await asyncio.to_thread(self._already, stored, filename, dry_run, actor)
            if earlier is not None:
                return earlier  # else: not theirs to see; they get their own view below
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
        memo = WindowMemo(self.crm.db, sha256=sha, model_id=_model_id(self.model),
                          clock=self.crm.clock)  # fmt: skip
        # The cue rules read alongside a model (without one, nothing is extracted).
        rules = read_cues(transcript.segments, day) if self.model is not None else None
        extraction = await self._extract(
            transcript, match, directory, day, filename, result, on_chunk, memo, rules
        )
        if rules is not None:
            extraction, result.ingestion["found_by"] = combine(
                extraction, rules, grounder, day, lambda what, why: _dropped(result, what, why)
            )
        changes = ground(extraction, grounder, match, directory, day, result)
        if match.account_id is None:
            result.ingestion["status"] = "not_applied"
            return result
        thread = thread_id or f"{IDEMPOTENCY_PREFIX}{sha[:16]}"
        writer = MeetingWriter(
            crm=self.crm,
            convo=self.convo,
            review_ttl=self.review_ttl,
            default_task_days=self.default_task_days,
        )
        await writer.apply(result, transcript, match, changes, actor, sha, day, thread, dry_run)
        if dry_run:
            return result
        if (result.ingestion["activity"] or {}).get("status") != "committed":
            # Not applied (refused, say): no receipt, so someone allowed to can ingest it.
            result.ingestion["status"] = "not_applied"
            return result
        await self._remember(result, match, actor, sha, filename)
        receipt = await asyncio.to_thread(self._store_receipt, result, actor, sha, filename)
        await memo.forget()  # done: the receipt answers from now on
        return receipt

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
        memo: WindowMemo | None = None,
        rules: RuleFindings | None = None,
    ) -> ExtractionOut:
        if self.model is None:
            result.ingestion["notes"].append(
                "No language model was used for this ingestion: the meeting was matched and "
                "logged, but no action items or changes were read from it."
            )
            return ExtractionOut()
        try:
            if self.strategy_for(self.model) == "lines":
                # No deal figures in the context: what the CRM says is not what was said.
                extraction, chunks = await extract_lines(
                    self.model.for_turn(),
                    transcript.segments,
                    context=_context(transcript, match, directory, day, deal=False),
                    on_chunk=on_chunk,
                    on_problem=result.ingestion["problems"].append,
                    memo=memo,
                    # What the rules read comes first in what the model is shown.
                    focus=sorted(
                        {i.line - 1 for i in rules.action_items}
                        | {c.line - 1 for c in rules.changes}
                    )
                    if rules is not None
                    else (),
                )
            else:
                extraction, chunks = await extract(
                    self.model.for_turn(),
                    transcript.segments,
                    context=_context(transcript, match, directory, day),
                    max_tokens=self.chunk_tokens,
                    on_chunk=on_chunk,
                    memo=memo,
                )
        except LLMError as exc:
            raise IngestError(
                f"{filename}: the language model could not read the transcript "
                f"({exc.user_message})",
                filename=filename,
                status=502,
            ) from exc
        result.ingestion["chunks"] = chunks
        if memo is not None and memo.resumed:
            result.ingestion["notes"].append(
                f"Resumed: {memo.resumed} of {chunks} parts had been read by the model before "
                "an interruption and were not read again."
            )
        return extraction

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

    def _already(
        self, stored: MeetingIngestion, filename: str, dry_run: bool, actor: Actor
    ) -> MeetingResult | None:
        """The earlier result, as `actor` may see it (tools/visibility.receipt_for); None if
        they may not see it at all."""
        with self.crm.db.read_session() as session:
            account = session.get(Account, stored.account_id) if stored.account_id else None
            shown = receipt_for(
                actor, first_actor_id=stored.actor_id, account=account, result=stored.result
            )
        if shown is None:
            return None
        result = MeetingResult.from_dict(shown)
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
                return self._already(stored, filename, False, actor) or result
        return result


# ---------------------------------------------------------------- helpers


def _model_id(model: ChatModel | None) -> str:
    """Who answered, for the resume key: a kept answer of another model is not reused."""
    name = getattr(model, "default_model", None)
    return f"{type(model).__name__}:{name}" if name else type(model).__name__


def _dropped(result: MeetingResult, what: str, why: str) -> None:
    result.ingestion["dropped"]["ungrounded"] += 1
    result.ingestion["dropped_items"].append({"item": what[:200], "reason": why})


def _context(
    transcript: Transcript, match: Match, directory: Directory, day: date, *, deal: bool = True
) -> str:
    lines = [f"Meeting date: {day.isoformat()} ({day.strftime('%A')})"]
    if transcript.title:
        lines.append(f"Title: {transcript.title}")
    if match.account_id:
        lines.append(f"Customer: {directory.accounts[match.account_id].name}")
    for opp in directory.opportunities.get(match.account_id or "", []) if deal else []:
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
