"""Graph state and the run-scoped dependencies the nodes receive.

State is what the checkpointer keeps (a conversation survives restarts); dependencies are what a
run is given (CRM service, model, clock) and are never checkpointed.
"""

from __future__ import annotations

import dataclasses
import operator
import types
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel, Field

from agents.llm_types import ChatModel
from agents.negotiation import Negotiation
from tools.context import Actor
from tools.service import CRMService, GateDecision, Proposal

SpecialistName = Literal["sales", "service", "delivery"]
SPECIALISTS: tuple[SpecialistName, ...] = ("sales", "service", "delivery")


class RouteDecision(BaseModel):
    """Which specialists a request needs, in order, and what it is about."""

    agents: list[SpecialistName] = Field(min_length=1, max_length=3)
    account: str | None = Field(default=None, description="Account name as the user wrote it.")
    intent: str = Field(default="", max_length=200)


class ToolTrace(BaseModel):
    agent: str
    tool: str
    arguments: dict[str, Any]
    kind: Literal["read", "write"]
    ok: bool
    summary: str


class ProposedWrite(Proposal):
    """A proposal and the specialist that made it."""

    agent: str | None = None


class AgentReport(BaseModel):
    agent: str
    reply: str
    proposals: list[ProposedWrite] = []
    trace: list[ToolTrace] = []
    error: str | None = None


class CommittedWrite(BaseModel):
    summary: str
    tool: str
    message: str = ""
    record_id: str | None = None
    # The record before and after (as the proposal showed them), for wording the done line.
    before: dict[str, Any] | None = None
    after: dict[str, Any] = {}


class PendingWrite(BaseModel):
    summary: str
    tool: str
    approval_id: str
    reviewer_ids: list[str]
    reviewer_role: str | None
    reasons: list[str]
    steps: list[str] = []


class UnappliedWrite(BaseModel):
    summary: str
    tool: str
    message: str


class TurnOutcome(BaseModel):
    """What a turn did with its proposals (channels get it as a dict: `model_dump()`)."""

    committed: list[CommittedWrite] = []
    pending: list[PendingWrite] = []
    refused: list[UnappliedWrite] = []
    failed: list[UnappliedWrite] = []


def _replace(_old: Any, new: Any) -> Any:
    return new


class ConversationState(TypedDict, total=False):
    """One thread's state. `history` accumulates across turns; the rest is per turn. The
    hand-offs are typed objects (the checkpointer keeps them as they are): the acting user,
    the route, each specialist's report with its proposals, the gate's decisions and the
    outcome — nothing is re-validated from dicts at each node."""

    thread_id: str
    actor_id: str
    actor: Actor | None
    request: str
    history: Annotated[list[dict[str, str]], operator.add]
    route: RouteDecision | None
    account_id: str | None
    reports: Annotated[list[AgentReport], _replace]
    decisions: Annotated[list[GateDecision], _replace]
    negotiations: Annotated[list[Negotiation], _replace]
    outcome: TurnOutcome | None
    reply: str


@dataclass
class AgentDeps:
    """Run-scoped dependencies (LangGraph runtime context)."""

    crm: CRMService
    model: ChatModel
    max_steps: int = 5
    history_turns: int = 3
    review_ttl_hours: float = 72.0
    negotiation_rounds: int = 2
    events: list[dict[str, Any]] = field(default_factory=list)


def state_types() -> set[tuple[str, str]]:
    """(module, class) of every model `ConversationState` holds, nested ones included: what a
    checkpoint of a conversation may name and be read back as."""
    found: set[tuple[str, str]] = set()

    def visit(annotation: Any) -> None:
        origin = get_origin(annotation)
        if origin is Annotated:
            visit(get_args(annotation)[0])
        elif origin in (list, tuple, set, dict, Union, types.UnionType) or origin is not None:
            for arg in get_args(annotation):
                visit(arg)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            key = (annotation.__module__, annotation.__name__)
            if key not in found:
                found.add(key)
                for field_info in annotation.model_fields.values():
                    visit(field_info.annotation)
        elif isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
            key = (annotation.__module__, annotation.__name__)
            if key not in found:
                found.add(key)
                for hint in get_type_hints(annotation).values():
                    visit(hint)

    for hint in get_type_hints(ConversationState, include_extras=True).values():
        visit(hint)
    return found
