"""The line strategy of extraction, made for a small model: cheap rules pick the lines that may
hold a commitment or a deal fact, the model sees them numbered in overlapping windows and cites
line numbers; code takes the evidence from the cited line, so it is verbatim by construction.

    candidate_lines (focus first, within MODEL_TOKENS) → windows (overlap)
        → model per window (LinesOut) → ExtractionOut

What the model is shown is bounded, whatever the meeting's length: the lines the cue rules
read a promise or a deal change from (`focus`, channels/meetings/cues.py) come first, then the
lines naming a decision, a risk or a competitor, then any other cue — until MODEL_TOKENS. On 2
cores prompt reading costs about 14 ms a token, so this bound is what keeps a long meeting's
extraction within seconds per transcript minute.

The answer is handed to the ground step like any other extraction: owners are resolved against
the attendees and due dates against the meeting date there, and a change's cited line must
state its value (`ChangeOut.cited`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import JsonDict

from agents.llm_errors import GarbageOutput
from agents.llm_types import ChatModel, Message
from channels.meetings.extract import (
    AGENT,
    CitedChangeOut,
    ExtractionOut,
    ItemOut,
    NoteOut,
    merge,
    segment_tokens,
)
from channels.meetings.parsers import Segment
from channels.meetings.resume import WindowMemo, ask
from prompts import render_prompt

__all__ = ["LinesOut", "candidate_lines", "extract_lines", "windows"]

# Commitments, dates, amounts, seats, stages, competitors, risks — English and Chinese.
_CUES = re.compile(
    r"\b(?:i['’]ll|i will|i can|we['’]ll|we will|we can|let['’]?s|let me|can you|could you|"
    r"please|"
    r"action item|follow up|send|share|schedule|book|set up|by (?:mon|tues|wednes|thurs|fri|"
    r"satur|sun)day|tomorrow|next (?:week|month|quarter)|end of|deadline|due)\b"
    r"|[$€£¥]\s?\d|\b\d[\d,.]*\s?(?:k|m|dollars?|euros?|usd|eur|cny|rmb|%|percent|seats?|"
    r"licen[cs]es?|users?)\b"
    r"|\b(?:price|pricing|quote|discount|budget|seats?|licen[cs]es?|contract|sign|signed|"
    r"close|closing|renewal|proposal|negotiat\w*|procurement|legal|stage|competitor|compet\w*|"
    r"alternative|cheaper|risk|concern\w*|worried|delay\w*|blocker|postpone\w*|cancel\w*)\b"
    r"|我来|我们来|我会|我们会|负责|安排|跟进|发给|发送|提交|下周|下个?月|明天|后天|周[一二三四五六日末]|"
    r"月底|月初|季度|年底|之前|以前|[0-9一二三四五六七八九十两百千万]+\s?(?:万|元|块|美元|席|"
    r"账号|用户|%)|报价|价格|折扣|预算|合同|签约|签署|续约|阶段|竞品|对手|竞争|风险|担心|顾虑|"
    r"延期|推迟|取消",
    re.IGNORECASE,
)
# The moments a summary is made of: decisions, risks, competitors, agreements.
_KEY = re.compile(
    r"\b(?:decid\w*|agree\w*|concern\w*|worried|risk\w*|blocker\w*|competitor\w*|"
    r"alternative\w*|cheaper|delay\w*|postpone\w*|cancel\w*|approv\w*|next steps?)\b|"
    r"决定|同意|确定|担心|顾虑|风险|竞品|对手|便宜|延期|推迟|取消|审批|下一步",
    re.IGNORECASE,
)
WINDOW_TOKENS = 1400
MODEL_TOKENS = 1400  # transcript tokens shown to the model per meeting
OVERLAP_LINES = 2
MAX_ITEMS = 6  # action items per window
CONTEXT_LINES = 1  # lines shown around a candidate so the model sees who "it" is
LineField = Literal[
    "amount", "close_date", "stage", "next_step", "probability", "competitor", "risk"
]


def _at_most(n: int, what: str = "maxLength") -> JsonDict:
    """A bound for the schema the model writes to (a grammar on llama.cpp), not a check."""
    return {what: n}


class LineItem(BaseModel):
    line: int = Field(description="The [number] of the line.")
    text: str = Field(description="What is to be done, in a few words.",
                      json_schema_extra=_at_most(60))  # fmt: skip
    owner: str = Field(default="", description="The name as said, or 'I' for the speaker.",
                       json_schema_extra=_at_most(30))  # fmt: skip
    due: str = Field(default="", description="The words that say when, or ''.",
                     json_schema_extra=_at_most(30))  # fmt: skip


class LineChange(BaseModel):
    line: int
    field: LineField
    value: str = Field(description="The words of the line that state it.",
                       json_schema_extra=_at_most(60))  # fmt: skip


class LineSentence(BaseModel):
    text: str = Field(json_schema_extra=_at_most(160))
    lines: list[int] = Field(default=[], json_schema_extra=_at_most(3, "maxItems"))


# The bounds keep a small model's answer short where the server makes a grammar of them
# (llama.cpp): one window's answer once ran past 1,200 tokens and was cut off mid-JSON, and
# the model copies whole lines as an item's "text" when it may.
class LinesOut(BaseModel):
    action_items: list[LineItem] = Field(
        default=[], json_schema_extra=_at_most(MAX_ITEMS, "maxItems")
    )
    changes: list[LineChange] = Field(default=[], json_schema_extra=_at_most(4, "maxItems"))
    summary: list[LineSentence] = Field(default=[], json_schema_extra=_at_most(3, "maxItems"))


def candidate_lines(
    segments: Sequence[Segment], focus: Sequence[int] = (), budget: int = MODEL_TOKENS
) -> list[int]:
    """0-based indexes of the lines to show the model, with CONTEXT_LINES around each: the
    `focus` lines (0-based) first, then lines of decisions, risks and competitors, then any
    other cue line, while the lines' tokens stay within `budget`."""
    key = [i for i, s in enumerate(segments) if _KEY.search(s.text)]
    other = [i for i, s in enumerate(segments) if _CUES.search(s.text)]
    shown: set[int] = set()
    size = 0
    for index in [*focus, *key, *other]:
        low, high = max(0, index - CONTEXT_LINES), min(len(segments), index + CONTEXT_LINES + 1)
        new = [i for i in range(low, high) if i not in shown]
        cost = sum(segment_tokens(segments[i]) for i in new)
        if size + cost > budget:
            continue
        shown.update(new)
        size += cost
    return sorted(shown)


