from __future__ import annotations

from pathlib import Path

import pytest

from memory.loaders import UnreadableFile, iter_files, load_document
from tests.knowledge.conftest import write_docx, write_pdf


def test_markdown_front_matter_gives_title_access_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "cards.md"
    path.write_text(
        "---\ntitle: Margin guidance\naccess: [sales_manager, admin]\n"
        "updated: 2026-08-10\ncompetitor: Globex\n---\n# Ignored heading\n\nText.\n",
        encoding="utf-8",
    )
    doc = load_document(path)
    assert doc.title == "Margin guidance"
    assert doc.access == ("admin", "sales_manager")
    assert doc.updated is not None and doc.updated.tzinfo is not None
    assert doc.metadata == {"competitor": "Globex"}
    assert doc.source == "cards.md"


def test_markdown_without_front_matter_takes_first_heading(tmp_path: Path) -> None:
    path = tmp_path / "x.md"
    path.write_text("# Renewal playbook\n\n## Timeline\n\nStart early.", encoding="utf-8")
    assert load_document(path).title == "Renewal playbook"


def test_plain_text_title_is_first_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Kickoff notes\n\nWe agreed on SSO first.", encoding="utf-8")
    doc = load_document(path)
    assert doc.title == "Kickoff notes" and "SSO" in doc.text


def test_gb18030_text_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "zh.txt"
    path.write_bytes("续约手册\n\n续约日前 120 天开始评估。".encode("gb18030"))
    assert "120 天" in load_document(path).text


def test_html_keeps_headings_lists_and_tables_and_drops_scripts(corpus_dir: Path) -> None:
    doc = load_document(corpus_dir / "security.html")
    assert doc.title == "Security FAQ"
    assert "## Encryption" in doc.text and "AES-256 & in transit" in doc.text
    assert "- Frankfurt" in doc.text and "| SOC 2 Type II | yearly |" in doc.text
    assert "ignore me" not in doc.text and "color:red" not in doc.text


def test_pdf_pages_become_sections(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "p.pdf", [["Hello world"], ["Second page text"]], title="Deck")
    doc = load_document(path)
    assert doc.title == "Deck"
    assert "## Page 1" in doc.text and "## Page 2" in doc.text and "Second page text" in doc.text


def test_docx_headings_and_tables(tmp_path: Path) -> None:
    doc = load_document(write_docx(tmp_path / "r.docx"))
    assert doc.title == "Renewal checklist"
    assert "## Timeline" in doc.text and "120 days" in doc.text
    assert "| Enterprise | Customer success |" in doc.text


@pytest.mark.parametrize(
    ("name", "payload", "reason"),
    [
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip at all", "DOCX"),
        ("binary.txt", b"\x00\x01\x02\x03binary", "binary"),
        ("slides.pptx", b"whatever", "not supported"),
        ("bad-front-matter.md", b"---\ntitle: [unclosed\n---\nbody", "front matter"),
    ],
)
def test_unreadable_files_raise_with_a_reason(
    tmp_path: Path, name: str, payload: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(UnreadableFile, match=reason):
        load_document(path)


def test_pdf_without_text_is_reported(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "scan.pdf", [[]])
    with pytest.raises(UnreadableFile, match="no extractable text"):
        load_document(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="does not exist"):
        load_document(tmp_path / "nope.md")


def test_folders_are_walked_recursively_skipping_hidden_and_unsupported(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.md").write_text("# One", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "two.md").write_text("# Two", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    assert [p.name for p in iter_files([tmp_path])] == ["one.md"]
