"""The CRM database: one code path for SQLite (embedded default) and PostgreSQL.

Alembic migrations run on start, so a new or older database is brought to the current schema
before anything reads it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _normalise_url(url: str) -> str:
    # Users write postgresql:// or postgres://; SQLAlchemy needs the psycopg 3 driver named.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_crm_engine(url: str, *, lock_timeout: float = 30.0) -> Engine:
    """`lock_timeout`: how long a SQLite write waits for the writer lock (0: not at all)."""
    url = _normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": lock_timeout})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # Recycling old connections instead of pinging before each use saves a round trip per
    # session (benchmarks/bench_crm.py measured it).
    return create_engine(url, pool_recycle=1800, pool_size=10, max_overflow=20)


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Bring the schema on `connection` to `revision` (the newest by default)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision, in one transaction."""
    with engine.begin() as connection:
        upgrade(connection)


class Database:
    """Engine plus session factory; `session()` is a unit of work that commits or rolls back."""

    def __init__(self, url: str, *, run_migrations: bool = True) -> None:
        self.url = _normalise_url(url)
        self.engine = create_crm_engine(self.url)
        if run_migrations:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._prompt_engine: Engine | None = None  # see write_promptly
        self._prompt_sessions: sessionmaker[Session] | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def write_promptly(self, work: Callable[[Session], T], *, within: float = 30.0) -> T:
        """`work(session)` in one transaction, for a small write someone is waiting on (an
        acknowledgement). SQLite's own wait for its writer lock sleeps longer and longer
        (up to 100 ms a time) while other writers keep taking the lock, so a short write behind
        busy ones can wait a second; here it asks again every half millisecond, for at most
        `within` seconds. `work` may run more than once (each failed try is rolled back). On
        PostgreSQL this is `session()`: writers wait in row locks, in order."""
        if self.dialect != "sqlite":
            with self.session() as session:
                return work(session)
        if self._prompt_sessions is None:
            self._prompt_engine = create_crm_engine(self.url, lock_timeout=0)
            self._prompt_sessions = sessionmaker(self._prompt_engine, expire_on_commit=False)
        deadline = time.monotonic() + within
        while True:
            try:
                with self._prompt_sessions() as session:
                    try:
                        result = work(session)
                        session.commit()
                        return result
                    except BaseException:
                        session.rollback()
                        raise
            except OperationalError as exc:
                if "locked" not in str(exc.orig) or time.monotonic() >= deadline:
                    raise
            time.sleep(0.0005)

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        # Closing (not rolling back) keeps loaded attributes readable after the block.
        with self._sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self._prompt_engine is not None:
            self._prompt_engine.dispose()
