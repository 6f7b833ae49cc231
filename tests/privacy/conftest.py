"""Fixtures for data-protection tests: the CRM of tests/conftest.py (SQLite and PostgreSQL), a
knowledge base and account memory in a real embedded Chroma, checkpoints on the CRM's URL."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memory.account_memory import AccountMemory
from memory.knowledge import KnowledgeBase
from memory.privacy import AccountMemoryStore, CheckpointStore, ChromaLogStore, KnowledgeStore
from memory.store import chroma_client
from tools.privacy import PrivacyService
from tools.service import CRMService


class HashEmbedder:
    """Deterministic vectors from a hash: fast, and enough for storage and erasure tests."""

    name = "test-hash-64"

    def _vector(self, text: str) -> np.ndarray:
        raw = np.frombuffer(hashlib.sha256(text.encode()).digest() * 2, dtype=np.uint8)
        vector = raw[:64].astype(np.float32) + 1.0
        return vector / np.linalg.norm(vector)

    def embed_queries(self, texts: Any) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, 64), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_passages(self, texts: Any) -> np.ndarray:
        return self.embed_queries(texts)


@pytest.fixture
def chroma_dir(tmp_path: Path) -> Path:
    return tmp_path / "chroma-data"


@pytest.fixture
def stores(chroma_dir: Path, crm: CRMService) -> dict[str, Any]:
    client = chroma_client(data_dir=chroma_dir)
    suffix = uuid.uuid4().hex[:8]
    kb = KnowledgeBase(
        client=client,
        embedder=HashEmbedder(),
        lexical_refresh_seconds=0.0,
        collection=f"knowledge-{suffix}",
    )
    memory = AccountMemory(client=client, embedder=HashEmbedder(), collection=f"memory-{suffix}")
    crm.knowledge = kb
    crm.memory = memory
    return {"kb": kb, "memory": memory}


@pytest.fixture
def privacy(crm: CRMService, stores: dict[str, Any], chroma_dir: Path) -> PrivacyService:
    return PrivacyService(
        crm,
        [
            KnowledgeStore(stores["kb"]),
            AccountMemoryStore(stores["memory"]),
            CheckpointStore(crm.db.url),
            ChromaLogStore(chroma_dir / "chroma"),
        ],
    )
