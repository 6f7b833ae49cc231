"""Per-request tool selection and the account digest: fewer schemas and fewer calls per turn,
without taking a tool away from an agent."""

from __future__ import annotations

import pytest

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from agents.prefetch import account_digest
from agents.specialist import TOOLSETS
from agents.toolselect import asks_only, select_tools, wants_write
from tools.catalogue import REGISTRY
from tools.service import CRMService


def shown(agent: str, text: str, *, account_known: bool = True) -> tuple[str, ...]:
    tools = TOOLSETS[agent]  # type: ignore[index]
    kinds = {t: REGISTRY[t].kind for t in tools}
    return select_tools(agent, tools, kinds, text, account_known=account_known)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "write"),
    [
        ("What's open with Acme?", False),
        ("Which P1 tickets breach SLA this week?", False),
        ("When can we go live with Helix?", False),
        ("Log a call with Jane at Acme", True),
        ("Open a ticket for Acme: SSO is broken", True),
        ("Give Acme a 15% discount", True),
        ("给Acme的Jane发邮件", True),
        ("华星科技的工单情况怎么样？", False),
        ("把Helix的上线日期推迟到一月", True),
    ],
)
def test_write_intent(text: str, write: bool) -> None:
    assert wants_write(text) is write


def test_questions_show_no_write_tool() -> None:
    for agent, text in [
        ("sales", "What's open with Acme?"),
        ("service", "Which P1 tickets breach SLA this week?"),
        ("delivery", "When can we go live with Helix?"),
    ]:
        tools = shown(agent, text)
        assert tools and all(REGISTRY[t].kind == "read" for t in tools), (agent, tools)


def test_writes_shown_are_the_ones_the_words_ask_for() -> None:
    tools = shown("sales", "Log a call with Jane at Acme: they want 200 seats, close by Dec 31.")
    writes = {t for t in tools if REGISTRY[t].kind == "write"}
    assert writes == {"log_activity", "update_opportunity"}
    assert "forecast" not in tools and "search_accounts" not in tools
    assert "apply_discount" in shown("sales", "Give Acme a 15% discount")
    assert "escalate_ticket" in shown("service", "Escalate tkt-1 please")
    assert "schedule_go_live" in shown("delivery", "把Helix的上线日期推迟到一月")


@pytest.mark.parametrize(
    ("agent", "text", "tool"),
    [
        # Requests the first word lists missed (seen in the whole-suite run with the local
        # model: the write the user asked for was not among the tools shown).
        ("sales", "Lower the Acme deal amount to 90000", "update_opportunity"),
        ("sales", "Acme is dropping seats, lower the deal amount to 79000.", "update_opportunity"),
        ("sales", "ask for a 10% goodwill concession for Acme", "apply_discount"),
        ("delivery", "Bring the Initech go-live forward to Jan 4.", "schedule_go_live"),
        ("service", "Open a P3 ticket for Acme about the CSV export", "create_ticket"),
        ("sales", "给华星科技的商机 opp-huaxing-1 打20%的折扣，客户签三年。", "apply_discount"),
        ("sales", "给 opp-huaxing-1 打八折。", "apply_discount"),
        ("sales", "给华星科技的陈静发一封邮件，确认周四的会议。", "send_email"),
        ("sales", "记录一下和陈静的电话：她们想要300个席位，下周五前发报价。", "create_task"),
    ],
)
def test_the_write_asked_for_is_shown(agent: str, text: str, tool: str) -> None:
    assert tool in shown(agent, text)


@pytest.mark.parametrize(
    "text",
    ["Look at ticket tkt-acme-9 and handle it.", "Check ticket tkt-acme-5 and do what it needs.",
     "看一下工单 tkt-hx-1 并处理。", "Take care of whatever Acme is asking us for."],
)  # fmt: skip
def test_a_change_asked_for_without_saying_which_shows_every_write(text: str) -> None:
    for agent in ("sales", "service"):
        writes = {t for t in TOOLSETS[agent] if REGISTRY[t].kind == "write"}  # type: ignore[index]
        assert writes <= set(shown(agent, text)), (agent, text)


def test_a_write_verb_without_a_known_tool_shows_all_writes() -> None:
    writes = {t for t in shown("sales", "Please add that for Acme") if REGISTRY[t].kind == "write"}
    assert writes == {t for t in TOOLSETS["sales"] if REGISTRY[t].kind == "write"}


def test_unknown_account_keeps_search_and_selection_keeps_order() -> None:
    tools = shown("sales", "Find the account called Initech", account_known=False)
    assert "search_accounts" in tools
    assert list(tools) == [t for t in TOOLSETS["sales"] if t in tools]


def test_forecast_and_knowledge_only_when_asked() -> None:
    assert "forecast" in shown("sales", "What is my forecast for this quarter?")
    assert "search_knowledge" in shown("sales", "What does our discount policy say?")
    assert "search_knowledge" not in shown("sales", "What's open with Acme?")
    assert "recall_account_memory" in shown("sales", "What did Jane tell us last time?")
    assert "recall_account_memory" not in shown("service", "Which P1 tickets breach SLA?")


async def test_an_unshown_tool_of_the_agent_still_runs(crm: CRMService) -> None:
    """Selection narrows what is shown, never what the agent may do."""
    model = ScriptedChatModel(
        [
            {"agent": "sales", "tool_calls": [{"name": "forecast", "arguments": {}}]},
            {"agent": "sales", "reply": "Here is the forecast."},
        ]
    )
    convo = ConversationService(crm=crm, model=model)
    turn = await convo.send(
        thread_id="t-sel", user_id="u-alice", text="/sales What's open with Acme?"
    )
    first = model.requests[0]
    assert "forecast" not in {s["function"]["name"] for s in first["tools"]}
    [tool] = [e for e in turn.events if e["type"] == "tool"]
    assert tool["tool"] == "forecast" and tool["ok"]


