"""Server dialects: the few ways OpenAI-compatible servers differ from OpenAI in practice.

The graph always speaks OpenAI's chat format; a `Dialect` says how to bend a request so a
given server understands it. Only what was observed against real servers is here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents.llm_structured import ResponseFormatStyle
from agents.llm_types import Message, ToolChoice

__all__ = ["LLAMA_CPP_PYTHON", "LLAMA_SERVER", "OPENAI", "Dialect"]


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    response_format: ResponseFormatStyle = "json_schema"
    # llama-cpp-python's chatml-function-calling template renders only system, user and
    # assistant turns: tool results would silently vanish from the prompt.
    tool_results_as_user: bool = False
    # llama-cpp-python rejects an assistant turn whose content is null (OpenAI's shape for
    # a turn that only calls tools).
    content_required: bool = False
    # llama-cpp-python answers tool_choice="required" with HTTP 500.
    supports_required_tool_choice: bool = True
    # llama-cpp-python's "auto" mode returns an empty message when the model decides to
    # answer in words; asking again without tools gets the words.
    reask_empty_reply_without_tools: bool = False
    # Whether a streamed call may end in tool calls (llama-cpp-python's "auto" mode raises).
    streams_tool_calls: bool = True
    # Small models behind llama-server sometimes write a tool call as a JSON answer (fenced,
    # bare, or with the chat template's own brace shape) instead of in <tool_call> tags.
    tool_calls_in_text: bool = False
    # Length bounds in a schema (maxLength, maxItems) are turned into the server's grammar
    # by llama.cpp; hosted APIs' strict modes reject or ignore them, so they are left out.
    schema_length_bounds: bool = False

    def adapt_messages(self, messages: list[Message]) -> list[Message]:
        if not (self.tool_results_as_user or self.content_required):
            return messages
        names: dict[str, str] = {}
        adapted: list[Message] = []
        for message in messages:
            for call in message.get("tool_calls") or ():
                names[call.get("id", "")] = call.get("function", {}).get("name", "tool")
            if self.content_required and message.get("content") is None:
                message = {**message, "content": ""}
            if self.tool_results_as_user and message.get("role") == "tool":
                name = names.get(message.get("tool_call_id", ""), "tool")
                adapted.append(
                    {
                        "role": "user",
                        "content": f"Result of functions.{name}:\n{message['content']}",
                    }
                )
            else:
                adapted.append(message)
        return adapted

    def adapt_tool_choice(self, choice: ToolChoice, tools: list[dict[str, Any]]) -> ToolChoice:
        if choice != "required" or self.supports_required_tool_choice:
            return choice
        if len(tools) == 1:  # "required" with one tool is that tool, forced
            return {"type": "function", "function": {"name": tools[0]["function"]["name"]}}
        return "auto"


OPENAI = Dialect("openai")
# llama.cpp's llama-server with --jinja speaks OpenAI's format, tool results included.
LLAMA_SERVER = Dialect("llama-server", tool_calls_in_text=True, schema_length_bounds=True)
LLAMA_CPP_PYTHON = Dialect(
    "llama-cpp-python",
    response_format="json_object",
    tool_results_as_user=True,
    content_required=True,
    supports_required_tool_choice=False,
    reask_empty_reply_without_tools=True,
    streams_tool_calls=False,
    schema_length_bounds=True,
)
