"""channel cards: where each review card was posted, to replace it once the request is decided

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_cards",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("approval_id", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=400), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "approval_id", "location"),
    )


def downgrade() -> None:
    op.drop_table("channel_cards")
