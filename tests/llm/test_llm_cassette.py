"""Real model exchanges, recorded once against the embedded local model and replayed.

Re-record (needs the fetched model and llama-server (`make setup-local`)):
    pytest tests/llm/test_llm_cassette.py --record-mode=rewrite
Without a recording mode an unrecorded request fails instead of reaching any server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

import pytest
from pydantic import BaseModel
from vcr.errors import CannotOverwriteExistingCassetteException

from agents.llm import LLAMA_SERVER, OpenAIChatModel, RetryPolicy

from .conftest import CASSETTE_API_KEY, CASSETTE_BASE_URL


class Route(BaseModel):
    agents: list[Literal["sales", "service", "delivery"]]


LIST_TICKETS = {
    "type": "function",
    "function": {
        "name": "list_tickets",
        "description": "List the open support tickets of an account.",
        "parameters": {
            "type": "object",
            "properties": {"account": {"type": "string"}},
            "required": ["account"],
        },
    },
}


@pytest.fixture
async def recorded_model(request, record_mode) -> AsyncIterator[OpenAIChatModel]:
    if record_mode == "none":  # replay: any address of the same shape, a fake key
        base_url, api_key = CASSETTE_BASE_URL, CASSETTE_API_KEY
    else:
        server = request.getfixturevalue("local_server")
        base_url, api_key = server.base_url, server.api_key
    model = OpenAIChatModel(
        base_url=base_url,
        api_key=api_key,
        model="local",
        dialect=LLAMA_SERVER,
        temperature=0.0,
        max_answer_tokens=700,
    )
    yield model
    await model.aclose()


@pytest.mark.vcr
async def test_recorded_structured_output_and_tool_call(recorded_model):
    route = await recorded_model.structured(
        agent="router",
        messages=[
            {"role": "system", "content": "Pick the agents: sales, service or delivery."},
            {"role": "user", "content": "ACME has a P1 ticket open."},
        ],
        schema=Route,
    )
    assert route.agents and set(route.agents) <= {"sales", "service", "delivery"}

    result = await recorded_model.chat(
        agent="service",
        messages=[{"role": "user", "content": "List the open tickets of ACME."}],
        tools=[LIST_TICKETS],
    )
    assert [call.name for call in result.tool_calls] == ["list_tickets"]
    assert "ACME" in result.tool_calls[0].arguments["account"]
    usage = recorded_model.budget.by_agent
    assert usage["router"].total_tokens > 0 and usage["service"].total_tokens > 0


@pytest.mark.vcr
async def test_an_unrecorded_request_never_reaches_a_server(record_mode):
    if record_mode != "none":
        pytest.skip("only meaningful when replaying")

    async def no_wait(seconds: float) -> None:
        return None

    model = OpenAIChatModel(
        base_url=CASSETTE_BASE_URL,
        api_key=CASSETTE_API_KEY,
        model="local",
        retry=RetryPolicy(1, sleep=no_wait),
    )
    with pytest.raises(CannotOverwriteExistingCassetteException):
        await model.chat(agent="sales", messages=[{"role": "user", "content": "not recorded"}])
    await model.aclose()
