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


def response_format_for(
    schema: type[BaseModel], *, strict: bool, style: ResponseFormatStyle = "json_schema"
) -> dict[str, Any]:
    """The `response_format` constraining the answer to `schema`.

    "json_schema" is OpenAI's form (also vLLM, Ollama, llama.cpp's own server);
    "json_object" with a `schema` key is the dialect of llama-cpp-python's server, which
    rejects the former but turns the latter into a grammar.
    """
    body = schema_for(schema, strict=strict)
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


_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_TAGS = re.compile(r"</?tool_call>")


def tool_calls_in_text(text: str | None, tool_names: set[str]) -> list[tuple[str, str]] | None:
    """Tool calls a small model wrote as text instead of in the server's tool-call format: a
    JSON object (or a list of them, or several) with "name" and "arguments", bare, fenced as
    code or inside <tool_call> tags, each naming an offered tool. Returns (name, arguments as
    JSON) pairs, or None when the text is not wholly such calls (then it is an answer)."""
    body = _TAGS.sub("\n", _FENCE.sub("", (text or "").strip())).strip()
    if not body or body[0] not in "[{":
        return None
    if body.startswith("{{") and body.endswith("}}"):  # the chat template's own example shape
        body = body[1:-1]
    decoder = json.JSONDecoder()
    objects: list[Any] = []
    at = 0
    while at < len(body):
        try:
            value, end = decoder.raw_decode(body, at)
        except json.JSONDecodeError:
            return None
        objects.extend(value if isinstance(value, list) else [value])
        at = end
        while at < len(body) and body[at] in " \n\t,":
            at += 1
    calls: list[tuple[str, str]] = []
    for value in objects:
        if not isinstance(value, dict) or value.get("name") not in tool_names:
            return None
        arguments = value.get("arguments", value.get("parameters", {}))
        calls.append((str(value["name"]), json.dumps(arguments)))
    return calls or None
