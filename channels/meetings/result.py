"""The outcome of ingesting one transcript: the object of spec/meeting-notes.md (`to_dict`), plus
an `ingestion` block saying what was applied, held, dropped or ambiguous, and a readable
`summary()` for the terminal and chat."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["IngestBatch", "IngestFailure", "MeetingResult"]

SPEC_KEYS = (
    "source",
    "meeting",
    "account_id",
    "opportunity_id",
    "attendees",
    "summary",
    "decisions",
    "action_items",
    "risks",
    "competitors",
    "qualification",
    "proposed_changes",
)


def empty_ingestion(*, dry_run: bool) -> dict[str, Any]:
    return {
        "status": "dry_run" if dry_run else "applied",
        "dry_run": dry_run,
        "ambiguities": [],
        "dropped": {"ungrounded": 0, "unchanged": 0, "invalid": 0, "no_opportunity": 0},
        "dropped_items": [],
        # How grounded evidence was found: the model's quote as it stands, or the line it cited.
        "evidence_from": {"quote": 0, "line": 0},
        # What the cue rules found and what of the model's was kept (channels/meetings/cues.py).
        "found_by": {},
        # Each kept summary sentence with the transcript lines (1-based) it rests on.
        "summary_support": [],
        "activity": None,
        "tasks": [],
        "memory_facts": 0,
        "notes": [],
        "problems": [],
        "chunks": 0,
    }


@dataclass
class MeetingResult:
    source: dict[str, Any]
    meeting: dict[str, Any]
    account_id: str | None = None
    opportunity_id: str | None = None
    attendees: list[dict[str, Any]] = field(default_factory=list)
    summary_text: str = ""
    decisions: list[str] = field(default_factory=list)
    action_items: list[dict[str, Any]] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)
    competitors: list[str] = field(default_factory=list)
    qualification: dict[str, str | None] = field(
        default_factory=lambda: {"budget": None, "authority": None, "need": None, "timeline": None}
    )
    proposed_changes: list[dict[str, Any]] = field(default_factory=list)
    ingestion: dict[str, Any] = field(default_factory=lambda: empty_ingestion(dry_run=False))

    @property
    def status(self) -> str:
        return str(self.ingestion["status"])

    @property
    def outcome(self) -> str:
        """The file's outcome in words: ingested, already ingested, or refused: why."""
        status = self.status
        if status == "already_ingested":
            return "already ingested"
        if status in ("applied", "dry_run"):
            return "ingested (dry run, nothing written)" if status == "dry_run" else "ingested"
        if self.account_id is None:
            return "refused: the account is not known for sure (name it with --account)"
        problem = next(iter(self.ingestion.get("problems") or []), None)
        return "refused: " + (problem or "the meeting could not be logged on the account")

    @property
    def ok(self) -> bool:
        return not self.outcome.startswith("refused")

    @property
    def pending(self) -> list[dict[str, Any]]:
        return [c for c in self.proposed_changes if c["status"] == "pending_approval"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": dict(self.source),
            "meeting": dict(self.meeting),
            "account_id": self.account_id,
            "opportunity_id": self.opportunity_id,
            "attendees": [dict(a) for a in self.attendees],
            "summary": self.summary_text,
            "decisions": list(self.decisions),
            "action_items": [dict(a) for a in self.action_items],
            "risks": list(self.risks),
            "competitors": list(self.competitors),
            "qualification": dict(self.qualification),
            "proposed_changes": [dict(c) for c in self.proposed_changes],
            "ingestion": dict(self.ingestion),
            "outcome": self.outcome,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MeetingResult:
        return cls(
            source=data["source"],
            meeting=data["meeting"],
            account_id=data.get("account_id"),
            opportunity_id=data.get("opportunity_id"),
            attendees=data.get("attendees") or [],
            summary_text=data.get("summary") or "",
            decisions=data.get("decisions") or [],
            action_items=data.get("action_items") or [],
            risks=data.get("risks") or [],
            competitors=data.get("competitors") or [],
            qualification=data.get("qualification") or {},
            proposed_changes=data.get("proposed_changes") or [],
            ingestion=data.get("ingestion") or empty_ingestion(dry_run=False),
        )

    def summary(self) -> str:  # noqa: C901
        """A few readable lines: what the meeting was, what was done, what waits, what not."""
        ing = self.ingestion
        meeting = self.meeting
        head = f"{self.source.get('path')} ({self.source.get('format')})"
        title = meeting.get("title") or "untitled meeting"
        lines = [
            f"{head}: {title}, {meeting.get('date') or 'date unknown'}"
            + (
                f", {meeting['duration_minutes']} min"
                if meeting.get("duration_minutes") is not None
                else ""
            )
        ]
        status = ing["status"]
        if status == "already_ingested":
            lines.append(
                f"Already ingested on {ing.get('first_ingested_at', '?')} (same content); "
                "nothing was changed this time."
            )
        elif status == "dry_run":
            lines.append("Dry run: nothing was written.")
        elif status == "not_applied" and self.account_id is None:
            lines.append("Not applied: the account is not known for sure; nothing was written.")
        elif status == "not_applied":
            lines.append("Not applied: the meeting could not be logged on the account.")
        lines.append(
            f"Account: {self.account_id or 'unknown'}"
            + (f" · opportunity {self.opportunity_id}" if self.opportunity_id else "")
        )
        if self.attendees:
            people = []
            for a in self.attendees:
                who = a.get("user_id") or a.get("contact_id") or "unmatched"
                people.append(f"{a['name']} ({who})")
            lines.append("Attendees: " + ", ".join(people))
        if self.summary_text:
            lines.append("Summary: " + self.summary_text)
        activity = ing.get("activity")
        if activity:
            lines.append(
                f"Meeting logged: {activity.get('status')} "
                f"{activity.get('record_id') or activity.get('message') or ''}".rstrip()
            )
        for item in self.action_items:
            owner = item.get("owner_name") or "no owner said"
            due = item.get("due_date") or "no date said"
            lines.append(f"  - action: {item['text']} — {owner}, due {due}")
        for task in ing.get("tasks") or []:
            if task.get("status") not in ("committed", "would_commit"):
                lines.append(
                    f"  ! task '{task.get('subject')}': {task.get('status')} "
                    f"{task.get('message') or ''}".rstrip()
                )
        for change in self.proposed_changes:
            args = {k: v for k, v in change["args"].items() if k != "opportunity_id"}
            what = ", ".join(f"{k} → {v}" for k, v in args.items())
            extra = ""
            if change["status"] == "pending_approval":
                extra = (
                    f" (review {change.get('approval_id')} by "
                    + ", ".join(change.get("reviewer_ids") or [])
                    + ")"
                )
            elif change.get("message"):
                extra = f" ({change['message']})"
            lines.append(f"  - change: {what} [{change['risk']} risk, {change['status']}]{extra}")
        if self.competitors:
            lines.append("Competitors: " + ", ".join(self.competitors))
        for risk in self.risks:
            lines.append(f"  - risk: {risk}")
        dropped = {k: v for k, v in (ing.get("dropped") or {}).items() if v}
        if dropped:
            lines.append(
                "Dropped: "
                + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in dropped.items())
                + " (not applied)"
            )
        for text in ing.get("ambiguities") or []:
            lines.append(f"Ambiguous: {text}")
        for text in ing.get("problems") or []:
            lines.append(f"Problem: {text}")
        for text in ing.get("notes") or []:
            lines.append(f"Note: {text}")
        return "\n".join(lines)


