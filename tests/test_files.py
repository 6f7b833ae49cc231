"""Files a user names are read bounded: regular files only, size checked first, YAML aliases
expanded within a limit. `warroom policy check` on /dev/zero, a FIFO, a directory or a
billion-laughs document answers with one clear sentence, quickly."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from channels.identity import IdentityMapError, load_identity_map
from memory.loaders import UnreadableFile, load_document
from tools.files import FileRefused, load_yaml, read_user_file
from warroom.cli import app

LAUGHS = "\n".join(
    ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)]
)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    os.mkfifo(path)
    return path


def test_read_user_file_refuses_what_is_not_a_small_regular_file(
    tmp_path: Path, fifo: Path
) -> None:
    small = tmp_path / "ok.txt"
    small.write_bytes(b"hello")
    assert read_user_file(small, max_bytes=5) == b"hello"
    cases = {
        Path("/dev/zero"): "not a regular file",
        fifo: "not a regular file",
        tmp_path: "directory",
        tmp_path / "missing": "does not exist",
        small: "the file is 5 bytes; the limit is 4",
    }
    for path, reason in cases.items():
        started = time.monotonic()
        with pytest.raises(FileRefused, match=reason):
            read_user_file(path, max_bytes=4)
        assert time.monotonic() - started < 1


def test_yaml_aliases_expand_within_a_bound() -> None:
    assert load_yaml("a: &x [1, 2]\nb: *x\n", source="s") == {"a": [1, 2], "b": [1, 2]}
    started = time.monotonic()
    with pytest.raises(FileRefused, match="expands to more than 100,000 values"):
        load_yaml(LAUGHS, source="laughs.yaml")
    assert time.monotonic() - started < 2
    with pytest.raises(FileRefused, match="nested too deeply"):
        load_yaml("[" * 50_000 + "]" * 50_000, source="deep.yaml")


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "laughs", "directory", "huge"])
def test_policy_check_refuses_hostile_files_quickly(tmp_path: Path, kind: str) -> None:
    target = {
        "dev-zero": lambda: Path("/dev/zero"),
        "fifo": lambda: (os.mkfifo(tmp_path / "p.yaml"), tmp_path / "p.yaml")[1],
        "laughs": lambda: (tmp_path / "l.yaml", (tmp_path / "l.yaml").write_text(LAUGHS))[0],
        "directory": lambda: tmp_path,
        "huge": lambda: (tmp_path / "h.yaml", (tmp_path / "h.yaml").write_text("#" * 2_000_000))[0],
    }[kind]()
    started = time.monotonic()
    result = CliRunner().invoke(app, ["policy", "check", str(target)])
    assert time.monotonic() - started < 5
    assert result.exit_code != 0 and "Traceback" not in result.output
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "cannot read the policy file" in said or "expands to more" in said


def test_identity_map_and_knowledge_documents_use_the_same_bounds(
    tmp_path: Path, fifo: Path
) -> None:
    with pytest.raises(IdentityMapError, match="not a regular file"):
        load_identity_map(fifo)
    laughs = tmp_path / "ids.yaml"
    laughs.write_text(LAUGHS)
    with pytest.raises(IdentityMapError, match="expands to more"):
        load_identity_map(laughs)
    doc = tmp_path / "pipe.md"
    os.mkfifo(doc)
    with pytest.raises(UnreadableFile, match="not a regular file"):
        load_document(doc)
    front = tmp_path / "laughs.md"
    front.write_text("---\n" + LAUGHS + "\n---\n# Title\n\nBody.\n")
    with pytest.raises(UnreadableFile, match="expands to more"):
        load_document(front)
