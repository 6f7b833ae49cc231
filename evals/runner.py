"""Run one scenario: build its world, play its turns through the conversation service, collect
what happened from the CRM (review requests, audit log) and check it against `expect:`."""

from __future__ import annotations

import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select

from agents.conversation import ConversationError, ConversationService
from agents.llm_types import ChatModel
from evals.checks import Check, check, figures_grounded, proposed_calls, run_checks
from evals.environment import ScenarioWorld, scenario_world
from evals.matching import normalise
from evals.model import ScenarioModel
from evals.scenario import LoadFailure, Review, Scenario, ScenarioFile
from evals.transcripts import MeetingOutcomes, ingest_turn, meeting_checks
from tools.models import AuditEvent
from tools.policy import PolicyError
from warroom.app import conversation_service

__all__ = ["LLMKind", "ModelFactory", "run_scenario", "scenario_trace"]

LLMKind = Literal["scripted", "local", "openai"]
# Given the scenario, the model its conversation uses (a fresh script, or a shared real model).
ModelFactory = Callable[[Scenario], ChatModel]


def _result(
    scenario_id: str,
    checks: list[Check],
    *,
    approvals: list[dict[str, Any]] | None = None,
    writes: list[dict[str, Any]] | None = None,
    refused: list[dict[str, Any]] | None = None,
    proposed: list[dict[str, Any]] | None = None,
    reply: str = "",
    tokens: dict[str, int] | None = None,
    llm_calls: int = 0,
    seconds: float = 0.0,
) -> dict[str, Any]:
    return {
        "id": scenario_id,
        "passed": bool(checks) and all(c["passed"] for c in checks),
        "checks": checks,
        "approvals": approvals or [],
        "writes": writes or [],
        "refused": refused or [],
        "proposed": proposed or [],
        "reply": reply,
        "tokens": tokens or {"prompt": 0, "completion": 0},
        "llm_calls": llm_calls,
        "seconds": round(seconds, 3),
    }


def failed_to_load(failure: LoadFailure) -> dict[str, Any]:
    return _result(failure.id, [check("load", False, failure.error)])


# What happened, read back from the CRM -------------------------------------------------------


def _approvals(world: ScenarioWorld) -> list[dict[str, Any]]:
    return [
        {
            "id": row["id"],
            "tool": row["tool"],
            "args": normalise(row["arguments"]),
            "reviewer_ids": row["reviewer_ids"],
            "reviewer_role": row["reviewer_role"],
            "rules": row["rule_ids"],
            "status": row["status"],
            "requested_by": row["requested_by"],
            "decided_by": row["decided_by"],
            "edited_args": normalise(row.get("edited_arguments")),
        }
        for row in world.crm.reviews(status=None)
    ]


def _audit(world: ScenarioWorld, outcome: str) -> list[AuditEvent]:
    with world.db.read_session() as session:
        stmt = select(AuditEvent).where(AuditEvent.outcome == outcome).order_by(AuditEvent.id)
        return list(session.scalars(stmt))


def _writes(world: ScenarioWorld) -> list[dict[str, Any]]:
    return [
        {
            "tool": e.action,
            "args": normalise(e.arguments or {}),
            "record_id": e.record_id,
            "actor_id": e.actor_id,
            "approval_id": e.approval_id,
        }
        for e in _audit(world, "committed")
    ]


def _refused(world: ScenarioWorld) -> list[dict[str, Any]]:
    return [
        {
            "tool": e.action,
            "args": normalise(e.arguments or {}),
            "actor_id": e.actor_id,
            "reason": e.reason,
        }
        for e in _audit(world, "refused")
    ]


# Playing the turns ---------------------------------------------------------------------------


class TurnFailed(Exception):
    """A turn the runner could not play (not a refusal the scenario may expect)."""


def _pick_review(world: ScenarioWorld, review: Review) -> str:
    rows = world.crm.reviews(status=None)  # oldest first
    if review.approval is not None:
        if review.approval > len(rows):
            raise TurnFailed(
                f"review.approval {review.approval}: only {len(rows)} review request(s) raised"
            )
        return str(rows[review.approval - 1]["id"])
    if review.tool is not None:
        rows = [r for r in rows if r["tool"] == review.tool]
    if not rows:
        what = f" for {review.tool}" if review.tool else ""
        raise TurnFailed(f"there is no review request{what} to decide")
    pending = [r for r in rows if r["status"] == "pending"]
    # No pending request left: decide the latest one again (a double click).
    return str((pending[0] if pending else rows[-1])["id"])


