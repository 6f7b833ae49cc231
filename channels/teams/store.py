"""Where the Teams bot remembers how to reach people: conversation references (Agents SDK).

A proactive message (a review card to a reviewer, an outcome to a requester) needs the
reference of a conversation the user already had with the bot. They live in the CRM's database,
in a table of their own, so they survive restarts and every replica sees the same ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, cast

from microsoft_agents.activity import ConversationReference
from sqlalchemy import Table, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from tools.models import TeamsReference

Kind = Literal["user", "thread", "card"]

# The table is the CRM's (tools/models.py, migration 0008): kinds "user" (a CRM user's personal
# chat with the bot), "thread" (a warroom thread's conversation) and "card" (a review card sent
# to a reviewer, key "<approval id> <CRM user id>").
references = cast(Table, TeamsReference.__table__)


class ConversationStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine  # of a CRM database: its migrations made the table

    def remember(
        self,
        kind: Kind,
        key: str,
        reference: ConversationReference,
        *,
        activity_id: str | None = None,
    ) -> None:
        """Insert or replace one reference (the latest conversation wins)."""
        values = {
            "reference": _without_activity(reference),
            "activity_id": activity_id,
            "updated_at": datetime.now(UTC),
        }
        where = (references.c.kind == kind) & (references.c.key == key)
        for _ in range(2):  # a concurrent insert of the same key turns into an update
            with self.engine.begin() as conn:
                if conn.execute(references.update().where(where).values(**values)).rowcount:
                    return
                try:
                    conn.execute(references.insert().values(kind=kind, key=key, **values))
                    return
                except IntegrityError:
                    continue

    def reference(self, kind: Kind, key: str) -> ConversationReference | None:
        row = self._row(kind, key)
        return ConversationReference.model_validate(row["reference"]) if row else None

    def activity_id(self, kind: Kind, key: str) -> str | None:
        row = self._row(kind, key)
        return row["activity_id"] if row else None

    def _row(self, kind: Kind, key: str) -> dict[str, Any] | None:
        stmt = select(references).where((references.c.kind == kind) & (references.c.key == key))
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return dict(row) if row else None


def card_key(approval_id: str, user_id: str) -> str:
    return f"{approval_id} {user_id}"


def _without_activity(reference: ConversationReference) -> dict[str, Any]:
    """Proactive messages start new messages in the conversation, they reply to nothing."""
    data = reference.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.pop("activityId", None)
    return data
