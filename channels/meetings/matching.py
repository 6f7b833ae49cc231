"""Who was in the meeting and which account and deal it was about.

Evidence is weighed in tiers, strongest first: e-mail addresses (exact contact/user, then the
account's domain), full names of contacts, account names in the title or file name, account
names in the conversation. The first tier with evidence decides; when it points at more than
one record without a clear majority, the answer is *ambiguous*: reported with the candidates,
never guessed. Speakers known only by a first name (or a Chinese surname with 王总 / 小王 / 老王)
are matched inside the chosen account's contacts and the company's users, and only when one
person fits.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz
from sqlalchemy import select

from channels.meetings.grounding import normalise
from tools.db import Database
from tools.models import Account, Contact, Opportunity, User
from tools.types import OPEN_STAGES

__all__ = ["Attendee", "Directory", "Match", "Person", "match_meeting"]

FULL_NAME_SCORE = 90
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_CJK = re.compile(r"[\u3400-\u9fff]")
_ZH_HONORIFIC = re.compile(
    r"^(?:小|老)?(?P<s>[\u3400-\u9fff]{1,2}?)(?:总|经理|工|老师|先生|女士|小姐|总监)?$"
)


@dataclass(frozen=True, slots=True)
class Person:
    kind: Literal["user", "contact"]
    id: str
    name: str
    email: str | None
    account_id: str | None

    @property
    def aliases(self) -> list[str]:
        """'王芳 Wang Fang' is also '王芳', 'Wang Fang' and 'Fang Wang'."""
        names = [self.name]
        cjk = "".join(p for p in self.name.split() if _CJK.search(p))
        latin = " ".join(p for p in self.name.split() if not _CJK.search(p))
        if cjk and latin:
            names += [cjk, latin, " ".join(reversed(latin.split()))]
        return names

    @property
    def first_names(self) -> set[str]:
        found: set[str] = set()
        for alias in self.aliases:
            parts = alias.split()
            if _CJK.search(alias) and len(parts) == 1:
                found.add(alias[0])  # surname, as in 王总
                found.add(alias)
            elif parts:
                found.add(parts[0].casefold())
                if len(parts) == 2 and any(_CJK.search(a) for a in self.aliases):
                    found.add(parts[0].casefold())  # "Chen" of "Chen Wei"
        return found


@dataclass(frozen=True, slots=True)
class AccountRef:
    id: str
    name: str
    domain: str | None
    owner_id: str | None

    @property
    def aliases(self) -> list[str]:
        names = [self.name]
        parts = self.name.split()
        cjk = [p for p in parts if _CJK.search(p)]
        latin = [p for p in parts if not _CJK.search(p)]
        if cjk and latin:
            names += cjk + [" ".join(latin)]
        if self.domain:
            names.append(self.domain.split(".")[0])
        suffixes = ("corp", "inc", "ltd", "gmbh", "ag", "sa", "kk", "co-op", "group")
        trimmed = [p for p in latin if p.casefold().strip(".") not in suffixes]
        if len(trimmed) >= 2:
            names.append(trimmed[0])  # "Acme" of "Acme Corp", "Pinecrest" of "Pinecrest Bank"
        return [n for n in dict.fromkeys(names) if _distinctive(n)]


def _distinctive(name: str) -> bool:
    norm = normalise(name)
    return len(_CJK.findall(norm)) >= 2 or len(norm) >= 4


@dataclass(frozen=True, slots=True)
class OpportunityRef:
    id: str
    account_id: str
    name: str
    stage: str
    amount: str
    currency: str
    close_date: str | None
    next_step: str | None


@dataclass
class Directory:
    users: list[Person]
    contacts: list[Person]
    accounts: dict[str, AccountRef]
    opportunities: dict[str, list[OpportunityRef]]
    internal_domains: set[str]

    @classmethod
    def load(cls, db: Database) -> Directory:
        with db.read_session() as session:
            users = [
                Person("user", u.id, u.name, u.email, None)
                for u in session.scalars(select(User).order_by(User.id))
            ]
            contacts = [
                Person("contact", c.id, c.name, c.email, c.account_id)
                for c in session.scalars(
                    select(Contact).where(Contact.erased_at.is_(None)).order_by(Contact.id)
                )
            ]
            accounts = {
                a.id: AccountRef(a.id, a.name, a.domain, a.owner_id)
                for a in session.scalars(select(Account).order_by(Account.id))
            }
            opportunities: dict[str, list[OpportunityRef]] = {}
            for o in session.scalars(
                select(Opportunity)
                .where(Opportunity.stage.in_(OPEN_STAGES))
                .order_by(Opportunity.close_date, Opportunity.id)
            ):
                opportunities.setdefault(o.account_id, []).append(
                    OpportunityRef(
                        o.id,
                        o.account_id,
                        o.name,
                        o.stage,
                        str(o.amount),
                        o.currency,
                        o.close_date.isoformat() if o.close_date else None,
                        o.next_step,
                    )
                )
        domains = Counter(
            u.email.rsplit("@", 1)[1].lower() for u in users if u.email and "@" in u.email
        )
        customer_domains = {a.domain.lower() for a in accounts.values() if a.domain}
        internal = {d for d in domains if d not in customer_domains}
        return cls(users, contacts, accounts, opportunities, internal)


@dataclass
class Attendee:
    name: str
    contact_id: str | None = None
    user_id: str | None = None
    side: Literal["customer", "internal"] | None = None
    candidates: list[str] = field(default_factory=list)  # when ambiguous

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "contact_id": self.contact_id,
            "user_id": self.user_id,
            "side": self.side,
        }


@dataclass
class Match:
    account_id: str | None
    opportunity_id: str | None
    attendees: list[Attendee]
    ambiguities: list[str] = field(default_factory=list)
    account_evidence: str | None = None

    def person(self, name: str | None) -> Attendee | None:
        """The attendee a name in the notes refers to (full or first name), if exactly one."""
        if not name:
            return None
        key = normalise(name)
        exact = [a for a in self.attendees if normalise(a.name) == key]
        if len(exact) == 1:
            return exact[0]
        hits = [
            a
            for a in self.attendees
            if key
            and (
                fuzz.token_sort_ratio(name, a.name, processor=_fold) >= FULL_NAME_SCORE
                or key == normalise(a.name.split()[0])
                or key in normalise(a.name)
            )
        ]
        return hits[0] if len(hits) == 1 else None


def _fold(text: str) -> str:
    return " ".join(normalise(part) for part in text.split())


def _split_label(label: str) -> tuple[str, str | None]:
    """'Jane Doe <jane@acme.example>' → ('Jane Doe', 'jane@acme.example')."""
    email = _EMAIL.search(label)
    if not email:
        return label.strip(), None
    name = (label[: email.start()] + label[email.end() :]).strip(" <>()[],;")
    return (name or email.group(0).split("@")[0]), email.group(0).lower()


def _full_name_hits(name: str, people: list[Person]) -> list[Person]:
    folded = _fold(name)
    if not folded:
        return []
    hits = []
    for person in people:
        for alias in person.aliases:
            if fuzz.token_sort_ratio(folded, _fold(alias)) >= FULL_NAME_SCORE:
                hits.append(person)
                break
    return hits


def _first_name_hits(name: str, people: list[Person]) -> list[Person]:
    token = name.strip()
    if len(token.split()) != 1:
        return []
    keys = {token.casefold()}
    zh = _ZH_HONORIFIC.match(token)
    if zh and _CJK.search(token):
        keys.add(zh.group("s"))
    return [p for p in people if keys & p.first_names]


def match_meeting(
    directory: Directory,
    *,
    speakers: list[str],
    attendee_labels: list[str],
    text: str,
    title: str | None,
    filename: str,
    account_id: str | None = None,
) -> Match:
    ambiguities: list[str] = []
    labels = list(dict.fromkeys([*attendee_labels, *speakers]))
    parsed: list[tuple[str, str | None]] = []
    for name, email in (_split_label(label) for label in labels):
        same = next((i for i, (n, _) in enumerate(parsed) if normalise(n) == normalise(name)), None)
        if same is None:
            parsed.append((name, email))
        else:  # one person: keep the e-mail, and a spoken name over an address's local part
            old_name, old_email = parsed[same]
            keep = name if old_email and old_name == old_email.split("@")[0] else old_name
            parsed[same] = (keep, old_email or email)
    emails = {e for _, e in parsed if e} | {m.group(0).lower() for m in _EMAIL.finditer(text)}

    # ---- the account
    evidence: str | None = "given"
    if account_id is None:
        account_id, evidence, why = _choose_account(
            directory, parsed, emails, text, title, filename
        )
        if why:
            ambiguities.append(why)
    # ---- the attendees, now in the account's context
    context_contacts = [c for c in directory.contacts if c.account_id == account_id]
    attendees = [
        _resolve(name, email, directory, context_contacts, account_id, ambiguities)
        for name, email in parsed
    ]
    # ---- the opportunity
    opportunity_id = None
    if account_id is not None:
        opportunity_id, why = _choose_opportunity(
            directory.opportunities.get(account_id, []), text, title, filename
        )
        if why:
            ambiguities.append(why)
    return Match(account_id, opportunity_id, attendees, ambiguities, evidence)


def _resolve(
    name: str,
    email: str | None,
    directory: Directory,
    context_contacts: list[Person],
    account_id: str | None,
    ambiguities: list[str],
) -> Attendee:
    attendee = Attendee(name=name)
    people = directory.users + directory.contacts
    found: list[Person] = []
    if email:
        found = [p for p in people if p.email and p.email.lower() == email]
    if not found:
        full = _full_name_hits(name, directory.users + context_contacts)
        if not full:
            full = _full_name_hits(name, directory.contacts)
        found = full
    if not found:
        found = _first_name_hits(name, directory.users + context_contacts)
    if not found and account_id is None:
        # Without an account a first name is matched nowhere; several candidates are reported.
        everywhere = _first_name_hits(name, directory.contacts)
        found = everywhere if len(everywhere) > 1 else []
    if len(found) > 1:
        in_context = [p for p in found if p.kind == "user" or p.account_id == account_id]
        found = in_context if len(in_context) == 1 else found
    if len(found) == 1:
        person = found[0]
        if person.kind == "user":
            attendee.user_id, attendee.side = person.id, "internal"
        elif account_id is None or person.account_id == account_id:
            attendee.contact_id, attendee.side = person.id, "customer"
    elif len(found) > 1:
        attendee.candidates = [p.id for p in found]
        ambiguities.append(
            f"Speaker '{name}' could be any of {', '.join(p.id for p in found)}; left unmatched."
        )
    if attendee.side is None and email:
        domain = email.rsplit("@", 1)[1]
        if domain in directory.internal_domains:
            attendee.side = "internal"
        elif account_id and (directory.accounts[account_id].domain or "").lower() == domain:
            attendee.side = "customer"
    return attendee


def _choose_account(
    directory: Directory,
    parsed: list[tuple[str, str | None]],
    emails: set[str],
    text: str,
    title: str | None,
    filename: str,
) -> tuple[str | None, str | None, str | None]:
    by_domain = {a.domain.lower(): a.id for a in directory.accounts.values() if a.domain}
    tiers: list[tuple[str, Counter[str]]] = []
    votes: Counter[str] = Counter()
    for email in emails:
        contact = next(
            (c for c in directory.contacts if c.email and c.email.lower() == email), None
        )
        domain = email.rsplit("@", 1)[1]
        if contact and contact.account_id:
            votes[contact.account_id] += 1
        elif domain in by_domain:
            votes[by_domain[domain]] += 1
    tiers.append(("e-mail addresses", votes))
    votes = Counter()
    for name, _ in parsed:
        if _full_name_hits(name, directory.users):
            continue  # a colleague's name says nothing about the customer
        hits = {p.account_id for p in _full_name_hits(name, directory.contacts) if p.account_id}
        if len(hits) == 1:
            votes[hits.pop()] += 1
    tiers.append(("contact names", votes))
    tiers.append(("the title or file name", _mentions(directory, f"{title or ''} {filename}")))
    tiers.append(("account names in the conversation", _mentions(directory, text)))
    for what, counter in tiers:
        if not counter:
            continue
        ranked = counter.most_common()
        if len(ranked) == 1 or ranked[0][1] >= 2 * ranked[1][1]:
            return ranked[0][0], what, None
        tied = ", ".join(f"{a} ({n})" for a, n in ranked[:4])
        return (
            None,
            None,
            (
                f"The account is ambiguous: {what} point at {tied}; nothing was applied. "
                "Name the account (--account) and ingest again."
            ),
        )
    return (
        None,
        None,
        (
            "No account could be identified (no known e-mail, contact or account name); "
            "nothing was applied. Name the account (--account) and ingest again."
        ),
    )


def _mentions(directory: Directory, text: str) -> Counter[str]:
    haystack = normalise(text)
    counter: Counter[str] = Counter()
    for account in directory.accounts.values():
        for alias in account.aliases:
            needle = normalise(alias)
            if needle and needle in haystack:
                if not _CJK.search(needle) and not re.search(
                    rf"(?<![a-z0-9]){re.escape(alias.casefold())}(?![a-z0-9])", text.casefold()
                ):
                    continue  # "Acme" inside "Acmeville" is no mention
                counter[account.id] += haystack.count(needle)
                break
    return counter


def _choose_opportunity(
    opportunities: list[OpportunityRef], text: str, title: str | None, filename: str
) -> tuple[str | None, str | None]:
    if not opportunities:
        return None, None
    if len(opportunities) == 1:
        return opportunities[0].id, None
    haystack = f"{title or ''} {filename} {text}"
    scored = [(fuzz.partial_ratio(_fold(o.name), _fold(haystack)), o.id) for o in opportunities]
    scored.sort(reverse=True)
    if scored[0][0] >= 90 and scored[0][0] > scored[1][0]:
        return scored[0][1], None
    names = ", ".join(o.id for o in opportunities[:5])
    return None, (
        f"The account has {len(opportunities)} open opportunities ({names}) and the meeting does "
        "not say which one it was about; deal changes were not proposed."
    )
