"""Ids as a small model writes them: copied with the record's name, quoted, or invented while
the request names an account — resolved in code before the tool runs."""

from __future__ import annotations

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from agents.specialist import _id_of, _ids_cleaned
from tools.service import CRMService


def test_an_id_copied_with_its_name_or_quoted_is_the_id() -> None:
    assert _id_of("con-raj Raj Mehta") == "con-raj"
    assert _id_of("`opp-acme-1`") == "opp-acme-1"
    assert _id_of('"tkt-helix-1",') == "tkt-helix-1"
    assert _id_of("opp-acme-1") == "opp-acme-1"
    assert _id_of("Acme Corp") == "Acme Corp"  # not an id: left for the tool to refuse
    assert _id_of(42) == 42


def test_an_invented_account_id_means_the_linked_account() -> None:
    messages = [{"role": "user", "content": "The request is about account acc-acme."}]
    cleaned = _ids_cleaned(
        {"account_id": "acc-12345", "contact_ids": ["con-jane Jane Doe"]}, messages, "acc-acme"
    )
    assert cleaned == {"account_id": "acc-acme", "contact_ids": ["con-jane"]}
    # an account the conversation names stays as given; with no linked account nothing changes
    named = [{"role": "user", "content": "Compare acc-acme with acc-globex."}]
    assert _ids_cleaned({"account_id": "acc-globex"}, named, "acc-acme") == {
        "account_id": "acc-globex"
    }
    assert _ids_cleaned({"account_id": "acc-12345"}, messages, None) == {"account_id": "acc-12345"}


async def test_the_tool_gets_the_clean_id(crm: CRMService) -> None:
    model = ScriptedChatModel(
        [
            {
                "agent": "sales",
                "tool_calls": [
                    {"name": "get_opportunity", "arguments": {"opportunity_id": "opp-acme-1 Acme"}}
                ],
            },
            {"agent": "sales", "reply": "opp-acme-1 is in proposal."},
        ]
    )
    turn = await ConversationService(crm=crm, model=model).send(
        thread_id="t-ids", user_id="u-alice", text="What stage is opp-acme-1 in?"
    )
    tools = [e for e in turn.events if e["type"] == "tool"]
    assert tools[-1]["arguments"] == {"opportunity_id": "opp-acme-1"} and tools[-1]["ok"]


def test_a_record_named_in_the_request() -> None:
    from agents.specialist import _names

    assert _names("Email Jane at Acme a thank-you.", "Jane Doe")
    assert not _names("Email Raj at Acme.", "Jane Doe")
    assert _names("给王芳发一封邮件", "王芳 Wang Fang")
    assert _names("Call Wang Fang today", "王芳 Wang Fang")
    assert _names("把华星实施项目的上线日期提前", "华星实施")
    assert not _names("Move the onboarding project", "Acme onboarding")  # generic word only


async def test_an_invented_record_id_means_the_record_the_request_names(crm: CRMService) -> None:
    model = ScriptedChatModel(
        [
            {
                "agent": "sales",
                "tool_calls": [
                    {
                        "name": "send_email",
                        "arguments": {
                            "contact_id": "con-12345",
                            "subject": "Thank you",
                            "body": "Thanks for the call.",
                        },
                    }
                ],
            },
            {"agent": "sales", "reply": "The e-mail waits for review."},
        ]
    )
    turn = await ConversationService(crm=crm, model=model).send(
        thread_id="t-ids-2", user_id="u-alice", text="Email Raj at Acme a thank-you."
    )
    tools = [e for e in turn.events if e["type"] == "tool"]
    assert tools[-1]["arguments"]["contact_id"] == "con-raj", tools


async def test_an_invented_id_with_two_unnamed_candidates_stays(crm: CRMService) -> None:
    model = ScriptedChatModel(
        [
            {
                "agent": "sales",
                "tool_calls": [
                    {
                        "name": "send_email",
                        "arguments": {"contact_id": "con-1", "subject": "Hi", "body": "Hello."},
                    }
                ],
            },
            {"agent": "sales", "reply": "Done."},
        ]
    )
    turn = await ConversationService(crm=crm, model=model).send(
        thread_id="t-ids-3", user_id="u-alice", text="Email someone at Acme a hello."
    )
    tools = [e for e in turn.events if e["type"] == "tool"]
    assert tools[-1]["arguments"]["contact_id"] == "con-1" and not tools[-1]["ok"]


