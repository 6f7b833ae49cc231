"""The channel-neutral conversation service: terminal, Slack and Teams all talk through this.

One call is one turn of one thread: the graph runs with a fresh LLM budget, its events stream to
the caller, and the thread's state is checkpointed so the conversation continues across
restarts and processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agents.graph import build_graph
from agents.llm_types import ChatModel
from agents.state import AgentDeps
from tools.errors import NotFound
from tools.service import CRMService

MAX_MESSAGE_CHARS = 8000


class ConversationError(Exception):
    """A turn that cannot start; the message is one sentence for the user."""


@dataclass
class TurnResult:
    thread_id: str
    reply: str
    events: list[dict[str, Any]] = field(default_factory=list)
    outcome: dict[str, Any] = field(default_factory=dict)
    reports: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)


class ConversationService:
    def __init__(
        self,
        *,
        crm: CRMService,
        model: ChatModel,
        checkpointer: Any = None,
        max_steps: int = 5,
        review_ttl_hours: float = 72.0,
    ) -> None:
        self.crm = crm
        self.model = model
        self.graph = build_graph(checkpointer=checkpointer)
        self.max_steps = max_steps
        self.review_ttl_hours = review_ttl_hours

    async def send(
        self,
        *,
        thread_id: str,
        user_id: str,
        text: str,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> TurnResult:
        text = (text or "").strip()
        if not text:
            raise ConversationError("The message is empty; say what you need.")
        if len(text) > MAX_MESSAGE_CHARS:
            raise ConversationError(
                f"The message is {len(text)} characters long; the limit is {MAX_MESSAGE_CHARS}. "
                "Send long documents as a file instead."
            )
        try:
            self.crm.actor(user_id)
        except NotFound as exc:
            raise ConversationError(
                f"There is no warroom user '{user_id}', so I cannot act for you."
            ) from exc
        model = self.model.for_turn()
        deps = AgentDeps(
            crm=self.crm,
            model=model,
            max_steps=self.max_steps,
            review_ttl_hours=self.review_ttl_hours,
        )
        config = {"configurable": {"thread_id": thread_id}}
        events: list[dict[str, Any]] = []
        state: dict[str, Any] = {}
        inputs = {"thread_id": thread_id, "actor_id": user_id, "request": text}
        async for mode, chunk in self.graph.astream(
            inputs, config, context=deps, stream_mode=["custom", "values"]
        ):
            if mode == "custom":
                events.append(chunk)
                if on_event:
                    on_event(chunk)
            else:
                state = chunk
        return TurnResult(
            thread_id=thread_id,
            reply=state.get("reply", ""),
            events=events,
            outcome=state.get("outcome") or {},
            reports=state.get("reports") or [],
            usage=model.budget.report(),
        )

    async def history(self, thread_id: str) -> list[dict[str, str]]:
        snapshot = await self.graph.aget_state({"configurable": {"thread_id": thread_id}})
        return list((snapshot.values or {}).get("history") or [])
