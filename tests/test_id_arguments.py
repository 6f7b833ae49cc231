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
