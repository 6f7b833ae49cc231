"""Relative dates resolve against the meeting date; quotes must be verbatim spans."""

from __future__ import annotations

from datetime import date

import pytest

from channels.meetings.dates import resolve_due_date
from channels.meetings.grounding import Grounder, overlap
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


def test_a_paraphrase_is_grounded_by_the_line_it_cites() -> None:
    g = Grounder(SEGMENTS)
    # Lines are numbered from 1 as the model sees them; the line itself becomes the evidence.
    span = g.locate("Jane Doe says the customer is now looking at 200 seats", line=1)
    assert span is not None and span.found_by == "line" and span.speaker == "Jane Doe"
    assert span.text == "Quick update: we’re now looking at 200 seats."
    assert g.locate("Jane says they are now looking at 200 seats", line=2) is not None  # off by one
    assert g.locate("王芳提到预算为三百万", line=3) is not None  # "王芳提到" is attribution
    zh = g.locate("客户希望月底前完成签约", line=4)
    assert zh is not None and zh.text == "我们希望月底前完成签约，预算是三百万。"
    # A verbatim quote is still found as it stands, whatever line it cites.
    assert g.find("we&#39;re now looking at 200 seats") is not None  # HTML-escaped by the model
    exact = g.locate("we're now looking at 200 seats", line=4)
    assert exact is not None and exact.found_by == "quote"


def test_a_line_does_not_ground_changed_figures_or_unrelated_words() -> None:
    g = Grounder(SEGMENTS)
    assert g.locate("we are now looking at 300 seats", line=1) is None  # the figure changed
    assert g.locate("预算是五百万，月底前完成签约", line=4) is None
    assert g.locate("the customer wants a discount on support", line=1) is None
    assert g.locate("now looking", line=1) is None  # too few words to prove anything
    assert g.locate("", line=1) is None and g.locate(None, line=1) is None
    assert g.locate("we are now looking at 200 seats", line=99) is not None  # best line, uncited
    assert g.locate("looking at seats and the revised quote", line=0) is None  # fits no one line


def test_overlap_ignores_speaker_names_and_filler() -> None:
    assert overlap("Alice says she will send the revised quote", "I'll send the revised quote",
                   ignore=frozenset({"alice"})) == 1.0  # fmt: skip
    assert overlap("send the revised quote", "Send the contract") == 0.0  # 2 words shared
