from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from memory.account_memory import AccountMemory

T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def _seed(memory: AccountMemory) -> None:
    memory.remember(
        "acc-1",
        "Wei Zhang (CFO) wants the renewal signed before the end of Q3.",
        author_id="u-rep",
        source_kind="meeting",
        source_ref="transcript-7",
        contact_ids=["c-wei"],
        at=T0,
    )
    memory.remember(
        "acc-1",
        "The customer prefers invoices in EUR through Beacon GmbH.",
        author_id="u-rep",
        source_kind="conversation",
        source_ref="msg-12",
        at=T0 + timedelta(days=1),
    )
    memory.remember(
        "acc-1",
        "Contact anna.berg@acme.example or +49 30 1234 5678 for security reviews.",
        author_id="u-support",
        source_kind="email",
        source_ref="mail-3",
        at=T0 + timedelta(days=2),
    )
    memory.remember(
        "acc-1",
        "客户希望在十月底之前完成单点登录配置。",
        author_id="u-delivery",
        source_kind="meeting",
        source_ref="transcript-8",
        at=T0 + timedelta(days=3),
    )
    memory.remember(
        "acc-2",
        "Globex is the incumbent; their renewal is in March.",
        author_id="u-rep",
        source_kind="note",
        source_ref="note-1",
        contact_ids=["c-other"],
        at=T0,
    )


def test_remember_keeps_provenance(memory: AccountMemory) -> None:
    fact = memory.remember(
        "acc-1",
        "  Budget approved for 200 seats.  ",
        author_id="u-rep",
        source_kind="meeting",
        source_ref="transcript-1",
        contact_ids=["c-1", "c-1", "c-2"],
        at=datetime(2026, 9, 1, 11, 0, tzinfo=timezone(timedelta(hours=2))),
    )
    assert fact.text == "Budget approved for 200 seats."
    assert fact.contact_ids == ("c-1", "c-2")
    assert fact.created_at == datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    [stored] = memory.recall("acc-1")
    assert stored.model_dump(exclude={"score"}) == fact.model_dump(exclude={"score"})
    assert stored.created_at.tzinfo is not None


def test_remembering_the_same_fact_twice_is_idempotent(memory: AccountMemory) -> None:
    for _ in range(2):
        memory.remember(
            "acc-1",
            "Budget approved.",
            author_id="u",
            source_kind="meeting",
            source_ref="t-1",
            at=T0,
        )
    assert memory.count("acc-1") == 1


def test_naive_datetimes_are_refused(memory: AccountMemory) -> None:
    with pytest.raises(ValueError, match="timezone"):
        naive = datetime(2026, 1, 1)  # noqa: DTZ001
        memory.remember("acc-1", "x", author_id="u", source_kind="note", source_ref="n", at=naive)


def test_recall_by_meaning_and_by_recency_stays_in_the_account(memory: AccountMemory) -> None:
    _seed(memory)
    newest = memory.recall("acc-1", k=2)
    assert [f.source_ref for f in newest] == ["transcript-8", "mail-3"]
    assert all(f.score is None for f in newest)

    [best] = memory.recall("acc-1", "In which currency should invoices go out?", k=1)
    assert best.source_ref == "msg-12" and best.score is not None
    [zh] = memory.recall("acc-1", "单点登录什么时候配置", k=1)
    assert zh.source_ref == "transcript-8"
    assert {f.account_id for f in memory.recall("acc-1", "Globex renewal", k=10)} == {"acc-1"}
    assert memory.recall("acc-unknown", "anything") == []


def test_erase_contact_by_id_name_email_and_phone(memory: AccountMemory) -> None:
    _seed(memory)
    assert memory.erase_contact("c-wei") == 1
    assert all("Wei Zhang" not in f.text for f in memory.recall("acc-1", k=10))

    _seed(memory)
    assert memory.erase_contact("c-nobody", names=["wei zhang"]) == 1
    _seed(memory)
    assert memory.erase_contact("c-anna", emails=["Anna.Berg@acme.example"]) == 1
    _seed(memory)
    assert memory.erase_contact("c-anna", phones=["+49 (30) 1234-5678"]) == 1
    assert memory.count() == 4  # the other account's fact and unrelated facts remain
    assert memory.erase_contact("c-none", names=["Zhang Wei"]) == 0
