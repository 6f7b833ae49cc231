"""Human review: one durable LangGraph thread per review request.

    START → wait (interrupt) → decide → notify → END
                  ↑                     │ (another approval step waits)
                  └─────────────────────┘

A held proposal opens thread `review:<approval id>`, which pauses in `wait` with LangGraph's
`interrupt()`. A reviewer's decision resumes it with `Command(resume=…)` — from any process,
after any restart, because the thread lives in the checkpointer. `decide` applies the decision
through the tool layer, where the decision and the write it allows are one transaction keyed by
the approval, so re-running the node after a crash never writes twice. The requester's own
conversation thread is never blocked: they can talk on while the request waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from tools.errors import NotFound
from tools.service import CRMService, ReviewOutcome, ReviewRefused

Decision = Literal["approve", "reject", "edit", "expire"]


class ReviewError(Exception):
    """A decision that cannot be taken (wrong reviewer, expired, unknown request)."""

    def __init__(self, user_message: str, *, outcome: ReviewOutcome | None = None) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.outcome = outcome


class ReviewState(TypedDict, total=False):
    approval_id: str
    decision: dict[str, Any] | None
    outcome: dict[str, Any] | None
    error: str | None
    message: str | None


Notifier = Callable[[str, str, str], Awaitable[None]]


@dataclass
class ReviewDeps:
    """`notify(thread_id, message, approval_id)` tells the requester's conversation; it must be
    idempotent
    (the notify node re-runs after a crash)."""

    crm: CRMService
    notify: Notifier


async def wait(state: ReviewState) -> dict[str, Any]:
    decision = interrupt({"approval_id": state["approval_id"]})
    return {"decision": decision}


async def decide(state: ReviewState, runtime: Runtime[ReviewDeps]) -> dict[str, Any]:
    crm = runtime.context.crm
    decision = state.get("decision") or {}
    approval_id = state["approval_id"]
    try:
        if decision.get("decision") == "expire":
            expired = await asyncio.to_thread(crm.expire_reviews)
            outcome = next((o for o in expired if o.approval_id == approval_id), None)
            if outcome is None:
                outcome = await asyncio.to_thread(_current, crm, approval_id)
        else:
            outcome = await asyncio.to_thread(
                crm.decide_review,
                approval_id,
                reviewer_id=decision["by"],
                decision=decision["decision"],
                comment=decision.get("comment"),
                arguments=decision.get("arguments"),
            )
    except ReviewRefused as exc:
        # Nothing was applied; the thread goes back to waiting for a valid decision.
        return {
            "decision": None,
            "error": exc.message,
            "outcome": exc.outcome.model_dump() if exc.outcome else None,
        }
    return {"outcome": outcome.model_dump(), "error": None}


def _current(crm: CRMService, approval_id: str) -> ReviewOutcome:
    rows = [r for r in crm.reviews(status=None) if r["id"] == approval_id]
    row = rows[0]
    return ReviewOutcome(
        approval_id=approval_id,
        status=row["status"],
        tool=row["tool"],
        summary=row["context"].get("proposal", {}).get("summary", row["tool"]),
        requested_by=row["requested_by"],
        thread_id=row["thread_id"],
        decided_by=row["decided_by"],
        comment=row["comment"],
        already_decided=True,
    )


def _after_decide(state: ReviewState) -> Literal["wait", "notify"]:
    outcome = state.get("outcome") or {}
    if state.get("error") and outcome.get("status") in (None, "pending"):
        return "wait"  # a refused decision: keep waiting for the right reviewer
    return "notify"


def _after_notify(state: ReviewState) -> Literal["wait", "__end__"]:
    """An approved step that leaves another one waiting goes back to waiting."""
    outcome = state.get("outcome") or {}
    return "wait" if outcome.get("status") == "pending" else "__end__"


async def notify(state: ReviewState, runtime: Runtime[ReviewDeps]) -> dict[str, Any]:
    outcome = ReviewOutcome(**(state.get("outcome") or {}))
    crm = runtime.context.crm
    names = {}
    people = [
        outcome.decided_by,
        outcome.stepped_by,
        *outcome.next_reviewer_ids,
        *(a["by"] for a in outcome.approvals),
        *(e["by"] for e in outcome.edits),
    ]
    for user_id in dict.fromkeys(filter(None, people)):
        try:
            names[user_id] = (await asyncio.to_thread(crm.actor, user_id)).name
        except NotFound:
            names[user_id] = user_id
    message = describe_outcome(outcome, names)
    if outcome.thread_id:
        await runtime.context.notify(outcome.thread_id, message, outcome.approval_id)
    return {"message": message, "decision": None}


def build_review_graph(*, checkpointer: Any = None):  # type: ignore[no-untyped-def]
    graph = StateGraph(ReviewState, context_schema=ReviewDeps)
    graph.add_node("wait", wait)
    graph.add_node("decide", decide)
    graph.add_node("notify", notify)
    graph.add_edge(START, "wait")
    graph.add_edge("wait", "decide")
    graph.add_conditional_edges("decide", _after_decide, ["wait", "notify"])
    graph.add_conditional_edges("notify", _after_notify, ["wait", END])
    return graph.compile(checkpointer=checkpointer)


def describe_outcome(outcome: ReviewOutcome, names: dict[str, str]) -> str:
    """The sentence the requester reads when their request is decided, or moves a step on:
    who approved, what an edit changed ("you asked 30, Olga approved 20"), what waits next."""
    who = names.get(outcome.decided_by or "", outcome.decided_by or "")
    note = f' ("{outcome.comment}")' if outcome.comment and outcome.status != "expired" else ""
    changes = _changes(outcome, names)
    if outcome.status == "pending":
        by = outcome.stepped_by or ""
        stepper = names.get(by, by)
        waiting = ", ".join(names.get(r, r) for r in outcome.next_reviewer_ids)
        needs = f"{outcome.next_role}" + (f" ({waiting})" if waiting else "")
        why = f": {'; '.join(outcome.next_reasons)}" if outcome.next_reasons else ""
        if outcome.edits and outcome.edits[-1]["by"] == by:
            edit = outcome.edits[-1]["changes"]
            changed = ", ".join(f"{a} from {c['from']} to {c['to']}" for a, c in edit.items())
            return (
                f"{stepper} changed {changed} ({outcome.summary}); it now also needs {needs}{why}."
            )
        return f"{stepper} approved a step of: {outcome.summary}; it now waits for {needs}{why}."
    approvers = list(dict.fromkeys(a["by"] for a in outcome.approvals)) or [
        outcome.decided_by or ""
    ]
    approved_by = " and ".join(names.get(a, a) for a in approvers)
    if outcome.status == "approved":
        edited = f" ({changes})" if outcome.edits else ""
        return f"{approved_by} approved: {outcome.summary}{edited}{note}. It is done."
    if outcome.status == "rejected":
        return f"{who} rejected: {outcome.summary}{note}. Nothing was changed."
    if outcome.status == "expired":
        return f"Your request expired without a decision: {outcome.summary}. Nothing was changed."
    return f"{who} approved {outcome.summary}, but it could not be applied: {outcome.comment}"


def _changes(outcome: ReviewOutcome, names: dict[str, str]) -> str:
    """The edits as the requester reads them: you asked X, <reviewer> approved Y."""
    first: dict[str, Any] = {}
    last: dict[str, tuple[Any, str]] = {}
    for edit in outcome.edits:
        for arg, change in edit["changes"].items():
            first.setdefault(arg, change["from"])
            last[arg] = (change["to"], edit["by"])
    parts = []
    for arg, (value, by) in last.items():
        asked = outcome.requested_arguments.get(arg, first[arg])
        parts.append(f"you asked {arg} {asked}, {names.get(by, by)} approved {value}")
    return "; ".join(parts)
