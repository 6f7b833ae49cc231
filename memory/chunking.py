"""Heading-aware chunking with overlap, front matter and language detection.

A document is cut at its Markdown headings first; a section too long for one chunk is packed
from paragraphs, then sentences, with a small overlap so an answer straddling a boundary is
still found whole in one chunk. Tables keep their header row in every piece."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import yaml

from tools.files import FileRefused, load_yaml

__all__ = [
    "Chunk",
    "chunk_markdown",
    "detect_language",
    "estimate_tokens",
    "split_front_matter",
]

TARGET_TOKENS = 170
MAX_TOKENS = 240
OVERLAP_TOKENS = 40

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_CJK_IDEOGRAPH = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.-][A-Za-z0-9]+)*")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=\S)|(?<=[。！？；])")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Chunk:
    index: int
    section: str | None
    section_path: str
    text: str
    language: str
    content_hash: str

    def embedding_text(self, title: str) -> str:
        """What the embedder and the lexical index see: the body in its document context."""
        heading = f"{title} — {self.section_path}" if self.section_path else title
        return f"{heading}\n{self.text}"


def estimate_tokens(text: str) -> int:
    """Rough model-token count that works for Chinese and English alike."""
    return len(_CJK_IDEOGRAPH.findall(text)) + int(len(_WORD.findall(text)) * 1.3) + 1


def detect_language(text: str) -> str:
    """`zh` when Chinese characters outnumber Latin words, else `en`."""
    ideographs = len(_CJK_IDEOGRAPH.findall(text))
    words = len(_WORD.findall(text))
    return "zh" if ideographs and ideographs >= words else "en"


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter between `---` lines, and the body after it."""
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if not match:
        return {}, text
    try:
        data = load_yaml(match.group(1), source="front matter") or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"its front matter is not valid YAML ({exc.__class__.__name__})") from exc
    except FileRefused as exc:
        raise ValueError(f"its {exc}") from exc
    if not isinstance(data, dict):
        return {}, text
    return data, text[match.end() :]


def first_heading(text: str) -> str | None:
    for line in text.splitlines():
        match = _HEADING.match(line)
        if match:
            return match.group(2).strip()
    return None


def as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str) and value.strip():
        try:
            return as_datetime(datetime.fromisoformat(value.strip()))
        except ValueError:
            return None
    return None


def _sections(text: str) -> list[tuple[list[str], str]]:
    """(heading path, body) pairs; a leading H1 is the document title, not a section."""
    out: list[tuple[list[str], str]] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    in_fence = False
    seen_heading = False

    def flush() -> None:
        content = "\n".join(body).strip()
        if content:
            out.append(([name for _, name in stack], content))
        body.clear()

    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if not match:
            body.append(line)
            continue
        flush()
        level, name = len(match.group(1)), match.group(2).strip()
        if level == 1 and not seen_heading:
            seen_heading = True
            continue
        seen_heading = True
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, name))
    flush()
    return out


def _blocks(body: str) -> list[str]:
    blocks: list[str] = []
    current: list[str] = []
    in_fence = False
    for line in body.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        if not line.strip() and not in_fence:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _hard_split(text: str, limit: int) -> list[str]:
    pieces, current = [], ""
    for token in re.findall(r"\S+\s*|[\u3400-\u9fff]", text) or [text]:
        if current and estimate_tokens(current + token) > limit:
            pieces.append(current.strip())
            current = ""
        current += token
    if current.strip():
        pieces.append(current.strip())
    return pieces


def _units(block: str) -> list[str]:
    """Break one block into pieces no longer than MAX_TOKENS."""
    if estimate_tokens(block) <= MAX_TOKENS:
        return [block]
    lines = block.splitlines()
    if len(lines) > 1 and lines[0].lstrip().startswith("|"):
        header = lines[:2] if _TABLE_SEPARATOR.match(lines[1]) else lines[:1]
        rows = lines[len(header) :]
        groups: list[str] = []
        current: list[str] = []
        for row in rows:
            if current and estimate_tokens("\n".join(header + current + [row])) > TARGET_TOKENS:
                groups.append("\n".join(header + current))
                current = []
            current.append(row)
        if current:
            groups.append("\n".join(header + current))
        return groups
    if len(lines) > 1:
        return [unit for line in lines for unit in _units(line)]
    sentences = [s.strip() for s in _SENTENCE_END.split(block) if s and s.strip()]
    if len(sentences) > 1:
        return [unit for sentence in sentences for unit in _units(sentence)]
    return _hard_split(block, MAX_TOKENS)


def _joiner(unit: str) -> str:
    """How a unit attaches to the previous one: sentences flow, lines and tables break."""
    if unit.startswith(("|", "-", "*")) or re.match(r"\d+\.", unit):
        return "\n"
    return " "


def _pack(blocks: list[list[str]]) -> list[str]:
    chunks: list[str] = []
    current: list[tuple[str, str]] = []  # (joiner, text)
    size = 0

    def render(parts: list[tuple[str, str]]) -> str:
        return "".join((joiner if i else "") + text for i, (joiner, text) in enumerate(parts))

    for units in blocks:
        for position, unit in enumerate(units):
            joiner = "\n\n" if position == 0 else _joiner(unit)
            unit_size = estimate_tokens(unit)
            if current and size + unit_size > TARGET_TOKENS:
                chunks.append(render(current))
                overlap: list[tuple[str, str]] = []
                overlap_size = 0
                for previous in reversed(current):
                    previous_size = estimate_tokens(previous[1])
                    if overlap_size + previous_size > OVERLAP_TOKENS or previous[1].startswith("|"):
                        break
                    overlap.insert(0, previous)
                    overlap_size += previous_size
                if overlap_size + unit_size > MAX_TOKENS:
                    overlap, overlap_size = [], 0
                current, size = overlap, overlap_size
            current.append((joiner, unit))
            size += unit_size
    if current:
        chunks.append(render(current))
    return chunks


def chunk_markdown(text: str, *, title: str, language: str | None = None) -> list[Chunk]:
    """Cut a Markdown (or plain) text into heading-aware, overlapping chunks."""
    chunks: list[Chunk] = []
    for path, body in _sections(text):
        section_path = " > ".join(path)
        for piece in _pack([_units(block) for block in _blocks(body)]):
            context = f"{title}\n{section_path}\n{piece}"
            chunks.append(
                Chunk(
                    index=len(chunks),
                    section=path[-1] if path else None,
                    section_path=section_path,
                    text=piece,
                    language=language or detect_language(piece),
                    content_hash=hashlib.sha256(context.encode("utf-8")).hexdigest(),
                )
            )
    return chunks
