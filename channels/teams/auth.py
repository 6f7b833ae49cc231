"""Who may post to the bot, and how its replies are signed (Microsoft 365 Agents SDK).

Inbound: every request to /api/messages carries a JWT the Bot Framework signed for this app.
The token's issuer must be one this app trusts (checked before any key is fetched, so a forged
issuer costs no network round trip), then the SDK's `JwtTokenValidator` checks the signature
against the issuer's published keys, the audience (this app id) and the lifetime; last, the
token's `serviceurl` claim must be the activity's service URL (replies go there).

Outbound: replies and proactive messages get a token for the app's credentials from MSAL
(`MsalConnectionManager`), through the SDK's connector client.

`teams_skip_auth` is for LOCAL TESTING ONLY (the Bot Framework Emulator without credentials):
it accepts anyone and sends replies unauthenticated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jwt
from microsoft_agents.hosting.core import (
    AccessTokenProviderBase,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    ClaimsIdentity,
    ConnectionManager,
    Connections,
    JwtTokenValidator,
)

from channels.teams import messages
from warroom.settings import Settings

__all__ = ["BOT_FRAMEWORK_ISSUER", "TeamsAuth", "TeamsStartError", "Unauthorized", "build_auth"]

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
ProviderFactory = Callable[[AgentAuthConfiguration], AccessTokenProviderBase]


class TeamsStartError(Exception):
    """The Teams bot cannot start; the message is one sentence for whoever started it."""


class Unauthorized(Exception):
    """A request without a valid token for this app; `str(exc)` says why (no secrets)."""


@dataclass(frozen=True)
class TeamsAuth:
    configuration: AgentAuthConfiguration
    connections: Connections
    app_id: str
    enabled: bool

    async def authenticate(self, header: str | None, service_url: str | None) -> ClaimsIdentity:
        """The caller's claims; raises Unauthorized for anything but a valid token issued for
        the activity's `service_url`."""
        if not self.enabled:
            return ClaimsIdentity({}, authentication_type="anonymous")
        token = _bearer(header)
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            raise Unauthorized("the token is not a JWT") from None
        trusted = {i.lower() for i in self.configuration.ISSUERS}
        if not isinstance(issuer, str) or issuer.lower() not in trusted:
            raise Unauthorized("the token's issuer is not trusted")
        try:
            claims = await JwtTokenValidator(self.configuration).validate_token(token)
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise Unauthorized(
                f"the token is not valid for this app ({type(exc).__name__})"
            ) from None
        claimed = claims.get_claim_value("serviceurl")
        if claimed is not None and not _same_url(claimed, service_url):
            raise Unauthorized("the token was issued for another service URL")
        return claims

    def bot_identity(self) -> ClaimsIdentity:
        """Who the bot is when it speaks first (proactive messages)."""
        if not self.enabled:
            return ClaimsIdentity({}, authentication_type="anonymous")
        return ClaimsIdentity({"aud": self.app_id, "appid": self.app_id})


def _bearer(header: str | None) -> str:
    if not header:
        raise Unauthorized("no Authorization header")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        raise Unauthorized("the Authorization header is not 'Bearer <token>'")
    return token


def _same_url(a: object, b: object) -> bool:
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def build_auth(settings: Settings, *, token_provider: ProviderFactory | None = None) -> TeamsAuth:
    """The bot's authentication from settings; raises TeamsStartError without credentials.

    `token_provider` makes the outbound token provider from the configuration (default MSAL;
    tests use a local one)."""
    if settings.teams_skip_auth:
        configuration = AgentAuthConfiguration(anonymous_allowed=True)
        connections = ConnectionManager(
            provider_factory=lambda _: AnonymousTokenProvider(),
            connections_configurations={"SERVICE_CONNECTION": configuration},
        )
        return TeamsAuth(configuration, connections, "", False)
    app_id, password = settings.teams_app_id, settings.teams_app_password
    tenant = settings.teams_app_tenant_id
    if not app_id or not password:
        raise TeamsStartError(
            messages.SINGLE_TENANT_NEEDS_PASSWORD if tenant else messages.MISSING_CREDENTIALS
        )
    issuers = [BOT_FRAMEWORK_ISSUER]
    if tenant:  # single-tenant apps also accept their own tenant's Entra tokens
        issuers += [
            f"https://sts.windows.net/{tenant}/",
            f"https://login.microsoftonline.com/{tenant}/v2.0",
        ]
    configuration = AgentAuthConfiguration(
        client_id=app_id,
        client_secret=password,
        tenant_id=tenant,
        issuers=issuers,
        validate_issuer=True,
    )
    if token_provider is None:
        from microsoft_agents.authentication.msal import MsalAuth

        token_provider = MsalAuth
    connections = ConnectionManager(
        provider_factory=token_provider,
        connections_configurations={"SERVICE_CONNECTION": configuration},
    )
    return TeamsAuth(configuration, connections, app_id, True)
