"""The CRM database: one code path for SQLite (embedded default) and PostgreSQL.

Alembic migrations run on start, so a new or older database is brought to the current schema
before anything reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _normalise_url(url: str) -> str:
    # Users write postgresql:// or postgres://; SQLAlchemy needs the psycopg 3 driver named.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_crm_engine(url: str) -> Engine:
    url = _normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

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

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        # Closing (not rolling back) keeps loaded attributes readable after the block.
        with self._sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
