"""Reading a file a user named (a policy, an identity map, a document to ingest), bounded.

Only regular files are read — a FIFO, a device such as /dev/zero or a directory is refused at
once, without blocking — and the size is checked before reading and again while reading (a file
that grows is cut off at the limit, not read to the end). YAML is loaded safely and its alias
expansion is bounded, so a "billion laughs" document is refused instead of eating memory.

Every refusal is `FileRefused`, whose message is one sentence naming the file and the reason;
callers turn it into their own error type (PolicyError, IdentityMapError, UnreadableFile, …).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_YAML_NODES",
    "FileRefused",
    "compose_yaml",
    "load_yaml",
    "read_user_file",
    "read_user_text",
]

MAX_CONFIG_BYTES = 1_000_000  # policies and identity maps are a few kilobytes
MAX_YAML_NODES = 100_000  # values in a YAML document once its aliases are expanded


class FileRefused(ValueError):
    """A file that will not be read; `reason` is the part after the file's name."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def read_user_file(path: Path | str, *, max_bytes: int) -> bytes:
    """The bytes of the regular file at `path`, at most `max_bytes` of them."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileRefused(path, "the file does not exist.") from None
    except IsADirectoryError:
        raise FileRefused(path, "it is a directory, not a file.") from None
    except PermissionError:
        raise FileRefused(path, "permission denied.") from None
    except OSError as exc:
        raise FileRefused(path, f"cannot open it ({exc.strerror}).") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FileRefused(path, "it is a directory, not a file.")
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(path, "it is not a regular file (a pipe, socket or device).")
        if info.st_size > max_bytes:
            raise FileRefused(
                path, f"the file is {info.st_size:,} bytes; the limit is {max_bytes:,}."
            )
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, min(1 << 20, max_bytes + 1 - size)):
            size += len(chunk)
            chunks.append(chunk)
            if size > max_bytes:
                raise FileRefused(path, f"the file grew past the limit of {max_bytes:,} bytes.")
        return b"".join(chunks)
    except OSError as exc:
        raise FileRefused(path, f"cannot read it ({exc.strerror}).") from None
    finally:
        os.close(fd)


def read_user_text(path: Path | str, *, max_bytes: int = MAX_CONFIG_BYTES) -> str:
    """`read_user_file` decoded as UTF-8."""
    data = read_user_file(path, max_bytes=max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(path, f"not UTF-8 text (byte {exc.start}).") from None


def compose_yaml(text: str, *, source: str, max_nodes: int = MAX_YAML_NODES) -> yaml.Node | None:
    """The YAML node graph (safe loader), refused when expanding its aliases would give more
    than `max_nodes` values. `yaml.YAMLError` propagates for malformed YAML."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise FileRefused(source, "the YAML is nested too deeply.") from None
    if node is not None and _expanded_size(node, max_nodes) > max_nodes:
        raise FileRefused(
            source,
            f"the YAML expands to more than {max_nodes:,} values through its aliases; refused.",
        )
    return node


def load_yaml(text: str, *, source: str, max_nodes: int = MAX_YAML_NODES) -> Any:
    """`yaml.safe_load` with the expansion bound of `compose_yaml`."""
    node = compose_yaml(text, source=source, max_nodes=max_nodes)
    if node is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """How many values the node graph holds with every alias expanded (stops past `limit`).
    Aliases share node objects, so sizes are memoised per node: linear in the graph."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            sizes[key] = min(total, limit + 1)
            continue
        if key in sizes:
            continue
        if key in on_path:  # a recursive alias (the safe loader builds a cycle): count once
            sizes[key] = 1
            continue
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
