"""Which files a path gives to ingestion, and reading one within the size limit.

A folder gives the regular transcript files inside it (recursively, in name order, hidden ones
skipped). Anything else under it that looks like a transcript is refused by name, before it is
opened: a link pointing out of the folder, a FIFO, a device or a socket (opening a FIFO would
block; a link out of the folder would read what the folder's owner did not put there). Sizes
are checked before reading.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from channels.meetings.errors import IngestError, messages

__all__ = ["TRANSCRIPT_SUFFIXES", "Listing", "list_transcripts", "read_limited"]

TRANSCRIPT_SUFFIXES = (".vtt", ".srt", ".txt", ".md", ".json", ".docx")


@dataclass
class Listing:
    """The files to read, and the ones refused before reading (path, reason)."""

    files: list[Path]
    refused: list[tuple[Path, str]]


def _kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def check_file(path: Path, root: Path | None = None) -> str | None:
    """Why a path cannot be read as a transcript file, or None when it can."""
    try:
        link = path.is_symlink()
        target = path.resolve(strict=True)
        mode = target.stat().st_mode
    except FileNotFoundError:
        return messages.not_found(str(path))
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        return messages.unreadable(str(path), getattr(exc, "strerror", None) or str(exc))
    if link and root is not None and not _inside(target, root.resolve()):
        return f"{path}: a link to a file outside the folder; it was not read."
    kind = _kind(mode)
    if kind:
        return f"{path}: {kind}, not a transcript file; it was not read."
    if not os.access(target, os.R_OK):
        return messages.unreadable(str(path), "permission denied")
    return None


def list_transcripts(root: Path) -> Listing | None:
    """The files a path gives (see the module); None when the path does not exist."""
    if not os.path.lexists(root):
        return None
    if not root.is_dir() or root.is_symlink() and not root.resolve().is_dir():
        why = check_file(root)
        return Listing([], [(root, why)]) if why else Listing([root], [])
    files: list[Path] = []
    refused: list[tuple[Path, str]] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(folder) / name
            if name.startswith(".") or path.suffix.lower() not in TRANSCRIPT_SUFFIXES:
                continue
            why = check_file(path, root)
            if why:
                refused.append((path, why))
            else:
                files.append(path)
    return Listing(sorted(files), refused)


def read_limited(path: Path, max_bytes: int) -> bytes:
    """Read a regular file, refusing it before reading when it is over the limit."""
    name = str(path)
    why = check_file(path)
    if why:
        raise IngestError(why, filename=name)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestError(messages.too_large(name, size, max_bytes), filename=name, status=413)
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)  # the file may grow while being read
    except OSError as exc:
        raise IngestError(
            messages.unreadable(name, exc.strerror or str(exc)), filename=name
        ) from exc
    if len(data) > max_bytes:
        raise IngestError(messages.too_large(name, None, max_bytes), filename=name, status=413)
    return data
