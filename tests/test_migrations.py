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


def newest_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from tools.db import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    [head] = ScriptDirectory.from_config(config).get_heads()  # one line of history, no branches
    return str(head)


def test_migrating_twice_is_harmless(db: Database) -> None:
    from tools.db import migrate

    head = newest_revision()
    migrate(db.engine)
    with db.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head


def test_teams_references_made_by_the_channel_itself_are_kept(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Before migration 0008 the Teams channel created its table on start; upgrading such a
    database keeps the table and its rows."""
    import sqlalchemy as sa

    from tools.db import upgrade

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with engine.begin() as connection:
        upgrade(connection, "0007")
        connection.execute(
            sa.text(
                "CREATE TABLE teams_references (kind VARCHAR(16) NOT NULL, "
                "key VARCHAR(400) NOT NULL, reference JSON NOT NULL, activity_id VARCHAR(400), "
                "updated_at DATETIME NOT NULL, PRIMARY KEY (kind, key))"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO teams_references VALUES ('user', 'u-alice', '{}', NULL, "
                "'2026-11-23 10:00:00')"
            )
        )
        upgrade(connection)
        rows = connection.execute(sa.text("SELECT kind, key FROM teams_references")).all()
        assert MigrationContext.configure(connection).get_current_revision() == newest_revision()
    engine.dispose()
    assert rows == [("user", "u-alice")]
