"""The shipped demo knowledge base and the labelled retrieval set stay consistent."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from memory.chunking import chunk_markdown
from memory.demo import DEMO_KB_DIR, demo_documents, seed_demo_knowledge

RETRIEVAL_SET = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "retrieval_set.yaml"


def test_demo_documents_have_titles_and_both_languages() -> None:
    docs = demo_documents()
    assert len(docs) >= 30
    assert all(d.title and d.id.startswith("demo/") for d in docs)
    languages = {c.language for d in docs for c in chunk_markdown(d.text, title=d.title or "")}
    assert languages == {"en", "zh"}
    restricted = {d.source: d.access for d in docs if d.access}
    assert restricted == {"competitive-margin-guidance.md": ("admin", "sales_manager")}


def test_demo_policies_carry_the_contract_numbers() -> None:
    text = {p.name: p.read_text(encoding="utf-8") for p in DEMO_KB_DIR.glob("*.md")}
    assert "| P1 | 1 hour | 8 hours |" in text["sla-policy.md"]
    assert "| P4 | 2 business days | 10 business days |" in text["sla-policy.md"]
    assert "Discounts above 15% need sales-manager approval" in text["discount-policy.md"]
    assert "support-lead approval" in text["sla-policy.md"]
    assert "Standard go-live is 6–8\nweeks after kickoff" in text["onboarding-playbook.md"]
    for competitor in ("Globex", "Initech", "Umbrella Analytics"):
        assert any(competitor in body for name, body in text.items() if "battlecard" in name)


def test_retrieval_set_labels_point_at_real_chunks() -> None:
    questions = yaml.safe_load(RETRIEVAL_SET.read_text(encoding="utf-8"))["questions"]
    assert len(questions) >= 60
    assert sum(bool(re.search(r"[\u4e00-\u9fff]", q["q"])) for q in questions) >= 20
    known = {
        (d.source, c.section)
        for d in demo_documents()
        for c in chunk_markdown(d.text, title=d.title or "")
    }
    for question in questions:
        assert question["relevant"]
        for label in question["relevant"]:
            assert (label["source"], label["section"]) in known, (question["q"], label)


def test_seed_is_idempotent_without_embedding_twice(kb, monkeypatch) -> None:
    docs = demo_documents()[:3]
    monkeypatch.setattr("memory.demo.demo_documents", lambda: docs)
    first = seed_demo_knowledge(kb)
    assert len(first.added) == 3 and not first.failed
    second = seed_demo_knowledge(kb)
    assert len(second.unchanged) == 3 and second.chunks_embedded == 0
