"""Meeting extraction by the embedded local model, recorded once and replayed offline.

Re-record (needs the fetched model and a llama.cpp runtime; minutes on 2 cores; never together
with another local-model job):
    flock /tmp/warroom-local-llm.lock .venv/bin/python -m pytest \
        tests/meetings/test_local_model_cassette.py --record-mode=rewrite
Without a recording mode any request missing from the cassette fails instead of reaching a
server. Whatever the small model answers, the rules hold: every action item and change kept
quotes the transcript verbatim, dates come from code, the account from matching.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agents.llm import LLAMA_CPP_PYTHON, OpenAIChatModel
from channels.meetings import MeetingService
from channels.meetings.grounding import normalise
from channels.meetings.parsers import parse_transcript
from tests.llm.conftest import (
    CASSETTE_API_KEY,
    CASSETTE_BASE_URL,
    _skip_readiness_probes,
    local_server,  # noqa: F401  (the recording server fixture)
)
from tools.service import CRMService

from .conftest import FIXTURES


@pytest.fixture
def vcr_config(record_mode: str) -> dict[str, Any]:
    return {
        "record_mode": record_mode,
        "filter_headers": ["authorization", "api-key", "x-api-key", "openai-organization"],
        "match_on": ["method", "path", "body"],
        "decode_compressed_response": True,
        "before_record_request": _skip_readiness_probes,
    }


@pytest.fixture
def vcr_cassette_dir() -> str:
    return str(Path(__file__).parent / "cassettes")


@pytest.fixture
async def local_model(request: pytest.FixtureRequest, record_mode: str
                      ) -> AsyncIterator[OpenAIChatModel]:  # fmt: skip
    if record_mode == "none":
        cassette = Path(__file__).parent / "cassettes" / f"{request.node.name}.yaml"
        if not cassette.exists():
            pytest.skip(f"{cassette.name} is not recorded yet (see the module docstring)")
        base_url, api_key = CASSETTE_BASE_URL, CASSETTE_API_KEY
    else:
        server = request.getfixturevalue("local_server")
        base_url, api_key = server.base_url, server.api_key
    model = OpenAIChatModel(base_url=base_url, api_key=api_key, model="local",
                            dialect=LLAMA_CPP_PYTHON, temperature=0.0)  # fmt: skip
    yield model
    await model.aclose()


def assert_grounded(result: Any, data: bytes, name: str) -> None:
    transcript = normalise(" ".join(s.text for s in parse_transcript(data, name).segments))
    for item in result.action_items:
        assert normalise(item["evidence"]) in transcript, item
    for change in result.proposed_changes:
        assert normalise(change["evidence"]) in transcript, change
        assert change["status"] in ("committed", "pending_approval", "refused", "failed")


@pytest.mark.vcr
async def test_local_model_reads_the_acme_call(meeting_crm: CRMService, local_model) -> None:
    data = (FIXTURES / "acme-2026-11-20.vtt").read_bytes()
    svc = MeetingService(crm=meeting_crm, model=local_model, strategy="chunks")
    result = await svc.ingest_bytes(filename="acme-2026-11-20.vtt", data=data, actor_id="u-alice")
    assert (result.account_id, result.opportunity_id) == ("acc-acme", "opp-acme-1")
    assert result.ingestion["activity"]["status"] == "committed"
    assert result.summary_text  # the model wrote something
    assert_grounded(result, data, "acme-2026-11-20.vtt")
    # As recorded (re-recorded with the cue rules): the model quoted Alice's promise as it
    # stands; the rules read Raj's too, and the amount where line 7 states it (the model's own
    # amount, stage, close date, next step and probability were set aside: their lines do not
    # state them). The summary sentence about a close "by December 31" — the CRM's date, not
    # the meeting's — was dropped as unsupported.
    alice, raj = result.action_items
    assert alice["evidence"] == "I'll send the revised quote for 200 seats by next Friday"
    assert (alice["owner_id"], alice["due_date"]) == ("u-alice", "2026-11-27")
    assert (raj["owner_name"], raj["due_date"]) == ("Raj Mehta", "2026-12-04")
    [amount] = result.proposed_changes
    assert amount["args"]["amount"] == 240000 and amount["status"] == "pending_approval"
    assert result.ingestion["found_by"]["rule_items"] == 2
    assert result.ingestion["found_by"]["model_uncorroborated"] == 4
    assert "December 31" not in result.summary_text
    for item in result.action_items:  # dates are either unsaid or resolved in code
        assert item["due_date"] is None or item["due_date"] >= "2026-11-20"


@pytest.mark.vcr
async def test_local_model_reads_the_chinese_call(meeting_crm: CRMService, local_model) -> None:
    data = (FIXTURES / "huaxing-zh.json").read_bytes()
    svc = MeetingService(crm=meeting_crm, model=local_model, strategy="chunks")
    result = await svc.ingest_bytes(filename="huaxing-zh.json", data=data, actor_id="u-chen")
    assert (result.account_id, result.opportunity_id) == ("acc-huaxing", "opp-huaxing-1")
    assert result.ingestion["activity"]["status"] == "committed"
    assert_grounded(result, data, "huaxing-zh.json")
    assert result.competitors == ["东方云"]  # named in the transcript, so kept
    # As recorded: it copied the prompt's example action item and wrote labels ("stage
    # proposal") as evidence; all of that was dropped. What the meeting says is still found,
    # by the cue rules: 陈伟's promise (due next Friday) and the signing at month end.
    assert result.ingestion["dropped"]["ungrounded"] >= 3
    [item] = result.action_items
    assert (item["owner_id"], item["due_date"]) == ("u-chen", "2026-11-27")
    assert "我下周五之前把新的中文报价发给您" in item["evidence"]
    [close] = result.proposed_changes
    assert close["args"]["close_date"] == "2026-11-30"
    assert result.ingestion["found_by"]["rule_items"] == 1
