"""Dates said in words ("next Friday", "下周五", "by end of month", "end of March") resolved
against a reference day (the meeting date, or today's date from the injected clock), in code:
the model only copies the words, it never does calendar arithmetic. Meeting notes and the
agents use this one module.

Conventions (stated once, applied everywhere):
- "next <weekday>" / "下周X" is that day in the calendar week (Monday to Sunday) after the
  meeting's week; "this <weekday>" / "本周X" / "这周X" is that day in the meeting's week;
  a bare "<weekday>" / "by Friday" / "周五" is its next occurrence after the meeting day.
- "next week" / "下周" without a day is the Friday of next week; "end of the week" / "周末之前"
  the Friday (or Sunday for 周末) of the meeting's week.
- "end of (the) month / quarter / year", "月底", "季度末", "年底" are the last day of it;
  "end of January", "一月底" the last day of that month (this year, or next if it is past).
- "in N days/weeks/months", "N天内", "两周后" count from the meeting date.
- "end of March", "by the end of March", "3月底" / "三月底" are the last day of that month at
  its next occurrence: on 2026-11-20, "end of March" is 2027-03-31.
- Absolute dates ("December 5", "Dec 5th", "12月5日", "2026-12-05") take the meeting's year,
  or the next year when that day has already passed by more than a month.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

__all__ = ["dates_in", "find_due_date", "resolve_date", "resolve_due_date"]

_WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}  # fmt: skip
_ZH_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_MONTHS = {
    name: index
    for index in range(1, 13)
    for name in (calendar.month_name[index].lower(), calendar.month_abbr[index].lower())
}
_MONTHS["sept"] = 9
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}  # fmt: skip
# Days of the month said as ordinal words ("January fifteenth", "the twenty-first of May").
_ORDINALS = {
    word: n
    for n, word in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
        "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
        "twentieth".split(),
        start=1,
    )
}
_ORDINALS.update(
    {f"{tens}{sep}{word}": base + n for tens, base in (("twenty", 20), ("thirty", 30))
     for sep in ("-", " ") for word, n in list(_ORDINALS.items())[:9]}
)  # fmt: skip
_ORDINALS["thirtieth"] = 30
_ORDINAL_WORDS = "(?:" + "|".join(sorted(map(re.escape, _ORDINALS), key=len, reverse=True)) + ")"
_EN_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
               "seven": 7, "eight": 8, "nine": 9, "ten": 10, "couple of": 2, "few": 3}  # fmt: skip


def _zh_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _ZH_DIGITS and ch != "十" for ch in text):
        return None
    if "十" in text:
        tens, _, units = text.partition("十")
        return (_ZH_DIGITS.get(tens, 1) if tens else 1) * 10 + (_ZH_DIGITS.get(units, 0))
    return _ZH_DIGITS[text] if len(text) == 1 else None


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _end_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _absolute(meeting: date, month: int, day_of_month: int) -> date | None:
    try:
        candidate = date(meeting.year, month, day_of_month)
    except ValueError:
        return None
    if candidate < meeting - timedelta(days=31):
        try:
            candidate = date(meeting.year + 1, month, day_of_month)
        except ValueError:
            return None
    return candidate


def _weekday_in(meeting: date, weekday: int, which: str) -> date:
    if which == "next":
        return _monday(meeting) + timedelta(days=7 + weekday)
    if which == "this":
        return _monday(meeting) + timedelta(days=weekday)
    ahead = (weekday - meeting.weekday()) % 7 or 7
    return meeting + timedelta(days=ahead)


def _count(number: str) -> int | None:
    number = number.strip().lower()
    if number.isdigit():
        return int(number)
    return _EN_NUMBERS.get(number) or _zh_number(number)


_MONTH_WORDS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)

_EN_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), "iso"),
    (
        re.compile(
            rf"\b(?:(?:by |at )?(?:the )?(?:end|close) of|late)\s+({_MONTH_WORDS})\.?"
            r"(?:\s+(\d{4}))?\b"
        ),
        "end_of_month_named",
    ),
    (re.compile(r"\bday after tomorrow\b"), "day_after"),
    (re.compile(r"\b(today|tonight|eod|end of (?:the )?day)\b"), "today"),
    (re.compile(r"\btomorrow\b"), "tomorrow"),
    (
        re.compile(r"\b(?:end of|by the end of|eo)\s*(?:the |this )?(week|month|quarter|year)\b"),
        "end_of",
    ),
    (re.compile(r"\beo([wmq])\b"), "eo_short"),
    (
        re.compile(
            r"\b(?:end of|by the end of|late)\s+(january|february|march|april|may|june|july|"
            r"august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|"
            r"oct|nov|dec)\b"
        ),
        "end_named_month",
    ),
    (re.compile(r"\b(?:end of|by the end of)\s+next\s+(week|month|quarter)\b"), "end_of_next"),
    (
        re.compile(
            r"\b(?:in|within)\s+(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|"
            r"a couple of|a few)\s+(day|week|month)s?\b"
        ),
        "in_n",
    ),
    (
        re.compile(
            r"\b(\d+|two|three|four|five|six|seven|eight|nine|ten)\s+(day|week|month)s?\s+"
            r"from (?:now|today)\b"
        ),
        "in_n",
    ),
    (
        re.compile(
            r"\b(next|this|coming)\s+(monday|tuesday|wednesday|thursday|friday|saturday|"
            r"sunday|mon|tue|tues|wed|thu|thurs|fri|sat|sun)\b"
        ),
        "weekday",
    ),
    (
        re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s+next week\b"),
        "weekday_next_week",
    ),
    (
        re.compile(
            r"\b(?:(january|february|march|april|may|june|july|august|september|october|"
            r"november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?\s+"
            r"(?:the\s+)?(\d{1,2}(?!\d)|" + _ORDINAL_WORDS + r")(?:st|nd|rd|th)?\b|"
            r"(\d{1,2}|" + _ORDINAL_WORDS + r")(?:st|nd|rd|th)?\s+(?:of\s+)?(january|"
            r"february|march|april|may|june|july|august|september|october|november|december|"
            r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\b)"
        ),
        "month_day",
    ),
    (re.compile(r"\bnext week\b"), "next_week"),
    (re.compile(r"\bnext month\b"), "next_month"),
    (
        re.compile(
            r"\b(?:by|on|before|until|till)\s+(monday|tuesday|wednesday|thursday|friday|"
            r"saturday|sunday|mon|tue|wed|thu|fri)\b"
        ),
        "bare_weekday",
    ),
    (re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"), "bare_weekday"),
]

_ZH_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})[日号]"), "zh_full"),
    (
        re.compile(r"(?:(\d{4})年)?([\d一二三四五六七八九十]{1,3})月(?:底|末|份?结束前)"),
        "zh_end_of_month_named",
    ),
    (
        re.compile(r"([\d一二三四五六七八九十]{1,3})月([\d一二三四五六七八九十]{1,3})[日号]"),
        "zh_month_day",
    ),
    (re.compile(r"下(?:个)?月([\d一二三四五六七八九十]{1,3})[日号]"), "zh_next_month_day"),
    (re.compile(r"后天"), "day_after"),
    (re.compile(r"今天|今晚|当天"), "today"),
    (re.compile(r"明天|明日"), "tomorrow"),
    (re.compile(r"下(?:个)?(?:周|星期|礼拜)([一二三四五六日天])"), "zh_next_weekday"),
    (re.compile(r"(?:本|这|这个)(?:周|星期|礼拜)([一二三四五六日天])"), "zh_this_weekday"),
    (re.compile(r"(?:周|星期|礼拜)([一二三四五六日天])"), "zh_bare_weekday"),
    (re.compile(r"下(?:个)?月(?:底|末)"), "zh_end_next_month"),
    (re.compile(r"([\d一二三四五六七八九十]{1,3})月(?:份)?(?:底|末)"), "zh_end_named_month"),
    (re.compile(r"(?:本|这个)?月(?:底|末)"), "zh_end_month"),
    (re.compile(r"(?:本)?季度(?:末|底)"), "zh_end_quarter"),
    (re.compile(r"年(?:底|末)"), "zh_end_year"),
    (re.compile(r"(?:本|这)?周末"), "zh_weekend"),
    (
        re.compile(
            r"([\d一二两三四五六七八九十]{1,3})(?:个)?(天|周|星期|礼拜|月)(?:内|之内|后|以后|以内)"
        ),
        "zh_in_n",
    ),
    (re.compile(r"下(?:个)?(?:周|星期|礼拜)"), "next_week"),
    (re.compile(r"下(?:个)?月"), "next_month"),
]


def resolve_due_date(words: str | None, meeting: date) -> date | None:
    """The date an expression means, or None when it names none (nothing is guessed)."""
    if not words:
        return None
    text = " ".join(words.lower().split())
    for pattern, kind in (*_ZH_RULES, *_EN_RULES):
        match = pattern.search(text)
        if match is None:
            continue
        found = _apply(kind, match, meeting)
        if found is not None:
            return found
    return None


def resolve_date(words: str | None, today: date) -> date | None:
    """The date the words mean, against today's date (the same rules as meeting due dates)."""
    return resolve_due_date(words, today)


