"""Fixtures of the LLM layer's tests: a fake OpenAI-compatible endpoint in memory, and the
pytest-recording setup for real model exchanges (unrecorded calls fail by default)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from agents.llm_openai import OpenAIChatModel
from agents.llm_retry import RetryPolicy
from agents.local_model import BUNDLED_MODEL, default_cache_dir, is_fetched

FAKE_URL = "http://fake-llm.test/v1"
# Replayed cassettes need some key; recorded ones never contain the real one (filtered).
CASSETTE_API_KEY = "sk-fake-key-for-cassettes"
CASSETTE_BASE_URL = "http://127.0.0.1:8999/v1"

Responder = Callable[[httpx2.Request], httpx2.Response]


def completion_body(
    content: str | None = None,
    tool_calls: list[tuple[str, str]] | None = None,
    *,
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
) -> dict[str, Any]:
    calls = [
        {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": raw}}
        for n, (name, raw) in enumerate(tool_calls or [])
    ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_760_000_000,
        "model": "fake-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "tool_calls": calls or None},
                "finish_reason": "tool_calls" if calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class FakeEndpoint:
    """Answers queued responses in order and records every request and every retry wait."""

    def __init__(self) -> None:
        self.queue: list[Responder] = []
        self.requests: list[httpx2.Request] = []
        self.sleeps: list[float] = []

    def reply(self, content: str | None = None, **usage: int) -> FakeEndpoint:
        body = completion_body(content, **usage)
        self.queue.append(lambda request: httpx2.Response(200, json=body))
        return self

    def tool_calls(self, *calls: tuple[str, str]) -> FakeEndpoint:
        body = completion_body(None, list(calls))
        self.queue.append(lambda request: httpx2.Response(200, json=body))
        return self

    def error(
        self, status: int, message: str = "error", *, code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> FakeEndpoint:  # fmt: skip
        body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
        self.queue.append(lambda request: httpx2.Response(status, json=body, headers=headers))
        return self

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if not self.queue:
            raise AssertionError(f"unexpected request to the fake endpoint: {request.url}")
        return self.queue.pop(0)(request)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def model(self, **overrides: Any) -> OpenAIChatModel:
        options: dict[str, Any] = {
            "base_url": FAKE_URL,
            "api_key": "sk-test",
            "model": "default-model",
            "retry": RetryPolicy(3, sleep=self.sleep),
            "http_client": httpx2.AsyncClient(transport=httpx2.MockTransport(self._handle)),
        }
        return OpenAIChatModel(**{**options, **overrides})


@pytest.fixture
def fake_endpoint() -> FakeEndpoint:
    return FakeEndpoint()


@pytest.fixture
async def fake_model(fake_endpoint: FakeEndpoint) -> AsyncIterator[OpenAIChatModel]:
    model = fake_endpoint.model()
    yield model
    await model.aclose()


# --- the real local model ---------------------------------------------------------------


def local_model_path() -> Path | None:
    """The fetched bundled model, or None (tests needing it skip with the reason)."""
    cache = default_cache_dir()
    return cache / BUNDLED_MODEL.filename if is_fetched(cache) else None


def local_runtime_missing() -> str | None:
    from agents.llm_errors import LocalRuntimeMissing
    from agents.local_model_server import check_local_runtime

    try:
        check_local_runtime()
    except LocalRuntimeMissing as error:
        return error.user_message
    return None


@pytest.fixture(scope="session")
def local_server() -> Iterator[Any]:
    """One real llama.cpp server for the whole session (start-up costs seconds)."""
    if reason := local_runtime_missing():
        pytest.skip(reason)
    path = local_model_path()
    if path is None:
        pytest.skip("the local model is not fetched; run `warroom model fetch` first")
    from agents.local_model_server import LocalModelServer

    with LocalModelServer(path, n_ctx=4096) as server:
        yield server


# --- pytest-recording -------------------------------------------------------------------


@pytest.fixture
def vcr_config(record_mode: str) -> dict[str, Any]:
    return {
        # "none" unless --record-mode says otherwise: an unrecorded call fails the test.
        "record_mode": record_mode,
        "filter_headers": ["authorization", "api-key", "x-api-key", "openai-organization"],
        # The local server's port is random, so host and port must not take part.
        "match_on": ["method", "path", "body"],
        "decode_compressed_response": True,
        "before_record_request": _skip_readiness_probes,
    }


def _skip_readiness_probes(request: Any) -> Any:
    """The local server's start-up polling is not part of any exchange worth replaying."""
    return None if request.method == "GET" and request.path.endswith("/models") else request


@pytest.fixture
def vcr_cassette_dir() -> str:
    return str(Path(__file__).parent / "cassettes")
