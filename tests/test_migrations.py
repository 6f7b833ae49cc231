"""The Alembic migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tools.db import Database
from tools.models import Base


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    assert diffs == []


def test_migrating_twice_is_harmless(db: Database) -> None:
    from tools.db import migrate

    migrate(db.engine)
    with db.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == "0003"
