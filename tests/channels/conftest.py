"""Fixtures the channel tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from microsoft_agents.hosting.core.authorization import _entra_issuers

from channels.teams.auth import BOT_FRAMEWORK_ISSUER
from tests.channels.teams_fakes import TokenIssuer


@pytest.fixture
def teams_issuer(monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenIssuer]:
    """The Bot Framework's signing keys, served locally: the SDK looks the issuer's JWKS up in
    its table of Bot Framework issuers, which here points at 127.0.0.1."""
    token_issuer = TokenIssuer()
    monkeypatch.setitem(
        _entra_issuers.BOTFRAMEWORK_JWKS_URIS, BOT_FRAMEWORK_ISSUER, token_issuer.jwks_url
    )
    yield token_issuer
    token_issuer.close()
