"""How requests are bent for llama-cpp-python's server (observed behaviour, faked here)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from agents.llm import LLAMA_CPP_PYTHON, LLMRequestFailed

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "list_tickets",
            "parameters": {"type": "object", "properties": {"account_id": {"type": "string"}}},
        },
    }
]
HISTORY = [
    {"role": "user", "content": "Open tickets of A-17?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "list_tickets", "arguments": '{"account_id": "A-17"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '[{"id": "T-1"}]'},
]


class Answer(BaseModel):
    answer: str


async def test_tool_results_become_user_turns_and_null_content_a_string(fake_endpoint):
    model = fake_endpoint.model(dialect=LLAMA_CPP_PYTHON)
    fake_endpoint.reply("One ticket is open.")
    result = await model.chat(agent="service", messages=HISTORY, tools=TOOLS)
    assert result.text == "One ticket is open."
    sent = fake_endpoint.bodies()[0]["messages"]
    assert sent[1]["content"] == "" and sent[1]["tool_calls"][0]["id"] == "call_1"
    assert sent[2] == {
        "role": "user",
        "content": 'Result of functions.list_tickets:\n[{"id": "T-1"}]',
    }
    assert HISTORY[2]["role"] == "tool"  # the caller's history is not modified


async def test_openai_dialect_sends_the_history_as_is(fake_endpoint, fake_model):
    fake_endpoint.reply("ok")
    await fake_model.chat(agent="service", messages=HISTORY, tools=TOOLS)
    assert fake_endpoint.bodies()[0]["messages"] == HISTORY
    assert fake_endpoint.bodies()[0]["tool_choice"] == "auto"


async def test_empty_auto_reply_is_asked_again_without_tools(fake_endpoint):
    model = fake_endpoint.model(dialect=LLAMA_CPP_PYTHON)
    fake_endpoint.reply("", prompt_tokens=5, completion_tokens=1).reply("Hello!")
    result = await model.chat(agent="sales", messages=HISTORY[:1], tools=TOOLS)
    assert result.text == "Hello!"
    first, second = fake_endpoint.bodies()
    assert "tools" in first and "tools" not in second and "tool_choice" not in second
    assert result.usage.prompt_tokens == 16 and model.budget.by_agent["sales"].calls == 2


async def test_required_tool_choice_becomes_the_single_tool(fake_endpoint):
    model = fake_endpoint.model(dialect=LLAMA_CPP_PYTHON)
    fake_endpoint.tool_calls(("list_tickets", '{"account_id": "A-17"}'))
    await model.chat(agent="service", messages=HISTORY[:1], tools=TOOLS, tool_choice="required")
    assert fake_endpoint.bodies()[0]["tool_choice"] == {
        "type": "function",
        "function": {"name": "list_tickets"},
    }


async def test_structured_uses_the_json_object_dialect(fake_endpoint):
    model = fake_endpoint.model(dialect=LLAMA_CPP_PYTHON)
    fake_endpoint.reply('{"answer": "yes"}')
    assert await model.structured(agent="router", messages=HISTORY[:1], schema=Answer)
    response_format = fake_endpoint.bodies()[0]["response_format"]
    assert response_format["type"] == "json_object"
    assert response_format["schema"]["required"] == ["answer"]


async def test_a_server_rejecting_json_schema_gets_the_other_dialect(fake_endpoint, fake_model):
    fake_endpoint.error(422, "response_format.type: Input should be 'text' or 'json_object'")
    fake_endpoint.reply('{"answer": "yes"}').reply('{"answer": "again"}')
    assert (await fake_model.structured(agent="r", messages=HISTORY[:1], schema=Answer)).answer
    await fake_model.structured(agent="r", messages=HISTORY[:1], schema=Answer)
    kinds = [body["response_format"]["type"] for body in fake_endpoint.bodies()]
    assert kinds == ["json_schema", "json_object", "json_object"]


async def test_request_validation_errors_reported_as_500_are_not_retried(fake_endpoint, fake_model):
    fake_endpoint.error(500, "7 validation errors: messages.2.content Input should be a string")
    with pytest.raises(LLMRequestFailed) as caught:
        await fake_model.chat(agent="sales", messages=HISTORY)
    assert len(fake_endpoint.requests) == 1 and fake_endpoint.sleeps == []
    assert "refused the request with HTTP 500 (7 validation errors" in caught.value.user_message
