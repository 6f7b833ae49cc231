"""The line strategy: rule-picked candidate lines in overlapping windows, the model citing line
numbers, evidence taken from the cited line in code (verbatim by construction)."""

from __future__ import annotations

import json

from agents.llm import ScriptedChatModel
from agents.llm_structured import response_format_for
from channels.meetings import MeetingService
from channels.meetings.lines import LinesOut, candidate_lines, windows
from channels.meetings.parsers import Segment, parse_transcript
from tools.service import CRMService

from .conftest import FIXTURES, scripted


def _segments(*texts: str) -> list[Segment]:
    return [Segment("Jane Doe", None, None, t) for t in texts]


def test_rules_pick_commitments_and_deal_facts_in_english_and_chinese() -> None:
    segments = _segments(
        "Good morning everyone.",  # 0
        "The weather was lovely.",  # 1
        "Nice to hear.",  # 2
        "I'll send the deck by Friday.",  # 3
        "Okay.",  # 4
        "Nothing else from me.",  # 5
        "Anyway, how was the trip?",  # 6
        "Long.",  # 7
        "我来负责下周五之前把合同发给法务。",  # 8
        "谢谢。",  # 9
        "再见。",  # 10
        "再见再见。",  # 11
        "We are also looking at Globex, they are cheaper.",  # 12
    )
    assert candidate_lines(segments) == [2, 3, 4, 7, 8, 9, 11, 12]


def test_windows_overlap_and_stay_within_their_budget() -> None:
    segments = _segments(*[f"I'll do task number {n} by Friday, as agreed." for n in range(30)])
    parts = windows(segments, list(range(30)), max_tokens=60)
    assert len(parts) > 2
    for before, after in zip(parts, parts[1:], strict=False):
        assert before[-2:] == after[:2]  # two lines of overlap
    assert sorted({i for part in parts for i in part}) == list(range(30))


async def test_cited_lines_become_verbatim_evidence(meeting_crm: CRMService) -> None:
    data = (FIXTURES / "acme-2026-11-20.vtt").read_bytes()
    lines = {i + 1: s.text for i, s in enumerate(parse_transcript(data, "a.vtt").segments)}
    answer = {
        "action_items": [
            {"line": 4, "text": "Send the revised quote for 200 seats", "owner": "I",
             "due": "next Friday"},
            {"line": 99, "text": "Invented", "owner": "I", "due": ""},  # not shown: ignored
        ],
        "changes": [
            {"line": 2, "field": "amount", "value": "240000"},  # line 2 says 200 seats only
            {"line": 3, "field": "competitor", "value": "Umbrella Analytics"},
            {"line": 5, "field": "close_date", "value": "before the end of the year"},
        ],
        "summary": [
            {"text": "Jane now wants 200 seats instead of 100", "lines": [2]},
            {"text": "Acme Corp is a company in the User Interface industry", "lines": [1]},
        ],
    }  # fmt: skip
    service = MeetingService(crm=meeting_crm, model=scripted(answer), strategy="lines")
    result = await service.ingest_bytes(filename="a.vtt", data=data, actor_id="u-alice",
                                        dry_run=True)  # fmt: skip
    # Line 4 cited by the model (and promised, by the cue rules); Raj's line 6 by the rules.
    item, raj = result.action_items
    assert item["evidence"] in lines[4] and item["text"] == "Send the revised quote for 200 seats"
    assert (item["owner_id"], item["due_date"]) == ("u-alice", "2026-11-27")
    assert raj["evidence"] in lines[6] and raj["owner_name"] == "Raj Mehta"
    assert result.competitors == ["Umbrella Analytics"]
    dropped = {d["item"]: d["reason"] for d in result.ingestion["dropped_items"]}
    # Line 5 signs only "if the quote works"; line 2 says seats, line 7 says the amount.
    assert dropped["close_date → before the end of the year"] == (
        "line 5 does not state the close_date"
    )
    assert dropped["amount"] == "the amount said on line 7 is taken instead"
    [amount] = result.proposed_changes
    assert amount["args"] == {"opportunity_id": "opp-acme-1", "amount": 240000}
    assert amount["evidence"] in lines[7]
    assert result.summary_text == "Jane now wants 200 seats instead of 100."
    assert result.ingestion["chunks"] == 1
    # The deal's CRM figures are not in what the model was shown.
    asked = service.model.requests[0]["messages"][1]["content"]  # type: ignore[union-attr]
    assert "Open deal" not in asked and "[4] Alice Wong: " in asked


async def test_a_window_the_model_garbles_is_passed_over_not_fatal(
    meeting_crm: CRMService,
) -> None:
    """The model answers the window with something that is not the schema; the ingestion
    goes on, says so, and what the cue rules read still stands."""
    data = (FIXTURES / "acme-2026-11-20.vtt").read_bytes()
    garbage = {"action_items": "send the quote", "changes": 7}
    model = ScriptedChatModel([{"agent": "meetings", "output": garbage}])
    service = MeetingService(crm=meeting_crm, model=model, strategy="lines")
    result = await service.ingest_bytes(filename="a.vtt", data=data, actor_id="u-alice",
                                        dry_run=True)  # fmt: skip
    [problem] = result.ingestion["problems"]
    assert problem.startswith("The model's reading of lines 1–7 could not be used")
    assert "rules' findings there still stand" in problem
    assert [i["owner_name"] for i in result.action_items] == ["Alice Wong", "Raj Mehta"]
    assert [c["args"].get("amount") for c in result.proposed_changes] == [240000]


def test_length_bounds_reach_llama_cpp_grammars_only() -> None:
    """maxLength / maxItems keep the small model's answer short where llama.cpp makes a
    grammar of them; a hosted API's strict mode is sent the schema without them, and an
    answer past them is still read (they bound the writing, they do not check it)."""
    bounded = json.dumps(response_format_for(LinesOut, strict=True, length_bounds=True))
    assert '"maxLength": 60' in bounded and '"maxItems": 6' in bounded
    plain = json.dumps(response_format_for(LinesOut, strict=True))
    assert "maxLength" not in plain and "maxItems" not in plain
    long = LinesOut.model_validate(
        {"action_items": [{"line": 1, "text": "x" * 500}] * 9, "changes": [], "summary": []}
    )
    assert len(long.action_items) == 9


def test_auto_reads_lines_with_the_embedded_model_and_chunks_with_others(
    meeting_crm: CRMService,
) -> None:
    from agents.llm import LLAMA_SERVER, OPENAI, OpenAIChatModel

    service = MeetingService(crm=meeting_crm)
    local = OpenAIChatModel(base_url="http://127.0.0.1:9/v1", api_key="k", model="local",
                            dialect=LLAMA_SERVER)  # fmt: skip
    hosted = OpenAIChatModel(base_url="http://127.0.0.1:9/v1", api_key="k", model="gpt",
                             dialect=OPENAI)  # fmt: skip
    assert service.strategy_for(local) == "lines"
    assert service.strategy_for(hosted) == "chunks"
    assert service.strategy_for(scripted()) == "chunks"
    assert MeetingService(crm=meeting_crm, strategy="chunks").strategy_for(local) == "chunks"
