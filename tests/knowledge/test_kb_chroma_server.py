"""The same code path against a Chroma server (`chroma run` on loopback), as replicas use it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from memory.account_memory import open_account_memory
from memory.knowledge import open_knowledge_base
from tests.chroma_server import chroma_server


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


def test_two_replicas_share_one_chroma_server(
    chroma_url: str, tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("memory.knowledge.make_embedder", lambda **_: embedder)
    monkeypatch.setattr("memory.account_memory.make_embedder", lambda **_: embedder)
    first = open_knowledge_base(data_dir=tmp_path / "a", chroma_url=chroma_url)
    second = open_knowledge_base(data_dir=tmp_path / "b", chroma_url=chroma_url)
    assert not (tmp_path / "a" / "chroma").exists()  # nothing embedded on disk

    first.add_documents([{"id": "sla", "title": "SLA", "text": "P1 response within 1 hour."}])
    second._refresh_seconds = 0.0
    for mode in ("hybrid", "vector", "lexical"):
        hits = second.search("P1 response", k=1, mode=mode)  # type: ignore[arg-type]
        assert [h.source for h in hits] == ["sla"]

    memory = open_account_memory(data_dir=tmp_path, chroma_url=chroma_url)
    memory.remember(
        "acc-1",
        "Ana Lima signs the order form.",
        author_id="u",
        source_kind="note",
        source_ref="n-1",
        contact_ids=["c-ana"],
        at=datetime(2026, 9, 1, tzinfo=UTC),
    )
    assert [f.source_ref for f in memory.recall("acc-1", "who signs?")] == ["n-1"]
    assert memory.erase_contact("c-ana") == 1
