"""The `warroom` command line over a real SQLite CRM (the demo company)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tools.fixtures import FixtureError, load_fixture, validate_fixture
from warroom.cli import app

runner = CliRunner()


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_DEMO_TODAY", "2026-11-23")
    result = runner.invoke(app, ["seed", "--no-knowledge"])
    assert result.exit_code == 0, result.output
    assert "accounts" in result.output and "60" in result.output


def test_seed_refuses_to_seed_twice(seeded: None) -> None:
    again = runner.invoke(app, ["seed", "--no-knowledge"])
    assert again.exit_code == 2 and "replace" in again.output
    assert runner.invoke(app, ["seed", "--no-knowledge", "--replace"]).exit_code == 0


def test_accounts_as_a_rep_are_their_team_only(seeded: None) -> None:
    result = runner.invoke(app, ["crm", "accounts", "--as", "u-alice", "--json"])
    assert result.exit_code == 0, result.output
    accounts = json.loads(result.output)
    assert accounts and {a["team"] for a in accounts} == {"west"}
    table = runner.invoke(app, ["crm", "accounts", "--as", "u-alice", "--query", "acme"])
    assert "Acme Corp" in table.output


def test_support_sees_no_deal_money(seeded: None) -> None:
    result = runner.invoke(app, ["crm", "opportunity", "opp-helix-1", "--as", "u-sam", "--json"])
    data = json.loads(result.output)
    assert data["amount"] is None and "amount" in data["hidden_fields"]
    shown = runner.invoke(app, ["crm", "opportunity", "opp-helix-1", "--as", "u-sam"])
    assert "(hidden)" in shown.output


def test_lists_and_shows(seeded: None) -> None:
    for args in (
        ["crm", "opportunities", "--as", "u-maria", "--stage", "negotiation"],
        ["crm", "tickets", "--as", "u-priya", "--priority", "p1"],
        ["crm", "ticket", "tkt-helix-1", "--as", "u-sam"],
        ["crm", "projects", "--as", "u-dana"],
        ["crm", "project", "prj-helix", "--as", "u-dev"],
        ["crm", "account", "acc-acme", "--as", "u-alice"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)


def test_errors_are_one_clear_sentence(seeded: None) -> None:
    unknown_user = runner.invoke(app, ["crm", "accounts", "--as", "u-ghost"])
    assert unknown_user.exit_code == 2 and "no user 'u-ghost'" in unknown_user.output
    other_team = runner.invoke(app, ["crm", "account", "acc-helix", "--as", "u-alice"])
    # A hidden account reads exactly like a missing one (tools/visibility.py).
    assert other_team.exit_code == 2 and "No account with id 'acc-helix'" in other_team.output
    missing = runner.invoke(app, ["crm", "ticket", "tkt-nope", "--as", "u-sam"])
    assert missing.exit_code == 2 and "tkt-nope" in missing.output
    bad_filter = runner.invoke(app, ["crm", "tickets", "--as", "u-sam", "--priority", "p9"])
    assert bad_filter.exit_code == 2 and "priority" in bad_filter.output


def test_broken_policy_fails_at_start(
    seeded: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nrules:\n  - id: x\n    tool: nope\n")
    monkeypatch.setenv("WARROOM_POLICY_PATH", str(policy))
    result = runner.invoke(app, ["crm", "accounts", "--as", "u-alice"])
    assert result.exit_code == 2
    assert str(policy) in result.output.replace("\n", "") and "line" in result.output
    check = runner.invoke(app, ["policy", "check", str(policy)])
    assert check.exit_code == 2


def test_policy_check_lists_rules() -> None:
    result = runner.invoke(app, ["policy", "check"])
    assert result.exit_code == 0 and "discount-above-15" in result.output


def test_demo_and_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_DEMO_TODAY", "2026-11-23")
    demo = runner.invoke(app, ["demo", "--no-conversations", "--no-knowledge"])
    assert demo.exit_code == 0, demo.output
    assert "held for review" in demo.output and "refused" in demo.output
    audit = runner.invoke(app, ["audit", "--as", "u-admin", "--json"])
    events = json.loads(audit.output)
    assert {e["outcome"] for e in events} == {"committed", "refused"}
    only_alice = runner.invoke(app, ["audit", "--as", "u-admin", "--actor", "u-priya", "--json"])
    assert json.loads(only_alice.output) == []
    assert runner.invoke(app, ["audit", "--as", "u-admin"]).exit_code == 0
    assert runner.invoke(app, ["audit"], env={"WARROOM_AS": ""}).exit_code == 2  # --as required


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ({"widgets": []}, "unknown fixture table"),
        ({"accounts": [{"id": "a", "name": "A", "tier": "gold"}]}, "accounts a: tier"),
        ({"accounts": [{"id": "a", "name": "A", "colour": "red"}]}, "accounts a: colour"),
        ({"accounts": [{"id": "a", "name": "A", "owner_id": "u-x"}]}, "owner_id 'u-x'"),
        ({"accounts": {"id": "a"}}, "must be a list"),
        (
            {"tickets": [{"id": "t", "account_id": "a", "subject": "s", "opened_at": "yesterday"}]},
            "tickets t: opened_at",
        ),
    ],
)
def test_bad_fixtures_name_table_record_and_field(fixture: dict, message: str) -> None:
    with pytest.raises(FixtureError, match=message):
        validate_fixture(fixture)


def test_conflicting_fixture_writes_nothing(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    users = {"users": [{"id": "u-1", "name": "One", "roles": ["rep"]}]}
    load_fixture(sqlite_db, users)
    with pytest.raises(FixtureError, match="conflicts"):
        load_fixture(sqlite_db, {**users, "accounts": [{"id": "a", "name": "A"}]})
    from sqlalchemy import text

    with sqlite_db.engine.connect() as conn:
        assert conn.execute(text("select count(*) from accounts")).scalar() == 0


def test_review_inbox_and_decisions(seeded: None) -> None:
    from datetime import timedelta

    from warroom.app import App

    crm = App().crm()
    alice = crm.actor("u-alice")
    proposal = crm.propose(
        "apply_discount",
        {"opportunity_id": "opp-acme-1", "percent": 25, "reason": "200 seats"},
        alice,
        thread_id="cli-t",
    )
    decision = crm.gate([proposal], alice)[0]
    approval = crm.request_review(proposal, decision, thread_id="cli-t", ttl=timedelta(hours=1))
    inbox = runner.invoke(app, ["review", "--as", "u-maria"])
    assert inbox.exit_code == 0, inbox.output
    assert approval["id"] in inbox.output and "discount-above-15" in inbox.output
    assert "Nothing waits" in runner.invoke(app, ["review", "--as", "u-omar"]).output
    wrong = runner.invoke(app, ["review", "--as", "u-omar", "approve", approval["id"]])
    assert wrong.exit_code == 2 and "Only u-maria may decide" in wrong.output
    edited = runner.invoke(
        app,
        [
            "review",
            "--as",
            "u-maria",
            "edit",
            approval["id"],
            "--set",
            "percent=18",
            "--comment",
            "18 max",
        ],
    )
    assert edited.exit_code == 0, edited.output
    assert "approved" in edited.output
    shown = runner.invoke(app, ["crm", "opportunity", "opp-acme-1", "--as", "u-alice", "--json"])
    assert json.loads(shown.output)["discount_percent"] == 18
    again = runner.invoke(app, ["review", "--as", "u-maria", "approve", approval["id"]])
    assert again.exit_code == 0 and "Already approved" in again.output


def test_users_admins_see_everyone_others_their_team(seeded: None) -> None:
    everyone = json.loads(runner.invoke(app, ["users", "--as", "u-admin", "--json"]).output)
    team = json.loads(runner.invoke(app, ["users", "--as", "u-alice", "--json"]).output)
    assert {"u-admin", "u-alice", "u-sam"} <= {u["id"] for u in everyone}
    assert {u["team"] for u in team} == {"west"} and "u-alice" in {u["id"] for u in team}
    assert len(team) < len(everyone)


def test_square_brackets_in_crm_text_are_printed_as_text(seeded: None) -> None:
    from tools.models import Account
    from warroom.app import App

    with App().db.session() as session:
        session.get(Account, "acc-acme").industry = "[local] manufacturing"  # type: ignore[union-attr]
    shown = runner.invoke(app, ["crm", "account", "acc-acme", "--as", "u-alice"])
    assert "[local] manufacturing" in shown.output


def test_audit_detail_names_approvers_and_the_edit(seeded: None) -> None:
    from datetime import timedelta

    from warroom.app import App

    crm = App().crm()
    alice = crm.actor("u-alice")
    proposal = crm.propose(
        "apply_discount",
        {"opportunity_id": "opp-acme-1", "percent": 30, "reason": "200 seats"},
        alice,
        thread_id="cli-d",
    )
    decision = crm.classify([proposal], alice)[0]
    approval = crm.request_review(proposal, decision, thread_id="cli-d", ttl=timedelta(hours=1))
    edited = runner.invoke(
        app, ["review", "--as", "u-maria", "edit", approval["id"], "--set", "percent=20"]
    )
    assert edited.exit_code == 0, edited.output
    assert "you asked percent 30, Maria Lopez approved 20" in " ".join(edited.output.split())
    plain = runner.invoke(app, ["audit", "--as", "u-admin", "--record", "opp-acme-1"])
    assert "by u-maria" in plain.output
    detail = runner.invoke(app, ["audit", "--as", "u-admin", "--detail", "--json", "--limit", "5"])
    [event] = [e for e in json.loads(detail.output) if e["action"] == "apply_discount"]
    assert any("approved by u-maria" in line for line in event["review"])
    assert any(
        "edit by u-maria: percent: asked 30, was 30 → 20" in line for line in event["review"]
    )


def test_policy_check_and_start_up_refuse_a_typo(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from warroom.settings import DEFAULT_POLICY_PATH

    broken = tmp_path / "policy.yaml"
    broken.write_text(
        DEFAULT_POLICY_PATH.read_text().replace("percent: {gt: 15}", "percent: {gt: .nan}")
    )
    check = runner.invoke(app, ["policy", "check", str(broken)])
    assert check.exit_code == 2
    assert "rule 'discount-above-15'" in check.output and "when.percent.gt" in check.output
    assert runner.invoke(app, ["policy", "check", str(DEFAULT_POLICY_PATH)]).exit_code == 0
    monkeypatch.setenv("WARROOM_POLICY_PATH", str(broken))
    started = runner.invoke(app, ["crm", "accounts", "--as", "u-alice"])
    assert started.exit_code != 0 and "rule 'discount-above-15'" in started.output
    assert "Traceback" not in started.output
