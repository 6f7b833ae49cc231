"""OpenAIChatModel against a fake OpenAI-compatible endpoint: parsing, structured output,
retries, error sentences and accounting."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from agents.llm import (
    BadApiKey,
    Budget,
    BudgetExhausted,
    ContextTooLong,
    EndpointFailing,
    EndpointUnreachable,
    LLMRequestFailed,
    MalformedToolCall,
    ModelNotFound,
    OpenAIChatModel,
    RateLimited,
    RetryPolicy,
    StructuredOutputInvalid,
)

ASK = [{"role": "user", "content": "What is open for ACME?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "find_account",
            "description": "Find an account by name.",
            "parameters": {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"],
            },
        },
    }
]


class Route(BaseModel):
    agents: list[Literal["sales", "service", "delivery"]] = Field(min_length=1)
    account: str | None


async def test_tool_calls_are_parsed(fake_endpoint, fake_model):
    fake_endpoint.tool_calls(("find_account", '{"name": "ACME"}'), ("find_account", ""))
    result = await fake_model.chat(agent="sales", messages=ASK, tools=TOOLS, tool_choice="auto")
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("find_account", {"name": "ACME"}),
        ("find_account", {}),
    ]
    assert result.tool_calls[0].id == "call_0"
    assert result.finish_reason == "tool_calls"
    sent = fake_endpoint.bodies()[0]
    assert sent["model"] == "default-model"
    assert sent["tools"] == TOOLS and sent["tool_choice"] == "auto"
    history_part = result.assistant_message()["tool_calls"][0]
    assert json.loads(history_part["function"]["arguments"]) == {"name": "ACME"}


async def test_text_reply_and_model_per_role(fake_endpoint):
    model = fake_endpoint.model(models={"router": "small-model"})
    fake_endpoint.reply("Hello.").reply("Hi.")
    assert (await model.chat(agent="router", messages=ASK)).text == "Hello."
    assert (await model.chat(agent="sales", messages=ASK)).text == "Hi."
    assert [b["model"] for b in fake_endpoint.bodies()] == ["small-model", "default-model"]
    assert "tools" not in fake_endpoint.bodies()[0]


async def test_garbage_tool_call_json_is_a_clear_error(fake_endpoint, fake_model):
    fake_endpoint.tool_calls(("find_account", '{"name": "ACME"'))
    with pytest.raises(MalformedToolCall) as caught:
        await fake_model.chat(agent="sales", messages=ASK, tools=TOOLS)
    message = caught.value.user_message
    assert "sales agent" in message and "'find_account'" in message
    assert "not a JSON object" in message


async def test_tool_call_arguments_must_be_an_object(fake_endpoint, fake_model):
    fake_endpoint.tool_calls(("find_account", "[1, 2]"))
    with pytest.raises(MalformedToolCall, match="JSON list"):
        await fake_model.chat(agent="sales", messages=ASK, tools=TOOLS)


async def test_structured_output_valid(fake_endpoint, fake_model):
    fake_endpoint.reply('{"agents": ["sales"], "account": "ACME"}')
    route = await fake_model.structured(agent="router", messages=ASK, schema=Route)
    assert route == Route(agents=["sales"], account="ACME")
    response_format = fake_endpoint.bodies()[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Route"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"]["additionalProperties"] is False


async def test_structured_output_tolerates_a_markdown_fence(fake_endpoint, fake_model):
    fake_endpoint.reply('```json\n{"agents": ["service"], "account": null}\n```')
    route = await fake_model.structured(agent="router", messages=ASK, schema=Route)
    assert route.agents == ["service"]


async def test_structured_output_invalid_then_repaired(fake_endpoint, fake_model):
    fake_endpoint.reply('{"agents": ["marketing"], "account": "ACME"}')
    fake_endpoint.reply('{"agents": ["sales"], "account": "ACME"}')
    route = await fake_model.structured(agent="router", messages=ASK, schema=Route)
    assert route.agents == ["sales"]
    repair = fake_endpoint.bodies()[1]["messages"]
    assert repair[-2] == {
        "role": "assistant",
        "content": '{"agents": ["marketing"], "account": "ACME"}',
    }
    assert repair[-1]["role"] == "user" and "marketing" in repair[-1]["content"]
    assert fake_model.budget.by_agent["router"].calls == 2


async def test_structured_output_invalid_twice_is_a_typed_error(fake_endpoint, fake_model):
    fake_endpoint.reply("Sure! The sales team.").reply('{"agents": []}')
    with pytest.raises(StructuredOutputInvalid) as caught:
        await fake_model.structured(agent="router", messages=ASK, schema=Route)
    assert "router agent" in caught.value.user_message
    assert "Route" in caught.value.user_message
    assert caught.value.raw == '{"agents": []}'


async def test_429_honours_retry_after_then_succeeds(fake_endpoint, fake_model):
    fake_endpoint.error(429, "slow down", headers={"retry-after": "7"}).reply("ok")
    result = await fake_model.chat(agent="sales", messages=ASK)
    assert result.text == "ok"
    assert fake_endpoint.sleeps == [7.0]
    assert len(fake_endpoint.requests) == 2


async def test_retry_after_ms_and_http_date(fake_endpoint):
    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    model = fake_endpoint.model(retry=RetryPolicy(3, sleep=fake_endpoint.sleep, clock=lambda: now))
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    fake_endpoint.error(429, headers={"retry-after-ms": "1500"})
    fake_endpoint.error(503, headers={"retry-after": later})
    fake_endpoint.reply("ok")
    assert (await model.chat(agent="sales", messages=ASK)).text == "ok"
    assert fake_endpoint.sleeps == [1.5, 30.0]


async def test_500_is_retried_with_backoff(fake_endpoint, fake_model):
    fake_endpoint.error(500, "boom").error(502, "bad gateway").reply("ok")
    assert (await fake_model.chat(agent="sales", messages=ASK)).text == "ok"
    assert len(fake_endpoint.sleeps) == 2
    assert all(0 <= wait <= 20 for wait in fake_endpoint.sleeps)


async def test_retries_are_bounded(fake_endpoint, fake_model):
    for _ in range(4):
        fake_endpoint.error(429, headers={"retry-after": "1"})
    with pytest.raises(RateLimited) as caught:
        await fake_model.chat(agent="sales", messages=ASK)
    assert len(fake_endpoint.requests) == 4  # 1 + 3 retries, the SDK itself retries none
    assert "after 4 attempts" in caught.value.user_message


async def test_server_errors_that_persist(fake_endpoint, fake_model):
    for _ in range(4):
        fake_endpoint.error(503, "overloaded")
    with pytest.raises(EndpointFailing, match="HTTP 503"):
        await fake_model.chat(agent="sales", messages=ASK)


async def test_401_is_the_bad_key_sentence(fake_endpoint, fake_model):
    fake_endpoint.error(401, "Incorrect API key provided")
    with pytest.raises(BadApiKey) as caught:
        await fake_model.chat(agent="sales", messages=ASK)
    assert caught.value.user_message == (
        "The language model endpoint at http://fake-llm.test/v1 rejected the API key (HTTP 401); "
        "set WARROOM_LLM_API_KEY to a valid key for that endpoint."
    )
    assert len(fake_endpoint.requests) == 1  # never retried


async def test_404_model_is_the_model_missing_sentence(fake_endpoint, fake_model):
    fake_endpoint.error(404, "The model `gpt-9` does not exist", code="model_not_found")
    with pytest.raises(ModelNotFound) as caught:
        await fake_model.chat(agent="sales", messages=ASK)
    assert "The model 'default-model' does not exist at http://fake-llm.test/v1" in (
        caught.value.user_message
    )


async def test_model_missing_as_llama_cpp_python_says_it(fake_endpoint, fake_model):
    fake_endpoint.error(400, "The model `big` does not exist", code="model_not_found")
    with pytest.raises(ModelNotFound):
        await fake_model.chat(agent="sales", messages=ASK)


async def test_a_404_without_a_model_is_not_blamed_on_the_model(fake_endpoint, fake_model):
    fake_endpoint.error(404, "Not Found")
    with pytest.raises(LLMRequestFailed, match="HTTP 404"):
        await fake_model.chat(agent="sales", messages=ASK)


async def test_context_too_long(fake_endpoint, fake_model):
    fake_endpoint.error(
        400,
        "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens",
        code="context_length_exceeded",
    )
    with pytest.raises(ContextTooLong) as caught:
        await fake_model.chat(agent="service", messages=ASK)
    assert "too long for the service agent's model 'default-model'" in caught.value.user_message


async def test_connection_refused_names_the_url(fake_endpoint):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    model = OpenAIChatModel(
        base_url=url, api_key="k", model="m", retry=RetryPolicy(2, sleep=fake_endpoint.sleep)
    )
    with pytest.raises(EndpointUnreachable) as caught:
        await model.chat(agent="sales", messages=ASK)
    await model.aclose()
    assert f"The language model endpoint at {url} could not be reached" in (
        caught.value.user_message
    )
    assert len(fake_endpoint.sleeps) == 2  # connection errors are retried, then reported


async def test_budget_exhausted_by_calls_before_the_request(fake_endpoint):
    model = fake_endpoint.model(budget=Budget(max_tokens=10_000, max_calls=2))
    fake_endpoint.reply("one").reply("two")
    await model.chat(agent="sales", messages=ASK)
    await model.chat(agent="service", messages=ASK)
    with pytest.raises(BudgetExhausted) as caught:
        await model.chat(agent="sales", messages=ASK)
    assert len(fake_endpoint.requests) == 2  # the third call never left
    assert "(2 of 2 calls)" in caught.value.user_message
    assert "WARROOM_LLM_BUDGET_CALLS" in caught.value.user_message


async def test_budget_exhausted_by_tokens(fake_endpoint):
    model = fake_endpoint.model(budget=Budget(max_tokens=40, max_calls=10))
    fake_endpoint.reply("one", prompt_tokens=30, completion_tokens=8)
    await model.chat(agent="sales", messages=ASK)
    with pytest.raises(BudgetExhausted, match="38 of 40 tokens"):
        await model.chat(agent="sales", messages=ASK)


async def test_token_accounting_per_agent_and_turns(fake_endpoint):
    model = fake_endpoint.model(budget=Budget(max_tokens=1000, max_calls=5))
    fake_endpoint.reply("a", prompt_tokens=10, completion_tokens=2)
    fake_endpoint.reply("b", prompt_tokens=20, completion_tokens=4)
    fake_endpoint.reply("c", prompt_tokens=30, completion_tokens=6)
    await model.chat(agent="router", messages=ASK)
    await model.chat(agent="sales", messages=ASK)
    await model.chat(agent="sales", messages=ASK)
    report = model.budget.report()
    assert report["by_agent"]["router"]["prompt_tokens"] == 10
    assert report["by_agent"]["sales"] | {"seconds": 0} == {
        "calls": 2, "prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60,
        "seconds": 0, "cached_tokens": 0, "evaluated_tokens": 50,
    }  # fmt: skip
    assert report["total"]["total_tokens"] == 72 and report["total"]["calls"] == 3
    assert model.budget.by_agent["sales"].seconds > 0

    next_turn = model.for_turn()
    assert next_turn.budget.tokens_used == 0 and next_turn.budget.max_calls == 5
    assert model.budget.calls_used == 3  # the earlier turn's record is untouched
