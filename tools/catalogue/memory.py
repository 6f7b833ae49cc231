"""recall_account_memory: what warroom learned about an account in earlier conversations and
meetings. The facts came from people and customers, so agents get them as data, never as
instructions (like every tool result)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tools.catalogue.common import load_account
from tools.context import ToolContext
from tools.registry import read_tool
from tools.types import Args, Query, RecordId, Result
from tools.visibility import render_for, scope_of


class RecallAccountMemoryArgs(Args):
    account_id: RecordId
    query: Query | None = None
    k: Annotated[int, Field(ge=1, le=20)] = 5


class RememberedFact(Result):
    text: str
    source_kind: str
    source_ref: str
    created_at: str


class AccountMemoryResults(Result):
    facts: list[RememberedFact]
    note: str | None = None


@read_tool(domain="all")
def recall_account_memory(ctx: ToolContext, args: RecallAccountMemoryArgs) -> AccountMemoryResults:
    """Recall facts remembered about an account from earlier conversations and meetings (best
    matches for `query`, or the newest)."""
    account = load_account(ctx, args.account_id)  # row-level read permission
    if ctx.memory is None:
        return AccountMemoryResults(facts=[], note="Account memory is not available.")
    facts = ctx.memory.recall(args.account_id, args.query, k=args.k)
    return AccountMemoryResults(
        facts=[
            RememberedFact(
                # Facts are derived text: figures the reader may not see are masked.
                text=render_for(ctx.actor, f.text, scope_of(account)),
                source_kind=f.source_kind,
                source_ref=f.source_ref,
                created_at=f.created_at.isoformat(),
            )
            for f in facts
        ]
    )