async def test_linked_account_digest_reaches_the_agent(crm: CRMService) -> None:
    model = ScriptedChatModel([{"agent": "sales", "reply": "Acme has one open deal."}])
    convo = ConversationService(crm=crm, model=model)
    await convo.send(thread_id="t-digest", user_id="u-alice", text="/sales What's open with Acme?")
    system = model.requests[0]["messages"][1]["content"]
    assert '<data source="account">' in system and "opp-acme-1" in system


def test_digest_follows_permissions(crm: CRMService) -> None:
    alice, sam = crm.actor("u-alice"), crm.actor("u-sam")
    assert account_digest(crm, alice, "sales", "acc-helix") is None  # not her team
    service_view = account_digest(crm, sam, "service", "acc-helix")
    assert service_view is not None and "ticket" in service_view
    # Support never sees deal money, and the service digest carries none.
    assert "USD" not in service_view and "EUR" not in service_view
    sales_view = account_digest(crm, alice, "sales", "acc-acme")
    assert sales_view is not None and "opp-acme-1" in sales_view


async def test_an_invented_optional_filter_id_is_dropped(crm: CRMService) -> None:
    """'acc-123' was never said nor shown: the filter goes, the question still gets answered."""
    model = ScriptedChatModel(
        [
            {
                "agent": "service",
                "tool_calls": [
                    {
                        "name": "list_tickets",
                        "arguments": {"account_id": "acc-123", "priority": "p1"},
                    }
                ],
            },
            {"agent": "service", "reply": "One P1 ticket."},
        ]
    )
    convo = ConversationService(crm=crm, model=model)
    turn = await convo.send(
        thread_id="t-invented", user_id="u-sam", text="Which P1 tickets breach SLA this week?"
    )
    [tool] = [e for e in turn.events if e["type"] == "tool"]
    assert tool["ok"] and tool["arguments"] == {"priority": "p1"}


async def test_a_mentioned_filter_id_and_a_required_id_are_kept(crm: CRMService) -> None:
    model = ScriptedChatModel(
        [
            {
                "agent": "service",
                "tool_calls": [
                    {"name": "list_tickets", "arguments": {"account_id": "acc-acme"}},
                    {"name": "get_ticket", "arguments": {"ticket_id": "tkt-404"}},
                ],
            },
            {"agent": "service", "reply": "Done."},
        ]
    )
    convo = ConversationService(crm=crm, model=model)
    turn = await convo.send(
        thread_id="t-kept", user_id="u-sam", text="Tickets of acc-acme, and is there a tkt-404?"
    )
    first, second = [e for e in turn.events if e["type"] == "tool"]
    assert first["arguments"] == {"account_id": "acc-acme"}
    assert second["arguments"] == {"ticket_id": "tkt-404"} and not second["ok"]


@pytest.mark.parametrize(
    ("reply", "appended"),
    [
        ("Your Q4 pipeline is $1,000,000.", True),  # a figure no lookup returned
        ("Nothing stands out this quarter.", False),
    ],
)
async def test_a_figure_no_lookup_returned_brings_the_crm_line(
    crm: CRMService, reply: str, appended: bool
) -> None:
    model = ScriptedChatModel(
        [
            {"agent": "sales", "tool_calls": [{"name": "forecast", "arguments": {}}]},
            {"agent": "sales", "reply": reply},
        ]
    )
    convo = ConversationService(crm=crm, model=model)
    turn = await convo.send(
        thread_id="t-fig", user_id="u-alice", text="What is my forecast for this quarter?"
    )
    # An invented figure is named to the model once (the script has no second answer), then
    # its sentence gives way to the CRM's own line.
    assert turn.reply.startswith(reply) is not appended
    assert ("From the CRM:" in turn.reply) is appended
    if appended:
        assert "1,000,000" not in turn.reply
        assert "pipeline" in turn.reply.split("From the CRM:")[1]


@pytest.mark.parametrize(
    ("text", "only"),
    [
        ("What's the latest on ticket tkt-acme-3? Give me a short summary of what it needs.", True),
        ("华星科技的工单情况怎么样？", True),
        ("What's the biggest discount I can give on opp-acme-1? Apply it.", False),
        ("Give Acme a 15% discount", False),
        ("yes do it", False),
        ("Can you log a call with Jane?", False),
    ],
)
def test_a_question_that_asks_no_change(text: str, only: bool) -> None:
    assert asks_only(text) is only


async def test_a_write_made_up_for_a_question_is_not_run(crm: CRMService) -> None:
    """ "What does the customer need?": a model that marks the ticket solved instead of
    answering gets told to answer; nothing is proposed, committed or shown as failed."""
    model = ScriptedChatModel(
        [
            {
                "agent": "service",
                "tool_calls": [
                    {
                        "name": "update_ticket",
                        "arguments": {"ticket_id": "tkt-acme-1", "status": "solved"},
                    }
                ],
            },
            {"agent": "service", "reply": "The customer needs the dashboards fixed."},
        ]
    )
    turn = await ConversationService(crm=crm, model=model).send(
        thread_id="t-question",
        user_id="u-sam",
        text="What's the latest on tkt-acme-1? Give me a short summary of what the customer needs.",
    )
    assert turn.outcome == {"committed": [], "pending": [], "refused": [], "failed": []}
    assert "Not done" not in turn.reply and "dashboards" in turn.reply
    told = [m["content"] for m in model.requests[1]["messages"] if m["role"] == "tool"][-1]
    assert "question" in told
