"""Read Markdown, plain text, HTML, PDF and DOCX files into `KnowledgeDocument`s.

Every format is turned into Markdown-ish text so one heading-aware chunker serves all of them.
A file that cannot be read raises `UnreadableFile` with a sentence saying why."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from memory.chunking import as_datetime, first_heading, split_front_matter
from memory.models import KnowledgeDocument
from tools.files import FileRefused, read_user_file

__all__ = ["SUPPORTED_SUFFIXES", "UnreadableFile", "iter_files", "load_document", "parse_markdown"]

MAX_DOCUMENT_BYTES = 50_000_000  # one knowledge document; larger ones are refused unread
SUPPORTED_SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
_RESERVED = {"title", "access", "updated", "language", "id", "source"}


class UnreadableFile(Exception):
    """A file that cannot be ingested; the message is shown to the user as the reason."""


def iter_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Files named directly, and supported files found (recursively) in named folders."""
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.is_file() and not hidden and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
        else:
            yield path


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise UnreadableFile("it looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise UnreadableFile("it is neither UTF-8 nor GB18030 text") from exc


def _access(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        value = re.split(r"[,\s]+", value)
    return tuple(sorted({str(v).strip() for v in value if str(v).strip()}))


def parse_markdown(
    text: str, *, doc_id: str, source: str, fallback_title: str, updated: datetime | None = None
) -> KnowledgeDocument:
    """A Markdown text with optional front matter (title, access, updated, language, ...)."""
    try:
        meta, body = split_front_matter(text)
    except ValueError as exc:
        raise UnreadableFile(str(exc)) from exc
    extra = {
        str(k): v
        for k, v in meta.items()
        if k not in _RESERVED and isinstance(v, str | int | float | bool)
    }
    for key, value in meta.items():
        if key not in _RESERVED and isinstance(value, list):
            extra[str(key)] = ",".join(str(v) for v in value)
    return KnowledgeDocument(
        id=doc_id,
        source=source,
        title=str(meta.get("title") or first_heading(body) or fallback_title),
        text=body,
        access=_access(meta.get("access")),
        updated=as_datetime(meta.get("updated")) or updated,
        language=meta.get("language"),
        metadata=extra,
    )


class _HtmlToMarkdown(HTMLParser):
    _BLOCK = {
        "p",
        "div",
        "section",
        "article",
        "br",
        "tr",
        "table",
        "ul",
        "ol",
        "pre",
        "blockquote",
        "header",
        "footer",
        "main",
    }
    _SKIP = {"script", "style", "noscript", "template", "head"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: str | None = None
        self._skip = 0
        self._in_title = False
        self._cells: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP and tag != "head":
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "tr":
            self._cells = []
        elif tag in ("td", "th") and self._cells is not None:
            self._cells.append("")
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and tag != "head":
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n")
        elif tag == "tr" and self._cells is not None:
            self.parts.append("\n| " + " | ".join(c.strip() for c in self._cells) + " |")
            self._cells = None
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title = (self.title or "") + data.strip()
            return
        text = re.sub(r"\s+", " ", data)
        if self._cells is not None and self._cells:
            self._cells[-1] += text
        else:
            self.parts.append(text)

    def markdown(self) -> str:
        text = "".join(self.parts)
        text = re.sub(r"[ \t]+\n", "\n", text)
        return re.sub(r"\n{3,}", "\n\n", text).strip()


def _load_html(data: bytes) -> tuple[str, str | None]:
    parser = _HtmlToMarkdown()
    parser.feed(_decode(data))
    parser.close()
    return parser.markdown(), html.unescape(parser.title) if parser.title else None


def _load_pdf(data: bytes) -> tuple[str, str | None]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableFile("it is an encrypted PDF")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except UnreadableFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnreadableFile(f"it is not a readable PDF ({exc})") from exc
    if not any(pages):
        raise UnreadableFile("the PDF has no extractable text (is it a scan?)")
    body = "\n\n".join(f"## Page {n}\n\n{text}" for n, text in enumerate(pages, 1) if text)
    return body, title


def _load_docx(data: bytes) -> tuple[str, str | None]:
    import zipfile

    import docx
    from docx.opc.exceptions import OpcError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, OpcError, KeyError, ValueError) as exc:
        raise UnreadableFile(f"it is not a readable DOCX file ({exc})") from exc
    lines: list[str] = []
    title = document.core_properties.title or None
    for block in document.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(block, document)
            text = paragraph.text.strip()
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            if not text:
                continue
            level = re.fullmatch(r"Heading (\d)", style)
            if style == "Title":
                title = title or text
                lines.append(f"# {text}")
            elif level:
                lines.append("#" * min(6, int(level.group(1)) + 1) + f" {text}")
            elif style.startswith("List"):
                lines.append(f"- {text}")
            else:
                lines.append(text)
        elif tag == "tbl":
            table = Table(block, document)
            rows = [[cell.text.strip() for cell in row.cells] for row in table.rows]
            if rows:
                lines.append("| " + " | ".join(rows[0]) + " |")
                lines.append("|" + "---|" * len(rows[0]))
                lines.extend("| " + " | ".join(r) + " |" for r in rows[1:])
    return "\n\n".join(lines), title


def load_document(
    path: Path, *, doc_id: str | None = None, source: str | None = None
) -> KnowledgeDocument:
    """Read one file; raises `UnreadableFile` with the reason when that is impossible."""
    path = Path(path)
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UnreadableFile(f"the file type {path.suffix or '(none)'!r} is not supported")
    try:
        data = read_user_file(path, max_bytes=MAX_DOCUMENT_BYTES)
    except FileRefused as exc:
        raise UnreadableFile(exc.reason.rstrip(".")) from exc
    try:
        mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        doc_id = doc_id or str(path.resolve())
        source = source or path.name
        fallback = path.stem.replace("_", " ").replace("-", " ").strip() or path.name
        if kind == "markdown":
            return parse_markdown(
                _decode(data), doc_id=doc_id, source=source, fallback_title=fallback, updated=mtime
            )
        if kind == "text":
            text = _decode(data)
            first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
            text_title = first if 0 < len(first) <= 100 else fallback
            return KnowledgeDocument(
                id=doc_id, source=source, title=text_title, text=text, updated=mtime
            )
        loader = {"html": _load_html, "pdf": _load_pdf, "docx": _load_docx}[kind]
        body, title = loader(data)
    except PermissionError as exc:
        raise UnreadableFile("permission denied") from exc
    except OSError as exc:
        raise UnreadableFile(exc.strerror or str(exc)) from exc
    if not body.strip():
        raise UnreadableFile("it contains no text")
    return KnowledgeDocument(
        id=doc_id,
        source=source,
        title=title or first_heading(body) or fallback,
        text=body,
        updated=mtime,
    )
