"""Transcript files shared with the bot: fetched with the bot token, handed to ingestion."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

from channels.slack import messages

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=60)


class IngestResult(Protocol):
    def summary(self) -> str: ...


# ingest(filename=, data=, actor_id=, thread_id=) -> a result with summary(); raises IngestError
Ingest = Callable[..., Awaitable[IngestResult]]


class FileRefused(Exception):
    """A shared file that cannot be fetched; the message is the sentence for the user."""


def meeting_ingest(*, crm: Any, model: Any, convo: Any, max_bytes: int) -> Ingest | None:
    """Meeting-note ingestion (`channels.meetings`), or None where it is not installed."""
    try:
        from channels.meetings import MeetingService
    except ImportError:
        return None
    service = MeetingService(crm=crm, model=model, convo=convo, max_bytes=max_bytes)
    return service.ingest_bytes


def is_ingest_error(exc: BaseException) -> bool:
    try:
        from channels.meetings import IngestError
    except ImportError:
        return False
    return isinstance(exc, IngestError)


def _trusted(url: str, api_url: str) -> bool:
    """The bot token goes only to Slack's own hosts (or the configured API host)."""
    host = (urlsplit(url).hostname or "").lower()
    api_host = (urlsplit(api_url).hostname or "").lower()
    return host == api_host or host == "slack.com" or host.endswith(".slack.com")


async def download(file: dict[str, Any], *, bot_token: str, api_url: str, max_bytes: int) -> bytes:
    """The file's bytes, at most `max_bytes`; raises `FileRefused` with the reason."""
    name = str(file.get("name") or file.get("id") or "the file")
    size = file.get("size")
    if isinstance(size, int) and size > max_bytes:
        raise FileRefused(messages.file_too_large(name, size, max_bytes))
    url = file.get("url_private_download") or file.get("url_private")
    if not url:
        raise FileRefused(messages.file_unreadable(name, "Slack gave no download link"))
    if not _trusted(url, api_url):
        raise FileRefused(messages.file_unreadable(name, "the link is not a Slack address"))
    headers = {"Authorization": f"Bearer {bot_token}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=DOWNLOAD_TIMEOUT) as session,
            session.get(url, headers=headers) as response,
        ):
            if response.status != 200:
                raise FileRefused(messages.file_unreadable(name, f"HTTP {response.status}"))
            if response.content_type == "text/html":  # Slack's sign-in page: no access
                raise FileRefused(messages.file_unreadable(name, "the bot may not read it"))
            data = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                data += chunk
                if len(data) > max_bytes:
                    raise FileRefused(messages.file_too_large(name, None, max_bytes))
            return bytes(data)
    except aiohttp.ClientError as exc:
        raise FileRefused(messages.file_unreadable(name, type(exc).__name__)) from exc
