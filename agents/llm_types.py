"""The model-facing types the graph depends on: results, tool calls and the ChatModel protocol.

Messages and tool definitions stay in the OpenAI chat format (plain dicts), the lingua franca
of every endpoint warroom talks to, so nothing needs translating at the edges.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

# The budget module sits below this one (it needs only token counts and plain messages).
from agents.llm_budget import Budget, Message, TokenUsage

__all__ = [
    "ChatModel",
    "ChatResult",
    "Message",
    "TextSink",
    "TokenUsage",
    "ToolCall",
    "ToolChoice",
]

# "auto" | "none" | "required" | {"type": "function", "function": {"name": ...}}
ToolChoice = str | dict[str, Any] | None
SchemaT = TypeVar("SchemaT", bound=BaseModel)
# Receives the words of an answer as the model writes them (streaming); "" means "start over":
# what was received so far was not the answer (the call ended in tool calls, or was retried).
TextSink = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call the model asked for, its arguments already parsed from JSON."""

    id: str
    name: str
    arguments: dict[str, Any]

    def to_message_part(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": json.dumps(self.arguments)},
        }


@dataclass(frozen=True, slots=True)
class ChatResult:
    """The assistant's answer to one chat call."""

    text: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    model: str = ""
    finish_reason: str | None = None

    def assistant_message(self) -> Message:
        """The answer as a message to append to the history before the tool results."""
        message: Message = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = [call.to_message_part() for call in self.tool_calls]
        return message


@runtime_checkable
class ChatModel(Protocol):
    """What the graph needs from a language model; real and scripted models both fit.

    `agent` names the asking role (router, sales, service, delivery, ...): it picks the model
    for that role and is the key of the usage accounting in `budget`. With `on_text`, a model
    that can stream hands over the answer's words as they come; the result is the same.
    """

    budget: Budget

    async def chat(
        self,
        *,
        agent: str,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: ToolChoice = None,
        on_text: TextSink | None = None,
    ) -> ChatResult: ...

    async def structured(
        self, *, agent: str, messages: list[Message], schema: type[SchemaT]
    ) -> SchemaT: ...

    def for_turn(self, budget: Budget | None = None) -> ChatModel:
        """The same model with a fresh budget (same limits unless one is given)."""
        ...
