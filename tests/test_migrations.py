"""The Alembic migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tools.db import Database
from tools.models import Base


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        # Other tables may share the database (LangGraph's checkpoints on PostgreSQL): only the
        # CRM's own tables are compared.
        def ours(name: str | None, type_: str, _parents: object) -> bool:
            return type_ != "table" or name in Base.metadata.tables

        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": ours}
        )
        diffs = compare_metadata(context, Base.metadata)
    assert diffs == []


def test_migrating_twice_is_harmless(db: Database) -> None:
    from tools.db import migrate

    migrate(db.engine)
    with db.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == "0007"
