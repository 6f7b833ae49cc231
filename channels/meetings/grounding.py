"""Grounding: a quote counts only if it is a verbatim span of the transcript.

The comparison forgives what a model cannot see or reproduce reliably — letter case, runs of
whitespace, punctuation, full-width versus half-width forms (NFKC), the spaces a tokenizer puts
between Chinese characters — and nothing else. The span returned is the transcript's own text,
not the model's rendering of it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from channels.meetings.parsers import Segment

__all__ = ["Grounder", "Span", "normalise"]

# A quote shorter than this (after normalising) proves nothing: "yes", "ok", "好的".
MIN_LATIN_CHARS = 12
MIN_CJK_CHARS = 4
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _keep(ch: str) -> bool:
    category = unicodedata.category(ch)
    return not (category[0] in "PZC" or category[0] == "S" and ch not in "$€£¥%+")


def normalise(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if _keep(ch))


@dataclass(frozen=True, slots=True)
class Span:
    text: str  # verbatim from the transcript
    segment_index: int
    speaker: str | None


class Grounder:
    """Finds quotes in one transcript. Segments are joined in order, so a quote may run over
    a cue boundary (captions split sentences); a leading 'Speaker:' in a quote is forgiven."""

    def __init__(self, segments: list[Segment]) -> None:
        self.segments = segments
        self._raw = ""
        chars: list[str] = []
        positions: list[int] = []  # normalised index -> raw index
        self._segment_at: list[int] = []  # normalised index -> segment index
        pieces: list[str] = []
        offset = 0
        for index, segment in enumerate(segments):
            piece = segment.text + "\n"
            pieces.append(piece)
            for position, ch in enumerate(piece):
                folded = ch.lower() if ch.isascii() and ch.isalnum() else normalise(ch)
                for out in folded:
                    chars.append(out)
                    positions.append(offset + position)
                    self._segment_at.append(index)
            offset += len(piece)
        self._raw = "".join(pieces)
        self._norm = "".join(chars)
        self._positions = positions
        self._speakers = {normalise(s.speaker) for s in segments if s.speaker}

    def find(self, quote: str | None) -> Span | None:
        if not quote:
            return None
        needle = normalise(quote)
        for speaker in sorted(self._speakers, key=len, reverse=True):
            if speaker and needle.startswith(speaker) and len(needle) > len(speaker):
                stripped = needle[len(speaker) :]
                if self._norm.find(stripped) >= 0 and self._norm.find(needle) < 0:
                    needle = stripped
                break
        if not _long_enough(needle):
            return None
        at = self._norm.find(needle)
        if at < 0:
            return None
        start = self._positions[at]
        end = self._positions[at + len(needle) - 1] + 1
        text = " ".join(self._raw[start:end].split())
        index = self._segment_at[at]
        return Span(text=text, segment_index=index, speaker=self.segments[index].speaker)

    def contains(self, words: str | None) -> bool:
        """Whether a short phrase (a name, a date expression) occurs in the transcript."""
        needle = normalise(words or "")
        return bool(needle) and needle in self._norm


def _long_enough(needle: str) -> bool:
    cjk = len(_CJK.findall(needle))
    return cjk >= MIN_CJK_CHARS or len(needle) >= MIN_LATIN_CHARS
