"""Alembic environment: runs on the connection warroom hands over (see tools.db.migrate)."""

from alembic import context

from tools.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - invoked by the alembic CLI for autogenerate
    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url") or "sqlite:///:memory:"
    connection = create_engine(url).connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
