"""Streamed answers: words reach the sink as they arrive, the result is the same as unstreamed,
a call that turns to tools starts the words over, and the server's cache counts are read."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from agents.llm_dialect import LLAMA_CPP_PYTHON
from tests.llm.conftest import FakeEndpoint

ASK = [{"role": "user", "content": "What's the next step?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_opportunity",
            "description": "Read a deal.",
            "parameters": {"type": "object", "properties": {"opportunity_id": {"type": "string"}}},
        },
    }
]


def sse(chunks: list[dict[str, Any]]) -> httpx2.Response:
    body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
    return httpx2.Response(
        200, content=body.encode(), headers={"content-type": "text/event-stream"}
    )


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-s",
        "object": "chat.completion.chunk",
        "created": 1_760_000_000,
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def usage_chunk(prompt: int, completion: int, cached: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-s",
        "object": "chat.completion.chunk",
        "created": 1_760_000_000,
        "model": "fake-model",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


async def test_words_stream_and_the_result_is_whole(fake_endpoint: FakeEndpoint) -> None:
    words = ["The next ", "step is ", "a demo."]
    fake_endpoint.queue.append(
        lambda request: sse(
            [chunk({"role": "assistant", "content": ""})]
            + [chunk({"content": w}) for w in words]
            + [chunk({}, "stop"), usage_chunk(900, 6, 850)]
        )
    )
    model = fake_endpoint.model()
    seen: list[str] = []
    result = await model.chat(agent="sales", messages=ASK, tools=TOOLS, on_text=seen.append)
    assert seen == ["", *words]  # "" first: a fresh start
    assert result.text == "The next step is a demo."
    assert not result.tool_calls
    body = fake_endpoint.bodies()[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    usage = model.budget.by_agent["sales"]
    assert (usage.prompt_tokens, usage.cached_tokens, usage.evaluated_tokens) == (900, 850, 50)
    await model.aclose()


async def test_an_answer_cut_at_its_length_bound_is_an_answer(fake_endpoint: FakeEndpoint) -> None:
    """The SDK's stream helper raises when the answer stopped at max_tokens; the words written
    are returned as the (cut) answer, as an unstreamed call returns them — not an error."""
    fake_endpoint.queue.append(
        lambda request: sse(
            [
                chunk({"role": "assistant", "content": ""}),
                chunk({"content": "The ticket is "}),
                chunk({"content": "about"}),
                chunk({}, "length"),
                usage_chunk(900, 700, 0),
            ]
        )  # fmt: skip
    )
    model = fake_endpoint.model()
    seen: list[str] = []
    result = await model.chat(agent="service", messages=ASK, on_text=seen.append)
    assert result.text == "The ticket is about"
    assert result.finish_reason == "length"
    assert "".join(seen) == "The ticket is about"
    await model.aclose()


async def test_a_looping_answer_is_cut_at_its_first_repeat(fake_endpoint: FakeEndpoint) -> None:
    """Greedy decoding on a small model can say one sentence over and over until the length
    bound (48 s of it was seen): the third time a sentence comes, reading stops and the
    answer is its sentences once each; the draft starts over with that answer."""
    loop = " The daily report double counts transfers; the board pack is due this week."
    fake_endpoint.queue.append(
        lambda request: sse(
            [
                chunk({"role": "assistant", "content": ""}),
                chunk({"content": "The report shows wrong totals."}),
            ]
            + [chunk({"content": loop}) for _ in range(6)]
            + [chunk({"content": " NEVER READ."}), chunk({}, "length")]
        )  # fmt: skip
    )
    model = fake_endpoint.model()
    seen: list[str] = []
    result = await model.chat(agent="service", messages=ASK, on_text=seen.append)
    assert result.text == "The report shows wrong totals." + loop
    assert "NEVER READ" not in "".join(seen)
    assert seen[-2:] == ["", result.text]
    await model.aclose()


async def test_a_call_that_turns_to_tools_starts_the_words_over(
    fake_endpoint: FakeEndpoint,
) -> None:
    call = {
        "index": 0,
        "id": "call_0",
        "type": "function",
        "function": {"name": "get_opportunity", "arguments": '{"opportunity_id": "opp-1"}'},
    }
    fake_endpoint.queue.append(
        lambda request: sse(
            [
                chunk({"role": "assistant", "content": "Let me look"}),
                chunk({"tool_calls": [call]}),
                chunk({}, "tool_calls"),
            ]
        )
    )
    model = fake_endpoint.model()
    seen: list[str] = []
    result = await model.chat(agent="sales", messages=ASK, tools=TOOLS, on_text=seen.append)
    assert seen == ["", "Let me look", ""]
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("get_opportunity", {"opportunity_id": "opp-1"})
    ]
    await model.aclose()


async def test_a_server_that_cannot_stream_tool_calls_is_asked_whole(
    fake_endpoint: FakeEndpoint,
) -> None:
    fake_endpoint.reply("Done.")
    model = fake_endpoint.model(dialect=LLAMA_CPP_PYTHON)
    seen: list[str] = []
    result = await model.chat(agent="sales", messages=ASK, tools=TOOLS, on_text=seen.append)
    assert result.text == "Done." and seen == []
    assert "stream" not in fake_endpoint.bodies()[0]
    await model.aclose()


async def test_cached_tokens_from_llama_cpp_timings(fake_endpoint: FakeEndpoint) -> None:
    from tests.llm.conftest import completion_body

    body = completion_body("ok", prompt_tokens=1200, completion_tokens=3)
    body["timings"] = {"cache_n": 1100, "prompt_n": 100}
    fake_endpoint.queue.append(lambda request: httpx2.Response(200, json=body))
    model = fake_endpoint.model()
    await model.chat(agent="router", messages=ASK)
    assert model.budget.by_agent["router"].cached_tokens == 1100
    assert model.budget.report()["total"]["evaluated_tokens"] == 100
    await model.aclose()


def test_masked_words_are_unmasked_whole() -> None:
    from agents.pii import PIIVault

    vault = PIIVault()
    masked = vault.mask("Write to jane@acme.example today")
    seen: list[str] = []
    sink = vault.unmasking(seen.append)
    for piece in [masked[:12], masked[12:20], masked[20:], " ok"]:
        sink(piece)
    shown = "".join(seen)
    assert "jane@acme.example" in shown and "EMAIL_" not in shown


def test_tool_calls_written_as_text_are_recognised() -> None:
    from agents.llm_structured import tool_calls_in_text

    names = {"get_ticket", "list_tickets"}
    fenced = '```json\n{\n  "name": "get_ticket",\n  "arguments": {"ticket_id": "t-1"}\n}\n```'
    assert tool_calls_in_text(fenced, names) == [("get_ticket", '{"ticket_id": "t-1"}')]
    braces = '{{"name": "get_ticket", "arguments": {"ticket_id": "t-1"}}}'
    assert tool_calls_in_text(braces, names) == [("get_ticket", '{"ticket_id": "t-1"}')]
    tagged = (
        '<tool_call>\n{"name": "get_ticket", "arguments": {"ticket_id": "t-1"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "list_tickets", "arguments": {"account_id": "a"}}\n</tool_call>'
    )
    assert [n for n, _ in tool_calls_in_text(tagged, names) or []] == ["get_ticket", "list_tickets"]
    assert tool_calls_in_text('{"name": "delete_everything", "arguments": {}}', names) is None
    assert tool_calls_in_text("The ticket is open.", names) is None
    preamble = (
        'Here is how:\n```json\n{"name": "get_ticket", "arguments": {"ticket_id": "t-2"}}\n```'
    )
    assert tool_calls_in_text(preamble, names) == [("get_ticket", '{"ticket_id": "t-2"}')]
    other_key = '<json>{"function": "list_tickets", "arguments": {"account_id": "a"}}</json>'
    assert tool_calls_in_text(other_key, names) == [("list_tickets", '{"account_id": "a"}')]
    assert tool_calls_in_text('{"name": "get_ticket", "arguments": {', names) is None


async def test_a_call_written_as_text_is_a_call_and_is_not_streamed(
    fake_endpoint: FakeEndpoint,
) -> None:
    from agents.llm_dialect import LLAMA_SERVER

    pieces = ["```json\n", '{"name": "get_ticket", ', '"arguments": {"ticket_id": "t-1"}}', "\n```"]
    fake_endpoint.queue.append(
        lambda request: sse(
            [chunk({"role": "assistant", "content": ""})]
            + [chunk({"content": p}) for p in pieces]
            + [chunk({}, "stop")]
        )
    )
    tools = [
        {**TOOLS[0], "function": {**TOOLS[0]["function"], "name": "get_ticket"}},
    ]
    model = fake_endpoint.model(dialect=LLAMA_SERVER)
    seen: list[str] = []
    result = await model.chat(agent="service", messages=ASK, tools=tools, on_text=seen.append)
    assert [c.name for c in result.tool_calls] == ["get_ticket"] and result.text is None
    assert result.finish_reason == "tool_calls"
    assert not "".join(seen)  # nothing of the call reached the draft
    await model.aclose()
