"""Export and erasure of one contact across every store, on SQLite and on PostgreSQL: afterwards a
raw search of every database table, the checkpoint tables and the Chroma files finds nothing."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from agents.conversation import ConversationService
from agents.llm import ScriptedChatModel, ScriptStep
from agents.llm_types import ToolCall
from memory.checkpoint import checkpoint_location, open_async_checkpointer
from tools.models import Activity, AuditEvent, ConsentChange, Contact, Opportunity, Ticket
from tools.privacy import ERASED, PrivacyRequestError, PrivacyService
from tools.service import CRMService

NEEDLES = ["Jane Doe", "jane@acme.example", "555 0100", "5550100"]
OTHERS = ["Raj Mehta", "raj@acme.example"]


def _hits(value: Any, needles: list[str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8", errors="ignore")
    lowered = str(value).lower()
    return [n for n in needles if n.lower() in lowered]


def crm_database_hits(crm: CRMService, needles: list[str]) -> list[tuple[str, str]]:
    """Every row of every table in the CRM database (checkpoint tables included on PostgreSQL)."""
    found = []
    with crm.db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    found += [(table, n) for n in _hits(value, needles)]
    return found


def sqlite_file_hits(path: Path, needles: list[str]) -> list[tuple[str, str]]:
    """Every row of every table, then the raw bytes of the file and its WAL."""
    found = []
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    found += [(table, n) for n in _hits(value, needles)]
    finally:
        conn.close()
    for file in [path, path.with_name(path.name + "-wal")]:
        if file.exists():
            raw = file.read_bytes()
            found += [(f"raw:{file.name}", n) for n in needles if n.encode() in raw]
    return found


HNSW_BINARY_FILES = {"data_level0.bin", "length.bin", "link_lists.bin", "header.bin"}


def chroma_hits(chroma_dir: Path, needles: list[str]) -> list[tuple[str, str]]:
    found = sqlite_file_hits(chroma_dir / "chroma" / "chroma.sqlite3", needles)
    for file in (chroma_dir / "chroma").rglob("*"):
        # hnswlib's binary files hold vectors, labels, link lists and their lengths, and it
        # writes preallocated, never-initialised memory into them as it is: whatever the
        # process's heap held (any text it ever handled) can show up there without being
        # stored (seen in data_level0.bin and, once in CI, length.bin). Stored text lives in
        # chroma.sqlite3 and is scanned above, raw pages included.
        if file.is_file() and file.name not in HNSW_BINARY_FILES:
            raw = file.read_bytes()
            found += [(f"raw:{file.name}", n) for n in needles if n.encode() in raw]
    return found


def checkpoint_hits(crm: CRMService, needles: list[str]) -> list[tuple[str, str]]:
    kind, target = checkpoint_location(crm.db.url)
    if kind == "sqlite":
        return sqlite_file_hits(Path(target), needles)
    return [h for h in crm_database_hits(crm, needles) if h[0].startswith("checkpoint")]


def _email_model(body: str) -> ScriptedChatModel:
    return ScriptedChatModel(
        [
            ScriptStep(
                agent="sales",
                tool_calls=[
                    ToolCall(
                        "c1",
                        "send_email",
                        {"contact_id": "con-jane", "subject": "Renewal", "body": body},
                    )
                ],
            ),
            ScriptStep(agent="sales", reply="The e-mail to Jane Doe waits for Maria's approval."),
        ]
    )


async def _conversation(crm: CRMService, model: Any, thread_id: str, text_: str) -> Any:
    async with open_async_checkpointer(crm.db.url) as saver:
        convo = ConversationService(crm=crm, model=model, checkpointer=saver)
        return await convo.send(thread_id=thread_id, user_id="u-alice", text=text_)


@pytest.fixture
async def personal_data(crm: CRMService, stores: dict[str, Any]) -> dict[str, str]:
    """Jane Doe (con-jane) in every store, and other people's data that must survive."""
    with crm.db.session() as session:
        ticket = session.get(Ticket, "tkt-acme-1")
        ticket.description = "Jane Doe called from +1 555 0100 about slow dashboards."
        opportunity = session.get(Opportunity, "opp-acme-1")
        opportunity.next_step = "Send Jane Doe and Raj Mehta the quote"
    sent = crm.call(
        "send_email",
        {"contact_id": "con-jane", "subject": "Hello", "body": "Hi Jane Doe, as discussed."},
        crm.actor("u-alice"),
    )
    assert sent["ok"], sent
    PrivacyService(crm).set_consent(
        "con-jane",
        actor_id="u-alice",
        marketing=True,
        reason="Jane Doe agreed on the phone (+1 555 0100).",
    )
    stores["kb"].add_documents(
        [
            {
                "id": "kb-champions",
                "title": "Acme champions",
                "text": "Our champion at Acme is Jane Doe, jane@acme.example. Raj Mehta signs.",
            },
            {"id": "kb-pricing", "title": "Pricing", "text": "Seats cost 1200 USD a year."},
        ]
    )
    memory = stores["memory"]
    at = crm.clock.now()
    memory.remember(
        "acc-acme",
        "She prefers calls on Fridays.",
        author_id="u-alice",
        source_kind="conversation",
        source_ref="t1",
        contact_ids=["con-jane"],
        at=at,
    )
    memory.remember(
        "acc-acme",
        "Write to jane@acme.example, not the shared inbox.",
        author_id="u-alice",
        source_kind="email",
        source_ref="m1",
        at=at,
    )
    memory.remember(
        "acc-acme",
        "Budget approved for 200 seats.",
        author_id="u-alice",
        source_kind="meeting",
        source_ref="m2",
        at=at,
    )
    thread = f"t-{uuid.uuid4().hex[:8]}"
    other = f"t-{uuid.uuid4().hex[:8]}"
    turn = await _conversation(
        crm,
        _email_model("Dear Jane Doe, call me on +1 555 0100 about the renewal."),
        thread,
        "E-mail Jane Doe (jane@acme.example) at Acme about the renewal.",
    )
    assert turn.outcome["pending"], turn.reply
    quiet = ScriptedChatModel([ScriptStep(agent="sales", reply="Acme has one open deal.")])
    await _conversation(crm, quiet, other, "How is the Acme deal pipeline?")
    return {"thread": thread, "other": other, "approval": turn.outcome["pending"][0]["approval_id"]}


