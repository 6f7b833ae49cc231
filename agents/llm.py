"""The LLM layer's public face: import everything the graph needs from here.

    from agents.llm import Budget, ChatModel, build_chat_model

`build_chat_model(settings)` picks the endpoint: a configured OpenAI-compatible one, or the
embedded local model (served by llama.cpp in a child process).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol

from agents.llm_budget import AgentUsage, Budget, estimate_tokens
from agents.llm_dialect import LLAMA_CPP_PYTHON, LLAMA_SERVER, OPENAI, Dialect
from agents.llm_errors import (
    BadApiKey,
    BudgetExhausted,
    ContextTooLong,
    EndpointFailing,
    EndpointUnreachable,
    GarbageOutput,
    LLMError,
    LLMRequestFailed,
    LocalModelFetchFailed,
    LocalModelNotFetched,
    LocalRuntimeMissing,
    LocalServerFailed,
    MalformedToolCall,
    ModelHashMismatch,
    ModelNotFound,
    RateLimited,
    ScriptExhausted,
    ScriptMismatch,
    StructuredOutputInvalid,
)
from agents.llm_openai import OpenAIChatModel
from agents.llm_retry import RetryPolicy
from agents.llm_scripted import ScriptedChatModel, ScriptStep
from agents.llm_types import ChatModel, ChatResult, Message, TokenUsage, ToolCall, ToolChoice
from agents.pii import PIIMaskingChatModel

__all__ = [
    "AgentUsage",
    "BadApiKey",
    "Budget",
    "BudgetExhausted",
    "ChatModel",
    "ChatResult",
    "ContextTooLong",
    "Dialect",
    "EndpointFailing",
    "EndpointUnreachable",
    "GarbageOutput",
    "LLAMA_CPP_PYTHON",
    "LLAMA_SERVER",
    "LLMError",
    "LLMRequestFailed",
    "LocalModelFetchFailed",
    "LocalModelNotFetched",
    "LocalRuntimeMissing",
    "LocalServerFailed",
    "MalformedToolCall",
    "Message",
    "ModelHashMismatch",
    "ModelNotFound",
    "OPENAI",
    "OpenAIChatModel",
    "PIIMaskingChatModel",
    "RateLimited",
    "RetryPolicy",
    "ScriptExhausted",
    "ScriptMismatch",
    "ScriptStep",
    "ScriptedChatModel",
    "StructuredOutputInvalid",
    "TokenUsage",
    "ToolCall",
    "ToolChoice",
    "build_chat_model",
    "estimate_tokens",
    "uses_external_endpoint",
]


class Settings(Protocol):
    """What building a model needs from the settings; `warroom.settings.Settings` has it. (A
    protocol, so the agents layer does not import the composition root above it.)"""

    @property
    def llm_base_url(self) -> str | None: ...
    @property
    def llm_api_key(self) -> str | None: ...
    @property
    def llm_model(self) -> str: ...
    @property
    def llm_models(self) -> dict[str, str]: ...
    @property
    def local_model(self) -> Path | None: ...
    @property
    def local_runtime(self) -> str: ...
    @property
    def llm_timeout_seconds(self) -> float: ...
    @property
    def llm_max_retries(self) -> int: ...
    @property
    def llm_budget_tokens(self) -> int: ...
    @property
    def llm_budget_calls(self) -> int: ...
    @property
    def model_cache_dir(self) -> Path | None: ...
    @property
    def mask_pii(self) -> bool | None: ...
    def uses_external_llm(self) -> bool: ...
    def masks_pii(self) -> bool: ...


_announced_local = False
# The embedded model's longest chat answer, in tokens (a few paragraphs, or several calls).
LOCAL_MAX_ANSWER_TOKENS = 700
# Its longest schema answer: a meeting window's items, changes and summary fit well within it;
# without a bound a 1.5B model was seen writing one answer for many minutes.
LOCAL_MAX_STRUCTURED_TOKENS = 1200


def uses_external_endpoint(settings: Settings) -> bool:
    """True when requests go to WARROOM_LLM_BASE_URL instead of the embedded model (the
    decision lives in `Settings.uses_external_llm`; OPENAI_API_KEY alone changes nothing)."""
    return settings.uses_external_llm()


def build_chat_model(settings: Settings) -> OpenAIChatModel | PIIMaskingChatModel:
    """The configured model, with the settings' per-turn budget as its template; wrapped in PII
    masking when `mask_pii` says so (default: external endpoints only).

    Blocks while the embedded server starts (a few seconds), so call it at start-up, before
    the event loop gets busy. Raises an `LLMError` with a full sentence when it cannot work.
    """
    model = _build_unmasked(settings)
    return PIIMaskingChatModel(model) if settings.masks_pii() else model


def _build_unmasked(settings: Settings) -> OpenAIChatModel:
    budget = Budget(settings.llm_budget_tokens, settings.llm_budget_calls)
    retry = RetryPolicy(settings.llm_max_retries)
    if uses_external_endpoint(settings):
        return OpenAIChatModel(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            model=settings.llm_model,
            models=settings.llm_models,
            timeout=settings.llm_timeout_seconds,
            retry=retry,
            budget=budget,
        )
    # Imported here: the local-model modules are only needed without an endpoint.
    from agents.local_model import default_cache_dir, resolve_local_model
    from agents.local_model_server import LOCAL_MODEL_ALIAS, LocalModelServer, pick_runtime

    runtime = pick_runtime(settings.local_runtime)
    path = resolve_local_model(settings.local_model, default_cache_dir(settings.model_cache_dir))
    server = LocalModelServer(path, runtime=runtime).start()
    _announce_local(
        server.base_url,
        "Qwen2.5-Coder-1.5B-Instruct" if settings.local_model is None else path.name,
    )
    return OpenAIChatModel(
        base_url=server.base_url,
        api_key=server.api_key,
        # One model serves every role, whatever names the settings give them.
        model=LOCAL_MODEL_ALIAS,
        dialect=LLAMA_SERVER if runtime == "llama-server" else LLAMA_CPP_PYTHON,
        # Greedy decoding: a 1.5B model calls tools and copies ids more reliably without
        # sampling (llama-server's default temperature is 0.8), and runs repeat.
        temperature=0.0,
        max_answer_tokens=LOCAL_MAX_ANSWER_TOKENS,
        max_structured_tokens=LOCAL_MAX_STRUCTURED_TOKENS,
        timeout=settings.llm_timeout_seconds,
        retry=retry,
        budget=budget,
        owned_server=server,
    )


def _announce_local(base_url: str, model: str) -> None:
    global _announced_local
    if not _announced_local:
        _announced_local = True
        print(
            f"Using the embedded local model ({model}) at {base_url}; "
            "set WARROOM_LLM_BASE_URL to use another endpoint.",
            file=sys.stderr,
        )
