"""Everything a tool depends on, in one typed object tests replace: the CRM session, the acting
user, the clock and the knowledge store."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tools.models import User


class Clock(Protocol):
    def now(self) -> datetime: ...

    def today(self) -> date: ...


@dataclass(frozen=True)
class SystemClock:
    timezone: str = "UTC"

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.timezone)).date()


@dataclass
class FixedClock:
    """A clock that says what it is told: evals set 'today', tests step time forward."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def today(self) -> date:
        return self.current.date()

    @classmethod
    def on(cls, day: date, hour: int = 9) -> FixedClock:
        return cls(datetime(day.year, day.month, day.day, hour, tzinfo=UTC))


class KnowledgeSearch(Protocol):
    """What `search_knowledge` needs of the knowledge base (memory.knowledge implements it)."""

    def search(
        self, query: str, *, k: int = 5, roles: Collection[str] | None = None
    ) -> list[Any]: ...


class AccountRecall(Protocol):
    """What `recall_account_memory` needs of account memory (memory.account_memory has it)."""

    def recall(self, account_id: str, query: str | None = None, k: int = 5) -> list[Any]: ...


@dataclass(frozen=True)
class Actor:
    """The user a tool acts for. Permissions are decided from this, never from the LLM."""

    id: str
    name: str
    roles: frozenset[str]
    team: str | None
    manager_id: str | None
    email: str | None = None

    @classmethod
    def from_user(cls, user: User) -> Actor:
        return cls(
            id=user.id,
            name=user.name,
            roles=frozenset(user.roles or ()),
            team=user.team,
            manager_id=user.manager_id,
            email=user.email,
        )

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclass
class ToolContext:
    session: Session
    actor: Actor
    clock: Clock
    knowledge: KnowledgeSearch | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    memory: AccountRecall | None = None