def windows(segments: Sequence[Segment], picked: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Runs of picked line indexes within `max_tokens`, each starting with the last
    OVERLAP_LINES of the one before (a commitment spread over two lines is seen whole)."""
    out: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index in picked:
        cost = segment_tokens(segments[index])
        if current and size + cost > max_tokens:
            out.append(current)
            current = current[-OVERLAP_LINES:] if len(current) > OVERLAP_LINES else []
            size = sum(segment_tokens(segments[i]) for i in current)
        current.append(index)
        size += cost
    if current:
        out.append(current)
    return out


def render_window(
    segments: Sequence[Segment], indexes: Sequence[int], context: str
) -> list[Message]:
    lines = "\n".join(
        f"[{i + 1}] {segments[i].speaker or 'Unknown'}: {segments[i].text}" for i in indexes
    )
    return [
        {"role": "system", "content": render_prompt("meeting_lines")},
        {"role": "user", "content": f"{context}\n\nLines:\n{lines}"},
    ]


def to_extraction(
    answer: LinesOut, segments: Sequence[Segment], shown: Sequence[int]
) -> ExtractionOut:
    """The window's answer as an extraction; a cited line the window did not show is ignored
    (a model inventing line numbers proves nothing)."""
    allowed = {i + 1 for i in shown}

    def text_of(line: int) -> str:
        return segments[line - 1].text

    out = ExtractionOut()
    for item in answer.action_items:
        if item.line in allowed and item.text.strip():
            out.action_items.append(
                ItemOut(text=item.text, owner=item.owner, due=item.due,
                        evidence=text_of(item.line), line=item.line)
            )  # fmt: skip
    for change in answer.changes:
        if change.line not in allowed or not change.value.strip():
            continue
        evidence = text_of(change.line)
        if change.field == "competitor":
            out.competitors.append(change.value)
        elif change.field == "risk":
            out.risks.append(NoteOut(text=change.value, evidence=evidence, line=change.line))
        else:
            out.changes.append(
                CitedChangeOut(field=change.field, value=change.value, evidence=evidence,
                               line=change.line)
            )  # fmt: skip
    sentences = [s.text.strip() for s in answer.summary if s.text.strip()]
    out.summary = " ".join(s if s[-1] in ".!?。！？" else s + "." for s in sentences)
    return out


async def extract_lines(
    model: ChatModel,
    segments: Sequence[Segment],
    *,
    context: str,
    max_tokens: int = WINDOW_TOKENS,
    on_chunk: Callable[[int, int], None] | None = None,
    on_problem: Callable[[str], None] | None = None,
    memo: WindowMemo | None = None,
    focus: Sequence[int] = (),
) -> tuple[ExtractionOut, int]:
    """Ask the model window by window over the candidate lines; returns the merged extraction
    and the number of windows (none when no line matched a rule). A window whose answer is
    not the schema even after the repair turn is passed over and told to `on_problem` (what
    the other windows and the cue rules found still stands)."""
    picked = candidate_lines(segments, focus)
    parts = windows(segments, picked, max_tokens)
    answers = []
    for number, shown in enumerate(parts, start=1):
        messages = render_window(segments, shown, context)
        try:
            answer = await ask(model, agent=AGENT, messages=messages, schema=LinesOut, memo=memo)
        except GarbageOutput as exc:
            if on_problem is None:
                raise
            on_problem(
                f"The model's reading of lines {shown[0] + 1}–{shown[-1] + 1} could not be "
                f"used ({exc.user_message}); the rules' findings there still stand."
            )
            answer = LinesOut()
        answers.append(to_extraction(answer, segments, shown))
        if on_chunk is not None:
            on_chunk(number, len(parts))
    return (merge(answers) if answers else ExtractionOut()), len(parts)
