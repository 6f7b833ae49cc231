"""What ingestion may tell the person ingesting: records of accounts they cannot see are not
named in results or messages (ids of accounts, their contacts and deals are replaced by words).
The rule itself is the tool layer's (`tools.permissions.account_read_filter`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from tools.context import Actor
from tools.db import Database
from tools.models import Account, Contact, Opportunity
from tools.permissions import account_read_filter

__all__ = ["Visibility"]

HIDDEN = "a record you cannot see"


@dataclass(frozen=True)
class Visibility:
    visible_accounts: frozenset[str]
    hidden_ids: frozenset[str]  # accounts, contacts and opportunities the actor may not see

    @classmethod
    def load(cls, db: Database, actor: Actor) -> Visibility:
        with db.read_session() as session:
            readable = select(Account.id).where(account_read_filter(actor))
            visible = frozenset(session.scalars(readable))
            hidden = set(session.scalars(select(Account.id).where(Account.id.not_in(visible))))
            hidden |= set(session.scalars(select(Contact.id).where(Contact.account_id.in_(hidden))))
            hidden |= set(
                session.scalars(select(Opportunity.id).where(Opportunity.account_id.in_(hidden)))
            )
        return cls(visible, frozenset(hidden))

    def account(self, account_id: str) -> bool:
        return account_id in self.visible_accounts

    def redact(self, text: str) -> str:
        if not self.hidden_ids:
            return text
        names = "|".join(re.escape(i) for i in sorted(self.hidden_ids, key=len, reverse=True))
        return re.sub(rf"(?<![\w-])(?:{names})(?![\w-])", HIDDEN, text)

    def attendee(self, attendee: dict[str, Any]) -> dict[str, Any]:
        """An attendee with contacts the actor may not see left unmatched."""
        out = dict(attendee)
        if out.get("contact_id") in self.hidden_ids:
            out["contact_id"], out["side"] = None, None
        if out.get("candidates"):
            out["candidates"] = [c for c in out["candidates"] if c not in self.hidden_ids]
        return out