def test_a_chinese_company_is_called_by_its_brand() -> None:
    from agents.router import cjk_brand

    assert cjk_brand("华星科技") == "华星"
    assert cjk_brand("华星科技有限公司") == "华星"
    assert cjk_brand("华星") is None
    assert cjk_brand("Acme Corp") is None


async def test_a_refusal_of_a_plain_request_is_asked_once_more(crm: CRMService) -> None:
    """A refusal ("I'm sorry, but I can't assist with that request.") of a CRM read: asked
    once more, the model reads the record; what a user may not do is the tools' and the gate's
    decision."""
    model = ScriptedChatModel(
        [
            {"agent": "sales", "reply": "I'm sorry, but I can't assist with that request."},
            {
                "agent": "sales",
                "tool_calls": [
                    {"name": "get_opportunity", "arguments": {"opportunity_id": "opp-acme-1"}}
                ],
            },
            {"agent": "sales", "reply": "Acme expansion is in proposal."},
        ]
    )
    turn = await ConversationService(crm=crm, model=model).send(
        thread_id="t-refusal", user_id="u-alice", text="What stage is opp-acme-1 in?"
    )
    assert "proposal" in turn.reply and "sorry" not in turn.reply.lower()
    asked_again = [m["content"] for m in model.requests[1]["messages"] if m["role"] == "user"]
    assert "ordinary request" in asked_again[-1]
    model.assert_exhausted()


async def test_a_second_refusal_gives_what_was_found(crm: CRMService) -> None:
    model = ScriptedChatModel(
        [
            {
                "agent": "sales",
                "tool_calls": [
                    {"name": "get_opportunity", "arguments": {"opportunity_id": "opp-acme-1"}}
                ],
            },
            {"agent": "sales", "reply": "I apologize, but I can't assist with that request."},
            {"agent": "sales", "reply": "Sorry, I cannot help with that."},
        ]
    )
    turn = await ConversationService(crm=crm, model=model).send(
        thread_id="t-refusal-2", user_id="u-alice", text="What stage is opp-acme-1 in?"
    )
    assert "sorry" not in turn.reply.lower() and "apologize" not in turn.reply.lower()
    assert "opp-acme-1" in turn.reply


async def test_a_value_the_record_already_holds_is_not_data_sourced(crm: CRMService) -> None:
    """The model repeats the deal's probability while moving its stage: no change, so nothing
    taken from the record's data holds the write for review."""
    probability = 50  # as the fixture holds it
    model = ScriptedChatModel(
        [
            {
                "agent": "sales",
                "tool_calls": [
                    {
                        "name": "update_opportunity",
                        "arguments": {
                            "opportunity_id": "opp-acme-1",
                            "stage": "negotiation",
                            "next_step": "legal review",
                            "probability": probability,
                        },
                    }
                ],
            },
            {"agent": "sales", "reply": "Moved to negotiation."},
        ]
    )
    turn = await ConversationService(crm=crm, model=model).send(
        thread_id="t-same",
        user_id="u-alice",
        text="Move opp-acme-1 to negotiation, next step is legal review.",
    )
    assert [c["tool"] for c in turn.outcome["committed"]] == ["update_opportunity"], turn.outcome


async def test_a_write_the_request_names_and_the_plan_left_out_is_asked_for(
    crm: CRMService,
) -> None:
    """ "Log the call and create a task": the model logs the call and stops; asked by name, it
    proposes the task too. Asked once only."""
    log = {
        "name": "log_activity",
        "arguments": {
            "account_id": "acc-acme",
            "kind": "call",
            "subject": "Pricing call",
            "summary": "Pricing.",
        },
    }
    task = {
        "name": "create_task",
        "arguments": {
            "subject": "Send the quote",
            "due_date": "2026-11-25",
            "account_id": "acc-acme",
        },
    }
    model = ScriptedChatModel(
        [
            {"agent": "sales", "tool_calls": [log]},
            {"agent": "sales", "reply": "Logged the call."},
            {"agent": "sales", "tool_calls": [task]},
            {"agent": "sales", "reply": "Logged the call and created the task."},
        ]
    )
    turn = await ConversationService(crm=crm, model=model).send(
        thread_id="t-left-out",
        user_id="u-alice",
        text="Log a call with acc-acme about pricing and create a task to send the quote.",
    )
    assert sorted(c["tool"] for c in turn.outcome["committed"]) == ["create_task", "log_activity"]
    reminder = [m["content"] for m in model.requests[2]["messages"] if m["role"] == "user"][-1]
    assert "create_task" in reminder
    shown = [t["function"]["name"] for t in model.requests[2]["tools"]]
    assert shown == ["create_task"]  # that one call sees only the missing tool
    assert len(model.requests[3]["tools"]) > 1
    model.assert_exhausted()


