"""Slack's status message in the thread: the channel core's `StatusMessage`, posted with
chat.postMessage and edited with chat.update (see `channels.core.progress`)."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from channels.core import progress
from channels.slack.text import describe_event


class StatusMessage(progress.StatusMessage):
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        channel: str,
        thread_ts: str,
        interval: float = 1.0,
        heartbeat: float = 10.0,
    ) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts

        async def post(text: str) -> str | None:
            response = await client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=text
            )
            return str(response["ts"])

        async def edit(ts: str, text: str) -> None:
            await client.chat_update(channel=channel, ts=ts, text=text)

        super().__init__(post, edit, describe_event, interval=interval, heartbeat=heartbeat)
