"""Which warroom thread a chat conversation is: `<channel>:<the channel's own id>`.

A channel's adapter decides what its native id is (a Slack thread, a Teams conversation); the
prefix tells every process which channel owns a thread, e.g. which one tells a requester the
outcome of their request.
"""

from __future__ import annotations

__all__ = ["channel_of", "native_id", "thread_id"]


def thread_id(channel: str, native: str) -> str:
    return f"{channel}:{native}"


def channel_of(thread: str) -> str | None:
    """The channel owning a thread id (None for a thread of no chat channel)."""
    head, sep, _ = thread.partition(":")
    return head if sep and head else None


def native_id(channel: str, thread: str) -> str | None:
    """The channel's own conversation id behind a thread id; None for another channel's."""
    prefix = f"{channel}:"
    return (
        thread[len(prefix) :] if thread.startswith(prefix) and len(thread) > len(prefix) else None
    )
