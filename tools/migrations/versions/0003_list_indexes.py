"""indexes matching the list queries' filters and sort orders

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:30:00
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_accounts_team", table_name="accounts")
    op.create_index("ix_accounts_team_id", "accounts", ["team", "id"])
    op.drop_index("ix_tickets_status_priority", table_name="tickets")
    op.create_index(
        "ix_tickets_status_priority_sla", "tickets", ["status", "priority", "sla_due_at", "id"]
    )
    op.create_index(
        "ix_opportunities_owner_close", "opportunities", ["owner_id", "close_date", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_opportunities_owner_close", table_name="opportunities")
    op.drop_index("ix_tickets_status_priority_sla", table_name="tickets")
    op.create_index("ix_tickets_status_priority", "tickets", ["status", "priority"])
    op.drop_index("ix_accounts_team_id", table_name="accounts")
    op.create_index("ix_accounts_team", "accounts", ["team"])
