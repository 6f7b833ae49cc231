"""The LangGraph checkpointer for durable conversation state and pending approvals: SQLite next
to the CRM database by default, PostgreSQL when the CRM runs on PostgreSQL (same URL)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

__all__ = ["checkpoint_location", "open_async_checkpointer", "open_checkpointer"]


def checkpoint_location(database_url: str) -> tuple[str, str]:
    """("sqlite", file path or ":memory:") or ("postgres", libpq connection string).

    The SQLite checkpoints live in their own file beside the CRM database
    (`crm.sqlite3` -> `crm.checkpoints.sqlite3`), so the CRM's migrations never see them."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            return "sqlite", ":memory:"
        crm = Path(database).expanduser()
        path = crm.with_name(f"{crm.stem}.checkpoints.sqlite3")
        path.parent.mkdir(parents=True, exist_ok=True)
        return "sqlite", str(path)
    if backend in ("postgresql", "postgres"):
        plain = url.set(drivername="postgresql")
        return "postgres", plain.render_as_string(hide_password=False)
    raise ValueError(
        f"No checkpointer for database URL scheme {url.drivername!r}; "
        "use sqlite:/// or postgresql://."
    )


@contextmanager
def open_checkpointer(database_url: str, *, pool_size: int = 10) -> Iterator[object]:
    """A ready `SqliteSaver` or `PostgresSaver` (tables created), closed on exit."""
    kind, target = checkpoint_location(database_url)
    if kind == "sqlite":
        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(target, check_same_thread=False)
        try:
            if target != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")  # readers and a writer in other processes
            saver = SqliteSaver(conn)
            saver.setup()
            yield saver
        finally:
            conn.close()
        return

    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    with ConnectionPool(target, min_size=1, max_size=pool_size, kwargs=kwargs, open=True) as pool:
        pg_saver = PostgresSaver(pool)  # type: ignore[arg-type]
        pg_saver.setup()
        yield pg_saver


@asynccontextmanager
async def open_async_checkpointer(
    database_url: str, *, pool_size: int = 10
) -> AsyncIterator[object]:
    """The asyncio twin of `open_checkpointer`: `AsyncSqliteSaver` or `AsyncPostgresSaver`."""
    kind, target = checkpoint_location(database_url)
    if kind == "sqlite":
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        async with aiosqlite.connect(target) as conn:
            if target != ":memory:":
                await conn.execute("PRAGMA journal_mode=WAL")
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            yield saver
        return

    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    async with AsyncConnectionPool(
        target, min_size=1, max_size=pool_size, kwargs=kwargs, open=False
    ) as pool:
        pg_saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        await pg_saver.setup()
        yield pg_saver
