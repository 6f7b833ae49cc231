"""Where a proposed write's arguments came from: the user's own words, or only data.

Ticket bodies, e-mails, knowledge documents, transcripts, account memory and every tool result
reach the model as data. A model that obeys an instruction planted there proposes a write whose
values (an amount, a percentage, a date, an e-mail address to copy in) appear in that data but
nowhere in what the user asked. This module finds those values by plain text comparison — no
model involved — so the gate can send such writes to review (policy rules on the fact
`untrusted_argument_count`) and the reviewer sees them (`context.untrusted_arguments`).

What is compared:
- structured values (amounts, percentages, dates, counts, short codes) as a whole;
- inside free text (subject, body, summary, reason …) only contact points: e-mail addresses,
  URLs and phone numbers — the means of exfiltration; the prose itself is expected to quote data.
Record ids (`*_id`, `*_ids`) are not compared: finding them in data is what lookups are for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["Provenance"]

FREE_TEXT_ARGUMENTS = frozenset(
    {"subject", "body", "summary", "reason", "description", "name", "next_step", "query"}
)
# Short enumerations (stage, status, priority, kind, currency) name states every record has;
# seeing them in data says nothing about where the decision came from.
_ENUM_LIKE = re.compile(r"^[a-z_]{1,20}$|^[A-Z]{3}$|^p[1-4]$", re.IGNORECASE)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?://|www\.)[^\s\"'<>)]+", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w])\+?\d[\d\s().-]{6,}\d(?![\w])")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def _digits_only(text: str) -> str:
    return re.sub(r"\D", "", text)


def _number_pattern(number: str) -> re.Pattern[str]:
    whole, _, fraction = number.partition(".")
    fraction = fraction.rstrip("0")
    tail = rf"\.{fraction}0*" if fraction else r"(?:\.0+)?"
    return re.compile(rf"(?<![\d.]){re.escape(whole)}{tail}(?![\d])")


def _normalise(text: str) -> str:
    """Thousands separators out (50,000 → 50000), so amounts compare as numbers."""
    return re.sub(r"(?<=\d)[,\u202f\u00a0'](?=\d{3}\b)", "", text)


def _canonical_number(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        text = repr(float(value)) if isinstance(value, float) else str(value)
    elif isinstance(value, str) and _NUMBER.match(value.strip()):
        text = value.strip()
    else:
        return None
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ISO_DATE = re.compile(r"^\d{4}-(\d{2})-(\d{2})$")


def _month_days(text: str) -> set[str]:
    """The calendar days a text names ("Dec 7", "7 December", "12月7日", "12/7", ISO), as MM-DD,
    so a date the model resolved from the user's words counts as the user's."""
    days: set[str] = set()

    def add(month: int, day: int) -> None:
        if 1 <= month <= 12 and 1 <= day <= 31:
            days.add(f"{month:02d}-{day:02d}")

    lowered = text.lower()
    for m, d in re.findall(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", lowered):
        add(_MONTHS[m], int(d))
    for d, m in re.findall(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})\b", lowered):
        add(_MONTHS[m], int(d))
    for m, d in re.findall(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]", text):
        add(int(m), int(d))
    for a, b in re.findall(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])", text):
        add(int(a), int(b))
        add(int(b), int(a))
    for m, d in re.findall(r"\d{4}-(\d{2})-(\d{2})", text):
        add(int(m), int(d))
    return days


class Provenance:
    """The user's words (trusted), and in order, what the model was shown (data) and what it
    put in its own tool calls. A value the model wrote before any data showed it is the model's
    (derived from the request, e.g. a date it resolved); one that data showed first is data's."""

    def __init__(self, trusted: Iterable[str]) -> None:
        self._trusted = _normalise("\n".join(t for t in trusted if t))
        self._trusted_days = _month_days(self._trusted)
        self._events: list[tuple[str, str, str]] = []  # (kind, source, text)

    def _add(self, kind: str, source: str, content: Any) -> None:
        text = (
            content
            if isinstance(content, str)
            else json.dumps(content, ensure_ascii=False, default=str)
        )
        if text:
            self._events.append((kind, source, _normalise(text)))

    def add_data(self, source: str, content: Any) -> None:
        self._add("data", source, content)

    def add_model_call(self, tool: str, arguments: dict[str, Any]) -> None:
        self._add("model", tool, arguments)

    def _check(self, argument: str, value: str, test: Any) -> dict[str, Any] | None:
        if test(self._trusted):
            return None
        first = next((kind for kind, _s, text in self._events if test(text)), None)
        if first != "data":
            return None  # the model's own (made up or derived from the request)
        sources = list(
            dict.fromkeys(src for kind, src, text in self._events if kind == "data" and test(text))
        )
        return {"argument": argument, "value": value, "sources": sources}

    def untrusted_arguments(self, arguments: dict[str, Any]) -> list[dict[str, Any]]:
        """Argument values found in data but not in the user's request, with their sources."""
        flags: list[dict[str, Any]] = []
        for name, value in arguments.items():
            if name.endswith(("_id", "_ids")) or value is None:
                continue
            for item in value if isinstance(value, list) else [value]:
                flags += self._flags_for(name, item)
        return flags

    def _flags_for(self, name: str, value: Any) -> list[dict[str, Any]]:
        number = _canonical_number(value)
        if number is not None:
            pattern = _number_pattern(number)
            flag = self._check(name, number, lambda text: bool(pattern.search(text)))
            return [flag] if flag else []
        if not isinstance(value, str) or not value.strip():
            return []
        value = value.strip()
        if name in FREE_TEXT_ARGUMENTS or len(value) > 60:
            return self._contact_points(name, value)
        if _ENUM_LIKE.match(value):
            return []
        day = _ISO_DATE.match(value)
        if day and f"{day.group(1)}-{day.group(2)}" in self._trusted_days:
            return []
        lowered = value.lower()
        flag = self._check(name, value, lambda text: lowered in text.lower())
        return [flag] if flag else []

    def _contact_points(self, name: str, text: str) -> list[dict[str, Any]]:
        flags = []
        for match in [*_EMAIL.findall(text), *_URL.findall(text)]:
            needle = match.lower().rstrip(".,;:")
            flag = self._check(name, needle, lambda t, n=needle: n in t.lower())
            if flag:
                flags.append(flag)
        for match in _PHONE.findall(text):
            digits = _digits_only(match)
            if len(digits) < 7 or re.fullmatch(r"\d{4}-\d{2}-\d{2}", match.strip()):
                continue
            flag = self._check(name, match.strip(), lambda t, d=digits: d in _digits_only_runs(t))
            if flag:
                flags.append(flag)
        return flags


def _digits_only_runs(text: str) -> str:
    """The phone-number-like runs of a text with their separators removed, joined by '|'."""
    return "|".join(_digits_only(m) for m in _PHONE.findall(text))
