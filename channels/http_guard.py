"""What every warroom HTTP server refuses before any work starts: bodies over a size limit
(413), bodies that trickle in slower than a time limit (408), headers that are not UTF-8 (400)
and bodies that are not the JSON object or form they claim to be (400). A refusal is a short
JSON reason (`{"error": "..."}`), and nothing has been written when it is sent.

One place for these decisions: the Slack app (`channels.slack.server`), the Teams bot
(`channels.teams.server`), the HTTP API (`channels.http_api`) and any later server build their
runner with `runner()` and read bodies with `read_body()`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

__all__ = [
    "BODY_SECONDS",
    "IDLE_SECONDS",
    "Refused",
    "json_object",
    "read_body",
    "refuse_hostile",
    "refusal",
    "runner",
    "unreadable_header",
]

# A whole request body must arrive within this many seconds (a slow client holds a slot).
BODY_SECONDS = 10.0
# A connection that sends no complete request within this many seconds is closed.
IDLE_SECONDS = 15.0
_CHUNK = 64 * 1024


class Refused(Exception):
    """A request refused with a 4xx status and a one-sentence reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def refusal(status: int, reason: str, **headers: str) -> web.Response:
    return web.json_response({"error": reason}, status=status, headers=headers or None)


def unreadable_header(request: web.BaseRequest) -> str | None:
    """The name of the first header whose value is not UTF-8 (aiohttp keeps such bytes as
    surrogate escapes, which break anything that compares or encodes them)."""
    for name, value in request.headers.items():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return name
    return None


async def read_body(request: web.BaseRequest, *, limit: int, seconds: float | None = None) -> bytes:
    """The whole body, refused (413) as soon as it passes `limit` bytes or (408) when it takes
    longer than `seconds` to arrive."""
    seconds = seconds if seconds is not None else BODY_SECONDS
    declared = request.content_length
    if declared is not None and declared > limit:
        raise Refused(413, f"The request body is {declared} bytes; the limit is {limit}.")

    async def gather() -> bytes:
        chunks: list[bytes] = []
        size = 0
        while chunk := await request.content.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"The request body is over the limit of {limit} bytes.")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(gather(), timeout=seconds)
    except TimeoutError:
        raise Refused(408, f"The request body did not arrive within {seconds:g} seconds.") from None


def json_object(text: str, what: str = "The request body") -> dict[str, Any]:
    """`text` parsed as a JSON object, or `Refused(400)` naming what is wrong."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Refused(400, f"{what} is not valid JSON.") from None
    if not isinstance(value, dict):
        raise Refused(400, f"{what} must be a JSON object.")
    return value


def form_fields(text: str) -> dict[str, list[str]]:
    try:
        return parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        raise Refused(400, "The request body is not a valid form.") from None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def refuse_hostile(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unreadable headers are refused before the handler runs; `Refused` raised anywhere in a
    handler becomes its 4xx answer."""
    bad = unreadable_header(request)
    if bad is not None:
        return refusal(400, f"The {bad} header is not valid UTF-8.")
    try:
        return await handler(request)
    except Refused as exc:
        return refusal(exc.status, exc.reason)


def runner(application: web.Application, *, idle_seconds: float | None = None) -> web.AppRunner:
    """The app's runner with the slow-client limit: a connection that has not sent a whole
    request within `idle_seconds` (or stays idle that long between requests) is closed."""
    if refuse_hostile not in application.middlewares:
        application.middlewares.append(refuse_hostile)
    idle = idle_seconds if idle_seconds is not None else IDLE_SECONDS
    return web.AppRunner(application, access_log=None, keepalive_timeout=idle)
