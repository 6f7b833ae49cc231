"""audit outcome long enough for negotiation outcomes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column(
            "outcome", existing_type=sa.String(length=16), type_=sa.String(length=32),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column(
            "outcome", existing_type=sa.String(length=32), type_=sa.String(length=16),
            existing_nullable=False,
        )