def test_writes_a_request_names() -> None:
    from agents.toolselect import asked_writes

    assert asked_writes("Log a call with Jane and create a task to send the quote.") == {
        "log_activity": 1,
        "create_task": 1,
    }
    assert asked_writes("记录一下和陈静的电话，下周五前发报价。") == {
        "log_activity": 1,
        "create_task": 1,
    }
    assert asked_writes("Create 10 follow-up tasks for Acme due Dec 1.") == {"create_task": 10}
    assert asked_writes("What is open with Acme?") == {}


async def test_assigned_to_me_is_the_asker(crm: CRMService) -> None:
    """A request "make tkt-… a P1 assigned to me" whose call leaves the assignee out (or
    writes "me") assigns the asker."""
    ticket = crm.read("list_tickets", {"account_id": "acc-acme"}, crm.actor("u-sam"))["tickets"][0]
    model = ScriptedChatModel(
        [
            {
                "agent": "service",
                "tool_calls": [
                    {
                        "name": "update_ticket",
                        "arguments": {"ticket_id": ticket["id"], "priority": "p1"},
                    }
                ],
            },
            {"agent": "service", "reply": "Done."},
        ]
    )
    turn = await ConversationService(crm=crm, model=model).send(
        thread_id="t-me",
        user_id="u-sam",
        text=f"Make {ticket['id']} a P1 assigned to me.",
    )
    tools = [e for e in turn.events if e["type"] == "tool"]
    assert tools[-1]["arguments"]["assignee_id"] == "u-sam", tools


def test_me_written_as_an_owner_is_the_asker() -> None:
    from agents.specialist import _MEANS_ME

    assert {"me", "rep", "user"} <= _MEANS_ME


def test_a_discount_said_in_zhe_is_percent_off() -> None:
    from agents.grounding import zh_discounts
    from agents.specialist import _discount_as_said

    assert zh_discounts("给华星打八折") == [20]
    assert zh_discounts("打八五折吧") == [15]
    assert zh_discounts("打20%的折扣") == []
    call = {"opportunity_id": "opp-huaxing-1", "percent": 80}
    assert _discount_as_said("apply_discount", call, "华星扩容打八折")["percent"] == 20
    # the model read it right, or the request says no 折: left alone
    assert _discount_as_said("apply_discount", {"percent": 20}, "打八折")["percent"] == 20
    assert _discount_as_said("apply_discount", call, "give them 80% off")["percent"] == 80


async def test_a_logged_call_names_the_contact_and_has_happened(crm: CRMService) -> None:
    """ "Log a call with Jane": the model leaves the contact out and dates the call next week;
    the call is logged with Jane, at the time of logging."""
    model = ScriptedChatModel(
        [
            {
                "agent": "sales",
                "tool_calls": [
                    {
                        "name": "log_activity",
                        "arguments": {
                            "account_id": "acc-acme",
                            "kind": "call",
                            "subject": "Pricing",
                            "summary": "Pricing questions.",
                            "occurred_at": "2099-11-27T14:00:00Z",
                        },
                    }
                ],
            },
            {"agent": "sales", "reply": "Logged."},
        ]
    )
    turn = await ConversationService(crm=crm, model=model).send(
        thread_id="t-call",
        user_id="u-alice",
        text="Log a call with Jane at acc-acme about pricing.",
    )
    call = [e for e in turn.events if e["type"] == "tool"][-1]["arguments"]
    assert call["contact_ids"] == ["con-jane"] and "occurred_at" not in call, call
