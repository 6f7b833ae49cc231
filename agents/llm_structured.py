"""Structured output: the JSON-schema `response_format`, parsing with pydantic, and the
wording of the one repair turn."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel

from agents.llm_errors import MalformedToolCall
from agents.llm_types import Message, SchemaT, ToolCall

__all__ = [
    "ResponseFormatStyle",
    "parse_structured",
    "parse_tool_call",
    "repair_message",
    "response_format_for",
    "schema_for",
]

ResponseFormatStyle = Literal["json_schema", "json_object"]

_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


def schema_for(schema: type[BaseModel], *, strict: bool) -> dict[str, Any]:
    if strict:
        try:
            # The SDK's own strict-mode conversion (every field required, no extra keys),
            # exactly what OpenAI's strict structured outputs accept.
            from openai.lib._pydantic import to_strict_json_schema

            return to_strict_json_schema(schema)
        except ImportError:  # pragma: no cover - only if the SDK moves it
            pass
    return schema.model_json_schema()


_LENGTH_BOUNDS = frozenset({"maxLength", "minLength", "maxItems", "minItems"})


def _without_length_bounds(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_length_bounds(v) for k, v in node.items() if k not in _LENGTH_BOUNDS}
    if isinstance(node, list):
        return [_without_length_bounds(v) for v in node]
    return node


def response_format_for(
    schema: type[BaseModel],
    *,
    strict: bool,
    style: ResponseFormatStyle = "json_schema",
    length_bounds: bool = False,
) -> dict[str, Any]:
    """The `response_format` constraining the answer to `schema`.

    "json_schema" is OpenAI's form (also vLLM, Ollama, llama.cpp's own server);
    "json_object" with a `schema` key is the dialect of llama-cpp-python's server, which
    rejects the former but turns the latter into a grammar. Length bounds of the schema
    (a schema's `json_schema_extra`, e.g. {"maxLength": 60}) are kept only with
    `length_bounds` — for servers that make a grammar of them; they are a bound on what the
    model writes, never a check of what it wrote.
    """
    body = schema_for(schema, strict=strict)
    if not length_bounds:
        body = _without_length_bounds(body)
    if style == "json_object":
        return {"type": "json_object", "schema": body}
    return {
        "type": "json_schema",
        "json_schema": {
            "name": _NAME_UNSAFE.sub("_", schema.__name__)[:64],
            "schema": body,
            "strict": strict,
        },
    }


def parse_structured(raw: str, schema: type[SchemaT]) -> SchemaT:
    """Validate the model's text against the schema, forgiving a Markdown fence or prose
    around the object, which small models add even when asked not to."""
    text = _FENCE.sub("", raw.strip())
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise ValueError(f"the answer is not JSON: {raw[:80]!r}") from None
        try:
            data = json.loads(text[start : end + 1])
        except json.JSONDecodeError as exc:
            raise ValueError(f"the answer is not valid JSON ({exc.msg})") from None
    return schema.model_validate(data)


def repair_message(error: str) -> Message:
    return {
        "role": "user",
        "content": (
            "Your previous answer did not match the required JSON schema:\n"
            f"{error}\n"
            "Answer again with only the corrected JSON object, nothing else."
        ),
    }


def parse_tool_call(agent: str, call_id: str | None, name: str, raw: str | None) -> ToolCall:
    """Parse a tool call's JSON arguments; garbage becomes `MalformedToolCall`."""
    text = (raw or "").strip() or "{}"
    try:
        arguments = json.loads(text)
        if isinstance(arguments, str):  # some servers encode the object twice
            arguments = json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise MalformedToolCall(agent, name, text, exc.msg) from exc
    if not isinstance(arguments, dict):
        raise MalformedToolCall(agent, name, text, f"a JSON {type(arguments).__name__}")
    return ToolCall(id=call_id or f"call_{uuid.uuid4().hex[:12]}", name=name, arguments=arguments)


_TAGS = re.compile(r"</?tool_call>")
_FENCED = re.compile(r"```[a-zA-Z]*\s*(.*?)```", re.DOTALL)


def tool_calls_in_text(text: str | None, tool_names: set[str]) -> list[tuple[str, str]] | None:
    """Tool calls a small model wrote as text instead of in the server's tool-call format: JSON
    objects with "name" and "arguments" naming offered tools — bare, fenced as code, inside
    <tool_call> tags, in a list, with the chat template's own double-brace shape, or after a
    sentence of preamble ("Here's how: ```json …```"). Returns (name, arguments as JSON)
    pairs, or None when the text holds no such call (then it is an answer)."""
    raw = _TAGS.sub("\n", text or "")
    blocks = _FENCED.findall(raw) or [raw]
    calls: list[tuple[str, str]] = []
    for block in blocks:
        calls.extend(_calls_in(block, tool_names))
    return calls or None


def _calls_in(block: str, tool_names: set[str]) -> list[tuple[str, str]]:
    decoder = json.JSONDecoder()
    calls: list[tuple[str, str]] = []
    at = block.find("{")
    while at != -1:
        start = at
        while block.startswith("{{", start):  # the template's example: {{"name": …}}
            start += 1
        try:
            value, end = decoder.raw_decode(block, start)
        except json.JSONDecodeError:
            at = block.find("{", at + 1)
            continue
        for item in value if isinstance(value, list) else [value]:
            name = item.get("name", item.get("function")) if isinstance(item, dict) else None
            if isinstance(name, str) and name in tool_names:
                arguments = item.get("arguments", item.get("parameters", {}))
                if isinstance(arguments, str):
                    try:
                        arguments = json.loads(arguments)
                    except json.JSONDecodeError:
                        continue
                if isinstance(arguments, dict):
                    calls.append((name, json.dumps(arguments)))
        at = block.find("{", end)
    return calls
