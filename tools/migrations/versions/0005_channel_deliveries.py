"""channel deliveries: review cards and outcomes a chat channel has delivered

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_deliveries",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("approval_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "approval_id", "kind"),
    )


def downgrade() -> None:
    op.drop_table("channel_deliveries")
