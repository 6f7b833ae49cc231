"""Cue rules (channels/meetings/cues.py): promises, requests and deal changes read off lines in
code, English and Chinese — and what they must leave alone."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from channels.meetings.cues import corroborated_change, corroborated_item, read_cues
from channels.meetings.parsers import Segment
from channels.meetings.values import amounts_in, en_numbers, parse_amount, stages_in
from tools.dates import resolve_due_date

DAY = date(2026, 11, 18)  # a Wednesday


def lines(*said: tuple[str, str]) -> list[Segment]:
    return [Segment(speaker=who, start=None, end=None, text=text) for who, text in said]


def items(*said: tuple[str, str]) -> list[tuple[int, str, str, str]]:
    found = read_cues(lines(*said), DAY)
    return [(i.line, i.owner, i.due, i.evidence) for i in found.action_items]


def changes(*texts: str) -> dict[str, str]:
    found = read_cues(lines(*(("Jane", t) for t in texts)), DAY)
    return {c.field: c.value for c in found.changes}


@pytest.mark.parametrize(
    "text",
    [
        "I'll send the revised quote by Friday.",
        "Sure, I will share the security questionnaire with you tomorrow.",
        "Okay so I'm going to set up the technical session for next Tuesday.",
        "I will get the CFO approval within 10 days.",
        "好的，我下周五之前把新的中文报价发给您。",
        "我保证下周三之前把试点环境搭好，账号也都开好。",
        "立项审批我月底前走完。",
    ],
)
def test_a_promise_is_an_item_owned_by_its_speaker(text: str) -> None:
    [(line, owner, due, evidence)] = items(("Alice Wong", text))
    assert (line, owner) == (1, "I") and evidence in text
    assert resolve_due_date(due, DAY) is not None


@pytest.mark.parametrize(
    "text",
    [
        "I'll be honest, the price is high.",
        "We'll see how the pilot goes.",
        "If it were forty seats, I'd send a new quote tomorrow.",
        "Maybe I'll send it next week.",
        "I sent the deck last week.",
        "We'll get to that later.",
        "Let me share my screen.",  # not a future promise of work
        "I'll share my screen now.",
        "I can send the deck.",  # an offer without a date
        "So just to recap, I'll send the SOC 2 tomorrow and the proposal by Friday.",
        "我觉得下周可以把方案发给你们。",
        "如果老板同意，我明天把合同发给你们。",
        "我们的数据导出来都很麻烦。",
        "我们已经把报价发给王总了。",
    ],
)
def test_talk_hedges_the_past_and_recaps_are_not_items(text: str) -> None:
    assert items(("Alice Wong", text)) == []


def test_a_request_someone_says_yes_to_is_theirs() -> None:
    found = items(
        ("Raj Mehta", "Could you send me the SOC 2 report?"),
        ("Alice Wong", "Sure."),
    )
    assert found == [(1, "Alice Wong", "", "Could you send me the SOC 2 report?")]
    # No yes, no item; a yes that promises is the item itself (on its own line).
    assert items(("Raj", "Could you send me the SOC 2 report?"), ("Alice", "Hmm.")) == []
    assert [i[0] for i in items(("Raj", "Can you send the report?"),
                                ("Alice", "Yes, I'll send it by Thursday."))] == [2]  # fmt: skip


def test_a_date_said_in_the_reply_is_the_due_date() -> None:
    [(_, _, due, _)] = items(
        ("Alice Wong", "I'll send the revised proposal."),
        ("Jane Doe", "By when?"),
        ("Alice Wong", "Friday."),
    )
    assert resolve_due_date(due, DAY) == date(2026, 11, 20)


def test_a_promise_said_again_is_one_item_and_a_handover_moves_it() -> None:
    said = items(
        ("Alice Wong", "I'll send the order form by Monday."),
        ("Jane Doe", "Great."),
        ("Alice Wong", "And as I said, I will send the order form by Monday."),
    )
    assert [line for line, *_ in said] == [1]
    taken = items(
        ("Lucas King", "I can send the list of data sources by Friday."),
        ("Isabel Brown", "Don't worry about it, I'll send the data source list by Friday."),
    )
    assert [line for line, *_ in taken] == [2]


def test_amounts_after_a_total_cue() -> None:
    assert changes("At 1,200 per seat that takes the deal to 240,000 dollars.") == {
        "amount": "240,000 dollars"
    }
    assert changes("So the total comes to twenty-seven thousand.")["amount"] == (
        "twenty-seven thousand"
    )
    corrected = "That's a hundred and seventy — sorry, a hundred and seventy-one thousand total."
    assert parse_amount(changes(corrected)["amount"]) == Decimal("171000")
    assert changes("总价就是两百三十——不好意思，两百三十四万，这个是含税的。") == {
        "amount": "两百三十四万"
    }
    for text in [
        "The old quote was 120,000 dollars in total.",  # the past
        "If it were forty seats, the total would be 40,000 dollars.",  # a hypothesis
        "Their total was 90,000 dollars.",  # another vendor
        "It's 1,080 dollars per seat.",  # a unit price, no total
        "上周发的那一版，总价两百五十二万。",  # the earlier quote
    ]:
        assert "amount" not in changes(text), text


def test_close_dates_stages_probability_and_next_step() -> None:
    signing = changes("Realistically we will sign at the end of next month, not this month.")
    assert resolve_due_date(signing["close_date"], DAY) == date(2026, 12, 31)
    assert (
        changes("I would say, realistically, we're signing by January fifteenth.")["close_date"]
        == "january fifteenth"
    )
    assert changes("我们希望月底前完成签约。")["close_date"] == "月底"
    for text in [
        "We signed the NDA last week.",
        "We won't sign before January.",
        "If legal is quick we could sign by December 15.",
        "Get the budget sign-off from the CFO by the end of the month.",
    ]:
        assert "close_date" not in changes(text), text
    assert changes("I'm going to move this into negotiation on our side.")["stage"] == (
        "negotiation"
    )
    assert changes("I'd say we are at 80 percent now.")["probability"] == "80 percent"
    assert "probability" not in changes("We could give you 10 percent off.")
    assert changes("我们有八成把握。")["probability"] == "80%"
    assert changes("下一步是完成数据迁移方案评审。")["next_step"] == "完成数据迁移方案评审"


def test_the_model_is_believed_only_where_the_line_has_the_cue() -> None:
    assert corroborated_change("amount", "We're now looking at 200 seats, so 240,000 dollars.", DAY)
    assert not corroborated_change("amount", "We're now looking at 200 seats.", DAY)
    assert not corroborated_change("close_date", "I will send the quote by Friday.", DAY)
    assert corroborated_change("next_step", "I'll send the revised quote.", DAY)
    assert corroborated_item("Can you send me the deck?")
    assert not corroborated_item("We cannot go live until that is fixed.")


def test_numbers_and_days_said_in_words() -> None:
    assert [v for *_, v in en_numbers("a hundred and seventy-one thousand")] == [171000]
    assert [v for *_, v in en_numbers("eleven forty a seat")] == [1140]
    assert [v for *_, v in en_numbers("one point two million")] == [Decimal("1200000")]
    assert Decimal("27000.00") in amounts_in("the total comes to twenty-seven thousand")
    assert stages_in("move this into negotiation, we're past the proposal stage") == {
        "negotiation",
        "proposal",
    }
    assert resolve_due_date("by January fifteenth", DAY) == date(2027, 1, 15)
    assert resolve_due_date("the twenty-first of December", DAY) == date(2026, 12, 21)