async def test_export_lists_the_contact_in_every_store(
    crm: CRMService, privacy: PrivacyService, personal_data: dict[str, str]
) -> None:
    data = privacy.export("con-jane", actor_id="u-admin")
    crm_part = data["crm"]
    assert crm_part["contacts"][0]["email"] == "jane@acme.example"
    assert {a["id"] for a in crm_part["activities"]} == {"act-1"}
    assert [m["subject"] for m in crm_part["outbox"]] == ["Hello"]
    assert crm_part["consent_changes"][0]["channel"] == "marketing"
    assert crm_part["tickets"][0]["id"] == "tkt-acme-1"
    assert crm_part["approvals"][0]["id"] == personal_data["approval"]
    assert crm_part["audit_events"]
    assert [c["source"] for c in data["knowledge"]] == ["kb-champions"]
    assert sorted(f["source_ref"] for f in data["account_memory"]) == ["m1", "t1"]
    threads = {t["thread_id"]: t["messages"] for t in data["checkpoints"]}
    assert personal_data["thread"] in threads and personal_data["other"] not in threads
    assert any("Jane Doe" in m["text"] for m in threads[personal_data["thread"]])
    json.dumps(data)  # the CLI writes it as JSON
    exported = crm.audit_events(actor_id="u-admin")[0]
    assert exported.action == "privacy.export" and "Jane" not in json.dumps(exported.arguments)


