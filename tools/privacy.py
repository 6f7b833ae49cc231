"""Data protection: export everything warroom holds about a contact, erase it everywhere, and
record consent changes.

The CRM is one store among several: the knowledge base, account memory and the conversation
checkpoints hold personal data too. They plug in through `PersonalDataStore` (memory.privacy
implements them), so this module never imports the memory layer.

Erasure runs store by store, one transaction each, and the CRM goes last: the contact's name,
e-mail and phone number — the terms every other store is searched for — stay readable until all
other stores are clean, so a run that crashed half-way is simply run again. The CRM transaction
also writes the audit event that says what was erased (counts per store), never the data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy import JSON, String, select, text
from sqlalchemy.orm import Session

from tools.catalogue.common import snapshot
from tools.context import Actor
from tools.errors import NotFound, PermissionRefused
from tools.models import (
    Account,
    Activity,
    Approval,
    AuditEvent,
    Base,
    ConsentChange,
    Contact,
    OutboxMessage,
)
from tools.permissions import can_read_account, require_write
from tools.service import CRMService

__all__ = [
    "ERASED",
    "ConsentReport",
    "DataSubject",
    "ErasureReport",
    "PersonalDataStore",
    "PrivacyRequestError",
    "PrivacyService",
    "mention_patterns",
]

ERASED = "[erased]"
CONSENT_CHANNELS = ("email", "phone", "marketing")


class PrivacyRequestError(Exception):
    """A privacy request that cannot be carried out; `message` is one sentence for the user.
    `kind` is "not_found", "refused" or "invalid"."""

    def __init__(self, message: str, *, kind: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


# ---------------------------------------------------------------- finding a person in text


def _phone_variants(digits: str, international: bool) -> list[str]:
    """The number as written, and without its country code (+1 555 0100 is also 555 0100;
    +86 138 0013 8000 is also 13800138000), so local spellings are found too."""
    variants = [digits]
    if international:
        for cc in (1, 2, 3):
            rest = digits[cc:]
            if len(rest) >= 7:
                variants.append(rest)
    return variants


def mention_patterns(terms: Iterable[str]) -> list[re.Pattern[str]]:
    """Case-insensitive patterns finding a name, e-mail address or phone number in free text.
    Latin names match as whole words; CJK names as they are; phone numbers whatever spacing or
    punctuation separates their digits, with or without the country code."""
    patterns: list[re.Pattern[str]] = []
    for term in terms:
        term = (term or "").strip()
        if not term or term == ERASED:
            continue
        digits = re.sub(r"\D", "", term)
        if len(digits) >= 7 and not re.search(r"[A-Za-z@]", term):
            international = term.startswith(("+", "00"))
            if term.startswith("00"):
                digits = digits[2:]
            for variant in _phone_variants(digits, international):
                body = r"[\s().+-]*".join(variant)
                patterns.append(re.compile(rf"(?<!\d){body}(?!\d)"))
        elif re.search(r"[\u3400-\u9fff]", term):
            patterns.append(re.compile(re.escape(term)))
        else:
            words = r"\s+".join(re.escape(w) for w in term.split())
            patterns.append(re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE))
    return patterns


Attribution = Literal["none", "mention", "ambiguous"]


@dataclass(frozen=True)
class DataSubject:
    """The person a privacy request is about, and how to recognise them in stored text.

    E-mail addresses and phone numbers identify the person wherever they appear. A name only
    finds *candidate* mentions, attributed by where they sit (`attribute`): in the contact's own
    account or in a record linked to the contact (a meeting they attended) a mention is theirs,
    unless another contact of that account has the same name (then it is ambiguous, reported
    and left alone); in an account that has its own contact of that name it is that person's;
    elsewhere it is theirs only if no other contact anywhere has the name. A first name alone
    ("Jane said…") counts only in the contact's own account and linked records.

    `names` are the names matched everywhere (empty when another contact shares the name), so
    stores that search without an account (knowledge base, checkpoints) never take a namesake's
    data."""

    contact_id: str
    account_id: str | None
    names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    erased_at: datetime | None = None
    full_name: str | None = None
    first_name: str | None = None
    namesake_accounts: frozenset[str | None] = frozenset()  # accounts of same-name contacts
    first_name_shared: bool = False  # another contact of the account has the same first name
    _patterns: list[re.Pattern[str]] = field(default_factory=list, compare=False, repr=False)
    _strong: list[re.Pattern[str]] = field(default_factory=list, compare=False, repr=False)
    _name: list[re.Pattern[str]] = field(default_factory=list, compare=False, repr=False)
    _first: list[re.Pattern[str]] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._patterns.extend(mention_patterns(self.terms))
        self._strong.extend(mention_patterns((*self.emails, *self.phones)))
        self._name.extend(mention_patterns([self.full_name] if self.full_name else []))
        if self.first_name and self.first_name != self.full_name:
            # A first name as people write it ("Jane said…"): capitalised as stored, never part
            # of an id, an address or a file name (con-jane, jane@…, jane.vtt).
            first = re.escape(self.first_name)
            self._first.append(re.compile(rf"(?<![\w@.\-/]){first}(?![\w@\-/]|\.\w)"))

    @property
    def terms(self) -> tuple[str, ...]:
        return (*self.names, *self.emails, *self.phones)

    @property
    def patterns(self) -> list[re.Pattern[str]]:
        return list(self._patterns)

    def attribute(
        self, value: Any, *, account_id: str | None, linked: bool = False
    ) -> tuple[Attribution, list[re.Pattern[str]]]:
        """Whether `value` (a string or JSON-like value) sitting on `account_id` (or linked to
        the contact) mentions this person, and the patterns to scrub if it does."""
        text = _flatten(value)
        if not text:
            return "none", []
        own = linked or (account_id is not None and account_id == self.account_id)
        strong = [p for p in self._strong if p.search(text)]
        verdict: Attribution = "mention" if strong else "none"
        found = list(strong)
        if any(p.search(text) for p in self._name):
            if own:
                name_verdict: Attribution = (
                    "ambiguous" if self.account_id in self.namesake_accounts else "mention"
                )
            elif account_id is not None and account_id in self.namesake_accounts:
                name_verdict = "none"  # that account's own contact of the same name
            else:
                name_verdict = "ambiguous" if self.namesake_accounts else "mention"
            if name_verdict == "mention":
                found += self._name
            elif name_verdict == "ambiguous" and verdict == "none":
                verdict = "ambiguous"
            if name_verdict == "mention":
                verdict = "mention"
        if own and any(p.search(text) for p in self._first):
            if self.first_name_shared or self.account_id in self.namesake_accounts:
                verdict = "ambiguous" if verdict == "none" else verdict
            else:
                found += self._first
                verdict = "mention"
        return verdict, found if verdict == "mention" else []

    def mentioned_in(self, value: Any) -> bool:
        """Whether a string, or any string inside a JSON-like value, names the person."""
        if isinstance(value, str):
            return any(p.search(value) for p in self._patterns)
        if isinstance(value, dict):
            return any(self.mentioned_in(v) for v in value.values())
        if isinstance(value, list | tuple):
            return any(self.mentioned_in(v) for v in value)
        return False

    def scrub(self, value: Any, patterns: Sequence[re.Pattern[str]] | None = None) -> Any:
        """The value with every mention replaced by [erased] (JSON-like values recursively)."""
        use = self._patterns if patterns is None else patterns
        if isinstance(value, str):
            for pattern in use:
                value = pattern.sub(ERASED, value)
            return value
        if isinstance(value, dict):
            return {k: self.scrub(v, use) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v, use) for v in value]
        return value

    def referenced_by(self, arguments: Any) -> bool:
        """Whether tool arguments point at the contact by id."""
        if not isinstance(arguments, dict):
            return False
        return arguments.get("contact_id") == self.contact_id or self.contact_id in (
            arguments.get("contact_ids") or []
        )


def _flatten(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(_flatten(v) for v in value.values())
    if isinstance(value, list | tuple):
        return "\n".join(_flatten(v) for v in value)
    return ""


class PersonalDataStore(Protocol):
    """A place outside the CRM database that may hold personal data (memory.privacy)."""

    name: str

    def export(self, subject: DataSubject) -> list[dict[str, Any]]: ...

    def erase(self, subject: DataSubject) -> dict[str, int]:
        """Remove the person in one transaction of this store; counts of what went. Running it
        again finds nothing more to do."""
        ...


# ---------------------------------------------------------------- reports


@dataclass
class ErasureReport:
    contact_id: str
    stores: dict[str, dict[str, int]]
    already_erased: bool
    audit_event_id: int | None = None
    # Records naming someone of the same name, left as they are for a person to look at.
    ambiguous: list[dict[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(sum(counts.values()) for counts in self.stores.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "contact_id": self.contact_id,
            "already_erased": self.already_erased,
            "stores": self.stores,
            "total": self.total,
            "audit_event_id": self.audit_event_id,
            "ambiguous": self.ambiguous,
        }


@dataclass
class ConsentReport:
    contact_id: str
    changed: dict[str, tuple[bool | None, bool | None]]
    consent: dict[str, bool]
    by: str
    at: datetime
    reason: str


# ---------------------------------------------------------------- the service


def _account_of(record: Base) -> str | None:
    """The account a record sits on, for attributing a name mentioned in it."""
    direct = getattr(record, "account_id", None)
    if isinstance(direct, str):
        return direct
    for attr in ("arguments", "after", "before", "context"):
        payload = getattr(record, attr, None)
        if isinstance(payload, dict):
            found = payload.get("account_id") or (payload.get("proposal") or {}).get("account_id")
            if isinstance(found, str):
                return found
    return None


def _ambiguity(model: type[Base], record: Base) -> dict[str, str]:
    key = getattr(record, "id", None) or getattr(record, "sha256", None) or "?"
    return {
        "table": model.__tablename__,
        "id": str(key),
        "why": "names someone who shares the contact's name; left for a person to decide",
    }


def _text_columns(model: type[Base]) -> list[str]:
    """Columns that may hold personal data: strings and JSON, never keys."""
    table = model.__table__
    return [
        column.key
        for column in table.columns
        if isinstance(column.type, String | JSON)
        and not column.primary_key
        and not column.foreign_keys
    ]


def _models() -> list[type[Base]]:
    return sorted((m.class_ for m in Base.registry.mappers), key=lambda m: m.__tablename__)


class PrivacyService:
    """Export, erasure and consent for one contact across the CRM and the given stores."""

    def __init__(self, crm: CRMService, stores: Sequence[PersonalDataStore] = ()) -> None:
        self.crm = crm
        self.stores = list(stores)

    # ------------------------------------------------------------ who and whom

    def _actor(self, user_id: str) -> Actor:
        try:
            return self.crm.actor(user_id)
        except NotFound as exc:
            raise PrivacyRequestError(
                f"There is no warroom user '{user_id}'.", kind="not_found"
            ) from exc

    def _require_admin(self, actor: Actor, what: str) -> None:
        if not actor.is_admin:
            raise PrivacyRequestError(
                f"{actor.name} ({actor.id}) may not {what}: only admins may; nothing was done.",
                kind="refused",
            )

    def subject(self, contact_id: str) -> DataSubject:
        with self.crm.db.read_session() as session:
            contact = session.get(Contact, contact_id)
            if contact is None:
                raise PrivacyRequestError(
                    f"There is no contact with id '{contact_id}'; check the id "
                    "(`warroom crm account ACCOUNT_ID` lists an account's contacts).",
                    kind="not_found",
                )
            name = contact.name if contact.name and contact.name != ERASED else None
            first = name.split()[0] if name and len(name.split()) > 1 else None
            others = session.execute(
                select(Contact.account_id, Contact.name).where(
                    Contact.id != contact.id, Contact.erased_at.is_(None)
                )
            ).all()
            folded = (name or "").casefold()
            namesakes = frozenset(a for a, n in others if name and (n or "").casefold() == folded)
            first_shared = first is not None and any(
                a == contact.account_id and (n or "").split()[:1] == [first] for a, n in others
            )
            return DataSubject(
                contact_id=contact.id,
                account_id=contact.account_id,
                # A name shared with another contact is no identifier on its own.
                names=(name,) if name and not namesakes else (),
                emails=tuple(e for e in [contact.email] if e),
                phones=tuple(p for p in [contact.phone] if p),
                erased_at=contact.erased_at,
                full_name=name,
                first_name=first,
                namesake_accounts=namesakes,
                first_name_shared=first_shared,
            )

    # ------------------------------------------------------------ export

    def export(self, contact_id: str, *, actor_id: str) -> dict[str, Any]:
        """Everything held about the contact, per store; the export itself is audited."""
        actor = self._actor(actor_id)
        self._require_admin(actor, f"export the personal data of contact '{contact_id}'")
        subject = self.subject(contact_id)
        with self.crm.db.read_session() as session:
            crm, ambiguous = self._crm_records(session, subject)
        data: dict[str, Any] = {
            "contact_id": subject.contact_id,
            "exported_at": self.crm.clock.now().isoformat(),
            "exported_by": actor.id,
            "erased_at": subject.erased_at.isoformat() if subject.erased_at else None,
            "crm": crm,
            # Records naming someone of the same name: listed, never exported as theirs.
            "ambiguous": ambiguous,
        }
        for store in self.stores:
            data[store.name] = store.export(subject)
        self.crm.audit_note(
            actor_id=actor.id,
            action="privacy.export",
            outcome="exported",
            reason=f"Personal data of contact {contact_id} exported.",
            arguments={
                "contact_id": contact_id,
                "counts": {
                    **{f"crm.{t}": len(rows) for t, rows in crm.items()},
                    **{s.name: len(data[s.name]) for s in self.stores},
                },
            },
        )
        return data

    def _crm_records(
        self, session: Session, subject: DataSubject
    ) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, str]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        ambiguous: list[dict[str, str]] = []
        for model in _models():
            columns = _text_columns(model)
            rows = []
            for record in session.scalars(select(model)):
                verdict = self._concerns(record, subject, columns)
                if verdict == "mention":
                    rows.append(snapshot(record))
                elif verdict == "ambiguous":
                    ambiguous.append(_ambiguity(model, record))
            if rows:
                out[model.__tablename__] = rows
        return out, ambiguous

    @staticmethod
    def _linked(record: Base, subject: DataSubject) -> bool:
        """Records that point at the contact by id (not by name)."""
        if isinstance(record, Contact):
            return record.id == subject.contact_id
        if isinstance(record, OutboxMessage | ConsentChange):
            return record.contact_id == subject.contact_id
        if isinstance(record, Activity):
            return subject.contact_id in (record.contact_ids or [])
        if isinstance(record, AuditEvent):
            return (
                record.record_type == "contact" and record.record_id == subject.contact_id
            ) or subject.referenced_by(record.arguments)
        if isinstance(record, Approval):
            return subject.referenced_by(record.arguments)
        return False

    @classmethod
    def _concerns(cls, record: Base, subject: DataSubject, columns: list[str]) -> Attribution:
        if isinstance(record, Contact):
            return "mention" if record.id == subject.contact_id else "none"
        if cls._linked(record, subject):
            return "mention"
        verdict, _ = cls._attribute(record, subject, columns)
        return verdict

    @classmethod
    def _attribute(
        cls, record: Base, subject: DataSubject, columns: list[str]
    ) -> tuple[Attribution, list[re.Pattern[str]]]:
        values = {c: getattr(record, c) for c in columns}
        return subject.attribute(
            values, account_id=_account_of(record), linked=cls._linked(record, subject)
        )

    # ------------------------------------------------------------ erasure

    def erase(self, contact_id: str, *, actor_id: str, reason: str | None = None) -> ErasureReport:
        actor = self._actor(actor_id)
        self._require_admin(actor, f"erase the personal data of contact '{contact_id}'")
        subject = self.subject(contact_id)
        note = subject.scrub(reason.strip()) if reason and reason.strip() else None
        counts: dict[str, dict[str, int]] = {}
        for store in self.stores:
            counts[store.name] = store.erase(subject)
            # Progress is on record before the CRM step, so a crash leaves a trail.
            self.crm.audit_note(
                actor_id=actor.id,
                action="privacy.erase",
                outcome="store_erased",
                reason=note or f"Erasure of contact {contact_id}",
                arguments={
                    "contact_id": contact_id,
                    "store": store.name,
                    "counts": counts[store.name],
                },
            )
        crm_counts, event_id, ambiguous = self._erase_crm(subject, actor, note, counts)
        counts = {"crm": crm_counts, **counts}
        return ErasureReport(
            contact_id=contact_id,
            stores=counts,
            already_erased=subject.erased_at is not None,
            audit_event_id=event_id,
            ambiguous=ambiguous,
        )

    def _erase_crm(
        self,
        subject: DataSubject,
        actor: Actor,
        note: str | None,
        other_stores: dict[str, dict[str, int]],
    ) -> tuple[dict[str, int], int, list[dict[str, str]]]:
        now = self.crm.clock.now()
        counts: dict[str, int] = {}
        ambiguous: list[dict[str, str]] = []

        def bump(table: str, n: int = 1) -> None:
            counts[table] = counts.get(table, 0) + n

        with self.crm.db.session() as session:
            if session.get_bind().dialect.name == "sqlite":
                # Freed pages are zeroed, so the erased text is not left in the file.
                session.execute(text("PRAGMA secure_delete=ON"))
            contact = session.get(Contact, subject.contact_id)
            assert contact is not None  # self.subject() found it
            if contact.erased_at is None:
                contact.name = ERASED
                contact.email = contact.phone = contact.title = None
                contact.consent_email = contact.consent_phone = contact.consent_marketing = False
                contact.erased_at = now
                bump("contacts")
            outbox = session.scalars(
                select(OutboxMessage).where(OutboxMessage.contact_id == subject.contact_id)
            ).all()
            for message in outbox:
                session.delete(message)
            if outbox:
                bump("outbox", len(outbox))
            session.flush()
            for model in _models():
                if model is Contact:
                    continue
                columns = _text_columns(model)
                for record in session.scalars(select(model)):
                    if record in session.deleted:
                        continue
                    if self._scrub_record(record, subject, columns, now, ambiguous):
                        bump(model.__tablename__)
            event = AuditEvent(
                at=now,
                actor_id=actor.id,
                action="privacy.erase",
                outcome="erased",
                record_type="contact",
                record_id=subject.contact_id,
                arguments={
                    "contact_id": subject.contact_id,
                    "stores": {"crm": dict(counts), **other_stores},
                    "already_erased": subject.erased_at is not None,
                    "ambiguous": ambiguous,
                },
                reason=note or f"Erasure of contact {subject.contact_id}",
            )
            session.add(event)
            session.flush()
            event_id = event.id
        return counts, event_id, ambiguous

    @classmethod
    def _scrub_record(
        cls,
        record: Base,
        subject: DataSubject,
        columns: list[str],
        now: datetime,
        ambiguous: list[dict[str, str]],
    ) -> bool:
        changed = False
        verdict, patterns = cls._attribute(record, subject, columns)
        if verdict == "ambiguous":
            ambiguous.append(_ambiguity(type(record), record))
        for column in columns:
            old = getattr(record, column)
            new = subject.scrub(old, patterns)
            if new != old:
                setattr(record, column, new)
                changed = True
        if isinstance(record, Activity) and record.contact_ids == [subject.contact_id]:
            # A note about this one person is personal data as a whole, not only where it
            # names them; the record, its date, account and deal stay.
            if record.summary not in ("", ERASED):
                record.summary = ERASED
                changed = True
        if (
            isinstance(record, Approval)
            and record.status == "pending"
            and (subject.referenced_by(record.arguments) or changed)
        ):
            record.status = "failed"
            record.decided_at = now
            record.comment = "The contact's personal data was erased; nothing was done."
            changed = True
        return changed

    # ------------------------------------------------------------ consent

    def set_consent(
        self,
        contact_id: str,
        *,
        actor_id: str,
        reason: str,
        email: bool | None = None,
        phone: bool | None = None,
        marketing: bool | None = None,
    ) -> ConsentReport:
        """Record a consent change now; every tool reads consent from the CRM on each call, so
        it holds for every agent and channel from the next call on."""
        wanted = {"email": email, "phone": phone, "marketing": marketing}
        wanted = {k: v for k, v in wanted.items() if v is not None}
        if not wanted:
            raise PrivacyRequestError(
                "Say which consent to change: --email, --phone or --marketing, each on or off."
            )
        if not reason or not reason.strip():
            raise PrivacyRequestError("A consent change needs a reason (--reason).")
        actor = self._actor(actor_id)
        now = self.crm.clock.now()
        with self.crm.db.session() as session:
            contact = session.get(Contact, contact_id)
            account = session.get(Account, contact.account_id) if contact else None
            if contact is None or (
                # A contact of an account the user may not see reads like no contact at all.
                not actor.is_admin and (account is None or not can_read_account(actor, account))
            ):
                raise PrivacyRequestError(
                    f"There is no contact with id '{contact_id}'.", kind="not_found"
                )
            if contact.erased_at is not None:
                raise PrivacyRequestError(
                    f"Contact '{contact_id}' was erased; there is no consent to change.",
                    kind="invalid",
                )
            assert account is not None
            self._require_consent_permission(actor, account, any(wanted.values()))
            before = {c: getattr(contact, f"consent_{c}") for c in CONSENT_CHANNELS}
            changed = {c: (before[c], v) for c, v in wanted.items() if before[c] != v}
            for channel, (old, new) in changed.items():
                setattr(contact, f"consent_{channel}", new)
                session.add(
                    ConsentChange(
                        contact_id=contact.id,
                        channel=channel,
                        old_value=old,
                        new_value=new,
                        changed_by=actor.id,
                        changed_at=now,
                        reason=reason.strip(),
                    )
                )
            after = {c: getattr(contact, f"consent_{c}") for c in CONSENT_CHANNELS}
            if changed:
                session.add(
                    AuditEvent(
                        at=now,
                        actor_id=actor.id,
                        action="privacy.consent",
                        outcome="committed",
                        record_type="contact",
                        record_id=contact.id,
                        arguments={"contact_id": contact.id, **wanted},
                        before={"consent": before},
                        after={"consent": after},
                        reason=reason.strip(),
                    )
                )
        return ConsentReport(contact_id, changed, after, actor.id, now, reason.strip())

    @staticmethod
    def _require_consent_permission(actor: Actor, account: Account, granting: bool) -> None:
        if actor.is_admin:
            return
        if not can_read_account(actor, account):
            raise PrivacyRequestError(
                f"{actor.name} ({actor.id}) may not change consent for contacts of account "
                f"'{account.id}'; nothing was changed.",
                kind="refused",
            )
        if granting:
            # Withdrawing consent is honoured from anyone who sees the account; granting it
            # takes someone who may contact the customer.
            try:
                require_write(actor, "send_email", account)
            except PermissionRefused as exc:
                raise PrivacyRequestError(
                    f"{exc.message} Granting consent takes the same right; nothing was changed.",
                    kind="refused",
                ) from exc
