"""Telling a review outcome to the requester's conversation exactly once, across processes.

Two replicas may finish the same review thread at the same moment (both recover it after a
restart, or one recovers it while the other's reviewer decides), and its notify step re-runs
after a crash. Checking the conversation for the message and then writing it is a race; so the
notice is claimed first, in one statement that only one teller can win:

    claim()      INSERT ... ON CONFLICT DO NOTHING of (approval, thread, message), with a lease;
                 or, when the row exists untold and its lease ran out (its teller died), a
                 compare-and-set UPDATE that takes it over. "won": write the notice; "told":
                 someone did; "busy": a live teller holds it — wait and ask again.
    mark_told()  after the conversation holds the message.

The winner checks the conversation before writing (a teller that died after writing but before
`mark_told` has told it already), so the notice appears once whichever step a crash hit.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tools.db import Database
from tools.models import RequesterNotice

Claim = Literal["won", "told", "busy"]


def process_owner() -> str:
    """This process (and one instance in it), as leases name their holder."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def message_key(message: str) -> str:
    return hashlib.sha256(message.encode("utf-8")).hexdigest()


class NoticeLedger:
    def __init__(self, db: Database, *, owner: str, lease_seconds: float = 30.0) -> None:
        self.db = db
        self.owner = owner[:64]
        self.lease = timedelta(seconds=lease_seconds)
        dialect = db.engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    def _key(self, approval_id: str, thread_id: str, message: str) -> Any:
        return and_(
            RequesterNotice.approval_id == approval_id,
            RequesterNotice.thread_id == thread_id,
            RequesterNotice.message_key == message_key(message),
        )

    def claim(self, approval_id: str, thread_id: str, message: str) -> Claim:
        # Leases run on wall time, whatever clock the CRM is given (tests fix theirs).
        now = datetime.now(UTC)
        with self.db.session() as session:
            inserted = session.execute(
                self._insert(RequesterNotice)
                .values(
                    approval_id=approval_id,
                    thread_id=thread_id,
                    message_key=message_key(message),
                    claimed_by=self.owner,
                    claimed_until=now + self.lease,
                    told_at=None,
                )
                .on_conflict_do_nothing()
                .returning(RequesterNotice.approval_id)
            ).first()
            if inserted is not None:
                return "won"
            key = self._key(approval_id, thread_id, message)
            taken_over = session.execute(
                update(RequesterNotice)
                .where(
                    key,
                    RequesterNotice.told_at.is_(None),
                    RequesterNotice.claimed_until < now,
                )
                .values(claimed_by=self.owner, claimed_until=now + self.lease)
            )
            if cast(CursorResult[Any], taken_over).rowcount == 1:
                return "won"
            told = session.scalar(select(RequesterNotice.told_at).where(key))
            return "told" if told is not None else "busy"

    def mark_told(self, approval_id: str, thread_id: str, message: str) -> None:
        with self.db.session() as session:
            session.execute(
                update(RequesterNotice)
                .where(self._key(approval_id, thread_id, message))
                .values(told_at=datetime.now(UTC))
            )
