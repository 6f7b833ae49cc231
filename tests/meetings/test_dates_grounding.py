"""Relative dates resolve against the meeting date; quotes must be verbatim spans."""

from __future__ import annotations

from datetime import date

import pytest

from channels.meetings.dates import resolve_due_date
from channels.meetings.grounding import Grounder
from channels.meetings.parsers import Segment

FRIDAY = date(2026, 11, 20)
MONDAY = date(2026, 11, 16)


@pytest.mark.parametrize(
    ("words", "meeting", "expected"),
    [
        ("I'll send it by next Friday", FRIDAY, "2026-11-27"),
        ("next Friday", MONDAY, "2026-11-27"),
        ("this Friday", MONDAY, "2026-11-20"),
        ("by Friday", MONDAY, "2026-11-20"),
        ("tomorrow", FRIDAY, "2026-11-21"),
        ("in two weeks", FRIDAY, "2026-12-04"),
        ("within 5 days", FRIDAY, "2026-11-25"),
        ("by the end of the month", FRIDAY, "2026-11-30"),
        ("end of quarter", FRIDAY, "2026-12-31"),
        ("next week", FRIDAY, "2026-11-27"),
        ("by Dec 4th", FRIDAY, "2026-12-04"),
        ("on 3 January", FRIDAY, "2027-01-03"),
        ("2027-01-15", FRIDAY, "2027-01-15"),
        ("下周五之前", FRIDAY, "2026-11-27"),
        ("下星期一", FRIDAY, "2026-11-23"),
        ("本周三", MONDAY, "2026-11-18"),
        ("明天", FRIDAY, "2026-11-21"),
        ("三天内", FRIDAY, "2026-11-23"),
        ("两周后", FRIDAY, "2026-12-04"),
        ("月底前", FRIDAY, "2026-11-30"),
        ("下个月底", FRIDAY, "2026-12-31"),
        ("12月5日", FRIDAY, "2026-12-05"),
        ("下个月10号", FRIDAY, "2026-12-10"),
    ],
)
def test_relative_dates(words: str, meeting: date, expected: str) -> None:
    assert resolve_due_date(words, meeting) == date.fromisoformat(expected)


@pytest.mark.parametrize("words", ["soon", "as soon as possible", "", "尽快", "later"])
def test_no_date_is_guessed(words: str) -> None:
    assert resolve_due_date(words, FRIDAY) is None


SEGMENTS = [
    Segment("Jane Doe", 0, 5, "Quick update: we’re now looking at 200 seats."),
    Segment("Alice Wong", 5, 9, "I'll send the revised quote"),
    Segment("Alice Wong", 9, 12, "by next Friday."),
    Segment("王芳", 12, 20, "我们希望月底前完成签约，预算是三百万。"),
]


def test_quote_matches_across_width_case_punctuation_and_cues() -> None:
    g = Grounder(SEGMENTS)
    span = g.find("WE'RE NOW LOOKING AT 200 SEATS")
    assert span is not None and span.speaker == "Jane Doe"
    assert span.text == "we’re now looking at 200 seats"  # the transcript's own characters
    across = g.find("I'll send the revised quote by next Friday")
    assert (
        across is not None
        and across.text == "I'll send the revised quote\nby next Friday".replace("\n", " ")
    )
    assert g.find("Alice Wong: I'll send the revised quote") is not None
    assert g.find("我们希望月底前完成签约, 预算是三百万") is not None  # half-width comma
    assert g.find("我们希望 月底前 完成签约") is not None


def test_fabricated_paraphrased_and_trivial_quotes_are_rejected() -> None:
    g = Grounder(SEGMENTS)
    assert g.find("we are now looking at 200 seats") is None  # paraphrase
    assert g.find("we're now looking at 300 seats") is None  # changed number
    assert g.find("预算是五百万") is None
    assert g.find("200 seats") is None  # too short to prove anything
    assert g.find("") is None and g.find(None) is None
