"""Who may post to the bot: Bot Framework JWT validation, on unless explicitly switched off.

With an app id and password, every request to /api/messages must carry a token the Bot
Framework signed for this app (checked by botbuilder's own validation), and replies go out
with the app's credentials. `teams_skip_auth` is for LOCAL TESTING ONLY (the Bot Framework
Emulator without credentials): it accepts anyone and sends replies unauthenticated.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import (
    BotFrameworkAuthentication,
    ServiceClientCredentialsFactory,
)

from channels.teams import messages
from warroom.settings import Settings


class TeamsStartError(Exception):
    """The Teams bot cannot start; the message is one sentence for whoever started it."""


@dataclass(frozen=True)
class TeamsAuth:
    authentication: BotFrameworkAuthentication
    app_id: str | None
    enabled: bool


def build_authentication(
    settings: Settings, *, credentials_factory: ServiceClientCredentialsFactory | None = None
) -> TeamsAuth:
    """The adapter's authentication from settings; raises TeamsStartError without credentials.

    `credentials_factory` replaces how outbound credentials are made (tests use a local one)."""
    if settings.teams_skip_auth:
        # No app id: botbuilder treats the bot as unauthenticated (the Emulator's local mode).
        config = SimpleNamespace(APP_ID=None, APP_PASSWORD=None)
        return TeamsAuth(ConfigurationBotFrameworkAuthentication(config), None, False)
    app_id, password = settings.teams_app_id, settings.teams_app_password
    if not app_id or not password:
        raise TeamsStartError(
            messages.SINGLE_TENANT_NEEDS_PASSWORD
            if settings.teams_app_tenant_id
            else messages.MISSING_CREDENTIALS
        )
    config = SimpleNamespace(
        APP_ID=app_id,
        APP_PASSWORD=password,
        APP_TYPE="SingleTenant" if settings.teams_app_tenant_id else "MultiTenant",
        APP_TENANTID=settings.teams_app_tenant_id,
    )
    authentication = ConfigurationBotFrameworkAuthentication(
        config, credentials_factory=credentials_factory
    )
    return TeamsAuth(authentication, app_id, True)
