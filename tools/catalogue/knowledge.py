"""search_knowledge: retrieval from the knowledge base, filtered by the asking user's roles."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tools.context import ToolContext
from tools.registry import read_tool
from tools.types import Args, Query, Result


class SearchKnowledgeArgs(Args):
    query: Query
    k: Annotated[int, Field(ge=1, le=20)] = 5


class KnowledgePassage(Result):
    source: str
    title: str
    section: str | None = None
    text: str
    score: float


class KnowledgeResults(Result):
    passages: list[KnowledgePassage]
    note: str | None = None


@read_tool(domain="all")
def search_knowledge(ctx: ToolContext, args: SearchKnowledgeArgs) -> KnowledgeResults:
    """Search the company knowledge base (policies, playbooks, product and pricing docs,
    battlecards). Cite the source and section of what you use."""
    if ctx.knowledge is None:
        return KnowledgeResults(passages=[], note="The knowledge base is not available.")
    hits = ctx.knowledge.search(args.query, k=args.k, roles=sorted(ctx.actor.roles))
    return KnowledgeResults(
        passages=[
            KnowledgePassage(
                source=h.source, title=h.title, section=h.section, text=h.text, score=h.score
            )
            for h in hits
        ]
    )
