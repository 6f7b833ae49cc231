"""`ScriptedChatModel`: a deterministic model for tests and scripted eval scenarios.

It replays a list of steps in order. Each step names the agent expected to ask, so a graph
that takes a different path fails at once with a sentence naming both agents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from agents.llm_budget import Budget, estimate_tokens
from agents.llm_errors import ScriptExhausted, ScriptMismatch, StructuredOutputInvalid
from agents.llm_structured import parse_structured, parse_tool_call
from agents.llm_types import (
    ChatResult,
    Message,
    SchemaT,
    TextSink,
    TokenUsage,
    ToolCall,
    ToolChoice,
)
from tools.tracing import traced_model_call

__all__ = ["ScriptStep", "ScriptedChatModel"]


@dataclass(frozen=True, slots=True)
class ScriptStep:
    """One canned answer: `reply` text and/or `tool_calls` for `chat`, `output` for
    `structured` (a `reply` string is also accepted there, to script garbage)."""

    agent: str
    reply: str | None = None
    tool_calls: Sequence[ToolCall | Mapping[str, Any]] = field(default_factory=tuple)
    output: Mapping[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScriptStep:
        """The shape used in scenario files: {agent, reply?, tool_calls?, output?}."""
        unknown = set(data) - {"agent", "reply", "tool_calls", "output"}
        if unknown:
            raise ValueError(f"unknown script step keys {sorted(unknown)} in {dict(data)!r}")
        return cls(
            agent=data["agent"],
            reply=data.get("reply"),
            tool_calls=tuple(data.get("tool_calls") or ()),
            output=data.get("output"),
        )


@dataclass(slots=True)
class _Cursor:
    """The script and how far it has been played, shared by every turn's view of the model."""

    steps: list[ScriptStep]
    position: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)


class ScriptedChatModel:
    """A `ChatModel` answering from a script; `budget` is charged with estimated tokens."""

    def __init__(
        self,
        steps: Iterable[ScriptStep | Mapping[str, Any]],
        *,
        budget: Budget | None = None,
        _cursor: _Cursor | None = None,
    ) -> None:
        self._cursor = _cursor or _Cursor(
            [s if isinstance(s, ScriptStep) else ScriptStep.from_dict(s) for s in steps]
        )
        self.budget = budget or Budget.unlimited()

    @property
    def steps(self) -> list[ScriptStep]:
        return self._cursor.steps

    @property
    def requests(self) -> list[dict[str, Any]]:
        """What each played step was asked (agent, messages, tools or schema)."""
        return self._cursor.requests

    @property
    def remaining(self) -> int:
        return len(self._cursor.steps) - self._cursor.position

    def assert_exhausted(self) -> None:
        if self.remaining:
            left = ", ".join(step.agent for step in self.steps[self._cursor.position :])
            raise AssertionError(f"{self.remaining} script steps were never asked for: {left}")

    def for_turn(self, budget: Budget | None = None) -> ScriptedChatModel:
        # The script is shared on purpose: a scenario's steps span all of its turns.
        return ScriptedChatModel((), budget=budget or self.budget.fresh(), _cursor=self._cursor)

    @traced_model_call
    async def chat(
        self,
        *,
        agent: str,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: ToolChoice = None,
        on_text: TextSink | None = None,
    ) -> ChatResult:
        index, step = self._next(agent, messages, {"tools": tools, "tool_choice": tool_choice})
        if step.output is not None:
            raise ScriptMismatch(index + 1, "structured", "chat", what="kind")
        calls = [_tool_call(agent, call, index, n) for n, call in enumerate(step.tool_calls)]
        text = step.reply
        if on_text is not None and text and not calls:
            # Word by word, as a streaming server would hand it over.
            for word in re.findall(r"\S+\s*|\s+", text):
                on_text(word)
        usage = TokenUsage(
            estimate_tokens(messages) + estimate_tokens(tools),
            estimate_tokens(text) + sum(estimate_tokens(c.arguments) for c in calls),
        )
        self.budget.charge(agent, usage, 0.0)
        return ChatResult(
            text=text,
            tool_calls=calls,
            usage=usage,
            model="scripted",
            finish_reason="tool_calls" if calls else "stop",
        )

    @traced_model_call
    async def structured(
        self, *, agent: str, messages: list[Message], schema: type[SchemaT]
    ) -> SchemaT:
        index, step = self._next(agent, messages, {"schema": schema.__name__})
        if step.output is None and step.reply is None:
            raise ScriptMismatch(index + 1, "chat", "structured", what="kind")
        raw = _json(step.output) if step.output is not None else (step.reply or "")
        self.budget.charge(agent, TokenUsage(estimate_tokens(messages), estimate_tokens(raw)), 0.0)
        try:
            return parse_structured(raw, schema)
        except (ValueError, ValidationError) as exc:
            raise StructuredOutputInvalid(agent, schema.__name__, str(exc), raw) from exc

    def _next(
        self, agent: str, messages: list[Message], extra: dict[str, Any]
    ) -> tuple[int, ScriptStep]:
        cursor = self._cursor
        self.budget.check(agent, estimate_tokens(messages))
        if cursor.position >= len(cursor.steps):
            raise ScriptExhausted(len(cursor.steps), agent)
        index = cursor.position
        step = cursor.steps[index]
        if step.agent != agent:
            raise ScriptMismatch(index + 1, step.agent, agent)
        cursor.position += 1
        cursor.requests.append({"agent": agent, "messages": messages, **extra})
        return index, step


def _tool_call(agent: str, call: ToolCall | Mapping[str, Any], step: int, n: int) -> ToolCall:
    if isinstance(call, ToolCall):
        return call
    arguments = call.get("arguments") or {}
    call_id = call.get("id") or f"call_{step + 1}_{n + 1}"
    # Raw JSON text goes through the real parser, so scripts can feed garbage like a server.
    raw = arguments if isinstance(arguments, str) else _json(arguments)
    return parse_tool_call(agent, call_id, call["name"], raw)


def _json(value: Any) -> str:
    """JSON as a server would send it; dates (unquoted YAML dates in a script) as ISO text."""
    return json.dumps(value, ensure_ascii=False, default=_iso)


def _iso(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
