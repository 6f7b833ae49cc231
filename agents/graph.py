"""The conversation graph: route → specialists → policy gate → executor → responder.

    START → route ─┬→ sales ──┬→ service ──┬→ delivery ──┬→ negotiate → gate → execute
                   └──────────┴────────────┴─────────────┘              → respond → END

Each specialist hands on to the next one the router chose, or to negotiation, where proposals
that touch another agent's domain are settled (agents/negotiation.py). Nodes re-run when a
thread resumes, so every side effect below is idempotent: proposal ids are derived from the
thread and turn, commits carry an idempotency key, review requests are keyed by proposal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.crossteam import prepare_requests
from agents.llm_errors import LLMError
from agents.negotiation import DOMAIN_OF_TOOL, Negotiation, negotiate, readable
from agents.outcome_text import committed_line, labels, language_of, pending_line
from agents.overview import answer_without_agents
from agents.prefetch import account_digest, opened_records
from agents.router import decide_route, strip_slash
from agents.specialist import SpecialistRun
from agents.state import (
    SPECIALISTS,
    AgentDeps,
    AgentReport,
    CommittedWrite,
    ConversationState,
    PendingWrite,
    ProposedWrite,
    RouteDecision,
    SpecialistName,
    TurnOutcome,
    UnappliedWrite,
    state_types,
)
from tools.context import Actor
from tools.crossteam import is_request
from tools.errors import ToolFailure
from tools.policy import DOMAIN_REVIEWER, RuleHit
from tools.service import GateDecision, Proposal

NextAgent = Literal["sales", "service", "delivery", "negotiate"]


def _emit(event: dict[str, Any]) -> None:
    try:
        get_stream_writer()(event)
    except RuntimeError:  # not streaming (e.g. invoked directly)
        pass


def _turn(state: ConversationState) -> int:
    return len(state.get("history") or []) // 2 + 1


def _next_after(route: list[str], current: str | None) -> NextAgent:
    order = route if current is None else route[route.index(current) + 1 :]
    return order[0] if order else "negotiate"  # type: ignore[return-value]


async def route(
    state: ConversationState, runtime: Runtime[AgentDeps]
) -> Command[Literal["sales", "service", "delivery", "respond"]]:
    deps = runtime.context
    actor = await asyncio.to_thread(deps.crm.actor, state["actor_id"])  # once per turn
    quick = await asyncio.to_thread(answer_without_agents, deps.crm, actor, state["request"])
    if quick is not None:
        _emit({"type": "route", "agents": [], "account": quick.account_id, "llm": False})
        return Command(
            goto="respond",
            update={
                "actor": actor,
                "route": None,
                "account_id": quick.account_id,
                "reports": [AgentReport(agent=quick.kind, reply=quick.reply)],
                "decisions": [],
                "negotiations": [],
                "outcome": None,
            },
        )
    try:
        decision, account, asked = await decide_route(deps.model, deps.crm, actor, state["request"])
    except LLMError as exc:
        return Command(
            goto="respond",
            update={
                "actor": actor,
                "route": None,
                "reports": [AgentReport(agent="router", reply="", error=exc.user_message)],
                "decisions": [],
                "negotiations": [],
                "outcome": None,
            },
        )
    _emit(
        {
            "type": "route",
            "agents": decision.agents,
            "account": account and account["id"],
            "llm": asked,
        }
    )
    return Command(
        goto=decision.agents[0],
        update={
            "actor": actor,
            "route": decision,
            "account_id": account["id"] if account else None,
            "reports": [],
            "decisions": [],
            "negotiations": [],
            "outcome": None,
        },
    )


def _context_for(state: ConversationState, deps: AgentDeps) -> str:
    lines = []
    account_id = state.get("account_id")
    if account_id:
        lines.append(f"The request is about account {account_id}.")
    for report in state.get("reports") or []:
        if report.reply:
            lines.append(f"The {report.agent} agent said: {report.reply}")
        for proposal in report.proposals:
            lines.append(f"The {report.agent} agent proposed: {proposal.summary}.")
    return ("\nContext:\n- " + "\n- ".join(lines)) if lines else ""


def _specialist(name: SpecialistName):  # type: ignore[no-untyped-def]
    async def node(state: ConversationState, runtime: Runtime[AgentDeps]) -> Command[NextAgent]:
        deps = runtime.context
        actor = await _actor(state, deps)
        _emit({"type": "handoff", "agent": name})
        history = (state.get("history") or [])[-2 * deps.history_turns :]
        account_id = state.get("account_id")
        run = SpecialistRun(
            name=name,
            crm=deps.crm,
            model=deps.model,
            actor=actor,
            thread_id=state["thread_id"],
            turn=_turn(state),
            max_steps=deps.max_steps,
            account_known=bool(account_id),
            linked_account=account_id,
        )
        context = _context_for(state, deps)
        if account_id:
            digest = await asyncio.to_thread(account_digest, deps.crm, actor, name, account_id)
            if digest:
                context += "\n" + digest
        context += await asyncio.to_thread(
            opened_records, deps.crm, actor, name, strip_slash(state["request"]), account_id, _emit
        )
        report = await run.run(strip_slash(state["request"]), history, context, _emit)
        chosen = state.get("route")
        route_agents: list[str] = list(chosen.agents) if chosen else [name]
        return Command(
            goto=_next_after(route_agents, name),
            update={"reports": [*(state.get("reports") or []), report]},
        )

    node.__name__ = name
    return node


async def _actor(state: ConversationState, deps: AgentDeps) -> Actor:
    """The acting user, loaded once by the router (a resumed old thread may lack it)."""
    actor = state.get("actor")
    if actor is None:
        actor = await asyncio.to_thread(deps.crm.actor, state["actor_id"])
    return actor


def _proposals(state: ConversationState) -> list[ProposedWrite]:
    return [p for report in state.get("reports") or [] for p in report.proposals]


async def negotiate_node(state: ConversationState, runtime: Runtime[AgentDeps]) -> dict[str, Any]:
    """Proposals that touch another domain are negotiated; agreed changes replace them."""
    deps = runtime.context
    if not _proposals(state):
        return {"negotiations": []}
    actor = await _actor(state, deps)
    reports = [r.model_copy() for r in state.get("reports") or []]
    # --- cross-team requests: the owning agent's findings and counter (agents/crossteam.py) ---
    reports = await prepare_requests(
        crm=deps.crm, actor=actor, reports=reports, thread_id=state["thread_id"], emit=_emit
    )
    proposals = _proposals({**state, "reports": reports})
    records = []
    for proposal in proposals:
        result = await negotiate(
            model=deps.model,
            crm=deps.crm,
            actor=actor,
            proposal=proposal,
            request=state["request"],
            max_rounds=deps.negotiation_rounds,
        )
        if result is None:
            continue
        text = readable(result)
        _emit(
            {
                "type": "negotiation",
                "proposal": proposal.summary,
                "outcome": result.outcome,
                "text": text,
            }
        )
        await asyncio.to_thread(
            deps.crm.audit_note,
            actor_id=actor.id,
            action="negotiation",
            outcome=result.outcome,
            reason=text,
            arguments={"transcript": [t.model_dump() for t in result.transcript]},
            proposal_id=proposal.id,
            thread_id=state["thread_id"],
        )
        if result.outcome == "agreed_with_changes":
            changed = await asyncio.to_thread(
                deps.crm.propose,
                proposal.tool,
                result.arguments,
                actor,
                proposal_id=f"{proposal.id}-n",
                thread_id=state["thread_id"],
                cross_team=is_request(proposal.facts),
            )
            if isinstance(changed, Proposal):
                _replace_proposal(reports, proposal.id, changed)
                result = result.model_copy(update={"proposal_id": changed.id})
            else:
                result = result.model_copy(
                    update={
                        "outcome": "escalated",
                        "reasons": [
                            *result.reasons,
                            f"the agreed change is invalid: {changed.message}",
                        ],
                    }
                )
        records.append(result)
    return {"reports": reports, "negotiations": records}


def _negotiation_of(state: ConversationState, proposal_id: str) -> Negotiation | None:
    return next((n for n in state.get("negotiations") or [] if n.proposal_id == proposal_id), None)


def _replace_proposal(reports: list[AgentReport], old_id: str, new: Proposal) -> None:
    for index, report in enumerate(reports):
        reports[index] = report.model_copy(
            update={
                "proposals": [
                    ProposedWrite(**new.model_dump(), agent=p.agent) if p.id == old_id else p
                    for p in report.proposals
                ]
            }
        )


async def gate(state: ConversationState, runtime: Runtime[AgentDeps]) -> dict[str, Any]:
    deps = runtime.context
    proposals = _proposals(state)
    if not proposals:
        return {"decisions": []}
    actor = await _actor(state, deps)
    escalated = {
        n.proposal_id: n for n in state.get("negotiations") or [] if n.outcome == "escalated"
    }
    extra = {
        pid: [
            RuleHit(
                "negotiation-escalated",
                DOMAIN_REVIEWER[DOMAIN_OF_TOOL.get(p.tool, "sales")],
                "Agents did not agree: " + "; ".join(n.reasons),
            )
        ]
        for p in proposals
        for pid, n in escalated.items()
        if p.id == pid
    }
    decisions = await asyncio.to_thread(deps.crm.classify, proposals, actor, extra_hits=extra)
    for proposal, decision in zip(proposals, decisions, strict=True):
        _emit(
            {
                "type": "gate",
                "proposal": proposal.summary,
                "needs_review": decision.needs_review,
                "verdict": decision.verdict,
                "reviewers": decision.reviewer_ids,
                "steps": [st.role for st in decision.steps],
                "rules": decision.rule_ids,
            }
        )
    return {"decisions": decisions}


async def execute(state: ConversationState, runtime: Runtime[AgentDeps]) -> dict[str, Any]:
    deps = runtime.context
    outcome = TurnOutcome()
    decisions: dict[str, GateDecision] = {d.proposal_id: d for d in state.get("decisions") or []}
    for proposal in _proposals(state):
        decision = decisions[proposal.id]
        if decision.verdict == "refused":
            outcome.refused.append(
                UnappliedWrite(
                    summary=proposal.summary, message=decision.refusal or "", tool=proposal.tool
                )
            )
            continue
        if decision.needs_review:
            negotiation = _negotiation_of(state, proposal.id)
            review = await asyncio.to_thread(
                deps.crm.request_review,
                proposal,
                decision,
                thread_id=state["thread_id"],
                ttl=timedelta(hours=deps.review_ttl_hours),
                context={
                    "negotiation": negotiation.model_dump() if negotiation else None,
                    "request": state["request"],
                },
            )
            outcome.pending.append(
                PendingWrite(
                    summary=proposal.summary,
                    approval_id=review["id"],
                    reviewer_ids=decision.reviewer_ids,
                    reviewer_role=decision.reviewer_role,
                    reasons=decision.reasons,
                    steps=[st.role for st in decision.steps],
                    tool=proposal.tool,
                )
            )
            continue
        result = await asyncio.to_thread(
            deps.crm.apply,
            proposal,
            decision,
            idempotency_key=f"{state['thread_id']}:{proposal.id}",
            thread_id=state["thread_id"],
        )
        if isinstance(result, ToolFailure):
            bucket = outcome.refused if result.kind == "refused" else outcome.failed
            bucket.append(
                UnappliedWrite(summary=proposal.summary, message=result.message, tool=proposal.tool)
            )
        else:
            outcome.committed.append(
                CommittedWrite(
                    summary=proposal.summary,
                    tool=proposal.tool,
                    message=result.result.get("message", ""),
                    record_id=result.result.get("record_id"),
                    before=proposal.before,
                    after=proposal.after,
                )
            )
        _emit(
            {
                "type": "commit",
                "proposal": proposal.summary,
                "ok": not isinstance(result, ToolFailure),
            }
        )
    return {"outcome": outcome}


async def respond(state: ConversationState, runtime: Runtime[AgentDeps]) -> dict[str, Any]:
    reply = compose_reply(state, runtime.context)
    return {
        "reply": reply,
        "history": [
            {"role": "user", "content": state["request"]},
            {"role": "assistant", "content": reply},
        ],
    }


def compose_reply(state: ConversationState, deps: AgentDeps) -> str:
    """What the user reads: the specialists' answers, then what was done and what waits."""
    reports = state.get("reports") or []
    outcome = state.get("outcome") or TurnOutcome()
    names = _names(deps, outcome)
    parts: list[str] = []
    for record in state.get("negotiations") or []:
        parts.append(readable(record))
    for report in reports:
        prefix = f"[{report.agent}] " if len(reports) > 1 else ""
        if report.reply:
            parts.append(prefix + report.reply)
        if report.error:
            parts.append(prefix + report.error)
        for step in report.trace:
            if step.kind == "write" and not step.ok:
                parts.append(f"{prefix}Not done: {step.summary}")
    language = language_of(state.get("request") or "")
    said = labels(language)
    if outcome.committed:
        contacts = _contact_names(deps)
        parts.append(
            said["done"]
            + "\n"
            + "\n".join(committed_line(c, language, contacts) for c in outcome.committed)
        )
    if outcome.pending:
        lines = []
        for p in outcome.pending:
            who = ", ".join(names.get(r, r) for r in p.reviewer_ids) or p.reviewer_role or ""
            lines.append(pending_line(p, who, language))
        parts.append(said["waiting"] + "\n" + "\n".join(lines))
    for bucket, label in ((outcome.refused, said["refused"]), (outcome.failed, said["not_done"])):
        for item in bucket:
            parts.append(f"{label} {item.message}")
    return "\n".join(parts).strip() or "I could not work that out; could you rephrase?"


