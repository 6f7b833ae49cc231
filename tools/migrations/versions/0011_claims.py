"""claims: exactly-once steps across processes (opening a review thread, telling an outcome)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("scope", sa.String(length=32), primary_key=True),
        sa.Column("key", sa.String(length=400), primary_key=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("claims")
