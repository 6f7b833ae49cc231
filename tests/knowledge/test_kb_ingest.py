from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memory.knowledge import KnowledgeBase
from memory.store import chroma_client


def _sources(kb: KnowledgeBase, query: str, **kwargs) -> list[str]:
    return [hit.source for hit in kb.search(query, **kwargs)]


def test_every_format_is_ingested_and_searchable(kb: KnowledgeBase, corpus_dir: Path) -> None:
    progress: list[tuple[str, int, int]] = []
    report = kb.add_paths([corpus_dir], progress=lambda *event: progress.append(event))
    assert sorted(report.added) == sorted(
        ["sla.md", "notes.txt", "security.html", "pricing.pdf", "renewal.docx", "zh-discount.md"]
    )
    assert not report.failed and report.chunks_written == report.chunks_embedded > 6
    assert progress and progress[-1][0] == "Embedding"

    assert _sources(kb, "first response for P1 incidents", k=1) == ["sla.md"]
    assert _sources(kb, "fast-track go-live weeks", k=1) == ["notes.txt"]
    assert _sources(kb, "encryption at rest AES-256", k=1) == ["security.html"]
    assert _sources(kb, "Enterprise price per seat", k=1) == ["pricing.pdf"]
    assert _sources(kb, "renewal uplift cap", k=1) == ["renewal.docx"]
    assert _sources(kb, "折扣审批", k=1) == ["zh-discount.md"]

    hit = kb.search("SLA credit approval", k=1)[0]
    assert (hit.title, hit.section, hit.language) == ("Support SLA policy", "Credits", "en")
    pdf_hit = kb.search("Enterprise costs 99 USD", k=1)[0]
    assert (pdf_hit.title, pdf_hit.section) == ("Price book 2026", "Page 2")


def test_re_adding_unchanged_files_does_nothing(kb: KnowledgeBase, corpus_dir: Path) -> None:
    kb.add_paths([corpus_dir])
    before = kb.count()
    report = kb.add_paths([corpus_dir])
    assert len(report.unchanged) == 6
    assert not report.added and not report.replaced
    assert report.chunks_written == report.chunks_embedded == 0
    assert kb.count() == before


def test_changed_file_replaces_its_chunks_and_reuses_unchanged_embeddings(
    kb: KnowledgeBase, corpus_dir: Path
) -> None:
    kb.add_paths([corpus_dir])
    path = corpus_dir / "sla.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace("within 8 hours", "within 6 hours"),
        encoding="utf-8",
    )
    report = kb.add_paths([path])
    assert report.replaced == ["sla.md"]
    assert report.chunks_written == 3 and report.chunks_embedded == 1  # only the edited chunk
    texts = [h.text for h in kb.search("P1 resolution", k=10, where={"source": "sla.md"})]
    assert any("6 hours" in t for t in texts) and not any("8 hours" in t for t in texts)
    assert len(kb.search("policy", k=20, where={"source": "sla.md"}, mode="vector")) == 3


def test_bad_files_are_reported_and_the_rest_go_on(kb: KnowledgeBase, corpus_dir: Path) -> None:
    (corpus_dir / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (corpus_dir / "empty.md").write_text("   \n", encoding="utf-8")
    report = kb.add_paths([corpus_dir, corpus_dir / "missing.docx"])
    failed = {f.name: f.reason for f in report.failed}
    assert set(failed) == {"broken.pdf", "empty.md", "missing.docx"}
    assert "PDF" in failed["broken.pdf"] and "does not exist" in failed["missing.docx"]
    assert len(report.added) == 6


def test_a_failing_embedder_leaves_the_old_version_intact(
    tmp_path: Path, embedder, corpus_dir: Path
) -> None:
    kb = KnowledgeBase(client=chroma_client(data_dir=tmp_path), embedder=embedder)
    kb.add_paths([corpus_dir / "sla.md"])
    before = sorted(h.chunk_id for h in kb.search("policy", k=10, mode="vector"))

    class Broken:
        name = embedder.name

        def embed_passages(self, texts):
            raise RuntimeError("embedding endpoint unavailable")

        def embed_queries(self, texts):
            return embedder.embed_queries(texts)

    broken = KnowledgeBase(client=chroma_client(data_dir=tmp_path), embedder=Broken())
    path = corpus_dir / "sla.md"
    path.write_text(
        path.read_text(encoding="utf-8") + "\n## New\n\nNew section.\n", encoding="utf-8"
    )
    with pytest.raises(RuntimeError, match="unavailable"):
        broken.add_paths([path])
    after = sorted(h.chunk_id for h in kb.search("policy", k=10, mode="vector"))
    assert after == before


def test_scenario_fixture_documents(kb: KnowledgeBase) -> None:
    report = kb.add_documents(
        [
            {"id": "kb-1", "title": "Refund policy", "text": "Refunds are issued within 14 days."},
            {"id": "kb-2", "title": "Holiday support", "text": "Support is closed on 25 December."},
            {"id": "", "title": "bad", "text": "no id"},
        ]
    )
    assert report.added == ["kb-1", "kb-2"] and len(report.failed) == 1
    hit = kb.search("when are refunds issued", k=1)[0]
    assert (hit.source, hit.title, hit.section) == ("kb-1", "Refund policy", None)


def test_data_persists_across_reopen(tmp_path: Path, embedder, corpus_dir: Path) -> None:
    first = KnowledgeBase(client=chroma_client(data_dir=tmp_path), embedder=embedder)
    first.add_paths([corpus_dir / "notes.txt"])
    second = KnowledgeBase(client=chroma_client(data_dir=tmp_path), embedder=embedder)
    assert [h.source for h in second.search("fast-track", k=1, mode="lexical")] == ["notes.txt"]
    # a write by another instance is seen by this one's lexical index
    first.add_paths([corpus_dir / "sla.md"])
    second._refresh_seconds = 0.0
    # the change is noticed at once, rebuilt in the background, and then served
    second.search("P1 resolution", k=1, mode="lexical")
    assert second._rebuilding is not None
    second._rebuilding.join(timeout=30)
    assert [h.source for h in second.search("P1 resolution", k=1, mode="lexical")] == ["sla.md"]


def test_embeddings_are_stored_normalised(kb: KnowledgeBase, embedder) -> None:
    vectors = embedder.embed_passages(["one", "two"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_touching_a_file_is_not_a_change(kb: KnowledgeBase, corpus_dir: Path) -> None:
    import os

    kb.add_paths([corpus_dir / "sla.md"])
    os.utime(corpus_dir / "sla.md", (1_900_000_000, 1_900_000_000))
    assert kb.add_paths([corpus_dir / "sla.md"]).unchanged == ["sla.md"]