def _contact_names(deps: AgentDeps) -> Callable[[list[str]], list[str]]:
    def names(contact_ids: list[str]) -> list[str]:
        try:
            known = deps.crm.contact_names(contact_ids)
        except Exception:  # noqa: BLE001 - a missing name must not fail the reply
            known = {}
        return [known.get(c, c) for c in contact_ids]

    return names


def _names(deps: AgentDeps, outcome: TurnOutcome) -> dict[str, str]:
    ids = {r for p in outcome.pending for r in p.reviewer_ids}
    names = {}
    for user_id in ids:
        try:
            names[user_id] = deps.crm.actor(user_id).name
        except Exception:  # noqa: BLE001 - a missing reviewer name must not fail the reply
            names[user_id] = user_id
    return names


def build_graph(*, checkpointer: Any = None):  # type: ignore[no-untyped-def]
    """The compiled conversation graph; pass a checkpointer for durable threads."""
    graph = StateGraph(ConversationState, context_schema=AgentDeps)
    graph.add_node("route", route)
    for name in SPECIALISTS:
        graph.add_node(name, _specialist(name))
    graph.add_node("negotiate", negotiate_node)
    graph.add_node("gate", gate)
    graph.add_node("execute", execute)
    graph.add_node("respond", respond)
    graph.add_edge(START, "route")
    graph.add_edge("negotiate", "gate")
    graph.add_edge("gate", "execute")
    graph.add_edge("execute", "respond")
    graph.add_edge("respond", END)
    return graph.compile(checkpointer=with_state_types(checkpointer))


def with_state_types(checkpointer: Any) -> Any:
    """The checkpointer, set to read back exactly the conversation state's own types.

    LangGraph's default serializer revives any class a checkpoint names (and warns that a later
    version will refuse unregistered ones); a thread resumed after a crash must not depend on
    that. The saver's serializer is replaced in place (the saver stays the one object its owner
    holds) by one that allows the types of `ConversationState` — the acting user, the route,
    reports, decisions, negotiations, the outcome — and nothing else beyond LangGraph's safe
    built-ins. A saver with its own serializer (e.g. an encrypting one) keeps it."""
    if checkpointer is None or isinstance(checkpointer, bool):
        return checkpointer
    if type(getattr(checkpointer, "serde", None)) is JsonPlusSerializer:
        checkpointer.serde = JsonPlusSerializer(allowed_msgpack_modules=sorted(state_types()))
    return checkpointer


__all__ = ["RouteDecision", "build_graph", "compose_reply"]
