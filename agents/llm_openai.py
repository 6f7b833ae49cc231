"""`OpenAIChatModel`: every real model (OpenAI, Azure, vLLM, Ollama, the embedded llama.cpp
server) is reached through the openai SDK over HTTP, so one code path is tested and recorded."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

import httpx2
import openai
from openai import AsyncOpenAI
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from agents.llm_budget import Budget, estimate_tokens
from agents.llm_dialect import OPENAI, Dialect
from agents.llm_errors import (
    BadApiKey,
    ContextTooLong,
    EndpointFailing,
    EndpointUnreachable,
    LLMError,
    LLMRequestFailed,
    ModelNotFound,
    RateLimited,
    StructuredOutputInvalid,
)
from agents.llm_retry import RetriesExhausted, RetryPolicy, is_retryable
from agents.llm_structured import (
    parse_structured,
    parse_tool_call,
    repair_message,
    response_format_for,
    tool_calls_in_text,
)
from agents.llm_types import ChatResult, Message, SchemaT, TextSink, TokenUsage, ToolChoice
from tools.tracing import traced_model_call

__all__ = ["OpenAIChatModel"]

# First characters of an answer that may be a tool call written as text (see
# `tool_calls_in_text`): such an answer is not streamed.
TOOL_CALL_STARTS_CHARS = ("`", "{", "[", "<")

# Servers word this differently: OpenAI uses the code, llama.cpp and vLLM only the message.
_CONTEXT_TOO_LONG = re.compile(
    r"context[_ ](length|window)|maximum context|too many tokens|prompt is too long", re.I
)


class _Closeable(Protocol):
    def stop(self) -> None: ...


class OpenAIChatModel:
    """A `ChatModel` over any OpenAI-compatible chat-completions endpoint."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str,
        models: Mapping[str, str] | None = None,
        timeout: float = 300.0,
        retry: RetryPolicy | None = None,
        budget: Budget | None = None,
        strict_schemas: bool = True,
        dialect: Dialect = OPENAI,
        temperature: float | None = None,
        max_answer_tokens: int | None = None,
        max_structured_tokens: int | None = None,
        http_client: httpx2.AsyncClient | None = None,
        owned_server: _Closeable | None = None,
    ) -> None:
        self.default_model = model
        self.models = dict(models or {})
        self.retry = retry or RetryPolicy()
        self.budget = budget or Budget.unlimited()
        self.strict_schemas = strict_schemas
        self.dialect = dialect
        self.temperature = temperature
        # A bound on each chat answer's length: a small model can otherwise write until the
        # context is full (blank lines after a fenced call were seen running to thousands).
        self.max_answer_tokens = max_answer_tokens
        # The same for schema answers (meeting notes' per-window extraction is the longest).
        self.max_structured_tokens = max_structured_tokens
        self.owned_server = owned_server
        self._client = AsyncOpenAI(
            base_url=base_url,
            # Local servers take any key; the SDK insists on one being present.
            api_key=api_key or "unused",
            timeout=timeout,
            max_retries=0,  # RetryPolicy is the one place that retries
            http_client=http_client,
        )
        self.base_url = str(self._client.base_url).rstrip("/")

    # --- ChatModel ----------------------------------------------------------------------

    def model_for(self, agent: str) -> str:
        return self.models.get(agent, self.default_model)

    def for_turn(self, budget: Budget | None = None) -> OpenAIChatModel:
        turn = copy.copy(self)  # shares the HTTP client and its connection pool
        turn.budget = budget or self.budget.fresh()
        return turn

    async def chat(
        self,
        *,
        agent: str,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: ToolChoice = None,
        on_text: TextSink | None = None,
    ) -> ChatResult:
        params: dict[str, Any] = {"messages": self.dialect.adapt_messages(messages)}
        if tools:
            params["tools"] = tools
            # "auto" is OpenAI's default anyway; llama-cpp-python ignores tools without it.
            choice = tool_choice if tool_choice is not None else "auto"
            params["tool_choice"] = self.dialect.adapt_tool_choice(choice, tools)
        if not (tools and not self.dialect.streams_tool_calls):
            params["_on_text"] = on_text
        if self.max_answer_tokens is not None:
            params["max_tokens"] = self.max_answer_tokens
        completion = await self._complete(agent, params)
        usage = _usage_of(completion, messages)
        message = completion.choices[0].message
        if (
            tools
            and self.dialect.reask_empty_reply_without_tools
            and not message.tool_calls
            and not (message.content or "").strip()
        ):
            completion = await self._complete(
                agent, {"messages": params["messages"], "_on_text": on_text}
            )
            usage = usage + _usage_of(completion, messages)
        choice_ = completion.choices[0]
        calls = [
            parse_tool_call(agent, call.id, call.function.name, call.function.arguments)
            for call in (choice_.message.tool_calls or [])
            if call.type == "function"
        ]
        text = choice_.message.content
        if text and choice_.finish_reason == "length":
            text = without_repeats(text)  # a loop run to the bound: each sentence once
        if tools and not calls and self.dialect.tool_calls_in_text:
            names = {tool["function"]["name"] for tool in tools if "function" in tool}
            written = tool_calls_in_text(text, names)
            if written:
                # Ids from the completion's own: the next request (tool results quoting them)
                # is the same on every run, so recorded exchanges replay.
                calls = [
                    parse_tool_call(agent, f"call_{completion.id}_{n}", name, raw)
                    for n, (name, raw) in enumerate(written)
                ]
                text = None
                if on_text is not None:
                    on_text("")  # what streamed was a call, not the answer
        return ChatResult(
            text=text,
            tool_calls=calls,
            usage=usage,
            model=completion.model,
            finish_reason="tool_calls" if calls else choice_.finish_reason,
        )

    async def structured(
        self, *, agent: str, messages: list[Message], schema: type[SchemaT]
    ) -> SchemaT:
        history = list(messages)
        raw, error = "", ""
        # The schema constrains conforming servers; the single repair turn is for servers
        # that ignore it (or small models that still slip), telling the model what was wrong.
        for attempt in range(2):
            completion = await self._complete_structured(agent, history, schema)
            raw = completion.choices[0].message.content or ""
            try:
                return parse_structured(raw, schema)
            except (ValueError, ValidationError) as exc:
                error = str(exc)
            if attempt == 0:
                history += [{"role": "assistant", "content": raw}, repair_message(error)]
        raise StructuredOutputInvalid(agent, schema.__name__, error, raw)

    async def _complete_structured(
        self, agent: str, messages: list[Message], schema: type[BaseModel]
    ) -> ChatCompletion:
        def params() -> dict[str, Any]:
            style = self.dialect.response_format
            format_ = response_format_for(
                schema,
                strict=self.strict_schemas,
                style=style,
                length_bounds=self.dialect.schema_length_bounds,
            )
            params: dict[str, Any] = {
                "messages": self.dialect.adapt_messages(messages),
                "response_format": format_,
            }
            if self.max_structured_tokens is not None:
                params["max_tokens"] = self.max_structured_tokens
            return params

        try:
            return await self._complete(agent, params())
        except LLMRequestFailed as exc:
            # A server that rejects OpenAI's form gets the other dialect, from now on.
            if self.dialect.response_format != "json_schema" or "response_format" not in str(exc):
                raise
            self.dialect = replace(self.dialect, response_format="json_object")
            return await self._complete(agent, params())

    async def aclose(self) -> None:
        await self._client.close()
        if self.owned_server is not None:
            self.owned_server.stop()

    # --- one request ------------------------------------------------------------------

    @traced_model_call
    async def _complete(self, agent: str, params: dict[str, Any]) -> ChatCompletion:
        model = self.model_for(agent)
        params = dict(params)
        on_text: TextSink | None = params.pop("_on_text", None)
        prompt = estimate_tokens(params["messages"]) + estimate_tokens(params.get("tools"))
        self.budget.check(agent, prompt)
        started = time.perf_counter()
        usage = TokenUsage()
        try:
            if self.temperature is not None:
                params = {**params, "temperature": self.temperature}
            completion: ChatCompletion = await self.retry.call(
                (lambda: self._stream(model, params, on_text))
                if on_text is not None
                else (lambda: self._client.chat.completions.create(model=model, **params))
            )
            usage = _usage_of(completion, params["messages"])
            return completion
        except RetriesExhausted as exc:
            raise self._translate(exc.last, agent, model, exc.attempts) from exc
        except openai.OpenAIError as exc:
            raise self._translate(exc, agent, model, 1) from exc
        finally:
            # Failed calls count too: they cost time and a loop of them must hit the limit.
            self.budget.charge(agent, usage, time.perf_counter() - started)

    async def _stream(
        self, model: str, params: dict[str, Any], on_text: TextSink
    ) -> ChatCompletion:
        """One streamed call: the answer's words go to `on_text` as they arrive (until the
        model turns to tool calls), the assembled completion is returned as if not streamed."""
        on_text("")  # a retried call starts its words over
        state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
        stream = await self._client.chat.completions.create(
            model=model, stream=True, stream_options={"include_usage": True}, **params
        )
        calling = looping = False
        # Where tool calls may come as text, the first words are held until they cannot be
        # the start of one.
        held: list[str] | None = [] if self.dialect.tool_calls_in_text else None
        written: list[str] = []
        async with stream:
            async for chunk in stream:
                state.handle_chunk(chunk)
                for choice in chunk.choices:
                    if choice.delta.tool_calls and not calling:
                        calling = True
                        on_text("")  # words before a tool call are not the answer
                    if not choice.delta.content or calling:
                        continue
                    written.append(choice.delta.content)
                    if _SENTENCE_END.search(choice.delta.content) and looped("".join(written)):
                        looping = True  # greedy decoding in a loop: stop reading it
                        break
                    if held is None:
                        on_text(choice.delta.content)
                        continue
                    held.append(choice.delta.content)
                    start = "".join(held).lstrip()
                    if not start or start.startswith(TOOL_CALL_STARTS_CHARS):
                        continue  # perhaps a call written as text: the whole result decides
                    on_text("".join(held))
                    held = None
                if looping:
                    break
        if looping:
            # The same sentence again and again (seen with greedy decoding on a small model):
            # the answer is its sentences once each; the draft shown starts over with it.
            snapshot = state.current_completion_snapshot.model_dump(exclude_none=True)
            text = without_repeats("".join(written))
            snapshot["choices"][0]["message"]["content"] = text
            snapshot["choices"][0]["finish_reason"] = "length"
            on_text("")
            on_text(text)
            return ChatCompletion.model_validate(snapshot)
        try:
            return state.get_final_completion()
        except openai.LengthFinishReasonError:
            # The answer ran to its length bound: what was written is a (cut) answer, like
            # the unstreamed call returns it, not a failed request.
            snapshot = state.current_completion_snapshot.model_dump(exclude_none=True)
            return ChatCompletion.model_validate(snapshot)

    def _translate(self, exc: BaseException, agent: str, model: str, attempts: int) -> LLMError:
        url = self.base_url
        if isinstance(exc, openai.APITimeoutError):
            return EndpointFailing(url, None, attempts)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return EndpointUnreachable(url, str(cause) or type(cause).__name__)
        if isinstance(exc, openai.APIStatusError):
            detail = _error_detail(exc)
            if exc.status_code == 401:
                return BadApiKey(url)
            # llama-cpp-python says it with a 400 and the code, OpenAI with a 404.
            if _code_of(exc) == "model_not_found" or (
                exc.status_code == 404 and "model" in detail.lower()
            ):
                return ModelNotFound(model, url)
            if exc.status_code == 429:
                return RateLimited(url, attempts)
            if _CONTEXT_TOO_LONG.search(detail) or _code_of(exc) == "context_length_exceeded":
                return ContextTooLong(model, agent, detail)
            if is_retryable(exc):  # and still failing after every attempt
                return EndpointFailing(url, exc.status_code, attempts)
            return LLMRequestFailed(url, exc.status_code, detail)
        return LLMRequestFailed(url, 0, repr(exc))


