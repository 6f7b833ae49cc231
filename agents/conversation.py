"""The channel-neutral conversation service: terminal, Slack and Teams all talk through this.

One call is one turn of one thread: the graph runs with a fresh LLM budget, its events stream to
the caller, and the thread's state is checkpointed so the conversation continues across
restarts and processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agents.graph import build_graph
from agents.llm_types import ChatModel
from agents.review import ReviewDeps, ReviewError, build_review_graph, describe_outcome
from agents.state import AgentDeps
from tools.claims import ClaimLedger, digest
from tools.errors import NotFound
from tools.service import CRMService, ReviewOutcome
from tools.tracing import turn_span
from tools.trail import channel_of, record_told

MAX_MESSAGE_CHARS = 8000
# Every checkpoint is written before the next step starts: a crash loses at most the step that
# was running, which re-runs idempotently. ("async" could lose steps whose effects committed.)
DURABILITY = "sync"


ReviewOpenedListener = Callable[[dict[str, Any]], Awaitable[None]]
RequesterToldListener = Callable[[str, str], Awaitable[None]]
OutcomeToldListener = Callable[[str, str, str], Awaitable[None]]


def stage_of(event: dict[str, Any]) -> str | None:
    """The status line a channel shows for an event: routing → sales agent →
    list_opportunities → waiting for review; None when the event does not change the stage."""
    kind = event.get("type")
    if kind == "status":
        return str(event.get("stage") or "working")
    if kind == "route":
        agents = event.get("agents") or []
        return f"{agents[0]} agent" if agents else "answering"
    if kind == "handoff":
        return f"{event['agent']} agent"
    if kind == "tool":
        return f"{event['agent']} agent · {event['tool']}"
    if kind == "grounding" and event.get("regenerated"):
        return f"{event['agent']} agent · checking figures"
    if kind == "negotiation":
        return "agents negotiating"
    if kind == "gate":
        return "waiting for review" if event.get("needs_review") else "committing"
    return None


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
        model: ChatModel | None,
        checkpointer: Any = None,
        max_steps: int = 5,
        review_ttl_hours: float = 72.0,
    ) -> None:
        self.crm = crm
        self.model = model
        # Review threads must be resumable, so they always have a checkpointer.
        checkpointer = checkpointer if checkpointer is not None else InMemorySaver()
        self.graph = build_graph(checkpointer=checkpointer)
        self.review_graph = build_review_graph(checkpointer=checkpointer)
        self.max_steps = max_steps
        self.review_ttl_hours = review_ttl_hours
        self._review_opened: list[ReviewOpenedListener] = []
        self._requester_told: list[RequesterToldListener] = []
        self._outcome_told: list[OutcomeToldListener] = []
        self._claim_ledger: ClaimLedger | None = None

    def subscribe(
        self,
        *,
        review_opened: ReviewOpenedListener | None = None,
        requester_told: RequesterToldListener | None = None,
        outcome_told: OutcomeToldListener | None = None,
    ) -> None:
        """Let a channel hear what happens outside a turn: `review_opened(review)` when a review
        request is opened (the row of `CRMService.reviews`; post it to the reviewer), and
        `requester_told(thread_id, message)` when a decision or expiry is told to the requester's
        thread (post it there). Called once per event in this process; a listener's failure is
        the listener's to report and does not undo the event. `outcome_told(thread_id, message,
        approval_id)` is `requester_told` with the request it is about."""
        if review_opened:
            self._review_opened.append(review_opened)
        if requester_told:
            self._requester_told.append(requester_told)
        if outcome_told:
            self._outcome_told.append(outcome_told)

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
        if self.model is None:
            raise ConversationError("No language model is configured for conversations.")
        try:
            self.crm.actor(user_id)
        except NotFound as exc:
            raise ConversationError(
                f"There is no warroom user '{user_id}', so I cannot act for you."
            ) from exc
        if on_event:
            # The first visible feedback, before anything slow: the turn has started.
            on_event({"type": "status", "stage": "routing"})
        notices = [n["message"] for n in await self.expire_due() if n["thread_id"] == thread_id]
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
        with turn_span(thread_id, user_id):
            async for mode, chunk in self.graph.astream(
                inputs,
                config,
                context=deps,
                stream_mode=["custom", "values"],
                durability=DURABILITY,
            ):
                if mode == "custom":
                    if chunk.get("type") != "reply_delta":  # the draft's words: shown, not kept
                        events.append(chunk)
                    if on_event:
                        on_event(chunk)
                else:
                    state = chunk
        outcome = _outcome_dict(state)
        for pending in outcome.get("pending", []):
            await self._open_review(pending["approval_id"])
        reply = state.get("reply", "")
        if notices:
            reply = "\n".join(notices) + "\n\n" + reply
        return TurnResult(
            thread_id=thread_id,
            reply=reply,
            events=events,
            outcome=outcome,
            reports=_reports_dicts(state),
            usage=model.budget.report(),
        )

    async def resume(self, thread_id: str) -> TurnResult | None:
        """Finish a turn a crash interrupted, from its last checkpoint; None if none is due.

        Nodes that had not finished run again; their side effects are idempotent."""
        config = {"configurable": {"thread_id": thread_id}}
        snapshot = await self.graph.aget_state(config)
        if not snapshot.next and not cut_short(snapshot):
            return None
        deps = AgentDeps(
            crm=self.crm,
            model=self.model.for_turn() if self.model else None,  # type: ignore[arg-type]
            max_steps=self.max_steps,
            review_ttl_hours=self.review_ttl_hours,
        )
        state = await self.graph.ainvoke(None, config, context=deps, durability=DURABILITY)
        outcome = _outcome_dict(state)
        for pending in outcome.get("pending", []):
            await self._open_review(pending["approval_id"])
        return TurnResult(
            thread_id=thread_id,
            reply=state.get("reply", ""),
            outcome=outcome,
            reports=_reports_dicts(state),
        )

    # ------------------------------------------------------------ human review

    def _review_deps(self) -> ReviewDeps:
        return ReviewDeps(self.crm, self._tell_requester)

    def _review_config(self, approval_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": f"review:{approval_id}"}}

    async def open_review(self, approval_id: str) -> None:
        """Open the review thread of a request made outside a chat turn (meeting-note ingestion,
        a channel); idempotent. Listeners hear `review_opened` once, when it is new."""
        await self._open_review(approval_id)

    async def _open_review(self, approval_id: str) -> None:
        """Start the review thread (idempotent: an existing thread is left as it is). Opened
        once across processes: two replicas starting the same thread at once would each run
        its input, and the second run could overwrite a decision the first had recorded."""
        config = self._review_config(approval_id)
        snapshot = await self.review_graph.aget_state(config)
        if snapshot.values and not cut_short(snapshot):
            return
        claims = self._claims()
        won = await claims.acquire("review-open", approval_id)
        snapshot = await self.review_graph.aget_state(config)
        if not won and snapshot.values and not cut_short(snapshot):
            return  # opened by another process
        # (opened once before, yet no thread: its checkpoints were lost — open it again)
        if snapshot.next or cut_short(snapshot):
            # An opener killed after its input was checkpointed: finish that run (a second
            # input on top of it would not start the thread cleanly).
            await self.review_graph.ainvoke(
                None, config, context=self._review_deps(), durability=DURABILITY
            )
        elif not snapshot.values:  # else: an opener that died after opening it
            await self.review_graph.ainvoke(
                {"approval_id": approval_id, "decision": None, "outcome": None, "error": None},
                config,
                context=self._review_deps(),
                durability=DURABILITY,
            )
        if won:
            await asyncio.to_thread(claims.done, "review-open", approval_id)
        if self._review_opened:
            rows = self.crm.reviews(status=None, approval_id=approval_id)
            for listener in self._review_opened:
                for row in rows:
                    await listener(row)

    async def decide(
        self,
        *,
        approval_id: str,
        reviewer_id: str,
        decision: str,
        comment: str | None = None,
        arguments: dict[str, Any] | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> TurnResult:
        """A reviewer's decision. Resumes the request's review thread (from any process); the
        requester's conversation is told the outcome. Deciding twice applies nothing twice."""
        if not self.crm.reviews(status=None, approval_id=approval_id):
            raise ReviewError(f"There is no review request '{approval_id}'.")
        await self._open_review(approval_id)  # recovers a request whose thread was never opened
        config = self._review_config(approval_id)
        snapshot = await self._finish_cut_short(config)
        if not snapshot.next:  # already decided: report, change nothing
            row = self.crm.reviews(status=None, approval_id=approval_id)[0]
            if row["status"] == "expired":
                raise ReviewError(
                    f"Review request {approval_id} expired at {row['expires_at']}; nothing was "
                    "changed. Ask the requester to raise it again."
                )
            by = f" by {row['decided_by']}" if row["decided_by"] else ""
            message = f"Already {row['status']}{by}: nothing was applied again."
            return TurnResult(
                thread_id=row["thread_id"] or "", reply=message, outcome={"review": row}
            )
        resume = {
            "decision": decision,
            "by": reviewer_id,
            "comment": comment,
            "arguments": arguments,
        }
        state = await self.review_graph.ainvoke(
            Command(resume=resume), config, context=self._review_deps(), durability=DURABILITY
        )
        if state.get("error"):
            raise ReviewError(state["error"])
        outcome = ReviewOutcome(**state["outcome"])
        if outcome.status == "pending" and self._review_opened:
            # One step approved, the next waits: its reviewers hear of it like a new request.
            for row in self.crm.reviews(status=None, approval_id=approval_id):
                for listener in self._review_opened:
                    await listener(row)
        if on_event:
            on_event({"type": "review", "approval_id": approval_id, "status": outcome.status})
        return TurnResult(
            thread_id=outcome.thread_id or "",
            reply=state.get("message") or "",
            outcome={"review": outcome.model_dump()},
        )

    async def _finish_cut_short(self, config: dict[str, Any]) -> Any:
        """The review thread's state, after finishing a run a crash cut short (see
        `cut_short`): a decision recorded just before the kill is then carried through."""
        snapshot = await self.review_graph.aget_state(config)
        if cut_short(snapshot):
            await self.review_graph.ainvoke(
                None, config, context=self._review_deps(), durability=DURABILITY
            )
            snapshot = await self.review_graph.aget_state(config)
        return snapshot

    async def recover(self) -> int:
        """Finish review threads a crash interrupted (a decision applied but not yet told, an
        expiry not yet reported) and open threads for requests that never got one."""
        finished = 0
        for row in self.crm.reviews(status=None):
            config = self._review_config(row["id"])
            snapshot = await self.review_graph.aget_state(config)
            if cut_short(snapshot):
                snapshot = await self._finish_cut_short(config)
                finished += 1
            if not snapshot.values:
                if row["status"] == "pending":
                    await self._open_review(row["id"])
                continue
            if snapshot.next == ("wait",):
                if row["status"] != "pending":
                    # Decided in the CRM, but the crash came before the thread recorded it:
                    # replay the recorded decision (the CRM applies nothing twice).
                    decision = {"expired": "expire", "rejected": "reject"}.get(
                        row["status"], "approve"
                    )
                    resume = {"decision": decision, "by": row["decided_by"] or "system"}
                    await self.review_graph.ainvoke(
                        Command(resume=resume),
                        config,
                        context=self._review_deps(),
                        durability=DURABILITY,
                    )
                    finished += 1
            elif snapshot.next:
                await self.review_graph.ainvoke(
                    None, config, context=self._review_deps(), durability=DURABILITY
                )
                finished += 1
        return finished

    async def expire_due(self) -> list[dict[str, str]]:
        """Expire overdue requests; each review thread ends by telling its requester."""
        notices = []
        for outcome in self.crm.expire_reviews():
            await self._open_review(outcome.approval_id)
            config = self._review_config(outcome.approval_id)
            state = await self.review_graph.ainvoke(
                Command(resume={"decision": "expire"}),
                config,
                context=self._review_deps(),
                durability=DURABILITY,
            )
            notices.append(
                {
                    "thread_id": outcome.thread_id or "",
                    "requested_by": outcome.requested_by,
                    "message": state.get("message") or describe_outcome(outcome, {}),
                }
            )
        return notices

    async def _tell_requester(self, thread_id: str, message: str, approval_id: str) -> None:
        """Add a review outcome to the requester's conversation — once, however many tellers
        (replicas, re-runs after a crash) get here at the same moment (tools/claims.py)."""
        claims = self._claims()
        key = notice_key(approval_id, thread_id, message)
        if not await claims.acquire("notice", key):
            return  # told by another teller
        history = await self.history(thread_id)
        if not any(m.get("content") == message for m in history):
            config = {"configurable": {"thread_id": thread_id}}
            await self.graph.aupdate_state(
                config, {"history": [{"role": "assistant", "content": message}]}, as_node="respond"
            )
            # On the record for the decision trail (tools/trail.py): who was told, where.
            await asyncio.to_thread(
                record_told,
                self.crm,
                approval_id=approval_id,
                thread_id=thread_id,
                channel=channel_of(thread_id),
                message=message,
            )
        # else: a teller that died after writing it; the conversation holds it already
        await asyncio.to_thread(claims.done, "notice", key)
        for listener in self._requester_told:
            await listener(thread_id, message)
        for told in self._outcome_told:
            await told(thread_id, message, approval_id)

    def _claims(self) -> ClaimLedger:
        if self._claim_ledger is None:
            self._claim_ledger = ClaimLedger(self.crm.db)
        return self._claim_ledger

    async def history(self, thread_id: str) -> list[dict[str, str]]:
        snapshot = await self.graph.aget_state({"configurable": {"thread_id": thread_id}})
        return list((snapshot.values or {}).get("history") or [])


def cut_short(snapshot: Any) -> bool:
    """A run killed after its step's tasks saved their writes but before the step's checkpoint:
    the state shows those writes and no next node, as if the run had ended. It has not; running
    on from the checkpoint (input None) applies the saved writes and goes on, re-running none of
    the finished tasks."""
    return not snapshot.next and bool(snapshot.tasks)


def notice_key(approval_id: str, thread_id: str, message: str) -> str:
    """The claim of telling `message` about a request to a conversation (tools/claims.py)."""
    return f"{approval_id}|{thread_id}|{digest(message)}"


# The graph's state is typed; a turn's result crosses into the channels as plain JSON data.


def _outcome_dict(state: dict[str, Any]) -> dict[str, Any]:
    outcome = state.get("outcome")
    return outcome.model_dump(mode="json") if outcome is not None else {}


def _reports_dicts(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in state.get("reports") or []]
