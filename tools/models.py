"""SQLAlchemy 2 models of every record in spec/crm-contract.md, plus the bookkeeping tables
(approvals, audit events, idempotent executions, outbox, consent changes).

Records that both people and agents edit carry a `version` column used for optimistic locking.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    event,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, attributes, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamps on every backend: stored as UTC, returned aware.

    SQLite has no time zone type, so without this a round trip would hand back naive values.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a timezone-aware column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


Money = Numeric(14, 2, asdecimal=True)
Percent = Numeric(5, 2, asdecimal=True)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), Decimal: Money, dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    team: Mapped[str | None] = mapped_column(String(64))
    manager_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    domain: Mapped[str | None] = mapped_column(String(255), index=True)
    industry: Mapped[str | None] = mapped_column(String(100))
    tier: Mapped[str] = mapped_column(String(16), default="standard")
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    team: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}
    # (team, id): the row-level filter of every list query reads ids from the index alone.
    __table_args__ = (Index("ix_accounts_team_id", "team", "id"),)


class Contact(Base):
    __tablename__ = "contacts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(200))
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_phone: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}


class Opportunity(Base):
    __tablename__ = "opportunities"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(32), default="prospecting")
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    discount_percent: Mapped[Decimal] = mapped_column(Percent, default=Decimal(0))
    close_date: Mapped[date | None] = mapped_column(Date)
    probability: Mapped[int | None] = mapped_column(Integer)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    next_step: Mapped[str | None] = mapped_column(String(500))
    seats: Mapped[int | None] = mapped_column(Integer)
    # A copy of the account's sales team, kept equal to accounts.team by `_keep_team_copies`
    # (below) and by the loaders, so that one team's quarter is one index range.
    team: Mapped[str | None] = mapped_column(String(64))
    # Hidden from everyone but managers and admins (field-level permission).
    cost: Mapped[Decimal | None] = mapped_column(Money)
    margin_percent: Mapped[Decimal | None] = mapped_column(Percent)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_opportunities_owner_stage", "owner_id", "stage"),
        Index("ix_opportunities_owner_close", "owner_id", "close_date", "id"),
        # Covers a team forecast: one index range per team and quarter, no table rows read.
        Index(
            "ix_opportunities_team_close_cover",
            "team",
            "close_date",
            "currency",
            "stage",
            "amount",
            "discount_percent",
            "probability",
        ),
    )


@event.listens_for(Session, "before_flush")
def _keep_team_copies(session: Session, _context: object, _instances: object) -> None:
    """Keep `Opportunity.team` equal to its account's team in every ORM flush: a new
    opportunity, or one moved to another account, takes the account's team; an account whose
    team changes takes its opportunities along (rows not loaded included)."""
    pending = {obj.id: obj for obj in session.new if isinstance(obj, Account)}
    with session.no_autoflush:
        for obj in [*session.new, *session.dirty]:
            if not isinstance(obj, Opportunity):
                continue
            if obj in session.new or attributes.get_history(obj, "account_id").has_changes():
                account = pending.get(obj.account_id) or session.get(Account, obj.account_id)
                obj.team = account.team if account is not None else None
        for obj in session.dirty:
            if isinstance(obj, Account) and attributes.get_history(obj, "team").has_changes():
                session.execute(
                    update(Opportunity)
                    .where(Opportunity.account_id == obj.id)
                    .values(team=obj.team)
                    .execution_options(synchronize_session=False)
                )
                for loaded in list(session.identity_map.values()):
                    if isinstance(loaded, Opportunity) and loaded.account_id == obj.id:
                        attributes.set_committed_value(loaded, "team", obj.team)


class Activity(Base):
    __tablename__ = "activities"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    opportunity_id: Mapped[str | None] = mapped_column(ForeignKey("opportunities.id"))
    contact_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    __table_args__ = (Index("ix_activities_account_occurred", "account_id", "occurred_at"),)


class Task(Base):
    __tablename__ = "tasks"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[date] = mapped_column(Date)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    opportunity_id: Mapped[str | None] = mapped_column(ForeignKey("opportunities.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(4), default="p3")
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation_reason: Mapped[str | None] = mapped_column(String(1000))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_tickets_account_status", "account_id", "status"),
        Index("ix_tickets_status_priority_sla", "status", "priority", "sla_due_at", "id"),
    )


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    opportunity_id: Mapped[str | None] = mapped_column(ForeignKey("opportunities.id"))
    name: Mapped[str] = mapped_column(String(200))
    seats: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="planned")
    start_date: Mapped[date | None] = mapped_column(Date)
    go_live_date: Mapped[date | None] = mapped_column(Date)
    lead_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    effort_days: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}


class Capacity(Base):
    """Delivery capacity of a team for the week starting on `week_start` (a Monday)."""

    __tablename__ = "capacity"
    team: Mapped[str] = mapped_column(String(64), primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    available_days: Mapped[Decimal] = mapped_column(Numeric(6, 1))
    booked_days: Mapped[Decimal] = mapped_column(Numeric(6, 1), default=Decimal(0))


class Product(Base):
    """The price book."""

    __tablename__ = "products"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    family: Mapped[str | None] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(32), default="seat/year")
    list_price: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    unit_cost: Mapped[Decimal | None] = mapped_column(Money)  # managers and admins only


class SlaCredit(Base):
    __tablename__ = "sla_credits"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(1000))
    granted_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxMessage(Base):
    """Outbound customer e-mail. Nothing leaves the machine until a transport drains this."""

    __tablename__ = "outbox"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    to_email: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsentChange(Base):
    __tablename__ = "consent_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | phone | marketing
    old_value: Mapped[bool] = mapped_column(Boolean)
    new_value: Mapped[bool] = mapped_column(Boolean)
    changed_by: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(1000))


class Approval(Base):
    """A review request for a proposal the policy marked high-risk."""

    __tablename__ = "approvals"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    proposal_id: Mapped[str] = mapped_column(String(64), index=True)
    thread_id: Mapped[str | None] = mapped_column(String(128), index=True)
    tool: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_by: Mapped[str] = mapped_column(String(64), index=True)
    reviewer_role: Mapped[str] = mapped_column(String(32))
    reviewer_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    rule_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(String(2000))
    edited_arguments: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64))  # tool name or a system action
    outcome: Mapped[str] = mapped_column(String(32))  # committed | refused | agreed | ...
    record_type: Mapped[str | None] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(String(64))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    proposal_id: Mapped[str | None] = mapped_column(String(64), index=True)
    approval_id: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    thread_id: Mapped[str | None] = mapped_column(String(128))
    __table_args__ = (Index("ix_audit_record", "record_type", "record_id"),)


class ToolExecution(Base):
    """One committed write per idempotency key: a repeated key returns the stored result."""

    __tablename__ = "tool_executions"
    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tool: Mapped[str] = mapped_column(String(64))
    arguments_hash: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MeetingIngestion(Base):
    """One applied meeting transcript per content hash: ingesting the same bytes again changes
    nothing and returns this result."""

    __tablename__ = "meeting_ingestions"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_path: Mapped[str] = mapped_column(String(1000))
    format: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str | None] = mapped_column(String(64), index=True)
    actor_id: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MeetingWindow(Base):
    """The model's answer for one window of a transcript being ingested, kept until the
    ingestion is done, so that an interrupted ingestion of a long meeting resumes where it
    stopped instead of asking the model again (channels/meetings/resume.py). `key` is a hash
    of the model and the exact request, so a changed prompt or model is asked anew."""

    __tablename__ = "meeting_windows"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ChannelDelivery(Base):
    """What a chat channel has delivered about a review request (its card to the reviewers,
    its outcome to the requester's thread). A row is claimed before the message goes out, so
    replicas and restarts deliver each at most once."""

    __tablename__ = "channel_deliveries"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    approval_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # card | outcome | card-update (its cards replaced by the decided card) | counter
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelCard(Base):
    """Where a chat channel posted a review card (Slack: "<channel id> <message ts>"), so that
    whichever process delivers the request's outcome can replace every card of it with the
    decided one (channels/relay.py)."""

    __tablename__ = "channel_cards"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    approval_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    location: Mapped[str] = mapped_column(String(400), primary_key=True)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelEvent(Base):
    """An inbound chat event a channel has taken on (Slack's event_id). Claimed before the event
    is handled, so a redelivery that reaches another replica, or this one after a restart, is
    handled once. Rows older than the channel's retry window are pruned."""

    __tablename__ = "channel_events"
    __table_args__ = (Index("ix_channel_events_queue", "channel", "status", "received_at"),)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # The durable inbox (channels.inbox): "queued" until a worker has handled it, then "done"
    # ("failed" after too many attempts). A claim only (no payload) is stored "done".
    status: Mapped[str] = mapped_column(String(12), default="done", server_default="done")
    conversation: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    leased_by: Mapped[str | None] = mapped_column(String(64))
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stage: Mapped[str | None] = mapped_column(String(16))
    checkpoint: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Claim(Base):
    """A step that must happen once across processes (tools/claims.py): claimed with a lease
    before it is done, marked done after — opening a review thread ("review-open", approval
    id), telling an outcome to a conversation ("notice", approval|thread|message digest)."""

    __tablename__ = "claims"
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    claimed_by: Mapped[str] = mapped_column(String(64))
    claimed_until: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TeamsReference(Base):
    """How the Teams bot reaches people again: a Bot Framework conversation reference per CRM
    user (their personal chat), per warroom thread, and per review card sent to a reviewer
    (key "<approval id> <CRM user id>"). In the CRM database so that restarts and every replica
    see the same ones (channels/teams/store.py)."""

    __tablename__ = "teams_references"
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # user | thread | card
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    reference: Mapped[dict[str, Any]] = mapped_column(JSON)
    activity_id: Mapped[str | None] = mapped_column(String(400))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


def utcnow() -> datetime:
    return datetime.now(UTC)
