"""`transcript:` turns: the scenario's transcript goes through meeting-note ingestion exactly as a
file dropped on the CLI, Slack or the HTTP API (`MeetingService.ingest_bytes`), and
`expect.meeting` checks what it read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.conversation import ConversationService
from channels.meetings import IngestError, MeetingResult, MeetingService
from evals.checks import Check, check
from evals.matching import normalise, same_value, subset_match
from evals.scenario import ExpectedMeeting, Scenario, Transcript

__all__ = ["MeetingOutcomes", "ingest_turn", "meeting_checks"]


@dataclass
class MeetingOutcomes:
    """What the scenario's transcript turns produced: results, and refusals (file, message)."""

    results: list[MeetingResult] = field(default_factory=list)
    refusals: list[tuple[str, str]] = field(default_factory=list)

    def items(self, key: str) -> list[dict[str, Any]]:
        return [entry for r in self.results for entry in r.to_dict()[key]]


async def ingest_turn(
    scenario: Scenario,
    convo: ConversationService,
    transcript: Transcript,
    number: int,
    outcomes: MeetingOutcomes,
) -> dict[str, Any]:
    """Ingest one transcript turn as the scenario's actor; returns its trace entry."""
    service = MeetingService(crm=convo.crm, model=convo.model, convo=convo)
    filename = transcript.filename(scenario.id, number)
    try:
        result = await service.ingest_bytes(
            filename=filename,
            data=transcript.data(),
            actor_id=scenario.actor,
            thread_id=f"{scenario.id}:meeting:{number}",
        )
    except IngestError as exc:
        outcomes.refusals.append((filename, exc.message))
        return {"turn": number, "transcript": filename, "refused": exc.message}
    outcomes.results.append(result)
    return {"turn": number, "transcript": filename, "result": normalise(result.to_dict())}


def _found(want: dict[str, Any], items: list[dict[str, Any]], text_key: str = "") -> bool:
    needle = str(want.pop(text_key, "") or "").casefold() if text_key else ""
    return any(
        subset_match(want, item) and needle in str(item.get("text", "")).casefold()
        for item in items
    )


def _brief(items: list[dict[str, Any]], keys: tuple[str, ...]) -> str:
    return "; ".join(str({k: item.get(k) for k in keys}) for item in items) or "none"


def meeting_checks(expect: ExpectedMeeting, outcomes: MeetingOutcomes) -> list[Check]:  # noqa: C901
    checks: list[Check] = []
    results = outcomes.results
    if expect.ingested is not None:
        checks.append(
            check(
                "meeting: transcripts ingested",
                len(results) == expect.ingested,
                f"{len(results)} ingested, {len(outcomes.refusals)} refused",
            )
        )
    if expect.account_id is not None:
        found = [r.account_id for r in results]
        checks.append(
            check(
                "meeting: account",
                expect.account_id in found,
                f"matched {found or 'no transcript'}",
            )
        )
    attendees = outcomes.items("attendees")
    for person in expect.attendees:
        want = person.model_dump(exclude_none=True)
        checks.append(
            check(
                f"meeting: attendee {want}",
                _found(want, attendees),
                "found"
                if _found(dict(want), attendees)
                else "attendees: " + _brief(attendees, ("name", "contact_id", "user_id", "side")),
            )
        )
    items = outcomes.items("action_items")
    for action in expect.action_items:
        want = action.model_dump(exclude_none=True)
        ok = _found(dict(want), items, "text_contains")
        checks.append(
            check(
                f"meeting: action item {want}",
                ok,
                "found" if ok else "read: " + _brief(items, ("text", "owner_id", "due_date")),
            )
        )
    if expect.action_items_count is not None:
        checks.append(
            check(
                "meeting: action item count",
                len(items) == expect.action_items_count,
                f"{len(items)} read, {expect.action_items_count} expected",
            )
        )
    changes = outcomes.items("proposed_changes")
    for change in expect.proposed_changes:
        matches = [
            c
            for c in changes
            if c["tool"] == change.tool
            and subset_match(change.args, c["args"])
            and (change.status is None or same_value(change.status, c["status"]))
        ]
        checks.append(
            check(
                f"meeting: change {change.tool} {normalise(change.args)}",
                bool(matches),
                f"{matches[0]['status']}"
                if matches
                else "proposed: " + _brief(changes, ("args", "status")),
            )
        )
    if expect.proposed_changes_count is not None:
        checks.append(
            check(
                "meeting: change count",
                len(changes) == expect.proposed_changes_count,
                f"{len(changes)} proposed, {expect.proposed_changes_count} expected",
            )
        )
    for text in expect.refused:
        hits = [m for _, m in outcomes.refusals if text.casefold() in m.casefold()]
        checks.append(
            check(
                f"meeting: refused ({text})",
                bool(hits),
                hits[0]
                if hits
                else "refusals: " + ("; ".join(m for _, m in outcomes.refusals) or "none"),
            )
        )
    summaries = " ".join(r.summary_text for r in results).casefold()
    for text in expect.summary_contains:
        checks.append(
            check(
                f"meeting: summary contains {text}",
                text.casefold() in summaries,
                "found" if text.casefold() in summaries else f"summary: {summaries[:300]!r}",
            )
        )
    return checks