async def _play(
    scenario: Scenario,
    world: ScenarioWorld,
    convo: ConversationService,
    trace: list[dict[str, Any]],
    review_refusals: list[dict[str, Any]],
    usage: dict[str, int],
    meetings: MeetingOutcomes,
) -> str:
    from agents.review import ReviewError

    reply = ""
    for number, turn in enumerate(scenario.turns, 1):
        if turn.user is not None:
            try:
                result = await convo.send(
                    thread_id=scenario.id, user_id=scenario.actor, text=turn.user
                )
            except ConversationError as exc:
                reply = str(exc)
                trace.append({"turn": number, "user": turn.user, "refused": reply})
                continue
            reply = result.reply
            total = (result.usage or {}).get("total") or {}
            usage["prompt"] += int(total.get("prompt_tokens", 0))
            usage["completion"] += int(total.get("completion_tokens", 0))
            usage["calls"] += int(total.get("calls", 0))
            trace.append(
                {
                    "turn": number,
                    "user": turn.user,
                    "reply": reply,
                    "events": result.events,
                    "outcome": result.outcome,
                }
            )
        elif turn.review is not None:
            review = turn.review
            approval_id = _pick_review(world, review)
            try:
                result = await convo.decide(
                    approval_id=approval_id,
                    reviewer_id=review.by,
                    decision=review.decision,
                    comment=review.comment,
                    arguments=review.arguments,
                )
            except ReviewError as exc:
                reply = exc.user_message
                review_refusals.append(
                    {"turn": number, "by": review.by, "approval_id": approval_id, "message": reply}
                )
                trace.append({"turn": number, "review": review.model_dump(), "refused": reply})
                continue
            reply = result.reply
            trace.append(
                {
                    "turn": number,
                    "review": review.model_dump(),
                    "approval_id": approval_id,
                    "reply": reply,
                    "outcome": result.outcome,
                }
            )
        elif turn.transcript is not None:
            trace.append(await ingest_turn(scenario, convo, turn.transcript, number, meetings))
        elif turn.wait is not None:
            step = timedelta(hours=turn.wait.hours, days=turn.wait.days)
            world.clock.current = world.clock.current + step
            trace.append({"turn": number, "wait_until": world.clock.current.isoformat()})
    return reply


async def run_scenario(
    item: ScenarioFile | LoadFailure,
    *,
    llm: LLMKind,
    model_factory: ModelFactory | None = None,
    trace_sink: dict[str, Any] | None = None,
    review_ttl_hours: float = 72.0,
) -> dict[str, Any]:
    """The result dict of one run; never raises for a scenario's own failures."""
    if isinstance(item, LoadFailure):
        return failed_to_load(item)
    scenario = item.scenario
    started = time.perf_counter()
    if llm == "scripted" and scenario.script is None:
        return _result(
            scenario.id,
            [check("script", False, "--llm scripted needs a `script:` in the scenario")],
        )
    trace: list[dict[str, Any]] = []
    review_refusals: list[dict[str, Any]] = []
    usage = {"prompt": 0, "completion": 0, "calls": 0}
    meetings = MeetingOutcomes()
    checks: list[Check] = []
    scripted: ScenarioModel | None = None
    reply = ""
    approvals: list[dict[str, Any]] = []
    writes: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    proposed: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix=f"warroom-eval-{scenario.id[:40]}-") as tmp:
        try:
            async with scenario_world(scenario, Path(tmp)) as world:
                if llm == "scripted":
                    scripted = ScenarioModel.from_steps(
                        [s.as_step_dict() for s in scenario.script or []]
                    )
                    model: ChatModel = scripted
                else:
                    assert model_factory is not None, "a real model run needs a model factory"
                    model = model_factory(scenario)
                convo = conversation_service(
                    world.crm,
                    model,
                    checkpointer=world.checkpointer,
                    review_ttl_hours=review_ttl_hours,
                )
                try:
                    reply = await _play(
                        scenario, world, convo, trace, review_refusals, usage, meetings
                    )
                    checks.append(check("turns", True, f"{len(scenario.turns)} turn(s) played"))
                except TurnFailed as exc:
                    checks.append(check("turns", False, f"turn {len(trace) + 1}: {exc}"))
                approvals, writes, refused = _approvals(world), _writes(world), _refused(world)
                proposed = proposed_calls(trace)
                checks += run_checks(
                    scenario.expect,
                    approvals=approvals,
                    writes=writes,
                    refused=refused,
                    review_refusals=review_refusals,
                    reply=reply,
                    db=world.db,
                    proposed=proposed,
                )
                if scenario.expect.meeting is not None:
                    checks += meeting_checks(scenario.expect.meeting, meetings)
                checks.append(figures_grounded(trace))
        except PolicyError as exc:
            # A broken policy stops the scenario before any turn, as it stops `warroom` at start.
            said = str(exc)
            expected = scenario.expect.policy_refused
            missing = [s for s in expected if s not in said]
            checks.append(
                check(
                    "policy refused",
                    bool(expected) and not missing,
                    f"refused: {said}" + (f" (missing: {missing})" if missing else ""),
                )
            )
        except Exception as exc:  # noqa: BLE001 - a crashing scenario fails alone
            detail = f"{type(exc).__name__}: {exc}"
            checks.append(check("run", False, detail))
            trace.append({"crash": traceback.format_exc()})
        else:
            if scenario.expect.policy_refused:
                checks.append(check("policy refused", False, "the policy was accepted"))
    if scripted is not None:
        left = scripted.unplayed()
        checks.append(
            check(
                "script exhausted",
                not left,
                f"{len(left)} step(s) never asked for: {', '.join(left)}" if left else "all played",
            )
        )
        if scripted.log.errors:
            checks.append(check("script followed", False, " | ".join(scripted.log.errors)))
    if trace_sink is not None:
        trace_sink.update(scenario_trace(scenario, trace, review_refusals))
    return _result(
        scenario.id,
        checks,
        approvals=approvals,
        writes=writes,
        refused=refused,
        proposed=proposed,
        reply=reply,
        tokens={"prompt": usage["prompt"], "completion": usage["completion"]},
        llm_calls=usage["calls"],
        seconds=time.perf_counter() - started,
    )


def scenario_trace(
    scenario: Scenario, turns: list[dict[str, Any]], review_refusals: list[dict[str, Any]]
) -> dict[str, Any]:
    """What each turn said and did, for reading a failure (written beside the result)."""
    return {
        "id": scenario.id,
        "title": scenario.title,
        "tags": scenario.tags,
        "channel": scenario.channel,
        "actor": scenario.actor,
        "today": scenario.today.isoformat(),
        "turns": normalise(turns),
        "review_refusals": review_refusals,
    }
