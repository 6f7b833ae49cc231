"""Exactly-once steps across processes: claim a step before doing it, mark it done after.

Two replicas may reach the same step at the same moment — both open the review thread of one
request after a restart, both tell its outcome to the requester's conversation — and a step
re-runs after a crash. Looking first ("is it done?") and then doing it is a race; so the step is
claimed, in one statement that only one process can win:

    claim()   INSERT ... ON CONFLICT DO NOTHING of (scope, key) with a lease; or, when the row
              exists, is not done and its holder is gone (lease run out, or a dead process of
              this host), a compare-and-set UPDATE that takes it over. "won": do the step;
              "done": someone did; "busy": a live holder is doing it — wait and ask again.
    done()    after the step's effect is stored.

The winner checks the step's effect before doing it (a holder that died after doing it but
before `done` has done it), so the step happens once whichever point a crash hit.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tools.db import Database
from tools.models import Claim as ClaimRow

Claim = Literal["won", "done", "busy"]

# Lease holders of this process (inboxes, ledgers): never taken for dead. Several replicas may
# share one process in tests, and one pid in containers that restart as pid 1.
_LIVE_OWNERS: set[str] = set()


def process_owner() -> str:
    """A name for a lease holder in this process: host:pid:instance."""
    return register_owner(f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}")


def register_owner(owner: str) -> str:
    """Mark a holder as this process's (alive while the process is)."""
    _LIVE_OWNERS.add(owner)
    return owner


def holder_is_dead(owner: str | None) -> bool:
    """Whether a lease holder is a dead process of this host (an earlier life of this server,
    killed or crashed): its host is ours and its pid is gone, or is ours but the holder is not
    one of this process's. Holders on other hosts may be alive: their leases run out."""
    parts = (owner or "").rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname()[:30] or not parts[1].isdigit():
        return False
    if owner in _LIVE_OWNERS:
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ClaimError(RuntimeError):
    """A claim stayed busy longer than two leases (its holder alive but stuck)."""


class ClaimLedger:
    def __init__(self, db: Database, *, owner: str | None = None, lease_seconds: float = 30.0):
        self.db = db
        self.owner = register_owner((owner or process_owner())[:64])
        self.lease = timedelta(seconds=lease_seconds)
        dialect = db.engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    @staticmethod
    def _key(scope: str, key: str) -> Any:
        return and_(ClaimRow.scope == scope, ClaimRow.key == key)

    def claim(self, scope: str, key: str) -> Claim:
        # Leases run on wall time, whatever clock the CRM is given (tests fix theirs).
        now = datetime.now(UTC)
        until = now + self.lease
        with self.db.session() as session:
            inserted = session.execute(
                self._insert(ClaimRow)
                .values(scope=scope, key=key, claimed_by=self.owner, claimed_until=until)
                .on_conflict_do_nothing()
                .returning(ClaimRow.key)
            ).first()
            if inserted is not None:
                return "won"
            row = session.execute(
                select(ClaimRow.claimed_by, ClaimRow.claimed_until, ClaimRow.done_at).where(
                    self._key(scope, key)
                )
            ).first()
            if row is None or row.done_at is not None:
                return "done"
            if row.claimed_until >= now and not holder_is_dead(row.claimed_by):
                return "busy"
            taken = session.execute(
                update(ClaimRow)
                .where(
                    self._key(scope, key),
                    ClaimRow.done_at.is_(None),
                    ClaimRow.claimed_by == row.claimed_by,  # nobody took it meanwhile
                )
                .values(claimed_by=self.owner, claimed_until=until)
            )
            return "won" if cast(CursorResult[Any], taken).rowcount == 1 else "busy"

    def done(self, scope: str, key: str) -> None:
        with self.db.session() as session:
            session.execute(
                update(ClaimRow).where(self._key(scope, key)).values(done_at=datetime.now(UTC))
            )

    async def acquire(self, scope: str, key: str, *, poll_seconds: float = 0.1) -> bool:
        """Wait for the step: True when this process won it (do it, then `done`), False when
        it is done already."""
        waited = 0.0
        while True:
            claim = await asyncio.to_thread(self.claim, scope, key)
            if claim != "busy":
                return claim == "won"
            if waited > 2 * self.lease.total_seconds():
                raise ClaimError(f"{scope} {key} stayed claimed by a live holder; not done")
            await asyncio.sleep(poll_seconds)
            waited += poll_seconds
