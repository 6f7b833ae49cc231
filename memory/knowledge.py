"""The knowledge base: documents chunked by heading, embedded by us, stored in Chroma, found by
hybrid retrieval (vector + BM25, fused by reciprocal rank) under metadata filters and the asking
user's roles."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from memory.chunking import Chunk, chunk_markdown
from memory.embeddings import Embedder, make_embedder
from memory.lexical import LexicalIndex, matches_where
from memory.loaders import UnreadableFile, iter_files, load_document
from memory.models import IngestFailure, IngestReport, KnowledgeDocument, KnowledgeHit
from memory.store import chroma_client

__all__ = [
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "KnowledgeDocument",
    "KnowledgeHit",
    "Progress",
    "open_knowledge_base",
]

SearchMode = Literal["hybrid", "vector", "lexical"]
Progress = Callable[[str, int, int], None]
"""Called as progress(description, completed, total) while ingesting."""

CHUNKER_VERSION = "2"
RRF_K = 60
ADMIN_ROLE = "admin"
_RESERVED_METADATA = {
    "doc_id",
    "doc_hash",
    "source",
    "title",
    "section",
    "section_path",
    "language",
    "updated",
    "updated_ts",
    "access",
    "restricted",
    "content_hash",
    "chunk_index",
}
_PAGE = 2000
# Texts handed to the embedder at once, between progress reports: enough for every worker of
# the bundled model to have several batches (its cores stay busy to the end of each step).
_EMBED_STEP = 128


class KnowledgeBaseError(RuntimeError):
    """A problem with the store itself (not with one document)."""


@dataclass
class _Prepared:
    doc: KnowledgeDocument
    chunks: list[Chunk]
    doc_hash: str
    existing: dict[str, str]  # content_hash -> chunk id currently stored
    status: Literal["added", "replaced", "unchanged"]
    written: dict[str, list] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)


def _doc_hash(doc: KnowledgeDocument) -> str:
    # `updated` is left out on purpose: touching a file (new mtime, same content) is not a change.
    payload = json.dumps(
        [
            CHUNKER_VERSION,
            doc.title,
            doc.text,
            doc.source,
            sorted(doc.access),
            doc.language,
            sorted(doc.metadata.items()),
        ],
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _and(*clauses: Mapping[str, Any] | None) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = []
    for clause in clauses:
        if not clause:
            continue
        if len(clause) > 1 and not any(key.startswith("$") for key in clause):
            parts.extend({key: value} for key, value in clause.items())
        else:
            parts.append(dict(clause))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def access_filter(roles: Collection[str] | None) -> dict[str, Any] | None:
    """Unrestricted chunks for everyone; restricted ones for holders of a listed role or admin."""
    if roles is None or ADMIN_ROLE in roles:
        return None
    allowed: list[dict[str, Any]] = [{"restricted": False}]
    allowed += [{"access": {"$contains": role}} for role in sorted(set(roles))]
    return allowed[0] if len(allowed) == 1 else {"$or": allowed}


def _index_text(text: str, meta: Mapping[str, Any]) -> str:
    return f"{meta.get('title', '')}\n{meta.get('section_path', '')}\n{text}"


class KnowledgeBase:
    """Chunks in one Chroma collection; a BM25 index mirrors it in memory for lexical search."""

    def __init__(
        self,
        *,
        client: Any,
        embedder: Embedder,
        collection: str = "knowledge",
        candidates: int = 40,
        lexical_refresh_seconds: float = 2.0,
    ) -> None:
        self._client = client
        self._embedder = embedder
        self._name = collection
        self._candidates = candidates
        self._refresh_seconds = lexical_refresh_seconds
        self._lock = threading.RLock()
        self._collection = client.get_or_create_collection(
            name=collection,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedder": embedder.name, "revision": uuid.uuid4().hex},
        )
        stored = (self._collection.metadata or {}).get("embedder")
        if stored and stored != embedder.name and self._collection.count():
            raise KnowledgeBaseError(
                f"The knowledge base collection {collection!r} was built with the embedding model "
                f"{stored!r}, not {embedder.name!r}; use the same model or another collection."
            )
        self._lexical = LexicalIndex()
        self._lexical_revision: str | None = None
        self._lexical_checked = 0.0
        self._lexical_built = False
        self._rebuilding: threading.Thread | None = None

    # ---------------------------------------------------------------- writing

    def add_paths(
        self, paths: Iterable[Path | str], *, progress: Progress | None = None
    ) -> IngestReport:
        """Ingest files and folders; unreadable files are reported and the rest go on."""
        files = list(iter_files(paths))
        docs: list[KnowledgeDocument] = []
        failed: list[IngestFailure] = []
        for n, path in enumerate(files, 1):
            if progress:
                progress(f"Reading {path.name}", n, len(files))
            try:
                docs.append(load_document(path))
            except UnreadableFile as exc:
                failed.append(IngestFailure(name=path.name, reason=str(exc)))
            except Exception as exc:  # a parser bug must not stop the other files
                failed.append(IngestFailure(name=path.name, reason=f"{type(exc).__name__}: {exc}"))
        report = self.add_documents(docs, progress=progress)
        return report.merge(IngestReport(failed=failed))

    def add_documents(
        self,
        docs: Iterable[KnowledgeDocument | Mapping[str, Any]],
        *,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Index documents; unchanged ones are skipped, changed ones replace their old chunks."""
        report = IngestReport()
        valid: dict[str, KnowledgeDocument] = {}
        for raw in docs:
            name = str(raw.get("id", "?")) if isinstance(raw, Mapping) else raw.id
            try:
                doc = (
                    raw
                    if isinstance(raw, KnowledgeDocument)
                    else KnowledgeDocument.model_validate(raw)
                )
            except Exception as exc:
                report.failed.append(IngestFailure(name=name, reason=str(exc)))
                continue
            valid[doc.id] = doc  # the last version of a repeated id wins

        with self._lock:
            prepared: list[_Prepared] = []
            stored = self._stored_chunks(list(valid))
            for doc in valid.values():
                try:
                    item = self._prepare(doc, stored.get(doc.id, []))
                except Exception as exc:
                    report.failed.append(IngestFailure(name=doc.source or doc.id, reason=str(exc)))
                    continue
                if item.status == "unchanged":
                    report.unchanged.append(doc.source or doc.id)
                else:
                    prepared.append(item)
            vectors, embedded = self._embed_new(prepared, progress)
            for item, outcome in self._write_all(prepared, vectors):
                name = item.doc.source or item.doc.id
                if isinstance(outcome, Exception):
                    report.failed.append(IngestFailure(name=name, reason=str(outcome)))
                else:
                    getattr(report, item.status).append(name)
                    report.chunks_written += outcome
            report.chunks_embedded = embedded
            if prepared:
                upserts = [
                    row
                    for item in prepared
                    if item.written
                    for row in zip(
                        item.written["ids"],
                        item.written["documents"],
                        item.written["metadatas"],
                        strict=True,
                    )
                ]
                self._bump_revision(
                    upserts=upserts, deletes=[cid for item in prepared for cid in item.dropped]
                )
        return report

    def _stored_chunks(self, doc_ids: list[str]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
        """(chunk id, metadata) of what is stored now, per document id."""
        out: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for start in range(0, len(doc_ids), 200):
            batch = doc_ids[start : start + 200]
            where = {"doc_id": batch[0]} if len(batch) == 1 else {"doc_id": {"$in": batch}}
            stored = self._collection.get(where=where, include=["metadatas"])
            for chunk_id, meta in zip(stored["ids"], stored["metadatas"] or [], strict=False):
                meta = dict(meta or {})
                out.setdefault(str(meta.get("doc_id")), []).append((chunk_id, meta))
        return out

    def _prepare(
        self, doc: KnowledgeDocument, stored: list[tuple[str, dict[str, Any]]]
    ) -> _Prepared:
        title = doc.title or doc.id
        chunks = chunk_markdown(doc.text, title=title, language=doc.language)
        if not chunks:
            raise UnreadableFile("it contains no text")
        doc_hash = _doc_hash(doc)
        existing = {str(meta.get("content_hash")): chunk_id for chunk_id, meta in stored}
        hashes = {str(meta.get("doc_hash")) for _, meta in stored}
        if stored and hashes == {doc_hash} and len(stored) == len(chunks):
            status: Literal["added", "replaced", "unchanged"] = "unchanged"
        else:
            status = "replaced" if stored else "added"
        return _Prepared(
            doc.model_copy(update={"title": title}), chunks, doc_hash, existing, status
        )

    def _embed_new(
        self, prepared: list[_Prepared], progress: Progress | None
    ) -> tuple[dict[str, np.ndarray], int]:
        """Vectors by content hash: reused from the store when a chunk did not change."""
        vectors: dict[str, np.ndarray] = {}
        reuse = {
            chunk_id: chunk.content_hash
            for item in prepared
            for chunk in item.chunks
            if (chunk_id := item.existing.get(chunk.content_hash))
        }
        if reuse:
            stored = self._collection.get(ids=list(reuse), include=["embeddings"])
            for chunk_id, vector in zip(stored["ids"], stored["embeddings"], strict=False):
                vectors[reuse[chunk_id]] = np.asarray(vector, dtype=np.float32)
        todo: dict[str, str] = {}
        for item in prepared:
            for chunk in item.chunks:
                if chunk.content_hash not in vectors:
                    todo[chunk.content_hash] = chunk.embedding_text(item.doc.title or "")
        hashes, texts = list(todo), list(todo.values())
        step = _EMBED_STEP
        for start in range(0, len(texts), step):
            if progress:
                progress("Embedding", start, len(texts))
            batch = self._embedder.embed_passages(texts[start : start + step])
            vectors.update(zip(hashes[start : start + step], batch, strict=True))
        if progress and texts:
            progress("Embedding", len(texts), len(texts))
        return vectors, len(texts)

    def _rows(self, item: _Prepared, vectors: Mapping[str, np.ndarray]) -> dict[str, list]:
        doc = item.doc
        updated = doc.updated or datetime.now(UTC)
        if updated.tzinfo is None:
            updated = updated.replace(tzinfo=UTC)
        base: dict[str, Any] = {
            key: value for key, value in doc.metadata.items() if key not in _RESERVED_METADATA
        }
        base.update(
            doc_id=doc.id,
            doc_hash=item.doc_hash,
            source=doc.source or doc.id,
            title=doc.title or doc.id,
            updated=updated.isoformat(),
            updated_ts=int(updated.timestamp()),
            restricted=bool(doc.access),
        )
        if doc.access:
            base["access"] = list(doc.access)
        rows: dict[str, list] = {"ids": [], "embeddings": [], "documents": [], "metadatas": []}
        for chunk in item.chunks:
            rows["ids"].append(f"{doc.id}#{chunk.index}:{chunk.content_hash[:12]}")
            rows["embeddings"].append(vectors[chunk.content_hash])
            rows["documents"].append(chunk.text)
            rows["metadatas"].append(
                {
                    **base,
                    "section": chunk.section or "",
                    "section_path": chunk.section_path,
                    "language": chunk.language,
                    "content_hash": chunk.content_hash,
                    "chunk_index": chunk.index,
                }
            )
        return rows

    def _write_all(
        self, prepared: list[_Prepared], vectors: Mapping[str, np.ndarray]
    ) -> Iterable[tuple[_Prepared, int | Exception]]:
        """Write documents in pages of chunks; a failing page is retried document by document
        so one bad document cannot sink the others."""
        page: list[tuple[_Prepared, dict[str, list]]] = []
        size = 0
        for item in prepared:
            rows = self._rows(item, vectors)
            page.append((item, rows))
            size += len(rows["ids"])
            if size >= _PAGE:
                yield from self._flush(page)
                page, size = [], 0
        if page:
            yield from self._flush(page)

    def _flush(
        self, page: list[tuple[_Prepared, dict[str, list]]]
    ) -> Iterable[tuple[_Prepared, int | Exception]]:
        try:
            self._upsert({key: [v for _, rows in page for v in rows[key]] for key in page[0][1]})
        except Exception:
            for item, rows in page:
                try:
                    self._upsert(rows)
                except Exception as exc:
                    yield item, exc
                    continue
                yield item, self._drop_stale(item, rows)
            return
        for item, rows in page:
            yield item, self._drop_stale(item, rows)

    def _upsert(self, rows: dict[str, list]) -> None:
        for start in range(0, len(rows["ids"]), _PAGE):
            end = start + _PAGE
            self._collection.upsert(
                ids=rows["ids"][start:end],
                embeddings=np.asarray(rows["embeddings"][start:end]),
                documents=rows["documents"][start:end],
                metadatas=rows["metadatas"][start:end],
            )

    def _drop_stale(self, item: _Prepared, rows: dict[str, list]) -> int:
        # New chunks went in before the old ones leave: a crash never leaves the document
        # empty, and the differing doc_hash makes the next ingest finish the replacement.
        keep = set(rows["ids"])
        stale = [cid for cid in item.existing.values() if cid not in keep]
        if stale:
            self._collection.delete(ids=stale)
        item.written, item.dropped = rows, stale
        return len(rows["ids"])

    def delete_where(self, where: Mapping[str, Any]) -> int:
        """Delete every chunk matching a metadata filter, e.g. {"source": "old.md"}."""
        if not where:
            raise ValueError("delete_where needs a filter; refusing to delete everything.")
        with self._lock:
            ids = self._collection.get(where=_and(where), include=[])["ids"]
            return self._delete_ids(ids)

    def erase_text_mentions(self, terms: Iterable[str]) -> int:
        """Delete every chunk whose text mentions one of the terms (names, emails, phones),
        case-insensitively; for the right to erasure. Returns the number of chunks deleted."""
        patterns = mention_patterns(terms)
        if not patterns:
            return 0
        with self._lock:
            index = self._fresh_lexical(force=True)
            return self._delete_ids(index.ids_mentioning(patterns))

    def chunks_mentioning(
        self, patterns: Sequence[re.Pattern[str]]
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """(id, text, metadata) of every chunk whose text or title matches a pattern."""
        if not patterns:
            return []
        with self._lock:
            ids = self._fresh_lexical(force=True).ids_mentioning(patterns)
            if not ids:
                return []
            rows = self._collection.get(ids=list(ids), include=["documents", "metadatas"])
        return [
            (cid, text or "", dict(meta or {}))
            for cid, text, meta in zip(
                rows["ids"], rows["documents"], rows["metadatas"], strict=False
            )
        ]

    def erase_patterns(self, patterns: Sequence[re.Pattern[str]]) -> int:
        """Delete every chunk whose text or title matches a pattern (right to erasure), from
        Chroma and the BM25 mirror; returns how many went."""
        if not patterns:
            return 0
        with self._lock:
            return self._delete_ids(self._fresh_lexical(force=True).ids_mentioning(patterns))

    def _delete_ids(self, ids: Sequence[str]) -> int:
        for start in range(0, len(ids), _PAGE):
            self._collection.delete(ids=list(ids[start : start + _PAGE]))
        if ids:
            self._bump_revision(deletes=list(ids))
        return len(ids)

    def _bump_revision(
        self,
        *,
        upserts: Sequence[tuple[str, str, dict[str, Any]]] = (),
        deletes: Sequence[str] = (),
    ) -> None:
        """Record that the collection changed, and bring this process's BM25 mirror along:
        patched in place when it was current before this write, else rebuilt now (when it has
        ever been built; otherwise the first search builds it)."""
        before = self._current_revision()
        revision = uuid.uuid4().hex
        metadata = dict(self._collection.metadata or {})
        metadata.update(embedder=self._embedder.name, revision=revision)
        self._collection.modify(metadata=metadata)
        if self._lexical_revision is not None and self._lexical_revision == before:
            self._lexical.apply(
                upserts=[(cid, text, dict(meta)) for cid, text, meta in upserts],
                deletes=deletes,
                text_for_index=_index_text,
            )
            self._lexical_revision = revision
        elif self._lexical_built:
            self._lexical.build(self._all_rows(), _index_text)
            self._lexical_revision = revision
        self._lexical_checked = time.monotonic()

    # ---------------------------------------------------------------- reading

    def count(self) -> int:
        return self._collection.count()

    def warm_up(self) -> None:
        """Build the BM25 mirror now (a long-running server calls this at start, e.g. in a
        thread, so the first user query does not pay for it)."""
        self._fresh_lexical()

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        roles: Collection[str] | None = None,
        where: dict | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[KnowledgeHit]:
        """Ranked passages for `query`. `roles=None` means no access filtering (system use);
        otherwise restricted chunks only reach holders of one of their roles, or admin."""
        if k < 1 or not query.strip():
            return []
        if mode not in ("hybrid", "vector", "lexical"):
            raise ValueError(f"Unknown search mode {mode!r}; use hybrid, vector or lexical.")
        clause = _and(where, access_filter(roles))
        pool = max(self._candidates, 4 * k) if mode == "hybrid" else k
        ranked: list[list[tuple[str, str, dict[str, Any], float]]] = []
        if not self._collection.count():
            return []
        mirror = self._fresh_lexical() if mode != "vector" else None
        if mode in ("hybrid", "vector"):
            ranked.append(self._vector(query, pool, clause, mirror))
        if mode in ("hybrid", "lexical"):
            ranked.append(self._lexical_hits(query, pool, clause))
        if mode != "hybrid":
            return [_hit(cid, text, meta, score) for cid, text, meta, score in ranked[0][:k]]
        fused: dict[str, float] = {}
        rows: dict[str, tuple[str, dict[str, Any]]] = {}
        for hits in ranked:
            for rank, (cid, text, meta, _) in enumerate(hits):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
                rows[cid] = (text, meta)
        best = 2.0 / (RRF_K + 1)  # first place in both lists scores 1.0
        order = sorted(fused, key=lambda cid: -fused[cid])[:k]
        return [_hit(cid, *rows[cid], fused[cid] / best) for cid in order]

    def _vector(
        self, query: str, n: int, where: dict[str, Any] | None, mirror: LexicalIndex | None = None
    ) -> list[tuple[str, str, dict[str, Any], float]]:
        """Nearest chunks by cosine similarity. With the in-memory mirror at hand (hybrid mode),
        Chroma only returns ids and distances, and a filter is first tried as a post-filter
        over an over-fetched candidate list; Chroma's own filtered search is the fallback
        when that leaves too few candidates. Both answer the same, the first one faster."""
        vector = self._embedder.embed_queries([query])[0]
        if mirror is None:
            result = self._collection.query(
                query_embeddings=[vector],
                n_results=n,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
            return [
                (cid, text or "", dict(meta or {}), 1.0 - float(distance))
                for cid, text, meta, distance in zip(
                    result["ids"][0],
                    result["documents"][0],
                    result["metadatas"][0],
                    result["distances"][0],
                    strict=False,
                )
            ]
        fetch = n if where is None else 3 * n
        result = self._collection.query(
            query_embeddings=[vector], n_results=fetch, include=["distances"]
        )
        ids, distances = result["ids"][0], result["distances"][0]
        rows = self._rows_by_id(mirror, ids)
        hits = [
            (cid, *rows[cid], 1.0 - float(distance))
            for cid, distance in zip(ids, distances, strict=False)
            if cid in rows and (where is None or matches_where(where, rows[cid][1]))
        ]
        if where is not None and len(hits) < n and len(ids) >= fetch:
            result = self._collection.query(
                query_embeddings=[vector], n_results=n, where=where, include=["distances"]
            )
            ids, distances = result["ids"][0], result["distances"][0]
            rows = self._rows_by_id(mirror, ids)
            hits = [
                (cid, *rows[cid], 1.0 - float(distance))
                for cid, distance in zip(ids, distances, strict=False)
                if cid in rows
            ]
        return hits[:n]

    def _rows_by_id(
        self, mirror: LexicalIndex, ids: Sequence[str]
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        rows = {}
        missing = []
        for cid in ids:
            row = mirror.row_of.get(cid)
            if row is None:
                missing.append(cid)
            else:
                rows[cid] = (mirror.texts[row], mirror.metadatas[row])
        if missing:  # written by another process since the mirror was refreshed
            stored = self._collection.get(ids=missing, include=["documents", "metadatas"])
            for cid, text, meta in zip(
                stored["ids"], stored["documents"], stored["metadatas"], strict=False
            ):
                rows[cid] = (text or "", dict(meta or {}))
        return rows

    def _lexical_hits(
        self, query: str, n: int, where: dict[str, Any] | None
    ) -> list[tuple[str, str, dict[str, Any], float]]:
        return self._fresh_lexical().search(query, k=n, where=where)

    def _fresh_lexical(self, *, force: bool = False) -> LexicalIndex:
        """The BM25 mirror. Another process's writes are noticed within `refresh_seconds`;
        the mirror is then rebuilt in the background while searches keep using the previous
        generation. It is built synchronously the first time, and when `force` asks for a
        current view (erasure)."""
        with self._lock:
            now = time.monotonic()
            if (
                not force
                and self._lexical_built
                and now - self._lexical_checked < self._refresh_seconds
            ):
                return self._lexical
            self._lexical_checked = now
            revision = self._current_revision()
            if revision == self._lexical_revision:
                return self._lexical
            if force or not self._lexical_built:
                self._lexical.build(self._all_rows(), _index_text)
                self._lexical_revision = revision
                self._lexical_built = True
            elif self._rebuilding is None or not self._rebuilding.is_alive():
                self._rebuilding = threading.Thread(
                    target=self._rebuild, args=(revision,), name="kb-bm25-rebuild", daemon=True
                )
                self._rebuilding.start()
            return self._lexical

    def _rebuild(self, revision: str) -> None:
        self._lexical.build(self._all_rows(), _index_text)
        with self._lock:
            self._lexical_revision = revision

    def _current_revision(self) -> str:
        collection = self._client.get_collection(name=self._name, embedding_function=None)
        return str((collection.metadata or {}).get("revision", ""))

    def _all_rows(self) -> Iterable[tuple[str, str, dict[str, Any]]]:
        offset = 0
        while True:
            page = self._collection.get(
                include=["documents", "metadatas"], limit=_PAGE, offset=offset
            )
            for cid, text, meta in zip(
                page["ids"], page["documents"], page["metadatas"], strict=False
            ):
                yield cid, text or "", dict(meta or {})
            if len(page["ids"]) < _PAGE:
                return
            offset += _PAGE


def _hit(chunk_id: str, text: str, meta: Mapping[str, Any], score: float) -> KnowledgeHit:
    return KnowledgeHit(
        chunk_id=chunk_id,
        source=str(meta.get("source", "")),
        title=str(meta.get("title", "")),
        section=str(meta.get("section") or "") or None,
        text=text,
        score=round(float(score), 6),
        language=str(meta.get("language", "en")),
    )


def mention_patterns(terms: Iterable[str]) -> list[re.Pattern[str]]:
    """Case-insensitive patterns finding a name, email or phone number in free text.
    Latin names match whole words only (so "Ann" does not erase "annual"); phone numbers match
    whatever spacing or punctuation separates their digits."""
    patterns = []
    for term in terms:
        term = (term or "").strip()
        if not term:
            continue
        digits = re.sub(r"\D", "", term)
        if len(digits) >= 7 and not re.search(r"[A-Za-z@]", term):
            patterns.append(re.compile(r"[\s().+-]*".join(digits)))
        elif re.search(r"[\u3400-\u9fff]", term):
            patterns.append(re.compile(re.escape(term)))
        else:
            patterns.append(re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE))
    return patterns


def open_knowledge_base(
    *,
    data_dir: Path,
    chroma_url: str | None = None,
    embeddings_base_url: str | None = None,
    embeddings_api_key: str | None = None,
    embeddings_model: str = "text-embedding-3-small",
    collection: str = "knowledge",
    embedding_workers: int = 1,
) -> KnowledgeBase:
    """The knowledge base under `data_dir` (embedded Chroma) or on a Chroma server;
    `embedding_workers` cores embed in parallel with the bundled model (bulk ingestion)."""
    return KnowledgeBase(
        client=chroma_client(data_dir=data_dir, chroma_url=chroma_url),
        embedder=make_embedder(
            base_url=embeddings_base_url,
            api_key=embeddings_api_key,
            model=embeddings_model,
            workers=embedding_workers,
        ),
        collection=collection,
    )
