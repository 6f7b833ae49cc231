"""Which warroom conversation a Slack message belongs to.

A Slack thread is one conversation: `slack:<team>:<channel>:<thread_ts>`. `/warroom` commands
are private, so each user has one private conversation per channel:
`slack:<team>:<channel>:@<user>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.core.conversations import thread_id

PREFIX = "slack"


@dataclass(frozen=True, slots=True)
class SlackThread:
    team: str
    channel: str
    thread_ts: str | None = None
    private_to: str | None = None  # a Slack user id: the conversation is ephemeral to them

    def __post_init__(self) -> None:
        if (self.thread_ts is None) == (self.private_to is None):
            raise ValueError("a Slack thread has either a thread_ts or a private user")

    @property
    def id(self) -> str:
        last = self.thread_ts if self.thread_ts is not None else f"@{self.private_to}"
        return thread_id(PREFIX, f"{self.team}:{self.channel}:{last}")

    @classmethod
    def parse(cls, thread_id: str) -> SlackThread | None:
        """The Slack thread behind a conversation id; None for other channels' threads."""
        parts = thread_id.split(":")
        if len(parts) != 4 or parts[0] != PREFIX or not all(parts[1:]):
            return None
        _, team, channel, last = parts
        if last.startswith("@"):
            return cls(team, channel, private_to=last[1:])
        return cls(team, channel, thread_ts=last)
