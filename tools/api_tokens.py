"""Bearer tokens of the HTTP API, each bound to one CRM user.

The token file (default `<data dir>/api_tokens`, written by `warroom api-token add USER`) holds
one line per token: `sha256:<hex digest of the token> <user id>`. Only digests are stored; a
token is shown once, when it is issued. A request acts as the token's user and nobody else, so
one leaked token never speaks for another person.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ApiTokens", "TokenFileError", "digest", "token_file"]

_PREFIX = "sha256:"


class TokenFileError(Exception):
    """A token file that cannot be read; `message` names the file and the line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def token_file(data_dir: Path) -> Path:
    """Where the API's token digests live."""
    return data_dir / "api_tokens"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class ApiTokens:
    """Token digest → CRM user id."""

    by_digest: dict[str, str] = field(default_factory=dict)

    @classmethod
    def single(cls, user_id: str, token: str) -> ApiTokens:
        if not token:
            raise ValueError("An API token cannot be empty.")
        return cls({digest(token): user_id})

    @classmethod
    def load(cls, path: Path) -> ApiTokens:
        tokens = cls()
        if not path.exists():
            return tokens
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            hexdigest = parts[0].removeprefix(_PREFIX)
            if len(parts) != 2 or len(hexdigest) != 64 or not _is_hex(hexdigest):
                raise TokenFileError(
                    f"{path}, line {number}: expected 'sha256:<64 hex digits> <user id>'."
                )
            tokens.by_digest[hexdigest.lower()] = parts[1]
        return tokens

    @staticmethod
    def issue(path: Path, user_id: str) -> str:
        """A new token for `user_id`, its digest appended to the file (created 0600)."""
        token = secrets.token_urlsafe(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(f"{_PREFIX}{digest(token)} {user_id}\n")
        return token

    @staticmethod
    def revoke(path: Path, user_id: str) -> int:
        """Remove every token of `user_id`; how many went."""
        if not path.exists():
            return 0
        lines = path.read_text(encoding="utf-8").splitlines()
        kept = [ln for ln in lines if ln.strip().split()[1:2] != [user_id]]
        path.write_text("".join(f"{ln}\n" for ln in kept), encoding="utf-8")
        return len(lines) - len(kept)

    def user_of(self, token: str) -> str | None:
        """The user a presented token belongs to, or None. Compared digest by digest in
        constant time."""
        if not token:
            return None
        given = digest(token)
        found = None
        for known, user_id in self.by_digest.items():
            if hmac.compare_digest(known, given):
                found = user_id
        return found

    def __bool__(self) -> bool:
        return bool(self.by_digest)


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True
