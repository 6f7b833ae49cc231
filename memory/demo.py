"""The demo company's knowledge base (Beacon, a B2B analytics platform), shipped as package data."""

from __future__ import annotations

from pathlib import Path

from memory.knowledge import KnowledgeBase, Progress
from memory.loaders import load_document
from memory.models import IngestFailure, IngestReport, KnowledgeDocument

__all__ = ["DEMO_KB_DIR", "demo_documents", "seed_demo_knowledge"]

DEMO_KB_DIR = Path(__file__).resolve().parent / "demo_kb"


def demo_documents() -> list[KnowledgeDocument]:
    """The demo documents with stable ids (`demo/<file>`), wherever the package is installed."""
    return [
        load_document(path, doc_id=f"demo/{path.name}", source=path.name)
        for path in sorted(DEMO_KB_DIR.glob("*.md"))
    ]


def seed_demo_knowledge(kb: KnowledgeBase, *, progress: Progress | None = None) -> IngestReport:
    """Ingest the demo knowledge base; re-running it only touches changed documents."""
    try:
        docs = demo_documents()
    except Exception as exc:  # a broken package install, not a user file
        return IngestReport(failed=[IngestFailure(name=str(DEMO_KB_DIR), reason=str(exc))])
    return kb.add_documents(docs, progress=progress)
