"""requester_notices: each review outcome is told to the requester's conversation once

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "requester_notices",
        sa.Column("approval_id", sa.String(length=64), primary_key=True),
        sa.Column("thread_id", sa.String(length=200), primary_key=True),
        sa.Column("message_key", sa.String(length=64), primary_key=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("requester_notices")
