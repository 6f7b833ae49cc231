"""Who is this chat user in the CRM? Slack and Teams users map to CRM users by a mapping file
first, then by email; anyone else is refused. Never guessed, never defaulted."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml
from sqlalchemy import func, select

from tools.db import Database
from tools.files import FileRefused, load_yaml, read_user_text
from tools.models import User

CHANNELS = ("slack", "teams")


class IdentityMapError(ValueError):
    """The mapping file is unreadable or malformed; the message names the file and the fault."""


class UnknownUser(LookupError):
    """A chat user with no CRM user. `message` is the polite refusal to show them."""

    def __init__(self, channel: str, external_id: str) -> None:
        self.channel = channel
        self.external_id = external_id
        self.message = (
            "Sorry — I don't know you as a warroom user yet, so I can't look anything up or change "
            "anything for you. Ask your warroom admin to link your account."
        )
        super().__init__(f"unknown {channel} user {external_id!r}")


def load_identity_map(path: Path | None) -> dict[str, dict[str, str]]:
    """Read `{slack: {U…: u-…}, teams: {…: u-…}}`; a missing path means no mapping."""
    if path is None:
        return {channel: {} for channel in CHANNELS}
    try:
        raw = load_yaml(read_user_text(path), source=str(path)) or {}
    except FileRefused as exc:
        reason = exc.reason.rstrip(".")
        raise IdentityMapError(f"{path}: cannot read the identity map ({reason}).") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise IdentityMapError(f"{path}:{where} is not valid YAML ({exc}).") from exc
    if not isinstance(raw, Mapping):
        raise IdentityMapError(f"{path}: expected a mapping of channel → {{chat id: CRM user}}.")
    unknown = sorted(set(raw) - set(CHANNELS))
    if unknown:
        raise IdentityMapError(
            f"{path}: unknown channel(s) {', '.join(map(str, unknown))}; expected "
            f"{' or '.join(CHANNELS)}."
        )
    result: dict[str, dict[str, str]] = {}
    for channel in CHANNELS:
        entries = raw.get(channel) or {}
        if not isinstance(entries, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in entries.items()
        ):
            raise IdentityMapError(
                f"{path}: '{channel}' must map chat user ids to CRM user ids (strings)."
            )
        result[channel] = dict(entries)
    return result


class IdentityResolver:
    """Resolves chat users to CRM user ids; checks that a mapped user exists in the CRM."""

    def __init__(self, db: Database, mapping: Mapping[str, Mapping[str, str]] | None = None):
        self.db = db
        self.mapping = {c: dict((mapping or {}).get(c, {})) for c in CHANNELS}

    def resolve(self, channel: str, external_id: str, email: str | None = None) -> str:
        """The CRM user id for this chat user; raises UnknownUser when there is none."""
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; expected one of {CHANNELS}")
        mapped = self.mapping[channel].get(external_id)
        with self.db.read_session() as session:
            if mapped is not None:
                if session.get(User, mapped) is not None:
                    return mapped
                raise UnknownUser(channel, external_id)
            if email:
                user_id = session.scalar(
                    select(User.id).where(func.lower(User.email) == email.strip().lower())
                )
                if user_id is not None:
                    return user_id
        raise UnknownUser(channel, external_id)

    def email_of(self, user_id: str) -> str | None:
        with self.db.read_session() as session:
            user = session.get(User, user_id)
            return user.email if user else None

    def external_ids(self, channel: str, user_id: str) -> list[str]:
        """Chat ids mapped to a CRM user (to address a reviewer directly)."""
        return [ext for ext, uid in self.mapping.get(channel, {}).items() if uid == user_id]
