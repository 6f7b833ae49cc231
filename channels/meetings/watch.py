"""A watched folder: transcripts are ingested as they land (watchfiles), until stopped, a
number of files or a time limit (`seconds`). Half-written files are waited for (stable size),
temporary and hidden files ignored; a file that fails is reported and the watch goes on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import Change, awatch

from channels.meetings.errors import IngestError
from channels.meetings.result import IngestFailure, MeetingResult
from channels.meetings.service import TRANSCRIPT_SUFFIXES, MeetingService, read_limited

__all__ = ["watch_folder"]

Report = Callable[[MeetingResult | IngestFailure], Awaitable[None] | None]


def _is_transcript(change: Change, path: str) -> bool:
    name = Path(path).name
    return (
        change in (Change.added, Change.modified)
        and not name.startswith((".", "~"))
        and Path(path).suffix.lower() in TRANSCRIPT_SUFFIXES
    )


async def _stable(path: Path, *, wait: float = 0.2, tries: int = 25) -> bool:
    """Whether the file stopped growing (a copy or an upload may still be writing it)."""
    last = -1
    for _ in range(tries):
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            return False
        if size == last and size > 0:
            return True
        last = size
        await asyncio.sleep(wait)
    return True


async def watch_folder(
    service: MeetingService,
    folder: Path,
    *,
    actor_id: str,
    report: Report,
    dry_run: bool = False,
    max_files: int | None = None,
    seconds: float | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Ingest new transcript files under `folder`; returns how many files were handled."""
    stop = stop or asyncio.Event()
    handled = 0
    timer = asyncio.get_running_loop().call_later(seconds, stop.set) if seconds else None
    try:
        async for changes in awatch(folder, stop_event=stop, watch_filter=_is_transcript,
                                    recursive=True, rust_timeout=500):  # fmt: skip
            for _, raw in sorted(changes, key=lambda c: c[1]):
                path = Path(raw)
                if not await _stable(path):
                    continue
                try:
                    data = await asyncio.to_thread(read_limited, path, service.max_bytes)
                    outcome: MeetingResult | IngestFailure = await service.ingest_bytes(
                        filename=str(path), data=data, actor_id=actor_id, dry_run=dry_run
                    )
                except IngestError as exc:
                    outcome = IngestFailure(str(path), exc.message)
                maybe = report(outcome)
                if maybe is not None:
                    await maybe
                handled += 1
                if max_files is not None and handled >= max_files:
                    stop.set()
                    return handled
    finally:
        if timer is not None:
            timer.cancel()
    return handled
