"""`warroom inbox` and `warroom trail` over a real SQLite CRM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from tests.conftest import small_company
from tools.context import SystemClock
from tools.db import Database
from tools.fixtures import load_fixture
from tools.policy import Policy
from tools.service import CRMService
from warroom.cli import app
from warroom.settings import DEFAULT_POLICY_PATH

runner = CliRunner()


@pytest.fixture
async def requested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    monkeypatch.setenv("WARROOM_DATABASE_URL", url)
    db = Database(url)
    load_fixture(db, small_company())
    crm = CRMService(db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=SystemClock())
    steps = [
        {
            "agent": "sales",
            "tool_calls": [
                {
                    "name": "apply_discount",
                    "arguments": {"opportunity_id": "opp-acme-1", "percent": 12, "reason": "r"},
                }
            ],
        },
        {"agent": "sales", "reply": "Asked."},
    ]
    with db.session() as session:  # Sam works a ticket on Acme: a relation to the account
        from tools.models import Ticket

        session.get(Ticket, "tkt-acme-1").assignee_id = "u-sam"
    convo = ConversationService(crm=crm, model=ScriptedChatModel(steps))
    turn = await convo.send(
        thread_id="cli-u-sam-1", user_id="u-sam", text="Ask for a 12% concession on Acme's deal"
    )
    db.dispose()
    return str(turn.outcome["pending"][0]["approval_id"])


async def test_inbox_lists_the_cross_team_request_for_the_sales_manager(requested: str) -> None:
    result = runner.invoke(app, ["inbox", "--as", "u-maria", "--json"])
    assert result.exit_code == 0, result.output
    box = json.loads(result.output)
    assert [(i["kind"], i["id"], i["from_user"]) for i in box["items"]] == [
        ("cross-team request", requested, "Sam Patel")
    ]
    table = runner.invoke(app, ["inbox", "--as", "u-sam"])
    assert "Your requests waiting for others" in table.output
    unknown = runner.invoke(app, ["inbox", "--as", "u-nope"])
    assert unknown.exit_code == 2 and "There is no user 'u-nope'" in unknown.output


async def test_trail_json_mermaid_and_masking(requested: str) -> None:
    manager = runner.invoke(app, ["trail", requested, "--as", "u-maria", "--json"])
    assert manager.exit_code == 0, manager.output
    steps = json.loads(manager.output)["steps"]
    assert [s["kind"] for s in steps][:3] == ["asked", "proposed", "cross-team"]
    assert "12% discount" in steps[1]["text"]
    support = runner.invoke(app, ["trail", requested, "--as", "u-sam", "--json"])
    assert "12%" not in support.output and "(hidden)" in support.output
    diagram = runner.invoke(app, ["trail", "acc-acme", "--as", "u-maria", "--mermaid"])
    assert diagram.output.startswith("sequenceDiagram")
    table = runner.invoke(app, ["trail", "acc-acme", "--as", "u-maria"])
    assert "cross-team" in table.output and "Sam Patel" in table.output
    refused = runner.invoke(app, ["trail", "acc-acme", "--as", "u-bob"])
    assert refused.exit_code == 2 and "no account or review request 'acc-acme'" in refused.output