async def test_erasure_leaves_nothing_anywhere(
    crm: CRMService,
    privacy: PrivacyService,
    personal_data: dict[str, str],
    chroma_dir: Path,
    stores: dict[str, Any],
) -> None:
    assert crm_database_hits(crm, NEEDLES) and chroma_hits(chroma_dir, NEEDLES)
    assert checkpoint_hits(crm, NEEDLES)

    report = privacy.erase("con-jane", actor_id="u-admin", reason="Jane Doe asked (GDPR art. 17)")

    assert not report.already_erased
    assert report.stores["knowledge"] == {"chunks": 1}
    assert report.stores["account_memory"] == {"facts": 2}
    assert report.stores["checkpoints"]["threads"] >= 1 and report.stores["checkpoints"]["rows"]
    assert report.stores["crm"]["contacts"] == 1 and report.stores["crm"]["outbox"] == 1
    assert crm_database_hits(crm, NEEDLES) == []
    assert checkpoint_hits(crm, NEEDLES) == []
    assert chroma_hits(chroma_dir, NEEDLES) == []

    # What must stay stays: records, ids and amounts, other people, other threads and facts.
    with crm.db.read_session() as session:
        jane = session.get(Contact, "con-jane")
        assert (jane.name, jane.email, jane.phone, jane.consent_email) == (
            ERASED,
            None,
            None,
            False,
        )
        assert jane.erased_at is not None
        assert session.get(Activity, "act-1").contact_ids == ["con-jane"]
        deal = session.get(Opportunity, "opp-acme-1")
        assert deal.amount == 100000 and deal.next_step == f"Send {ERASED} and Raj Mehta the quote"
        assert session.get(Contact, "con-raj").email == "raj@acme.example"
        changes = session.scalars(select(ConsentChange)).all()
        assert [c.contact_id for c in changes] == ["con-jane"]
        event = session.get(AuditEvent, report.audit_event_id)
    assert event.action == "privacy.erase" and event.actor_id == "u-admin"
    assert event.arguments["stores"]["knowledge"] == {"chunks": 1}
    assert event.reason == f"{ERASED} asked (GDPR art. 17)"
    assert crm_database_hits(crm, OTHERS)  # Raj was not touched
    assert [r["status"] for r in crm.reviews(status=None)] == ["failed"]
    assert stores["kb"].count() == 1 and stores["memory"].count() == 1
    assert checkpoint_hits(crm, ["How is the Acme deal pipeline?"])

    # No tool, search or chat answer can reveal her any more.
    alice = crm.actor("u-alice")
    account = crm.read("get_account", {"account_id": "acc-acme"}, alice)
    assert "Jane" not in json.dumps(account) and "jane@" not in json.dumps(account)
    assert not stores["kb"].search("Jane Doe champion", k=5, mode="lexical")
    assert all("jane" not in f.text.lower() for f in stores["memory"].recall("acc-acme", "Jane"))
    refused = crm.call(
        "send_email", {"contact_id": "con-jane", "subject": "Hi", "body": "x"}, alice
    )
    assert refused["ok"] is False and refused["rule"] == "consent"
    looker = ScriptedChatModel(
        [
            ScriptStep(
                agent="sales",
                tool_calls=[ToolCall("c1", "get_account", {"account_id": "acc-acme"})],
            ),
            ScriptStep(agent="sales", reply="Here is Acme."),
        ]
    )
    await _conversation(crm, looker, f"t-{uuid.uuid4().hex[:8]}", "Show me the Acme contacts")
    shown = json.dumps(looker.requests, ensure_ascii=False)
    assert "Jane Doe" not in shown and "jane@acme.example" not in shown


async def test_erasing_again_is_harmless_and_says_so(
    crm: CRMService, privacy: PrivacyService, personal_data: dict[str, str], chroma_dir: Path
) -> None:
    first = privacy.erase("con-jane", actor_id="u-admin")
    second = privacy.erase("con-jane", actor_id="u-admin")
    assert second.already_erased and first.total > 0
    assert second.stores["crm"] == {} and second.total == 0
    assert crm_database_hits(crm, NEEDLES) == [] and chroma_hits(chroma_dir, NEEDLES) == []


async def test_a_crash_between_stores_is_finished_by_running_again(
    crm: CRMService,
    privacy: PrivacyService,
    personal_data: dict[str, str],
    chroma_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checkpoints = privacy.stores[2]

    def crash(_subject: Any) -> dict[str, int]:
        raise RuntimeError("power cut")

    monkeypatch.setattr(checkpoints, "erase", crash)
    with pytest.raises(RuntimeError):
        privacy.erase("con-jane", actor_id="u-admin")
    with crm.db.read_session() as session:
        assert session.get(Contact, "con-jane").name == "Jane Doe"  # the CRM goes last
    monkeypatch.undo()
    report = privacy.erase("con-jane", actor_id="u-admin")
    assert not report.already_erased and report.stores["knowledge"] == {"chunks": 0}
    assert report.stores["checkpoints"]["threads"] >= 1
    assert crm_database_hits(crm, NEEDLES) == [] and checkpoint_hits(crm, NEEDLES) == []
    assert chroma_hits(chroma_dir, NEEDLES) == []


def test_only_admins_erase_or_export(crm: CRMService, privacy: PrivacyService) -> None:
    for call in (
        lambda: privacy.erase("con-jane", actor_id="u-maria"),
        lambda: privacy.export("con-jane", actor_id="u-alice"),
    ):
        with pytest.raises(PrivacyRequestError) as caught:
            call()
        assert caught.value.kind == "refused" and "only admins" in caught.value.message
    with crm.db.read_session() as session:
        assert session.get(Contact, "con-jane").email == "jane@acme.example"


def test_unknown_contact_or_user_is_a_clear_error(privacy: PrivacyService) -> None:
    with pytest.raises(PrivacyRequestError) as caught:
        privacy.erase("con-nobody", actor_id="u-admin")
    assert caught.value.kind == "not_found" and "con-nobody" in caught.value.message
    with pytest.raises(PrivacyRequestError) as caught:
        privacy.export("con-jane", actor_id="u-ghost")
    assert "u-ghost" in caught.value.message


def test_an_erased_contact_has_no_consent_to_change(crm: CRMService) -> None:
    PrivacyService(crm).erase("con-raj", actor_id="u-admin")
    with pytest.raises(PrivacyRequestError, match="was erased"):
        PrivacyService(crm).set_consent("con-raj", actor_id="u-admin", email=True, reason="x")
