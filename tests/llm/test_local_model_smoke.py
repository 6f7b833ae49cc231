"""The real embedded model: starts llama.cpp's server and gets a real tool call back.

Slow (model start-up plus generation on CPU); deselect with `-m "not local_llm"`. Skipped,
saying why, without a runtime for it (llama-server or llama-cpp-python) or the fetched model.
"""

from __future__ import annotations

import httpx2
import pytest
from pydantic import BaseModel

from agents.llm import LLAMA_CPP_PYTHON, LLAMA_SERVER, OpenAIChatModel

pytestmark = pytest.mark.local_llm

FIND_ACCOUNT = {
    "type": "function",
    "function": {
        "name": "find_account",
        "description": "Find a CRM account by its name.",
        "parameters": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        },
    },
}


def _model(server) -> OpenAIChatModel:  # type: ignore[no-untyped-def]
    return OpenAIChatModel(
        base_url=server.base_url,
        api_key=server.api_key,
        model="local",
        dialect=LLAMA_SERVER if server.runtime == "llama-server" else LLAMA_CPP_PYTHON,
        temperature=0.0,
        max_answer_tokens=200,
    )


async def test_real_local_model_returns_a_tool_call(local_server):
    model = _model(local_server)
    try:
        result = await model.chat(
            agent="sales",
            messages=[{"role": "user", "content": "Find the account ACME Corp."}],
            tools=[FIND_ACCOUNT],
        )
    finally:
        await model.aclose()
    assert [call.name for call in result.tool_calls] == ["find_account"]
    assert "acme" in result.tool_calls[0].arguments["name"].lower()
    assert model.budget.by_agent["sales"].completion_tokens > 0


def test_the_server_refuses_requests_without_its_key(local_server):
    assert httpx2.get(f"{local_server.base_url}/models", timeout=10).status_code == 401
    assert local_server.base_url.startswith("http://127.0.0.1:")


class Route(BaseModel):
    agents: list[str]
    account: str | None = None


async def test_real_local_model_answers_in_a_schema_and_streams_words(local_server):
    model = _model(local_server)
    words: list[str] = []
    try:
        route = await model.structured(
            agent="router",
            messages=[
                {"role": "system", "content": "Pick the agents (sales, service, delivery)."},
                {"role": "user", "content": "Log a call with Acme about pricing."},
            ],
            schema=Route,
        )
        answer = await model.chat(
            agent="sales",
            messages=[{"role": "user", "content": "Say hello to Alice in five words."}],
            on_text=words.append,
        )
    finally:
        await model.aclose()
    assert route.agents and set(route.agents) <= {"sales", "service", "delivery"}
    assert answer.text and "".join(words).strip() == answer.text.strip()
