"""The Slack channel (slack-bolt): threads are conversations, reviews are Block Kit cards.

`warroom serve slack` runs `channels.slack.server.run`; docs/SLACK.md has the app manifest."""

from channels.slack.channel import SlackChannel
from channels.slack.config import SlackConfig, SlackSettingsError
from channels.slack.messages import SlackStartError
from channels.slack.threads import SlackThread

__all__ = ["SlackChannel", "SlackConfig", "SlackSettingsError", "SlackStartError", "SlackThread"]
