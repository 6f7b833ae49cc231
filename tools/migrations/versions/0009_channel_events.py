"""inbound chat events a channel has taken on, shared by its replicas

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 17:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_events",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "event_id"),
    )
    op.create_index("ix_channel_events_received_at", "channel_events", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_channel_events_received_at", table_name="channel_events")
    op.drop_table("channel_events")
