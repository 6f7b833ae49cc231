"""Grounded figures (EN/ZH), relative dates from the shared date code, and the specialist's
regeneration and replacement of an invented figure."""

from __future__ import annotations

from datetime import date

import pytest

from agents.conversation import ConversationService
from agents.grounding import Grounding, figures_in, ungrounded_figures
from agents.llm_scripted import ScriptedChatModel
from tools.dates import resolve_date
from tools.service import CRMService

TODAY = date(2026, 11, 20)
DATA = '{"amount": "100000.00", "currency": "USD", "percent": 20, "close_date": "2026-12-31"}'


def grounding(*said: str) -> Grounding:
    return Grounding.of([DATA], said=said, today=TODAY)


@pytest.mark.parametrize(
    "reply",
    [
        "The deal is worth $100,000 with a 20% discount, closing 2026-12-31.",
        "Worth 100k USD, closes December 31.",
        "金额10万美元，折扣百分之二十，12月31日结单。",
        "opp-acme-1 is in proposal; P1 ticket tkt-acme-1 is open in Q4.",
    ],
)
def test_figures_from_the_data_are_grounded(reply: str) -> None:
    assert ungrounded_figures(reply, grounding()) == []


@pytest.mark.parametrize(
    ("reply", "figure"),
    [
        ("Your pipeline is $1,000,000.", "1000000"),
        ("A 25% discount applies.", "25%"),
        ("It closes on 2027-01-15.", "2027-01-15"),
        ("预计金额为50万。", "500000"),
        ("折扣是百分之三十。", "30%"),
    ],
)
def test_invented_figures_are_caught(reply: str, figure: str) -> None:
    assert [f.value for f in ungrounded_figures(reply, grounding())] == [figure]


def test_the_users_words_ground_figures_and_relative_dates() -> None:
    g = grounding("Create a deal for 200 seats closing end of March")
    assert ungrounded_figures("200 seats, closing 2027-03-31.", g) == []
    g = grounding("下周五之前跟进")
    assert ungrounded_figures("已安排在2026-11-27跟进。", g) == []


def test_figures_are_normalised() -> None:
    values = [f.value for f in figures_in("$1.2M, 12.50%, 3万, 1,500 and March 3rd, 2027")]
    assert values == ["2027-03-03", "1200000", "12.5%", "30000", "1500"]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("close date end of March", date(2027, 3, 31)),
        ("by the end of November", date(2026, 11, 30)),
        ("next Friday", date(2026, 11, 27)),
        ("下周五", date(2026, 11, 27)),
        ("三月底", date(2027, 3, 31)),
        ("2027年3月底", date(2027, 3, 31)),
    ],
)
def test_relative_dates_resolve_to_the_next_occurrence(words: str, expected: date) -> None:
    assert resolve_date(words, TODAY) == expected


def _forecast_model(*replies: str) -> ScriptedChatModel:
    steps: list[dict] = [{"agent": "sales", "tool_calls": [{"name": "forecast", "arguments": {}}]}]
    steps += [{"agent": "sales", "reply": r} for r in replies]
    return ScriptedChatModel(steps)


async def test_an_invented_figure_is_regenerated_once(crm: CRMService) -> None:
    model = _forecast_model("Your Q4 pipeline is $1,000,000.", "Your Q4 pipeline is healthy.")
    convo = ConversationService(crm=crm, model=model)
    events: list[dict] = []
    turn = await convo.send(
        thread_id="t-g1", user_id="u-alice", text="What is my forecast?", on_event=events.append
    )
    assert turn.reply.startswith("Your Q4 pipeline is healthy.")
    assert '"$1,000,000"' in model.requests[-1]["messages"][-1]["content"]
    grounded = [e for e in events if e["type"] == "grounding"]
    assert grounded == [
        {"type": "grounding", "agent": "sales", "regenerated": True, "replaced": [],
         "ungrounded": []}
    ]  # fmt: skip
    model.assert_exhausted()


async def test_a_figure_invented_twice_gives_way_to_the_crm_line(crm: CRMService) -> None:
    model = _forecast_model("Pipeline is $1,000,000.", "Good quarter. Still $1,000,000.")
    convo = ConversationService(crm=crm, model=model)
    events: list[dict] = []
    turn = await convo.send(
        thread_id="t-g2", user_id="u-alice", text="What is my forecast?", on_event=events.append
    )
    assert "1,000,000" not in turn.reply
    assert "Good quarter." in turn.reply and "From the CRM:" in turn.reply
    assert "pipeline" in turn.reply.split("From the CRM:")[1]
    grounded = [e for e in events if e["type"] == "grounding"][0]
    assert grounded["replaced"] == ["$1,000,000"] and grounded["ungrounded"] == []


async def test_running_out_of_steps_says_what_was_done(crm: CRMService) -> None:
    call = {"name": "get_account", "arguments": {"account_id": "acc-acme"}}
    model = ScriptedChatModel([{"agent": "sales", "tool_calls": [call]}] * 2)
    convo = ConversationService(crm=crm, model=model, max_steps=2)
    turn = await convo.send(thread_id="t-s", user_id="u-alice", text="/sales Acme deal please")
    assert "stopped after" not in turn.reply
    assert "ran out of steps" in turn.reply and "Looked up: Acme Corp" in turn.reply
    assert "Nothing was changed" in turn.reply


async def test_a_past_date_goes_back_once_then_is_refused(crm: CRMService) -> None:
    bad = {
        "account_id": "acc-acme",
        "name": "Acme renewal",
        "amount": 50000,
        "currency": "USD",
        "close_date": "2026-03-31",
    }
    model = ScriptedChatModel(
        [
            {"agent": "sales", "tool_calls": [{"name": "create_opportunity", "arguments": bad}]},
            {"agent": "sales", "tool_calls": [{"name": "create_opportunity", "arguments": bad}]},
            {"agent": "sales", "reply": "I could not create it."},
        ]
    )
    convo = ConversationService(crm=crm, model=model)
    turn = await convo.send(
        thread_id="t-p",
        user_id="u-alice",
        text="New deal for Acme: renewal, 50000 USD, close date end of March",
    )
    first_prompt = model.requests[0]["messages"][1]["content"]
    assert '"end of march" = 2027-03-31' in first_prompt
    results = [m["content"] for m in model.requests[-1]["messages"] if m["role"] == "tool"]
    assert "2026-03-31 is in the past" in results[0] and "again" in results[0]
    assert "Not done" in results[1]
    assert "Not done: close_date 2026-03-31 is in the past" in turn.reply
    assert not turn.outcome.get("committed") and not turn.outcome.get("pending")


async def test_an_id_of_the_wrong_kind_is_sent_back(crm: CRMService) -> None:
    wrong = {"opportunity_id": "acc-acme", "percent": 5, "reason": "loyalty"}
    right = {**wrong, "opportunity_id": "opp-acme-1"}
    model = ScriptedChatModel(
        [
            {"agent": "sales", "tool_calls": [{"name": "apply_discount", "arguments": wrong}]},
            {"agent": "sales", "tool_calls": [{"name": "apply_discount", "arguments": right}]},
            {"agent": "sales", "reply": "Logged."},
        ]
    )
    convo = ConversationService(crm=crm, model=model)
    turn = await convo.send(thread_id="t-i", user_id="u-alice", text="5% off the Acme deal")
    results = [m["content"] for m in model.requests[-1]["messages"] if m["role"] == "tool"]
    assert "'acc-acme' is an account id, not an opportunity id" in results[0]
    assert len(turn.outcome["committed"]) + len(turn.outcome["pending"]) == 1
