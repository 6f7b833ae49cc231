"""`ScenarioModel`: the scripted model as a scenario needs it.

The graph's router asks the model only when no rule routes a request. A script may spell that
answer out (`agent: router`); when it does not, and the router asks while the next step belongs
to a specialist, the route is read off the script: the specialists of the upcoming steps, in the
graph's order, each as one contiguous block. Conversely, a scripted `router` step is passed over
when a rule routed the request and a specialist asks first. Everything else goes to
`ScriptedChatModel`
unchanged; script errors (a mismatch, an exhausted script) are recorded so the runner can fail
the scenario even though the graph turns them into a polite reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.llm_budget import Budget
from agents.llm_errors import LLMError
from agents.llm_scripted import ScriptedChatModel, ScriptStep
from agents.llm_types import ChatResult, Message, SchemaT, TextSink, ToolChoice
from agents.state import SPECIALISTS, RouteDecision

__all__ = ["ScenarioModel", "route_from_script"]


@dataclass
class ScriptLog:
    """Shared by every turn's view of the model."""

    calls: int = 0
    synthesised_routes: list[list[str]] = field(default_factory=list)
    skipped_router_steps: int = 0
    errors: list[str] = field(default_factory=list)


def route_from_script(upcoming: list[ScriptStep]) -> list[str]:
    """The specialists the next steps belong to: contiguous blocks in graph order."""
    agents: list[str] = []
    for step in upcoming:
        if step.agent not in SPECIALISTS:
            break
        if agents and step.agent == agents[-1]:
            continue
        if agents and SPECIALISTS.index(step.agent) <= SPECIALISTS.index(agents[-1]):  # type: ignore[arg-type]
            break  # back to an earlier specialist: that is the next turn
        agents.append(step.agent)
    return agents


class ScenarioModel:
    def __init__(self, inner: ScriptedChatModel, *, log: ScriptLog | None = None) -> None:
        self.inner = inner
        self.log = log or ScriptLog()
        self.budget: Budget = inner.budget

    @classmethod
    def from_steps(cls, steps: list[dict[str, Any]]) -> ScenarioModel:
        return cls(ScriptedChatModel([ScriptStep.from_dict(s) for s in steps]))

    @property
    def remaining(self) -> int:
        return self.inner.remaining

    def unplayed(self) -> list[str]:
        steps = self.inner.steps
        return [s.agent for s in steps[len(steps) - self.inner.remaining :]]

    def for_turn(self, budget: Budget | None = None) -> ScenarioModel:
        return ScenarioModel(self.inner.for_turn(budget), log=self.log)

    def _upcoming(self) -> list[ScriptStep]:
        steps = self.inner.steps
        return steps[len(steps) - self.inner.remaining :]

    async def _skip_unasked_router_step(self, agent: str) -> None:
        upcoming = self._upcoming()
        if agent != "router" and upcoming and upcoming[0].agent == "router":
            # A rule routed this request, so the router was never asked: play its step unused.
            await self.inner.structured(agent="router", messages=[], schema=RouteDecision)
            self.log.skipped_router_steps += 1

    async def chat(
        self,
        *,
        agent: str,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: ToolChoice = None,
        on_text: TextSink | None = None,
    ) -> ChatResult:
        try:
            await self._skip_unasked_router_step(agent)
            result = await self.inner.chat(
                agent=agent,
                messages=messages,
                tools=tools,
                tool_choice=tool_choice,
                on_text=on_text,
            )
        except LLMError as exc:
            self.log.errors.append(str(exc))
            raise
        self.log.calls += 1
        return result

    async def structured(
        self, *, agent: str, messages: list[Message], schema: type[SchemaT]
    ) -> SchemaT:
        upcoming = self._upcoming()
        if agent == "router" and schema is RouteDecision and upcoming:
            if upcoming[0].agent != "router":
                agents = route_from_script(upcoming)
                if agents:
                    self.log.synthesised_routes.append(agents)
                    return schema.model_validate({"agents": agents, "intent": "from the script"})
        try:
            await self._skip_unasked_router_step(agent)
            result = await self.inner.structured(agent=agent, messages=messages, schema=schema)
        except LLMError as exc:
            self.log.errors.append(str(exc))
            raise
        self.log.calls += 1
        return result
