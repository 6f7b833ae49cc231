"""Per-account memory: facts learned in conversations and meetings, with provenance, found again
by meaning or by recency, and erasable per contact (right to erasure)."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from memory.embeddings import Embedder, make_embedder
from memory.knowledge import RRF_K, mention_patterns
from memory.lexical import LexicalIndex
from memory.store import chroma_client

__all__ = ["AccountFact", "AccountMemory", "SourceKind", "open_account_memory"]

SourceKind = Literal["conversation", "meeting", "email", "note", "import"]
_PAGE = 2000


class AccountFact(BaseModel):
    id: str
    account_id: str
    text: str
    author_id: str
    created_at: datetime
    source_kind: str
    source_ref: str
    contact_ids: tuple[str, ...] = ()
    score: float | None = Field(default=None, description="Similarity to the query, if any.")


def _fact_id(account_id: str, text: str, source_kind: str, source_ref: str) -> str:
    # Deterministic, so a graph node re-run on resume does not store the same fact twice.
    key = "\x1f".join((account_id, " ".join(text.split()), source_kind, source_ref))
    return "fact-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


class AccountMemory:
    """Facts in their own Chroma collection: metadata account_id, contact_ids, author_id,
    created_at, source_kind and source_ref."""

    def __init__(
        self, *, client: Any, embedder: Embedder, collection: str = "account_memory"
    ) -> None:
        self._embedder = embedder
        self._lock = threading.RLock()
        self._collection = client.get_or_create_collection(
            name=collection,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedder": embedder.name},
        )

    def remember(
        self,
        account_id: str,
        text: str,
        *,
        author_id: str,
        source_kind: str,
        source_ref: str,
        contact_ids: Sequence[str] = (),
        at: datetime,
    ) -> AccountFact:
        """Store one fact about an account; remembering the same fact from the same source
        again changes nothing."""
        if at.tzinfo is None:
            raise ValueError("`at` must be timezone-aware.")
        text = text.strip()
        if not text:
            raise ValueError("A fact needs some text.")
        fact = AccountFact(
            id=_fact_id(account_id, text, source_kind, source_ref),
            account_id=account_id,
            text=text,
            author_id=author_id,
            created_at=at.astimezone(UTC),
            source_kind=source_kind,
            source_ref=source_ref,
            contact_ids=tuple(dict.fromkeys(contact_ids)),
        )
        metadata: dict[str, Any] = {
            "account_id": account_id,
            "author_id": author_id,
            "created_at": fact.created_at.isoformat(),
            "created_ts": fact.created_at.timestamp(),
            "source_kind": source_kind,
            "source_ref": source_ref,
            "has_contacts": bool(fact.contact_ids),
        }
        if fact.contact_ids:
            metadata["contact_ids"] = list(fact.contact_ids)
        vector = self._embedder.embed_passages([text])
        with self._lock:
            self._collection.upsert(
                ids=[fact.id], embeddings=vector, documents=[text], metadatas=[metadata]
            )
        return fact

    def recall(self, account_id: str, query: str | None = None, k: int = 5) -> list[AccountFact]:
        """The facts about an account best matching `query` (vector and BM25 ranks fused), or
        the newest ones without a query."""
        if k < 1:
            return []
        where = {"account_id": account_id}
        stored = self._collection.get(where=where, include=["documents", "metadatas"])
        facts = {
            cid: _fact(cid, text, meta, None)
            for cid, text, meta in zip(
                stored["ids"], stored["documents"], stored["metadatas"], strict=False
            )
        }
        if not query or not query.strip() or not facts:
            return sorted(facts.values(), key=lambda f: f.created_at, reverse=True)[:k]
        pool = min(len(facts), max(4 * k, 20))
        result = self._collection.query(
            query_embeddings=self._embedder.embed_queries([query]),
            n_results=pool,
            where=where,
            include=[],
        )
        lexical = LexicalIndex()
        lexical.build(((f.id, f.text, {}) for f in facts.values()), lambda text, _: text)
        rankings = [
            list(result["ids"][0]),
            [cid for cid, *_ in lexical.search(query, k=pool)],
        ]
        fused: dict[str, float] = {}
        for ranking in rankings:
            for rank, cid in enumerate(ranking):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = 2.0 / (RRF_K + 1)
        order = sorted(fused, key=lambda cid: -fused[cid])[:k]
        return [
            facts[cid].model_copy(update={"score": round(fused[cid] / best, 6)})
            for cid in order
            if cid in facts
        ]

    def erase_contact(
        self,
        contact_id: str,
        names: Iterable[str] = (),
        emails: Iterable[str] = (),
        phones: Iterable[str] = (),
        *,
        patterns: Sequence[re.Pattern[str]] | None = None,
    ) -> int:
        """Delete every fact linked to the contact or whose text names them (by name, email or
        phone number, or by the given patterns). Returns how many facts were deleted."""
        with self._lock:
            ids = sorted(self._ids_about(contact_id, names, emails, phones, patterns))
            for start in range(0, len(ids), _PAGE):
                self._collection.delete(ids=ids[start : start + _PAGE])
        return len(ids)

    def facts_about(
        self, contact_id: str, patterns: Sequence[re.Pattern[str]] = ()
    ) -> list[AccountFact]:
        """Every fact linked to the contact or matching one of the patterns (for an export)."""
        with self._lock:
            ids = sorted(self._ids_about(contact_id, (), (), (), patterns))
            if not ids:
                return []
            rows = self._collection.get(ids=ids, include=["documents", "metadatas"])
        return [
            _fact(cid, text, meta, None)
            for cid, text, meta in zip(
                rows["ids"], rows["documents"], rows["metadatas"], strict=False
            )
        ]

    def _ids_about(
        self,
        contact_id: str,
        names: Iterable[str],
        emails: Iterable[str],
        phones: Iterable[str],
        patterns: Sequence[re.Pattern[str]] | None,
    ) -> set[str]:
        found = [*mention_patterns([*names, *emails, *phones]), *(patterns or ())]
        linked = self._collection.get(where={"contact_ids": {"$contains": contact_id}}, include=[])
        ids = set(linked["ids"])
        if found:
            for cid, text in self._all_texts():
                if any(p.search(text) for p in found):
                    ids.add(cid)
        return ids

    def _all_texts(self) -> Iterable[tuple[str, str]]:
        offset = 0
        while True:
            page = self._collection.get(include=["documents"], limit=_PAGE, offset=offset)
            yield from zip(page["ids"], (d or "" for d in page["documents"]), strict=False)
            if len(page["ids"]) < _PAGE:
                return
            offset += _PAGE

    def facts_of(self, account_id: str) -> list[AccountFact]:
        """Every fact about one account (for attributing mentions in a privacy request)."""
        with self._lock:
            rows = self._collection.get(
                where={"account_id": account_id}, include=["documents", "metadatas"]
            )
        return [
            _fact(cid, text, meta, None)
            for cid, text, meta in zip(
                rows["ids"], rows["documents"], rows["metadatas"], strict=False
            )
        ]

    def delete(self, ids: Sequence[str]) -> int:
        with self._lock:
            for start in range(0, len(ids), _PAGE):
                self._collection.delete(ids=list(ids[start : start + _PAGE]))
        return len(ids)

    def count(self, account_id: str | None = None) -> int:
        if account_id is None:
            return self._collection.count()
        return len(self._collection.get(where={"account_id": account_id}, include=[])["ids"])


def _fact(chunk_id: str, text: str | None, meta: Any, score: float | None) -> AccountFact:
    meta = dict(meta or {})
    return AccountFact(
        id=chunk_id,
        account_id=str(meta.get("account_id", "")),
        text=text or "",
        author_id=str(meta.get("author_id", "")),
        created_at=datetime.fromisoformat(str(meta["created_at"])),
        source_kind=str(meta.get("source_kind", "")),
        source_ref=str(meta.get("source_ref", "")),
        contact_ids=tuple(meta.get("contact_ids") or ()),
        score=None if score is None else round(score, 6),
    )


def open_account_memory(
    *,
    data_dir: Path,
    chroma_url: str | None = None,
    embeddings_base_url: str | None = None,
    embeddings_api_key: str | None = None,
    embeddings_model: str = "text-embedding-3-small",
    collection: str = "account_memory",
) -> AccountMemory:
    """Account memory next to the knowledge base (same Chroma, its own collection)."""
    return AccountMemory(
        client=chroma_client(data_dir=data_dir, chroma_url=chroma_url),
        embedder=make_embedder(
            base_url=embeddings_base_url, api_key=embeddings_api_key, model=embeddings_model
        ),
        collection=collection,
    )
