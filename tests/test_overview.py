"""Turns answered without an agent: small talk and the account overview (no model call)."""

from __future__ import annotations

import pytest

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from agents.overview import account_overview, is_overview, small_talk
from tools.service import CRMService


@pytest.mark.parametrize(
    "text", ["thanks", "Thanks!", "thank you so much", "hi", "Hello there", "谢谢", "你好！", "ok"]
)
def test_small_talk_is_answered_in_code(text: str) -> None:
    assert small_talk(text)


@pytest.mark.parametrize(
    "text", ["thanks, now log a call with Jane", "hi, what's open with Acme?", "Acme 谢谢 折扣"]
)
def test_requests_are_not_small_talk(text: str) -> None:
    assert small_talk(text) is None


def test_thanks_in_chinese_is_answered_in_chinese() -> None:
    assert "不客气" in (small_talk("谢谢") or "")


@pytest.mark.parametrize(
    ("text", "overview"),
    [
        ("What's open with Acme?", True),
        ("Where do we stand with Acme?", True),
        ("Acme 进展如何？", True),
        ("What's open with Acme? Log a call with Jane too", False),
        ("Give Acme a 10% discount", False),
    ],
)
def test_overview_words(text: str, overview: bool) -> None:
    assert is_overview(text) is overview


def test_overview_lists_open_deals_only_and_the_project(crm: CRMService) -> None:
    answer = account_overview(crm, crm.actor("u-alice"), "acc-acme", "What's open with Acme?")
    assert "opp-acme-1 Acme expansion" in answer.reply
    assert "opp-acme-won" not in answer.reply  # closed-won is not open
    assert "tkt-acme-1 P2 open: Slow dashboards" in answer.reply
    assert "prj-acme Acme onboarding" in answer.reply and "2026-12-14" in answer.reply


def test_overview_shows_closed_deals_when_asked(crm: CRMService) -> None:
    text = "Where do we stand with Acme, including closed deals?"
    answer = account_overview(crm, crm.actor("u-alice"), "acc-acme", text)
    assert "Closed deals (1)" in answer.reply and "opp-acme-won" in answer.reply


def test_overview_in_chinese(crm: CRMService) -> None:
    answer = account_overview(crm, crm.actor("u-alice"), "acc-acme", "Acme 进展如何？")
    assert "进行中的商机（1）" in answer.reply and "prj-acme" in answer.reply


def test_overview_respects_visibility(crm: CRMService) -> None:
    answer = account_overview(crm, crm.actor("u-alice"), "acc-helix", "What's open with Helix?")
    assert "opp-helix-1" not in answer.reply and "tkt-helix-1" not in answer.reply


async def test_overview_names_pending_reviews(crm: CRMService) -> None:
    discount = {"opportunity_id": "opp-acme-1", "percent": 25, "reason": "expansion"}
    model = ScriptedChatModel(
        [
            {"agent": "sales", "tool_calls": [{"name": "apply_discount", "arguments": discount}]},
            {"agent": "sales", "reply": "Asked for the discount."},
        ]
    )
    convo = ConversationService(crm=crm, model=model)
    await convo.send(thread_id="t-r", user_id="u-alice", text="Give Acme 25% off on opp-acme-1")
    review = crm.reviews(requested_by="u-alice")[0]
    answer = account_overview(crm, crm.actor("u-alice"), "acc-acme", "What's open with Acme?")
    assert review["id"] in answer.reply and "apply_discount" in answer.reply


async def test_conversation_answers_thanks_and_overview_without_the_model(
    crm: CRMService,
) -> None:
    model = ScriptedChatModel([])  # any model call fails the test
    convo = ConversationService(crm=crm, model=model)
    events: list[dict] = []
    turn = await convo.send(
        thread_id="t-q", user_id="u-alice", text="thanks", on_event=events.append
    )
    assert "welcome" in turn.reply
    turn = await convo.send(
        thread_id="t-q", user_id="u-alice", text="What's open with Acme?", on_event=events.append
    )
    assert "opp-acme-1" in turn.reply and "prj-acme" in turn.reply
    assert "opp-acme-won" not in turn.reply
    assert model.requests == []
    assert events[0] == {"type": "status", "stage": "routing"}
    assert turn.usage["total"]["calls"] == 0


async def test_slash_command_still_goes_to_the_agent(crm: CRMService) -> None:
    model = ScriptedChatModel([{"agent": "sales", "reply": "opp-acme-1 is open."}])
    convo = ConversationService(crm=crm, model=model)
    turn = await convo.send(
        thread_id="t-s", user_id="u-alice", text="/sales What's open with Acme?"
    )
    assert "opp-acme-1 is open" in turn.reply
    model.assert_exhausted()


async def test_a_question_about_a_ticket_opens_the_ticket(crm: CRMService) -> None:
    from tools.models import Ticket

    with crm.db.session() as s:
        s.get(
            Ticket, "tkt-acme-1"
        ).description = "They need CSV exports of the audit log by Friday."
    model = ScriptedChatModel([{"agent": "service", "reply": "They need CSV audit exports."}])
    convo = ConversationService(crm=crm, model=model)
    events: list[dict] = []
    await convo.send(
        thread_id="t-t",
        user_id="u-alice",
        text="What's the latest on ticket tkt-acme-1? Summarise what the customer needs.",
        on_event=events.append,
    )
    prompt = model.requests[0]["messages"][1]["content"]
    assert "CSV exports of the audit log" in prompt
    tools = [e for e in events if e["type"] == "tool"]
    assert tools and tools[0]["tool"] == "get_ticket"
    assert tools[0]["arguments"] == {"ticket_id": "tkt-acme-1"}


async def test_a_deal_named_by_its_name_is_opened(crm: CRMService) -> None:
    model = ScriptedChatModel([{"agent": "sales", "reply": "Next step noted."}])
    convo = ConversationService(crm=crm, model=model)
    events: list[dict] = []
    await convo.send(
        thread_id="t-d",
        user_id="u-alice",
        text="What is the next step on the Acme expansion deal?",
        on_event=events.append,
    )
    assert any(e.get("tool") == "get_opportunity" for e in events)
    assert '"margin_percent"' in model.requests[0]["messages"][1]["content"]


async def test_records_the_user_may_not_see_are_not_opened(crm: CRMService) -> None:
    model = ScriptedChatModel([{"agent": "service", "reply": "I cannot see that ticket."}])
    convo = ConversationService(crm=crm, model=model)
    events: list[dict] = []
    await convo.send(
        thread_id="t-h",
        user_id="u-alice",
        text="Summarise ticket tkt-helix-1",
        on_event=events.append,
    )
    assert "Login outage" not in model.requests[0]["messages"][1]["content"]
    assert [e for e in events if e["type"] == "tool"] == []