def _usage_of(completion: ChatCompletion, messages: list[Message]) -> TokenUsage:
    if completion.usage is not None:
        return TokenUsage(
            completion.usage.prompt_tokens,
            completion.usage.completion_tokens,
            _cached_tokens(completion),
        )
    # Some servers omit usage; an estimate keeps the budget meaningful.
    text = completion.choices[0].message.content if completion.choices else ""
    return TokenUsage(estimate_tokens(messages), estimate_tokens(text))


def _cached_tokens(completion: ChatCompletion) -> int:
    """Prompt tokens the server reused from its cache: OpenAI's usage details, or llama.cpp's
    `timings.cache_n` where the details are missing."""
    usage = completion.usage
    details = usage.prompt_tokens_details if usage is not None else None
    if details is not None and details.cached_tokens:
        return int(details.cached_tokens)
    timings = (completion.model_extra or {}).get("timings")
    if isinstance(timings, dict) and isinstance(timings.get("cache_n"), int):
        return int(timings["cache_n"])
    return 0


def _error_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if message:
            return str(message)
    return exc.message or exc.response.text


def _code_of(exc: openai.APIStatusError) -> str | None:
    return getattr(exc, "code", None)


_SENTENCE_END = re.compile(r"[.!?。！？]")
_SENTENCE = re.compile(r"[^.!?。！？]+[.!?。！？]*")


def _sentences_of(text: str) -> list[str]:
    return [m.group(0) for m in _SENTENCE.finditer(text) if m.group(0).strip()]


def _key(sentence: str) -> str:
    return " ".join(sentence.lower().split()).strip(" .!?。！？;；,，")


def looped(text: str) -> bool:
    """Whether the text's last whole sentence (of some length) was already said twice."""
    whole = _sentences_of(text)
    if whole and not _SENTENCE_END.search(whole[-1][-1:]):
        whole = whole[:-1]  # the last one is still being written
    if len(whole) < 3:
        return False
    last = _key(whole[-1])
    return len(last) >= 12 and sum(1 for s in whole[:-1] if _key(s) == last) >= 2


def without_repeats(text: str) -> str:
    """The text with each sentence once (the first time it was said, also when it was the end
    of a longer sentence then)."""
    seen: set[str] = set()
    kept = []
    for sentence in _sentences_of(text):
        key = _key(sentence)
        if key and (key in seen or (len(key) >= 12 and any(k.endswith(key) for k in seen))):
            continue
        seen.add(key)
        kept.append(sentence)
    return "".join(kept).strip()
