"""The scripted model accepts what YAML loads: unquoted dates in tool arguments and outputs."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from agents.llm_scripted import ScriptedChatModel


class _Out(BaseModel):
    due: date


async def test_unquoted_yaml_dates_in_tool_calls_and_outputs() -> None:
    model = ScriptedChatModel(
        [
            {"agent": "sales", "tool_calls": [
                {"name": "create_task", "arguments": {"due_date": date(2026, 12, 1)}}]},
            {"agent": "meetings", "output": {"due": date(2026, 12, 2)}},
        ]
    )  # fmt: skip
    result = await model.chat(agent="sales", messages=[{"role": "user", "content": "x"}])
    assert result.tool_calls[0].arguments == {"due_date": "2026-12-01"}
    out = await model.structured(agent="meetings", messages=[], schema=_Out)
    assert out.due == date(2026, 12, 2)
