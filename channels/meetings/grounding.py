"""Grounding: evidence is always a verbatim span of the transcript.

A model's quote is looked up as it stands first (`find`). Small models often paraphrase what
they quote, so `locate` then falls back on the transcript line the model cites (lines are shown
to it numbered): when the quote shares most of its words with that line (or the line next to
it), the evidence is the line itself, in the transcript's own words. A quote that cites no line
must match one line almost word for word. Either way the text kept is the transcript's.

The comparison for `find` forgives what a model cannot see or reproduce reliably — letter
case, runs of whitespace, punctuation, full-width versus half-width forms (NFKC), the spaces a
tokenizer puts between Chinese characters — and nothing else. The span returned is the
transcript's own text, not the model's rendering of it.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from channels.meetings.parsers import Segment

__all__ = ["Grounder", "Span", "normalise", "overlap", "split_sentences"]

# A quote shorter than this (after normalising) proves nothing: "yes", "ok", "好的".
MIN_LATIN_CHARS = 12
MIN_CJK_CHARS = 4
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Share of a quote's words found in the line it cites (see `overlap`), and in the best line of
# the whole transcript when it cites none; and how many words must be shared at least.
CITED_LINE_MIN = 0.6
ANY_LINE_MIN = 0.85
MIN_SHARED_WORDS = 3
# A summary sentence must have this share of its content words in at most this many lines.
SUPPORT_MIN = 0.6
SUPPORT_MAX_LINES = 3
_ZH_ATTRIBUTION = r"(?:说|提到|表示|确认|认为|指出|提出|强调|回答|问)?"
_ZH_NUMERAL = re.compile(r"[零〇一二两三四五六七八九十百千万亿]{2,}")
_WORD = re.compile(r"[^\W\d_]+|\d+(?:[.,]\d+)*", re.UNICODE)
# Words that carry no content: sharing them says nothing about a paraphrase.
_STOP = frozenset(
    "the a an and or but of to in on at for with is are was were be been will would can could "
    "we i you he she they it this that there here our your their my me us them so do does did "
    "have has had not no yes just also as by from about into then than what which who "
    "says said say mentioned mentions mention asked asks told tells speaker customer".split()
)


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
    found_by: str = "quote"  # quote: the model's quote as it stands; line: the line it cited


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
        self._speaker_words = frozenset(
            word for s in segments if s.speaker for word in _words(s.speaker)
        )
        self._segment_words = [_words(s.text) for s in segments]
        names = sorted({s.speaker for s in segments if s.speaker}, key=len, reverse=True)
        self._attribution = (
            re.compile("(?:" + "|".join(map(re.escape, names)) + ")" + _ZH_ATTRIBUTION)
            if names
            else None
        )

    def find(self, quote: str | None) -> Span | None:
        if not quote:
            return None
        needle = normalise(html.unescape(quote))  # models write "we&#39;re" for "we're"
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

    def locate(self, quote: str | None, line: int = 0) -> Span | None:
        """The evidence for a quote: the quote itself when it is verbatim, else the cited line
        (1-based, or its neighbour) when the quote shares at least CITED_LINE_MIN of its words
        with it, else the one line of the transcript it shares ANY_LINE_MIN with."""
        span = self.find(quote)
        if span is not None or not quote or not quote.strip():
            return span
        if 1 <= line <= len(self.segments):
            nearby = [i for i in (line - 1, line - 2, line) if 0 <= i < len(self.segments)]
            found = self._best_line(quote, nearby, CITED_LINE_MIN)
            if found is not None:
                return found
        return self._best_line(quote, range(len(self.segments)), ANY_LINE_MIN)

    def _best_line(self, quote: str, indexes: Iterable[int], minimum: float) -> Span | None:
        names = self._speaker_words
        quote = self._without_attribution(html.unescape(quote))
        scored = [(overlap(quote, self.segments[i].text, names), i) for i in indexes]
        scored = [(score, i) for score, i in scored if score >= minimum]
        if not scored:
            return None
        best = max(score for score, _ in scored)
        top = [i for score, i in scored if score == best]
        if len(top) > 1 and len({normalise(self.segments[i].text) for i in top}) > 1:
            return None  # two different lines fit as well: which one was meant is unknown
        index = top[0]
        segment = self.segments[index]
        text = " ".join(segment.text.split())
        return Span(text=text, segment_index=index, speaker=segment.speaker, found_by="line")

    def _without_attribution(self, quote: str) -> str:
        """A paraphrase without the speakers' names and the verb that attributes the words
        ("王芳提到…", "Jane said…"): Chinese has no spaces, so they would count as words."""
        return self._attribution.sub(" ", quote) if self._attribution else quote

    def support(self, sentence: str) -> list[int] | None:
        """The transcript lines (1-based, at most SUPPORT_MAX_LINES) a summary sentence rests
        on: together they hold at least SUPPORT_MIN of its content words (speakers' names
        count as said) and every number it names; None when no such lines exist — the
        sentence then says something the meeting did not (CRM context, a guess)."""
        names = self._speaker_words
        wanted = _words(self._without_attribution(html.unescape(sentence))) - names
        numbers = _numbers(sentence)
        if not wanted:
            return None
        chosen: list[int] = []
        covered: set[str] = set()
        for _ in range(SUPPORT_MAX_LINES):
            best, gain = -1, 0
            for index, words in enumerate(self._segment_words):
                if index in chosen:
                    continue
                new = len((wanted - covered) & words)
                if new > gain:
                    best, gain = index, new
            if best < 0:
                break
            chosen.append(best)
            covered |= wanted & self._segment_words[best]
        said_numbers = set().union(*(_numbers(self.segments[i].text) for i in chosen))
        if len(covered) < max(SUPPORT_MIN * len(wanted), 1) or not numbers <= said_numbers:
            return None
        return sorted(i + 1 for i in chosen)

    def contains(self, words: str | None) -> bool:
        """Whether a short phrase (a name, a date expression) occurs in the transcript."""
        needle = normalise(words or "")
        return bool(needle) and needle in self._norm


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|(?<=[。！？；;])\s*")


def split_sentences(text: str) -> list[str]:
    """Sentences of a (model's) summary, English and Chinese; empty pieces dropped."""
    return [p.strip() for p in _SENTENCE_END.split(" ".join(text.split())) if p.strip()]


def _words(text: str) -> set[str]:
    """Content words of a text: Latin words (not the commonest), numbers, and character pairs
    of Chinese (which has no spaces between words)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    words: set[str] = set()
    for token in _WORD.findall(folded):
        if _CJK.search(token):
            han = "".join(_CJK.findall(token))
            words.update(han[i : i + 2] for i in range(max(len(han) - 1, 1)))
        elif token.isdigit() or token[0].isdigit():
            words.add(token.replace(",", ""))
        elif len(token) > 2 and token not in _STOP:
            words.add(token.rstrip("s") if len(token) > 4 else token)
    return words


def _numbers(text: str) -> set[str]:
    folded = unicodedata.normalize("NFKC", text)
    digits = {n.replace(",", "") for n in re.findall(r"\d+(?:[.,]\d+)*", folded)}
    return digits | set(_ZH_NUMERAL.findall(folded))


def overlap(quote: str, line: str, ignore: frozenset[str] = frozenset()) -> float:
    """Share of the quote's content words that the line has (0 when fewer than
    MIN_SHARED_WORDS are shared: a short quote or line proves nothing; and 0 when the quote
    names a number the line does not: a paraphrase may reword, not change figures). Words in
    `ignore` (the speakers' names a paraphrase adds: "Jane says …") do not count."""
    quote = html.unescape(quote)
    if not _numbers(quote) <= _numbers(line):
        return 0.0
    mine, theirs = _words(quote) - ignore, _words(line)
    shared = len(mine & theirs)
    if not mine or shared < MIN_SHARED_WORDS:
        return 0.0
    return shared / len(mine)


def _long_enough(needle: str) -> bool:
    cjk = len(_CJK.findall(needle))
    return cjk >= MIN_CJK_CHARS or len(needle) >= MIN_LATIN_CHARS
