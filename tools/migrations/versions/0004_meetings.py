"""meeting ingestions: one applied transcript per content hash

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meeting_ingestions",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source_path", sa.String(length=1000), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_index(
        "ix_meeting_ingestions_account_id", "meeting_ingestions", ["account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_meeting_ingestions_account_id", table_name="meeting_ingestions")
    op.drop_table("meeting_ingestions")