@dataclass(frozen=True)
class IngestFailure:
    path: str
    reason: str

    @property
    def outcome(self) -> str:
        return f"refused: {self.reason}"

    ok = False

    def to_dict(self) -> dict[str, Any]:
        return {"source": {"path": self.path}, "error": self.reason, "outcome": self.outcome}


@dataclass
class IngestBatch:
    """The results of a file or folder: one per transcript that could be read, one failure per
    file that could not (the others went on)."""

    results: list[MeetingResult] = field(default_factory=list)
    failures: list[IngestFailure] = field(default_factory=list)

    def to_list(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.results] + [f.to_dict() for f in self.failures]

    @property
    def refused(self) -> int:
        return len(self.failures) + sum(1 for r in self.results if not r.ok)

    def counts(self) -> str:
        """ "3 files: 1 ingested, 1 already ingested, 1 refused"."""
        outcomes = [r.outcome for r in self.results] + [f.outcome for f in self.failures]
        ingested = sum(1 for o in outcomes if o.startswith("ingested"))
        already = sum(1 for o in outcomes if o == "already ingested")
        refused = len(outcomes) - ingested - already
        parts = [f"{ingested} ingested"]
        if already:
            parts.append(f"{already} already ingested")
        parts.append(f"{refused} refused")
        return f"{len(outcomes)} file(s): " + ", ".join(parts) + "."

    def summary(self) -> str:
        parts = [r.summary() + f"\nOutcome: {r.outcome}" for r in self.results]
        parts += [f"{f.path}: {f.outcome}" for f in self.failures]
        parts.append(self.counts())
        return "\n\n".join(parts)
