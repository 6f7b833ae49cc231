"""Grounded figures: every amount, percentage, count and date in a reply must come from this
turn's tool results or the user's own words.

Figures are compared as values, not strings: "$100,000", "100k", "100000.00", "10万" and
"USD 100000" are one amount; "20%", "20 %", "20 percent" and "百分之二十" one percentage;
"2027-03-31", "March 31, 2027", "31 March" and "3月31日" one date. Record ids (opp-acme-1),
priorities (P1) and quarters (Q4) are names, not figures. A small model that writes "$1,000,000
pipeline" after a forecast of 250000 is caught here, in code.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from tools.dates import resolve_date

__all__ = ["Figure", "Grounding", "figures_in", "ungrounded_figures"]

_NAMES = re.compile(
    r"\b(?:acc|opp|con|tkt|prj|act|tsk|task|prop|appr|apr|rev|u)-[\w-]+|\b[pq][1-4]\b|"
    r"\b(?:v|version\s*)\d+\b|\bh[12]\b|[a-z0-9._%+-]+@[a-z0-9.-]+|https?://\S+|"
    r"\+\d[\d ()-]{7,}\d",
    re.IGNORECASE,
)
_MONTH_NAMES = {
    name: index
    for index in range(1, 13)
    for name in (calendar.month_name[index].lower(), calendar.month_abbr[index].lower())
}
_MONTH = "|".join(sorted(_MONTH_NAMES, key=len, reverse=True))
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+(?:Z|[+-]\d\d:?\d\d)?)?")
_EN_DATE = re.compile(
    rf"\b(?:({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?|(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?"
    rf"({_MONTH})\.?)(?:,?\s+(\d{{4}}))?\b",
    re.IGNORECASE,
)
_ZH_DATE = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]")
_ZH_DIGIT = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
             "八": 8, "九": 9}  # fmt: skip
_ZH_PERCENT = re.compile(r"百分之([零一二两三四五六七八九十百\d.]+)")
_ZH_DISCOUNT = re.compile(r"(?<![\d.])([1-9](?:\.\d)?)\s*折")  # 八折 = 20 % off: the user's words
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.])[$€£¥]?\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s?"
    r"(%|percent\b|per cent\b|k\b|m\b|mn\b|million\b|bn\b|billion\b|thousand\b|万|亿|千)?",
    re.IGNORECASE,
)
_SCALE = {
    "k": 1000, "thousand": 1000, "千": 1000, "m": 1_000_000, "mn": 1_000_000,
    "million": 1_000_000, "bn": 1_000_000_000, "billion": 1_000_000_000, "万": 10_000,
    "亿": 100_000_000,
}  # fmt: skip


_ZH_ZHE = re.compile(r"([一二三四五六七八九\d](?:[一二三四五六七八九\d]|\.\d)?)\s*折")


def zh_discounts(text: str) -> list[Decimal]:
    """The discounts a Chinese price idiom states, as percent off: "打八折" (pay 80 %) is 20,
    "八五折" is 15, "7.5折" is 25."""
    found = []
    for match in _ZH_ZHE.finditer(text):
        digits = "".join(str(_ZH_DIGIT.get(c, c)) for c in match.group(1))
        try:
            share = Decimal(digits)
        except InvalidOperation:
            continue
        share = share * 10 if share < 10 else share  # 八折 → 80 %, 八五折 → 85 %
        if 0 < share < 100:
            found.append(100 - share)
    return found


@dataclass(frozen=True)
class Figure:
    """A figure as written ("$100k") and its value ("100000", "20%", "2027-03-31", "--03-31")."""

    text: str
    value: str
    kind: str  # "number", "percent" or "date"


def _canonical(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _zh_int(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch in _ZH_DIGIT:
            current = _ZH_DIGIT[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def figures_in(text: str, *, today: date | None = None) -> list[Figure]:
    """The figures a text states, in order; names (ids, P1, Q4, e-mails, phones) are skipped."""
    found: list[Figure] = []
    cleaned = _NAMES.sub(" ", text)

    def take(pattern: re.Pattern[str], make) -> None:  # type: ignore[no-untyped-def]
        nonlocal cleaned
        for match in list(pattern.finditer(cleaned)):
            figure = make(match)
            if figure is not None:
                found.append(figure)
        cleaned = pattern.sub(" ", cleaned)

    def iso(m: re.Match[str]) -> Figure | None:
        try:
            day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
        return Figure(m.group(0), day.isoformat(), "date")

    def english(m: re.Match[str]) -> Figure | None:
        month = _MONTH_NAMES[(m.group(1) or m.group(4)).lower().rstrip(".")]
        day = int(m.group(2) or m.group(3))
        return _month_day(m.group(0), m.group(5), month, day)

    def chinese(m: re.Match[str]) -> Figure | None:
        return _month_day(m.group(0), m.group(1), int(m.group(2)), int(m.group(3)))

    def zh_percent(m: re.Match[str]) -> Figure | None:
        value = _zh_int(m.group(1))
        if value is None:
            try:
                return Figure(m.group(0), _canonical(Decimal(m.group(1))) + "%", "percent")
            except InvalidOperation:
                return None
        return Figure(m.group(0), f"{value}%", "percent")

    take(_ISO_DATE, iso)
    take(_EN_DATE, english)
    take(_ZH_DATE, chinese)
    take(_ZH_PERCENT, zh_percent)
    take(_ZH_DISCOUNT, lambda m: None)  # a discount in 折 is the user's idiom, checked as words
    for match in _NUMBER.finditer(cleaned):
        whole = match.group(1).replace(",", "")
        fraction = match.group(2)
        unit = (match.group(3) or "").lower()
        try:
            number = Decimal(f"{whole}.{fraction}" if fraction else whole)
        except InvalidOperation:
            continue
        if unit in ("%", "percent", "per cent"):
            found.append(Figure(match.group(0).strip(), _canonical(number) + "%", "percent"))
            continue
        number *= _SCALE.get(unit, 1)
        found.append(Figure(match.group(0).strip(), _canonical(number), "number"))
    return found


def _month_day(text: str, year: str | None, month: int, day: int) -> Figure | None:
    try:
        probe = date(int(year) if year else 2000, month, day)
    except ValueError:
        return None
    value = probe.isoformat() if year else f"--{month:02d}-{day:02d}"
    return Figure(text, value, "date")


@dataclass
class Grounding:
    """What a reply may state: the values of every figure in its sources."""

    values: set[str]
    month_days: set[str]

    @classmethod
    def of(cls, sources: Iterable[str], *, said: Iterable[str] = (), today: date) -> Grounding:
        """`sources` are tool results and context; `said` is the user's words, whose relative
        dates ("end of March", "下周五") count as the dates they mean."""
        values: set[str] = set()
        month_days: set[str] = set()
        said = list(said)
        for text in [*sources, *said]:
            for figure in figures_in(text):
                values.add(figure.value)
                if figure.kind == "percent":
                    values.add(figure.value.rstrip("%"))  # 20 in the data may be said as 20 %
                elif figure.kind == "number":
                    values.add(figure.value + "%")  # discount_percent: 20 → "20%"
                if figure.kind == "date":
                    month_days.add(figure.value[-5:])
                    values.update(_date_parts(figure.value))
        for text in said:
            for words in re.split(r"[,;，；。.!?！？]", text):
                resolved = resolve_date(words, today)
                if resolved is not None:
                    values.add(resolved.isoformat())
                    month_days.add(resolved.isoformat()[-5:])
                    values.update(_date_parts(resolved.isoformat()))
        values.update(_date_parts(today.isoformat()))
        values.add(today.isoformat())
        month_days.add(today.isoformat()[-5:])
        return cls(values=values, month_days=month_days)

    def counts(self, n: int) -> None:
        """Allow a count the data implies (the length of a list it returned)."""
        self.values.add(str(n))

    def grounded(self, figure: Figure) -> bool:
        if figure.kind == "date":
            if figure.value.startswith("--"):
                return figure.value[-5:] in self.month_days
            return figure.value in self.values
        if figure.kind == "number" and _is_small(figure.value):
            return True  # 0-10: counts and ordinals a reply may derive ("2 open tickets")
        return figure.value in self.values


def _is_small(value: str) -> bool:
    try:
        return Decimal(value) <= 10 and Decimal(value) == Decimal(value).to_integral_value()
    except InvalidOperation:
        return False


def _date_parts(iso: str) -> set[str]:
    """A date's year (a reply may say "in 2027" after "2027-03-31")."""
    return {str(int(iso[:4]))} if iso[:4].isdigit() else set()


def ungrounded_figures(reply: str, grounding: Grounding) -> list[Figure]:
    """The figures of `reply` found in no source, each once, in order."""
    seen: set[str] = set()
    missing = []
    for figure in figures_in(reply):
        if not grounding.grounded(figure) and figure.value not in seen:
            seen.add(figure.value)
            missing.append(figure)
    return missing
