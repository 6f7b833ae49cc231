"""meeting windows: the model's answer per window of a transcript being ingested (resume)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meeting_windows",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "key"),
    )
    op.create_index("ix_meeting_windows_saved_at", "meeting_windows", ["saved_at"])


def downgrade() -> None:
    op.drop_index("ix_meeting_windows_saved_at", table_name="meeting_windows")
    op.drop_table("meeting_windows")
