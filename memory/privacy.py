"""The memory layer's stores of personal data, for export and erasure (tools.privacy drives them):
knowledge-base chunks (Chroma and the BM25 mirror), account-memory facts, and the LangGraph
conversation checkpoints.

Checkpoints are serialized (msgpack blobs in SQLite, JSONB plus blobs in PostgreSQL) and a
thread's state is a chain of them, so a person cannot be cut out of one reliably. A thread whose
raw rows mention the person is deleted as a whole, every checkpoint and pending write of it, in
one transaction. The CRM keeps what happened (audit events, approvals), scrubbed; the chat
history of that thread is gone.

Known limit: Chroma's vector index files (hnswlib's `data_level0.bin`, `length.bin`, ...) are
written from buffers it does not clear, so they can carry fragments of whatever text the
writing process held in memory — an erased person's included — though they store only vectors
and links. The records themselves (Chroma's SQLite database, its pages and log included) are
erased and checked byte for byte by tests/privacy.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from memory.checkpoint import checkpoint_location, open_checkpointer
from tools.privacy import DataSubject

__all__ = ["AccountMemoryStore", "CheckpointStore", "ChromaLogStore", "KnowledgeStore"]


class KnowledgeStore:
    """Chunks of knowledge documents that name the person; erasing deletes those chunks (the
    source document must be corrected where it lives, or the next ingestion brings them back —
    the export lists the sources)."""

    name = "knowledge"

    def __init__(self, knowledge: Any) -> None:
        self.knowledge = knowledge

    def export(self, subject: DataSubject) -> list[dict[str, Any]]:
        return [
            {
                "chunk_id": cid,
                "source": meta.get("source"),
                "title": meta.get("title"),
                "section": meta.get("section"),
                "text": text,
            }
            for cid, text, meta in self.knowledge.chunks_mentioning(subject.patterns)
        ]

    def erase(self, subject: DataSubject) -> dict[str, int]:
        return {"chunks": self.knowledge.erase_patterns(subject.patterns)}


class AccountMemoryStore:
    """Account-memory facts linked to the contact or naming them; erasing deletes them."""

    name = "account_memory"

    def __init__(self, memory: Any) -> None:
        self.memory = memory

    def _own_account(self, subject: DataSubject) -> list[Any]:
        """Facts of the contact's own account that mention them by a name only attribution
        can tell (a first name, a name another contact shares)."""
        if subject.account_id is None:
            return []
        return [
            f
            for f in self.memory.facts_of(subject.account_id)
            if subject.attribute(
                f.text, account_id=f.account_id, linked=subject.contact_id in f.contact_ids
            )[0]
            == "mention"
        ]

    def export(self, subject: DataSubject) -> list[dict[str, Any]]:
        facts = {f.id: f for f in self.memory.facts_about(subject.contact_id, subject.patterns)}
        facts.update({f.id: f for f in self._own_account(subject)})
        return [f.model_dump(mode="json", exclude={"score"}) for f in facts.values()]

    def erase(self, subject: DataSubject) -> dict[str, int]:
        own = self.memory.delete([f.id for f in self._own_account(subject)])
        linked = self.memory.erase_contact(subject.contact_id, patterns=subject.patterns)
        return {"facts": own + linked}


class ChromaLogStore:
    """The write-ahead log of an embedded Chroma (`embeddings_queue` in chroma.sqlite3) keeps
    every upserted document until its vector segment is persisted, long after a delete. Run after
    the knowledge and account-memory stores: it scrubs the person out of the logged documents
    and metadata, then rewrites the file so no freed page keeps them. (A Chroma server keeps its
    log on the server; purge it there.)"""

    name = "chroma_log"

    def __init__(self, chroma_dir: Path | str) -> None:
        self.path = Path(chroma_dir) / "chroma.sqlite3"

    def export(self, subject: DataSubject) -> list[dict[str, Any]]:
        return []  # only copies of what the knowledge and account-memory exports list

    def erase(self, subject: DataSubject) -> dict[str, int]:
        if not self.path.exists() or not subject.terms:
            return {"log_entries": 0}
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            conn.execute("PRAGMA secure_delete=ON")
            changed = 0
            with conn:
                rows = conn.execute("SELECT seq_id, metadata FROM embeddings_queue").fetchall()
                for seq_id, raw in rows:
                    if not raw:
                        continue
                    metadata = json.loads(raw)
                    if not subject.mentioned_in(metadata):
                        continue
                    conn.execute(
                        "UPDATE embeddings_queue SET metadata = ? WHERE seq_id = ?",
                        (json.dumps(subject.scrub(metadata)), seq_id),
                    )
                    changed += 1
            if changed:
                conn.execute("VACUUM")
        finally:
            conn.close()
        return {"log_entries": changed}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="ignore")
    return str(value)


def _mentions(subject: DataSubject, raw: str) -> bool:
    """Strict patterns, plus a plain substring test for long terms: inside a serialized blob a
    length byte may sit right before a name and look like a letter."""
    if subject.mentioned_in(raw):
        return True
    lowered = raw.lower()
    return any(len(t) >= 5 and t.lower() in lowered for t in (*subject.names, *subject.emails))


class CheckpointStore:
    """LangGraph checkpoint tables on SQLite (beside the CRM file) or PostgreSQL (same URL)."""

    name = "checkpoints"

    # (table, text columns to search) per backend; every table is keyed by thread_id.
    _TABLES = {
        "sqlite": (("checkpoints", ("checkpoint", "metadata")), ("writes", ("value",))),
        "postgres": (
            ("checkpoints", ("checkpoint::text", "metadata::text")),
            ("checkpoint_blobs", ("blob",)),
            ("checkpoint_writes", ("blob",)),
        ),
    }

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.kind, self.target = checkpoint_location(database_url)

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.target, timeout=30)
            try:
                # Deleted rows are zeroed on disk, not left in free pages.
                conn.execute("PRAGMA secure_delete=ON")
                yield conn
            finally:
                conn.close()
        else:
            import psycopg

            with psycopg.connect(self.target) as pg_conn:
                yield pg_conn

    def _exists(self, conn: Any, table: str) -> bool:
        if self.kind == "sqlite":
            row = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
            ).fetchone()
        else:
            row = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
            row = row if row and row[0] else None
        return row is not None

    def _rows(self, conn: Any) -> Iterable[tuple[str, str, str]]:
        for table, columns in self._TABLES[self.kind]:
            if not self._exists(conn, table):
                continue
            cursor = conn.execute(f"SELECT thread_id, {', '.join(columns)} FROM {table}")  # noqa: S608
            for thread_id, *values in cursor:
                yield table, thread_id, " ".join(_text(v) for v in values)

    def threads_mentioning(self, subject: DataSubject) -> list[str]:
        if self.target == ":memory:" or not subject.terms:
            return []
        with self._connect() as conn:
            found = {thread for _t, thread, raw in self._rows(conn) if _mentions(subject, raw)}
        return sorted(found)

    def export(self, subject: DataSubject) -> list[dict[str, Any]]:
        """Per thread that mentions the person: the strings of its latest state naming them."""
        threads = self.threads_mentioning(subject)
        if not threads:
            return []
        out: list[dict[str, Any]] = []
        with open_checkpointer(self.database_url, pool_size=1) as saver:
            for thread_id in threads:
                found = saver.get_tuple({"configurable": {"thread_id": thread_id}})  # type: ignore[attr-defined]
                values = found.checkpoint.get("channel_values", {}) if found else {}
                messages = [
                    {"path": path, "text": value}
                    for path, value in _strings(values)
                    if _mentions(subject, value)
                ]
                out.append({"thread_id": thread_id, "messages": messages})
        return out

    def erase(self, subject: DataSubject) -> dict[str, int]:
        if self.target == ":memory:" or not subject.terms:
            return {"threads": 0, "rows": 0}
        with self._connect() as conn:
            threads = sorted(
                {thread for _t, thread, raw in self._rows(conn) if _mentions(subject, raw)}
            )
            rows = 0
            tables = [t for t, _c in self._TABLES[self.kind] if self._exists(conn, t)]
            mark = "?" if self.kind == "sqlite" else "%s"
            for table in tables:
                for thread_id in threads:
                    cursor = conn.execute(
                        f"DELETE FROM {table} WHERE thread_id = {mark}",  # noqa: S608
                        (thread_id,),
                    )
                    rows += max(cursor.rowcount, 0)
            conn.commit()
            if self.kind == "sqlite":
                # The WAL file would still hold the old pages until a checkpoint.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return {"threads": len(threads), "rows": rows}


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
