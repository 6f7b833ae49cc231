"""A small write someone waits on (an acknowledgement) gets SQLite's writer lock as soon as it
is free, instead of sleeping through SQLite's growing back-off while other writers take it."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from tools.db import Database
from tools.models import ChannelEvent


def _hold_writer_lock(path: Path, seconds: float, held: threading.Event) -> None:
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    held.set()
    time.sleep(seconds)
    connection.execute("COMMIT")
    connection.close()


def _claim(event_id: str):  # type: ignore[no-untyped-def]
    def work(session):  # type: ignore[no-untyped-def]
        session.add(ChannelEvent(channel="t", event_id=event_id, received_at=datetime.now(UTC)))
        return event_id

    return work


def test_a_prompt_write_waits_for_the_lock_and_no_longer(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite3"
    db = Database(f"sqlite:///{path}")
    held = threading.Event()
    holder = threading.Thread(target=_hold_writer_lock, args=(path, 0.3, held))
    holder.start()
    held.wait(5)
    started = time.monotonic()
    assert db.write_promptly(_claim("Ev1")) == "Ev1"
    waited = time.monotonic() - started
    holder.join()
    assert 0.2 < waited < 1.0
    with db.read_session() as session:
        assert session.get(ChannelEvent, ("t", "Ev1")) is not None
    # past `within`, the lock error is raised (and nothing was written)
    held.clear()
    holder = threading.Thread(target=_hold_writer_lock, args=(path, 0.5, held))
    holder.start()
    held.wait(5)
    with pytest.raises(OperationalError, match="locked"):
        db.write_promptly(_claim("Ev2"), within=0.1)
    holder.join()
    with db.read_session() as session:
        assert session.get(ChannelEvent, ("t", "Ev2")) is None
    db.dispose()
