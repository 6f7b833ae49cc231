"""the durable inbox: channel_events keeps each inbound event until a worker has handled it

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 04:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channel_events") as batch:
        # rows written before the inbox existed were handled when they were claimed: "done"
        batch.add_column(
            sa.Column("status", sa.String(length=12), nullable=False, server_default="done")
        )
        batch.add_column(sa.Column("conversation", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("leased_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("stage", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("checkpoint", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("done_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_channel_events_queue", "channel_events", ["channel", "status", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_channel_events_queue", table_name="channel_events")
    with op.batch_alter_table("channel_events") as batch:
        for column in (
            "done_at", "checkpoint", "stage", "leased_until", "leased_by", "attempts", "payload",
            "conversation", "status",
        ):
            batch.drop_column(column)
