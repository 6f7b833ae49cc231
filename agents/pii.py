"""PII masking for models outside the machine: e-mail addresses, phone numbers (Chinese mobile
and landline formats included), national id numbers (Chinese resident id with its checksum, US
SSN) and card numbers (Luhn-valid) become stable placeholders like [EMAIL_1] before a request
leaves — in every message and in the tool-call arguments of the history — and are put back in
what comes back: the reply text and the arguments of the tool calls the model asks for, so
tools receive real values and users see them.

`PIIMaskingChatModel` wraps any ChatModel; `build_chat_model` applies it when `mask_pii` is on
(default: on for external endpoints, off for the embedded local model).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import replace
from datetime import date
from typing import Any

from agents.llm_budget import Budget
from agents.llm_types import (
    ChatModel,
    ChatResult,
    Message,
    SchemaT,
    TextSink,
    ToolCall,
    ToolChoice,
)

__all__ = ["PIIMaskingChatModel", "PIIVault"]

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# 17 digits and a check character, or with the usual 6-8-4 spacing.
_CN_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})[ -]?(\d{8})[ -]?(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_SSN = re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)")
_CARD = re.compile(r"(?<![\d+-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"(?:\+|00)\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){1,4}"  # international
    r"|1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}"  # Chinese mobile: 138 0013 8000
    r"|0\d{2,3}-\d{7,8}"  # Chinese landline: 010-12345678
    r"|\(\d{3}\)\s?\d{3}-\d{4}|\d{3}-\d{3}-\d{4}"  # North American
    r")(?![\w])"
)
_PLACEHOLDER = re.compile(r"[\[<]?\b(EMAIL|PHONE|NATIONAL_ID|CARD)_(\d+)\b[\]>]?")
_CN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_CHECK = "10X98765432"


def valid_cn_resident_id(digits17: str, check: str) -> bool:
    """GB 11643: the weighted sum of the first 17 digits mod 11 picks the check character, and
    digits 7-14 are a real birth date."""
    total = sum(int(d) * w for d, w in zip(digits17, _CN_WEIGHTS, strict=True))
    if _CN_CHECK[total % 11] != check.upper():
        return False
    try:
        born = date(int(digits17[6:10]), int(digits17[10:12]), int(digits17[12:14]))
    except ValueError:
        return False
    return 1900 <= born.year <= 2100


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        n = int(char)
        if index % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


class PIIVault:
    """Value ↔ placeholder, stable for the life of the vault (one per model, shared by turns)."""

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def _placeholder(self, kind: str, value: str) -> str:
        key = (kind, re.sub(r"[\s().-]", "", value) if kind != "EMAIL" else value.lower())
        with self._lock:
            found = self._by_value.get(key)
            if found is None:
                self._counts[kind] = self._counts.get(kind, 0) + 1
                found = f"[{kind}_{self._counts[kind]}]"
                self._by_value[key] = found
                self._by_placeholder[found] = value
            return found

    def mask(self, text: str) -> str:
        if not text:
            return text
        text = _EMAIL.sub(lambda m: self._placeholder("EMAIL", m.group(0)), text)

        def national(m: re.Match[str]) -> str:
            digits = m.group(1) + m.group(2) + m.group(3)
            if valid_cn_resident_id(digits[:17], digits[17]):
                return self._placeholder("NATIONAL_ID", m.group(0))
            return m.group(0)

        text = _CN_ID.sub(national, text)
        text = _SSN.sub(lambda m: self._placeholder("NATIONAL_ID", m.group(0)), text)

        def card(m: re.Match[str]) -> str:
            digits = re.sub(r"\D", "", m.group(0))
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                return self._placeholder("CARD", m.group(0))
            return m.group(0)

        text = _CARD.sub(card, text)
        return _PHONE.sub(self._phone, text)

    def _phone(self, m: re.Match[str]) -> str:
        value = m.group(0)
        digits = re.sub(r"\D", "", value)
        # Dates (2026-12-31) and plain amounts are not phone numbers.
        if len(digits) < 8 or re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return value
        return self._placeholder("PHONE", value)

    def unmasking(self, sink: TextSink) -> TextSink:
        """`sink` fed with streamed words unmasked: text is held back to the last whitespace, so
        a placeholder split across pieces is never shown half-replaced (the final answer, which
        replaces the streamed draft, carries the tail)."""
        held: list[str] = []

        def feed(piece: str) -> None:
            if piece == "":
                held.clear()
                sink("")
                return
            text = "".join(held) + piece
            cut = max(text.rfind(" "), text.rfind("\n"))
            held[:] = [text[cut + 1 :]]
            if cut >= 0:
                sink(self.unmask(text[: cut + 1]))

        return feed

    def unmask(self, text: str) -> str:
        if not text or "_" not in text:
            return text

        def back(m: re.Match[str]) -> str:
            return self._by_placeholder.get(f"[{m.group(1)}_{m.group(2)}]", m.group(0))

        return _PLACEHOLDER.sub(back, text)

    def mask_value(self, value: Any) -> Any:
        return _walk(value, self.mask)

    def unmask_value(self, value: Any) -> Any:
        return _walk(value, self.unmask)

    def mask_message(self, message: Message) -> Message:
        out = dict(message)
        content = out.get("content")
        if isinstance(content, str):
            out["content"] = self.mask(content)
        elif isinstance(content, list):  # content parts
            out["content"] = self.mask_value(content)
        if out.get("tool_calls"):
            out["tool_calls"] = [self._mask_call_part(part) for part in out["tool_calls"]]
        return out

    def _mask_call_part(self, part: dict[str, Any]) -> dict[str, Any]:
        function = dict(part.get("function") or {})
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            try:
                function["arguments"] = json.dumps(
                    self.mask_value(json.loads(arguments)), ensure_ascii=False
                )
            except json.JSONDecodeError:
                function["arguments"] = self.mask(arguments)
        elif arguments is not None:
            function["arguments"] = self.mask_value(arguments)
        return {**part, "function": function}


def _walk(value: Any, fn: Any) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _walk(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, fn) for v in value]
    return value


class PIIMaskingChatModel:
    """A ChatModel that masks personal data on the way out and restores it on the way in."""

    def __init__(self, inner: ChatModel, *, vault: PIIVault | None = None) -> None:
        self.inner = inner
        self.vault = vault or PIIVault()

    @property
    def budget(self) -> Budget:
        return self.inner.budget

    @budget.setter
    def budget(self, value: Budget) -> None:
        self.inner.budget = value

    def __getattr__(self, name: str) -> Any:  # model_for, aclose, base_url, …
        return getattr(self.inner, name)

    def for_turn(self, budget: Budget | None = None) -> PIIMaskingChatModel:
        return PIIMaskingChatModel(self.inner.for_turn(budget), vault=self.vault)

    async def chat(
        self,
        *,
        agent: str,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: ToolChoice = None,
        on_text: TextSink | None = None,
    ) -> ChatResult:
        result = await self.inner.chat(
            agent=agent,
            messages=[self.vault.mask_message(m) for m in messages],
            tools=tools,
            tool_choice=tool_choice,
            on_text=self.vault.unmasking(on_text) if on_text is not None else None,
        )
        return replace(
            result,
            text=self.vault.unmask(result.text) if result.text else result.text,
            tool_calls=[
                ToolCall(id=c.id, name=c.name, arguments=self.vault.unmask_value(c.arguments))
                for c in result.tool_calls
            ],
        )

    async def structured(
        self, *, agent: str, messages: list[Message], schema: type[SchemaT]
    ) -> SchemaT:
        answer = await self.inner.structured(
            agent=agent, messages=[self.vault.mask_message(m) for m in messages], schema=schema
        )
        return schema.model_validate(self.vault.unmask_value(answer.model_dump()))