def dates_in(text: str | None, today: date) -> list[tuple[str, date]]:
    """Every date expression in the text with the date it means, in order of appearance
    (overlapping expressions: the first rule that matches wins, as in `resolve_due_date`)."""
    if not text:
        return []
    lowered = " ".join(text.lower().split())
    taken: list[tuple[int, int, str, date]] = []
    for pattern, kind in (*_ZH_RULES, *_EN_RULES):
        for match in pattern.finditer(lowered):
            start, end = match.span()
            if any(start < e and s < end for s, e, _, _ in taken):
                continue
            found = _apply(kind, match, today)
            if found is not None:
                taken.append((start, end, match.group(0).strip(), found))
    return [(words, day) for _, _, words, day in sorted(taken)]


def find_due_date(*texts: str | None, meeting: date) -> date | None:
    """The first date named by any of the texts, tried in order."""
    for text in texts:
        found = resolve_due_date(text, meeting)
        if found is not None:
            return found
    return None


def _apply(kind: str, m: re.Match[str], meeting: date) -> date | None:  # noqa: C901
    g = m.groups()
    if kind in ("iso", "zh_full"):
        try:
            return date(int(g[0]), int(g[1]), int(g[2]))
        except ValueError:
            return None
    if kind == "end_of_month_named":
        return _month_end_next(meeting, _MONTHS[g[0]], int(g[1]) if g[1] else None)
    if kind == "zh_end_of_month_named":
        month = _zh_number(g[1])
        if month is None or not 1 <= month <= 12:
            return None
        return _month_end_next(meeting, month, int(g[0]) if g[0] else None)
    if kind == "today":
        return meeting
    if kind == "tomorrow":
        return meeting + timedelta(days=1)
    if kind == "day_after":
        return meeting + timedelta(days=2)
    if kind in ("end_of", "eo_short"):
        unit = {"w": "week", "m": "month", "q": "quarter"}.get(g[0], g[0])
        return _end_of(unit, meeting)
    if kind == "end_of_next":
        if g[0] == "week":
            return _monday(meeting) + timedelta(days=11)
        if g[0] == "month":
            return _end_of_month(_add_months(meeting.replace(day=1), 1))
        return _end_of("quarter", _add_months(meeting.replace(day=1), 3))
    if kind == "in_n":
        n = _count(g[0])
        if n is None:
            return None
        if g[1] == "day":
            return meeting + timedelta(days=n)
        if g[1] == "week":
            return meeting + timedelta(weeks=n)
        return _add_months(meeting, n)
    if kind == "weekday":
        which = "next" if g[0] == "next" else "this" if g[0] == "this" else "bare"
        result = _weekday_in(meeting, _WEEKDAYS[g[1]], which)
        return (
            result
            if which != "this" or result >= meeting
            else _weekday_in(meeting, _WEEKDAYS[g[1]], "bare")
        )
    if kind == "weekday_next_week":
        return _weekday_in(meeting, _WEEKDAYS[g[0]], "next")
    if kind == "bare_weekday":
        return _weekday_in(meeting, _WEEKDAYS[g[0]], "bare")
    if kind == "month_day":
        month_name = g[0] or g[3]
        said = g[1] or g[2]
        return _absolute(meeting, _MONTHS[month_name], _ORDINALS.get(said) or int(said))
    if kind == "next_week":
        return _monday(meeting) + timedelta(days=11)
    if kind == "next_month":
        return _end_of_month(_add_months(meeting.replace(day=1), 1))
    if kind == "zh_month_day":
        month, day_of_month = _zh_number(g[0]), _zh_number(g[1])
        if month is None or day_of_month is None or not 1 <= month <= 12:
            return None
        return _absolute(meeting, month, day_of_month)
    if kind == "zh_next_month_day":
        day_of_month = _zh_number(g[0])
        first = _add_months(meeting.replace(day=1), 1)
        try:
            return first.replace(day=day_of_month) if day_of_month else None
        except ValueError:
            return None
    if kind == "zh_next_weekday":
        return _weekday_in(meeting, _ZH_WEEKDAY[g[0]], "next")
    if kind == "zh_this_weekday":
        result = _weekday_in(meeting, _ZH_WEEKDAY[g[0]], "this")
        return result if result >= meeting else _weekday_in(meeting, _ZH_WEEKDAY[g[0]], "bare")
    if kind == "zh_bare_weekday":
        return _weekday_in(meeting, _ZH_WEEKDAY[g[0]], "bare")
    if kind in ("zh_end_named_month", "end_named_month"):
        month = _zh_number(g[0]) if kind == "zh_end_named_month" else _MONTHS[g[0]]
        if month is None or not 1 <= month <= 12:
            return None
        start = _absolute(meeting.replace(day=1), month, 1)
        return _end_of_month(start) if start else None
    if kind == "zh_end_month":
        return _end_of_month(meeting)
    if kind == "zh_end_next_month":
        return _end_of_month(_add_months(meeting.replace(day=1), 1))
    if kind == "zh_end_quarter":
        return _end_of("quarter", meeting)
    if kind == "zh_end_year":
        return date(meeting.year, 12, 31)
    if kind == "zh_weekend":
        return _monday(meeting) + timedelta(days=6)
    if kind == "zh_in_n":
        n = _zh_number(g[0])
        if n is None:
            return None
        if g[1] == "天":
            return meeting + timedelta(days=n)
        if g[1] == "月":
            return _add_months(meeting, n)
        return meeting + timedelta(weeks=n)
    return None


def _end_of(unit: str, meeting: date) -> date:
    if unit == "week":
        return _monday(meeting) + timedelta(days=4)
    if unit == "month":
        return _end_of_month(meeting)
    if unit == "quarter":
        last_month = (meeting.month - 1) // 3 * 3 + 3
        return _end_of_month(date(meeting.year, last_month, 1))
    return date(meeting.year, 12, 31)


def _month_end_next(reference: date, month: int, year: int | None) -> date:
    """The last day of `month`: in `year` when given, else its next occurrence (not before
    the reference day)."""
    if year is not None:
        return _end_of_month(date(year, month, 1))
    candidate = _end_of_month(date(reference.year, month, 1))
    return (
        candidate if candidate >= reference else _end_of_month(date(reference.year + 1, month, 1))
    )
