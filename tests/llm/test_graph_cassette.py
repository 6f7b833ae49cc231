"""Whole conversation turns through the real graph, with exchanges recorded once against the
embedded local model and replayed offline.

Re-record (needs the fetched model and llama-server (`make setup-local`); takes minutes on 2 cores):
    pytest tests/llm/test_graph_cassette.py --record-mode=rewrite
Without a recording mode, any request not in the cassette fails instead of reaching a server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from agents.conversation import ConversationService
from agents.llm import LLAMA_SERVER, OpenAIChatModel
from tests.conftest import small_company
from tools.context import FixedClock
from tools.db import Database
from tools.fixtures import load_fixture
from tools.policy import Policy
from tools.service import CRMService
from warroom.settings import DEFAULT_POLICY_PATH

from .conftest import CASSETTE_API_KEY, CASSETTE_BASE_URL


@pytest.fixture
async def local_model(request, record_mode) -> AsyncIterator[OpenAIChatModel]:
    if record_mode == "none":
        base_url, api_key = CASSETTE_BASE_URL, CASSETTE_API_KEY
    else:
        server = request.getfixturevalue("local_server")
        base_url, api_key = server.base_url, server.api_key
    model = OpenAIChatModel(
        base_url=base_url,
        api_key=api_key,
        model="local",
        dialect=LLAMA_SERVER,
        temperature=0.0,
        max_answer_tokens=700,
    )
    yield model
    await model.aclose()


@pytest.fixture
def company_crm(tmp_path: Path) -> CRMService:
    db = Database(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    load_fixture(db, small_company())
    clock = FixedClock.on(date(2026, 11, 20), hour=12)
    return CRMService(db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=clock)


@pytest.mark.vcr
async def test_service_question_with_the_local_model(company_crm, local_model) -> None:
    convo = ConversationService(crm=company_crm, model=local_model)
    turn = await convo.send(
        thread_id="cassette-1", user_id="u-sam", text="Which P1 tickets breach SLA this week?"
    )
    tools = [e for e in turn.events if e["type"] == "tool"]
    assert [e["tool"] for e in tools][:1] == ["list_tickets"]
    first = tools[0]
    if first["ok"]:
        assert "tkt-helix-1" in turn.reply or "Login outage" in turn.reply
    else:
        # The 1.5B model invents an account id here (recorded as it happened); the tool refuses
        # it and the user reads that sentence instead of a made-up answer.
        assert first["summary"] in turn.reply and "exists" in turn.reply
    assert turn.usage["total"]["calls"] >= 2


@pytest.mark.vcr
async def test_sales_write_with_the_local_model(company_crm, local_model) -> None:
    convo = ConversationService(crm=company_crm, model=local_model)
    turn = await convo.send(
        thread_id="cassette-2",
        user_id="u-alice",
        text="Log a call with Jane at Acme: they want 200 seats, close by Dec 31.",
    )
    committed = [e for e in company_crm.audit_events() if e.outcome == "committed"]
    calls = [e for e in turn.events if e["type"] == "tool" and e["tool"] == "log_activity"]
    assert calls, (turn.reply, turn.events)
    if calls[-1]["ok"]:
        assert any(
            e.action == "log_activity" and e.arguments["account_id"] == "acc-acme"
            for e in committed
        ), (turn.reply, turn.events)
        assert "Done:" in turn.reply
    else:
        # Recorded as it happened: the 1.5B model put something that is not a contact id in
        # contact_ids; the tool refuses the arguments, nothing is written, and the user reads
        # what was not done and why.
        assert not [e for e in committed if e.action == "log_activity"]
        assert "Not done: Invalid arguments for log_activity: contact_ids" in turn.reply
