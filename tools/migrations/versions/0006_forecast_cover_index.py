"""a covering index for forecasts over many accounts (a manager's team)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 15:20:00
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_opportunities_account_close_cover",
        "opportunities",
        [
            "account_id",
            "close_date",
            "currency",
            "stage",
            "amount",
            "discount_percent",
            "probability",
        ],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_opportunities_account_close_cover", table_name="opportunities")
