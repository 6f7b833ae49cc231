"""Ground: what the model read becomes facts of the meeting only with verbatim evidence.

Action items, decisions, risks and deal changes keep the transcript's own words as evidence (a
quote found as it stands, or the line the model cited); owners are resolved against the
attendees and due dates in code against the meeting date; each summary sentence is kept with the
lines it rests on. Whatever has no support is dropped and counted, never applied.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from rapidfuzz import fuzz

from channels.meetings.dates import find_due_date, resolve_due_date
from channels.meetings.extract import CitedChangeOut, ExtractionOut
from channels.meetings.grounding import Grounder, Span, normalise, split_sentences
from channels.meetings.matching import Directory, Match
from channels.meetings.propose import GroundedChange
from channels.meetings.result import MeetingResult
from channels.meetings.values import (
    amounts_in,
    parse_amount,
    parse_probability,
    parse_stage,
    stages_in,
)

__all__ = ["ground", "supported_summary"]

_SELF = {"i", "me", "myself", "i'll", "我", "本人", "我自己"}


def ground(  # noqa: C901
    out: ExtractionOut,
    grounder: Grounder,
    match: Match,
    directory: Directory,
    day: date,
    result: MeetingResult,
) -> list[GroundedChange]:
    ing = result.ingestion

    def drop(kind: str, what: str, reason: str) -> None:
        ing["dropped"][kind] += 1
        ing["dropped_items"].append({"item": what[:200], "reason": reason})

    result.meeting["title"] = result.meeting["title"] or (out.title.strip() or None)
    result.summary_text = supported_summary(out.summary, grounder, result, drop)
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
    changes: list[GroundedChange] = []
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
        cited = span.found_by == "line" or isinstance(change, CitedChangeOut)
        if cited and not _stated_in(change.field, value, span.text, day):
            drop("ungrounded", label, "the evidence line does not state this value")
            continue
        changes.append(GroundedChange(field=change.field, value=value, evidence=span))
        ing["evidence_from"][span.found_by] += 1
    return changes


def supported_summary(
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
        return value in stages_in(line)
    if field == "close_date":
        return resolve_due_date(line, day) == value
    return True
