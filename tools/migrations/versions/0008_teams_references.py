"""Teams conversation references under migrations

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 16:10:00

The Teams channel used to create this table itself on start; a database where it did already
has it, with these columns, and keeps it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("teams_references"):
        return
    op.create_table(
        "teams_references",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("reference", sa.JSON(), nullable=False),
        sa.Column("activity_id", sa.String(length=400), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key"),
    )


def downgrade() -> None:
    op.drop_table("teams_references")
