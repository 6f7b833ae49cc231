"""Typed records of the knowledge base: documents in, chunks stored, hits out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["IngestFailure", "IngestReport", "KnowledgeDocument", "KnowledgeHit"]


class KnowledgeDocument(BaseModel):
    """One document to index. Scenario fixtures give only `id`, `title` and `text`."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    title: str | None = None
    text: str
    source: str | None = Field(default=None, description="Shown to users; defaults to the id.")
    access: tuple[str, ...] = Field(
        default=(), description="Roles allowed to read it; empty means everyone."
    )
    updated: datetime | None = None
    language: str | None = Field(default=None, description="zh or en; detected when unset.")
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)


class KnowledgeHit(BaseModel):
    chunk_id: str
    source: str
    title: str
    section: str | None
    text: str
    score: float
    language: str


class IngestFailure(BaseModel):
    name: str
    reason: str


class IngestReport(BaseModel):
    added: list[str] = Field(default_factory=list)
    replaced: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    failed: list[IngestFailure] = Field(default_factory=list)
    chunks_written: int = 0
    chunks_embedded: int = 0

    def merge(self, other: IngestReport) -> IngestReport:
        return IngestReport(
            added=self.added + other.added,
            replaced=self.replaced + other.replaced,
            unchanged=self.unchanged + other.unchanged,
            failed=self.failed + other.failed,
            chunks_written=self.chunks_written + other.chunks_written,
            chunks_embedded=self.chunks_embedded + other.chunks_embedded,
        )
