"""The real embedded model: starts llama.cpp's server and gets a real tool call back.

Slow (model start-up plus grammar-constrained generation on CPU); deselect with
`-m "not local_llm"`. Skipped, saying why, without llama-cpp-python or the fetched model.
"""

from __future__ import annotations

import httpx2
import pytest

from agents.llm import LLAMA_CPP_PYTHON, OpenAIChatModel

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


async def test_real_local_model_returns_a_tool_call(local_server):
    model = OpenAIChatModel(
        base_url=local_server.base_url,
        api_key=local_server.api_key,
        model="local",
        dialect=LLAMA_CPP_PYTHON,
        temperature=0.0,
    )
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
