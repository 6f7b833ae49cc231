"""ScriptedChatModel: the deterministic model of tests and scripted eval scenarios."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel

from agents.llm import (
    Budget,
    BudgetExhausted,
    ChatModel,
    MalformedToolCall,
    ScriptedChatModel,
    ScriptExhausted,
    ScriptMismatch,
    ScriptStep,
    StructuredOutputInvalid,
    ToolCall,
)

ASK = [{"role": "user", "content": "Give ACME a 30% discount."}]


class Route(BaseModel):
    agents: list[Literal["sales", "service", "delivery"]]


def script() -> ScriptedChatModel:
    return ScriptedChatModel(
        [
            {"agent": "router", "output": {"agents": ["sales"]}},
            {
                "agent": "sales",
                "tool_calls": [{"name": "find_account", "arguments": {"name": "ACME"}}],
            },
            ScriptStep(agent="sales", reply="I proposed a 30% discount for review."),
        ]
    )


async def test_replays_matching_steps_in_order():
    model = script()
    assert isinstance(model, ChatModel)
    route = await model.structured(agent="router", messages=ASK, schema=Route)
    assert route == Route(agents=["sales"])
    first = await model.chat(agent="sales", messages=ASK, tools=[])
    assert first.tool_calls == [ToolCall("call_2_1", "find_account", {"name": "ACME"})]
    assert first.finish_reason == "tool_calls"
    second = await model.chat(agent="sales", messages=ASK)
    assert second.text == "I proposed a 30% discount for review." and not second.tool_calls
    model.assert_exhausted()
    assert [r["agent"] for r in model.requests] == ["router", "sales", "sales"]


async def test_counts_approximate_tokens_per_agent():
    model = script()
    await model.structured(agent="router", messages=ASK, schema=Route)
    await model.chat(agent="sales", messages=ASK)
    usage = model.budget.by_agent
    assert usage["router"].prompt_tokens > 0 and usage["router"].completion_tokens > 0
    assert usage["sales"].calls == 1 and usage["sales"].total_tokens > 0


async def test_agent_mismatch_names_expected_and_got():
    model = script()
    with pytest.raises(ScriptMismatch) as caught:
        await model.chat(agent="service", messages=ASK)
    assert caught.value.user_message.startswith(
        "Script step 1 expected a call from agent 'router' but got 'service'"
    )


async def test_kind_mismatch_is_reported():
    model = ScriptedChatModel([{"agent": "router", "output": {"agents": ["sales"]}}])
    with pytest.raises(ScriptMismatch, match="kind 'structured' but got 'chat'"):
        await model.chat(agent="router", messages=ASK)


async def test_exhaustion_is_a_clear_error():
    model = ScriptedChatModel([ScriptStep(agent="sales", reply="done")])
    await model.chat(agent="sales", messages=ASK)
    with pytest.raises(ScriptExhausted) as caught:
        await model.chat(agent="sales", messages=ASK)
    assert "script's 1 steps are used up, but the sales agent asked" in caught.value.user_message


async def test_unplayed_steps_are_reported():
    with pytest.raises(AssertionError, match="3 script steps were never asked for: router"):
        script().assert_exhausted()


async def test_scripted_garbage_behaves_like_a_server():
    model = ScriptedChatModel(
        [
            {"agent": "router", "reply": "sales, I think"},
            {"agent": "sales", "tool_calls": [{"name": "find_account", "arguments": "{oops"}]},
        ]
    )
    with pytest.raises(StructuredOutputInvalid):
        await model.structured(agent="router", messages=ASK, schema=Route)
    with pytest.raises(MalformedToolCall):
        await model.chat(agent="sales", messages=ASK)


async def test_budget_applies_and_turns_share_the_script():
    model = ScriptedChatModel(
        [ScriptStep(agent="sales", reply="a"), ScriptStep(agent="sales", reply="b")],
        budget=Budget(max_tokens=10_000, max_calls=1),
    )
    await model.chat(agent="sales", messages=ASK)
    with pytest.raises(BudgetExhausted):
        await model.chat(agent="sales", messages=ASK)
    next_turn = model.for_turn()
    assert (await next_turn.chat(agent="sales", messages=ASK)).text == "b"
    model.assert_exhausted()


def test_unknown_step_keys_are_rejected():
    with pytest.raises(ValueError, match="unknown script step keys"):
        ScriptedChatModel([{"agent": "sales", "replies": "typo"}])
