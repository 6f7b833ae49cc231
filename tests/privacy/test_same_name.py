"""Privacy requests act on one contact id. A name only finds candidate mentions, attributed by
account, e-mail, phone and meeting attendees: a same-name contact in another account is left
untouched, ambiguous mentions are reported (never erased or exported), and a first-name-only
mention in the contact's own account is erased with them. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from tools.models import Activity, Contact, Task
from tools.privacy import ERASED, PrivacyService
from tools.service import CRMService

AT = datetime(2026, 11, 15, 10, tzinfo=UTC)


def _plant(crm: CRMService, *, same_account_first_name: bool = False) -> None:
    with crm.db.session() as s:
        # The other Jane Doe: another account, another e-mail.
        s.add(Contact(id="con-jane-h", account_id="acc-helix", name="Jane Doe",
                      email="jane.doe@helix.example"))  # fmt: skip
        if same_account_first_name:
            s.add(Contact(id="con-jane-r", account_id="acc-acme", name="Jane Roe"))
        notes = {
            "act-acme-full": ("acc-acme", "Jane Doe asked for the revised quote."),
            "act-acme-first": ("acc-acme", "Jane said the budget is approved."),
            "act-acme-mail": ("acc-acme", "Forwarded to jane@acme.example for sign-off."),
            "act-helix-full": ("acc-helix", "Jane Doe from Helix wants a demo."),
            "act-helix-first": ("acc-helix", "Jane confirmed the rollout window."),
        }
        for key, (account, summary) in notes.items():
            s.add(Activity(id=key, account_id=account, kind="note", subject="Note",
                           summary=summary, occurred_at=AT, author_id="u-alice",
                           contact_ids=[]))  # fmt: skip
        s.add(Task(id="task-loose", subject="Call Jane Doe back", due_date=date(2026, 12, 1),
                   owner_id="u-alice", account_id=None))  # fmt: skip


def _summary(crm: CRMService, activity_id: str) -> str:
    with crm.db.read_session() as s:
        record = s.get(Activity, activity_id)
        assert record is not None
        return record.summary


def test_erasure_leaves_the_namesake_alone(privacy: PrivacyService, stores: dict[str, Any],
                                          crm: CRMService) -> None:  # fmt: skip
    _plant(crm)
    memory = stores["memory"]
    mine = memory.remember("acc-acme", "Jane said they prefer annual billing.", author_id="u-alice",
                           source_kind="meeting", source_ref="m1", at=AT)  # fmt: skip
    theirs = memory.remember("acc-helix", "Jane Doe prefers e-mail over calls.",
                             author_id="u-bob", source_kind="meeting", source_ref="m2",
                             at=AT)  # fmt: skip

    report = privacy.erase("con-jane", actor_id="u-admin")

    assert ERASED in _summary(crm, "act-acme-full") and "Jane" not in _summary(crm, "act-acme-full")
    assert "Jane" not in _summary(crm, "act-acme-first")  # first name, own account
    assert "jane@acme.example" not in _summary(crm, "act-acme-mail")
    assert _summary(crm, "act-helix-full") == "Jane Doe from Helix wants a demo."
    assert _summary(crm, "act-helix-first") == "Jane confirmed the rollout window."
    with crm.db.read_session() as s:
        other = s.get(Contact, "con-jane-h")
        assert other is not None and other.name == "Jane Doe" and other.erased_at is None
        assert other.email == "jane.doe@helix.example"
        task = s.get(Task, "task-loose")
        assert task is not None and task.subject == "Call Jane Doe back"  # ambiguous: kept
    assert {"table": "tasks", "id": "task-loose"}.items() <= next(
        a for a in report.ambiguous if a["id"] == "task-loose"
    ).items()
    facts = {f.id for a in ("acc-acme", "acc-helix") for f in memory.facts_of(a)}
    assert mine.id not in facts and theirs.id in facts


def test_export_takes_only_what_is_theirs(privacy: PrivacyService, stores: dict[str, Any],
                                          crm: CRMService) -> None:  # fmt: skip
    _plant(crm)
    exported = privacy.export("con-jane", actor_id="u-admin")
    activities = {a["id"] for a in exported["crm"]["activities"]}
    assert {"act-acme-full", "act-acme-first", "act-acme-mail", "act-1"} <= activities
    assert not activities & {"act-helix-full", "act-helix-first"}
    assert [c["id"] for c in exported["crm"]["contacts"]] == ["con-jane"]
    assert "tasks" not in exported["crm"]
    assert [a["id"] for a in exported["ambiguous"]] == ["task-loose"]
    helix = privacy.export("con-jane-h", actor_id="u-admin")
    assert {a["id"] for a in helix["crm"]["activities"]} == {"act-helix-full", "act-helix-first"}


def test_a_shared_first_name_in_the_account_is_ambiguous(privacy: PrivacyService,
                                                         crm: CRMService) -> None:  # fmt: skip
    _plant(crm, same_account_first_name=True)
    report = privacy.erase("con-jane", actor_id="u-admin")
    assert _summary(crm, "act-acme-first") == "Jane said the budget is approved."  # Jane Roe?
    assert "act-acme-first" in {a["id"] for a in report.ambiguous}
    assert "Jane Doe" not in _summary(crm, "act-acme-full")  # the full name is still hers
