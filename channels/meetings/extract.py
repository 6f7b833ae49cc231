"""What the model reads out of a transcript: a pydantic schema used as structured output,
the prompt, chunking of long transcripts and the merge of the chunks' answers.

The schema keeps the model's job small (copy words, classify) so a 1.5B model can do it: it
returns the *words* of a due date and the *evidence* sentence; code resolves dates and checks
the evidence (channels.meetings.grounding, channels.meetings.dates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, TypeVar

from pydantic import BaseModel, Field

from agents.llm_budget import estimate_tokens
from agents.llm_types import ChatModel, Message
from channels.meetings.grounding import normalise
from channels.meetings.parsers import Segment
from channels.meetings.resume import WindowMemo, ask
from prompts import render_prompt

__all__ = [
    "AGENT",
    "ChangeOut",
    "CitedChangeOut",
    "ExtractionOut",
    "ItemOut",
    "NoteOut",
    "QualificationOut",
    "chunk_segments",
    "segment_tokens",
    "extract",
]

AGENT = "meetings"
ChangeField = Literal["amount", "stage", "close_date", "next_step", "probability"]


class ItemOut(BaseModel):
    text: str = Field(description="What is to be done, in a short imperative sentence.")
    owner: str = Field(default="", description="Who does it, by name as said; '' if unsaid.")
    due: str = Field(default="", description="The words that say when; '' if unsaid.")
    evidence: str = Field(description="Words copied exactly from the transcript.")
    line: int = Field(default=0, description="The [number] of the transcript line quoted.")


class NoteOut(BaseModel):
    text: str
    evidence: str = ""
    line: int = Field(default=0, description="The [number] of the transcript line quoted.")


class ChangeOut(BaseModel):
    field: ChangeField
    value: str = Field(description="The new value as said.")
    evidence: str = Field(description="Words copied exactly from the transcript.")
    line: int = Field(default=0, description="The [number] of the transcript line quoted.")


class CitedChangeOut(ChangeOut):
    """A change whose evidence is the whole line the model cited (line strategy): the line
    itself must state the value. Not part of the model's schema."""


class QualificationOut(BaseModel):
    budget: str = ""
    authority: str = ""
    need: str = ""
    timeline: str = ""


class ExtractionOut(BaseModel):
    title: str = ""
    summary: str = ""
    decisions: list[NoteOut] = []
    action_items: list[ItemOut] = []
    risks: list[NoteOut] = []
    competitors: list[str] = []
    qualification: QualificationOut = QualificationOut()
    changes: list[ChangeOut] = []


_Item = TypeVar("_Item", NoteOut, ItemOut)


def chunk_segments(segments: Sequence[Segment], max_tokens: int) -> list[list[Segment]]:
    """Consecutive runs of segments, each within `max_tokens` (a segment longer than that
    is a chunk of its own); never a cut inside a segment, so quotes stay whole."""
    chunks: list[list[Segment]] = []
    current: list[Segment] = []
    size = 0
    for segment in segments:
        cost = segment_tokens(segment)
        if current and size + cost > max_tokens:
            chunks.append(current)
            current, size = [], 0
        current.append(segment)
        size += cost
    if current:
        chunks.append(current)
    return chunks


def segment_tokens(segment: Segment) -> int:
    text = f"{segment.speaker or 'Unknown'}: {segment.text}\n"
    # CJK text is about one token a character; estimate_tokens assumes four characters.
    cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff")
    return estimate_tokens(text) + cjk


def render_chunk(
    segments: Sequence[Segment], *, context: str, part: int, parts: int, first_line: int = 1
) -> list[Message]:
    """The prompt for one chunk; its lines are numbered as in the whole transcript, from
    `first_line`, so that the model can say which line a quote is from."""
    lines = "\n".join(
        f"[{number}] {s.speaker or 'Unknown'}: {s.text}"
        for number, s in enumerate(segments, start=first_line)
    )
    where = f" (part {part} of {parts})" if parts > 1 else ""
    return [
        {"role": "system", "content": render_prompt("meeting_extract")},
        {"role": "user", "content": f"{context}\n\nTranscript{where}:\n{lines}"},
    ]


async def extract(
    model: ChatModel,
    segments: Sequence[Segment],
    *,
    context: str,
    max_tokens: int,
    on_chunk: Callable[[int, int], None] | None = None,
    memo: WindowMemo | None = None,
) -> tuple[ExtractionOut, int]:
    """Ask the model chunk by chunk and merge; returns the merged answer and the chunk count.
    `on_chunk(done, total)` is told after each chunk; `memo` keeps each chunk's answer (an
    interrupted ingestion resumes)."""
    chunks = chunk_segments(segments, max_tokens)
    answers = []
    first_line = 1
    for number, chunk in enumerate(chunks, start=1):
        messages = render_chunk(
            chunk, context=context, part=number, parts=len(chunks), first_line=first_line
        )
        answers.append(
            await ask(model, agent=AGENT, messages=messages, schema=ExtractionOut, memo=memo)
        )
        first_line += len(chunk)
        if on_chunk is not None:
            on_chunk(number, len(chunks))
    return merge(answers), len(chunks)


def merge(answers: Sequence[ExtractionOut]) -> ExtractionOut:
    """One answer from the chunks': lists concatenated without repeats, the first title, the
    summaries in order, the first value said for each qualification field, and for each deal
    field the last change said (later in a meeting overrides earlier)."""
    if len(answers) == 1:
        return answers[0]
    merged = ExtractionOut(
        title=next((a.title for a in answers if a.title.strip()), ""),
        summary=" ".join(a.summary.strip() for a in answers if a.summary.strip()),
        decisions=_unique([d for a in answers for d in a.decisions]),
        action_items=_unique([i for a in answers for i in a.action_items]),
        risks=_unique([r for a in answers for r in a.risks]),
        competitors=_first_spellings([c for a in answers for c in a.competitors]),
    )
    for name in ("budget", "authority", "need", "timeline"):
        value = next(
            (
                getattr(a.qualification, name)
                for a in answers
                if getattr(a.qualification, name).strip()
            ),
            "",
        )
        setattr(merged.qualification, name, value)
    last: dict[str, ChangeOut] = {}
    for answer in answers:
        for change in answer.changes:
            last.pop(change.field, None)
            last[change.field] = change
    merged.changes = list(last.values())
    return merged


def _first_spellings(names: list[str]) -> list[str]:
    kept: dict[str, str] = {}
    for name in names:
        if name.strip():
            kept.setdefault(normalise(name), name.strip())
    return list(kept.values())


def _unique(items: list[_Item]) -> list[_Item]:
    seen: set[str] = set()
    kept = []
    for item in items:
        key = normalise(item.text)
        if key and key not in seen:
            seen.add(key)
            kept.append(item)
    return kept
