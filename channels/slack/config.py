"""The Slack channel's configuration, checked once at start, and its Web API client."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from channels.slack import messages
from channels.slack.messages import SlackStartError
from warroom.settings import Settings


class SlackSettingsError(SlackStartError):
    """A token or secret is missing or malformed; the message names the setting."""


@dataclass(frozen=True, slots=True)
class SlackConfig:
    bot_token: str
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str = "https://slack.com/api/"
    review_channel: str | None = None
    max_file_bytes: int = 20_000_000
    # seconds between edits of a status message (chat.update allows about 50 a minute)
    progress_interval: float = 1.0
    # turns running at once; more wait (the ack never does)
    max_concurrent_turns: int = 8
    # 429 answers retried after their Retry-After, this many times per call
    rate_limit_retries: int = 3

    @classmethod
    def from_settings(cls, settings: Settings, *, socket_mode: bool) -> SlackConfig:
        """Raises `SlackSettingsError` with one sentence naming every missing setting."""
        needed = {"WARROOM_SLACK_BOT_TOKEN": settings.slack_bot_token}
        if socket_mode:
            needed["WARROOM_SLACK_APP_TOKEN"] = settings.slack_app_token
        else:
            needed["WARROOM_SLACK_SIGNING_SECRET"] = settings.slack_signing_secret
        missing = [name for name, value in needed.items() if not (value or "").strip()]
        if missing:
            raise SlackSettingsError(messages.missing_settings(missing, socket_mode))
        bot_token = str(settings.slack_bot_token).strip()
        if not bot_token.startswith("xoxb-"):
            raise SlackSettingsError(messages.wrong_token_kind("WARROOM_SLACK_BOT_TOKEN", "xoxb-"))
        app_token = (settings.slack_app_token or "").strip() or None
        if socket_mode and app_token and not app_token.startswith("xapp-"):
            raise SlackSettingsError(messages.wrong_token_kind("WARROOM_SLACK_APP_TOKEN", "xapp-"))
        return cls(
            bot_token=bot_token,
            signing_secret=(settings.slack_signing_secret or "").strip() or None,
            app_token=app_token,
            api_url=settings.slack_api_url,
            review_channel=settings.slack_review_channel,
            max_file_bytes=settings.ingest_max_bytes,
        )


def web_client(config: SlackConfig) -> AsyncWebClient:
    """The bot's Web API client: the configured base URL, 429s retried after Retry-After."""
    api_url = config.api_url if config.api_url.endswith("/") else config.api_url + "/"
    return AsyncWebClient(
        token=config.bot_token,
        base_url=api_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=config.rate_limit_retries),
        ],
    )
