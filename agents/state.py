"""Graph state and the run-scoped dependencies the nodes receive.

State is what the checkpointer keeps (a conversation survives restarts); dependencies are what a
run is given (CRM service, model, clock) and are never checkpointed.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, Field

from agents.llm_types import ChatModel
from tools.service import CRMService

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


class AgentReport(BaseModel):
    agent: str
    reply: str
    proposals: list[dict[str, Any]] = []
    trace: list[ToolTrace] = []
    error: str | None = None


class TurnOutcome(BaseModel):
    committed: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []


def _replace(_old: Any, new: Any) -> Any:
    return new


class ConversationState(TypedDict, total=False):
    """One thread's state. `history` accumulates across turns; the rest is per turn."""

    thread_id: str
    actor_id: str
    request: str
    history: Annotated[list[dict[str, str]], operator.add]
    route: dict[str, Any] | None
    account_id: str | None
    reports: Annotated[list[dict[str, Any]], _replace]
    decisions: Annotated[list[dict[str, Any]], _replace]
    negotiations: Annotated[list[dict[str, Any]], _replace]
    outcome: dict[str, Any] | None
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
