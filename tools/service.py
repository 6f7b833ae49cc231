"""The CRM service: the one door through which agents, channels and the CLI read and change the
CRM. Reads run at once. A write is first *proposed* (validated, permission-checked, described with
before/after and policy facts, nothing changed), then *classified* (`classify`: commit now, review
by which roles in which order, or refused), then *applied* exactly once per idempotency key, in
one transaction with its audit event (`apply` for what the gate cleared, `decide_review` for what
reviewers approved). Chat turns, review decisions (edits included) and meeting-note ingestion all
go through these two entry points; nothing else classifies or commits a write.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

import tools.catalogue  # noqa: F401  (registers the tool catalogue)
from tools import crossteam
from tools.context import AccountRecall, Actor, Clock, KnowledgeSearch, SystemClock, ToolContext
from tools.db import Database
from tools.errors import (
    Conflict,
    DuplicateKeyMismatch,
    InvalidArguments,
    NotFound,
    PermissionRefused,
    ToolError,
    ToolFailure,
)
from tools.models import Approval, AuditEvent, Contact, ToolExecution, User
from tools.policy import Policy, RuleHit, WriteToClassify
from tools.registry import REGISTRY, ToolSpec, WritePlan
from tools.tracing import traced_tool_call


class Proposal(BaseModel):
    """A described, not yet committed write."""

    id: str
    tool: str
    arguments: dict[str, Any]
    actor_id: str
    record_type: str
    record_id: str
    account_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any]
    facts: dict[str, Any]
    expected_version: int | None
    summary: str


class ReviewStep(BaseModel):
    """One approval step: a role, the rules that ask for it and who may give it."""

    role: str
    rule_ids: list[str]
    reasons: list[str]
    reviewer_ids: list[str]


Verdict = Literal["commit", "review", "refused"]


class GateDecision(BaseModel):
    """What the gate says about one proposal for one actor. `steps` are taken one after another
    (the policy's `approval_order`); `reviewer_role`/`reviewer_ids` name the first step."""

    proposal_id: str
    verdict: Verdict = "commit"
    needs_review: bool = False
    steps: list[ReviewStep] = []
    rule_ids: list[str] = []
    reasons: list[str] = []
    reviewer_role: str | None = None
    reviewer_ids: list[str] = []
    refusal: str | None = None
    # Hits that come from outside the policy file (agents that did not agree, a field a person
    # typed): kept with a review request so an edit is classified with them again.
    extra_hits: list[dict[str, str]] = []


class Execution(BaseModel):
    ok: bool = True
    proposal_id: str
    tool: str
    result: dict[str, Any]
    replayed: bool = False


def arguments_hash(tool: str, arguments: dict[str, Any]) -> str:
    canonical = json.dumps({"tool": tool, "arguments": arguments}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class CRMService:
    def __init__(
        self,
        db: Database,
        *,
        policy: Policy,
        clock: Clock | None = None,
        knowledge: KnowledgeSearch | None = None,
        memory: AccountRecall | None = None,
    ) -> None:
        self.db = db
        self.policy = policy
        self.clock = clock or SystemClock()
        self.knowledge = knowledge
        self.memory = memory

    # ------------------------------------------------------------ users

    def actor(self, user_id: str) -> Actor:
        with self.db.read_session() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound("user", user_id)
            return Actor.from_user(user)

    def contact_names(self, contact_ids: list[str]) -> dict[str, str]:
        """The names of contacts a committed write named, for its done line (the write already
        passed their visibility); unknown ids are left out."""
        with self.db.read_session() as session:
            found = session.scalars(select(Contact).where(Contact.id.in_(contact_ids)))
            return {c.id: c.name for c in found}

    def _context(self, session: Session, actor: Actor, **extra: Any) -> ToolContext:
        return ToolContext(
            session=session,
            actor=actor,
            clock=self.clock,
            knowledge=self.knowledge,
            extra=extra,
            memory=self.memory,
        )

    # ------------------------------------------------------------ reads

    @traced_tool_call
    def read(self, tool: str, arguments: dict[str, Any], actor: Actor) -> dict[str, Any]:
        """Run a read tool; returns the result, or a ToolFailure as a dict."""
        try:
            spec = self._spec(tool, "read")
            args = _validate(spec, arguments)
            with self.db.read_session() as session:
                result = spec.fn(self._context(session, actor), args)
            return {"ok": True, **result.model_dump(mode="json")}
        except ToolError as exc:
            return exc.to_failure(tool).model_dump(mode="json")

    # ------------------------------------------------------------ writes

    def propose(
        self,
        tool: str,
        arguments: dict[str, Any],
        actor: Actor,
        *,
        proposal_id: str | None = None,
        thread_id: str | None = None,
        audit_refusal: bool = True,
        cross_team: bool = False,
    ) -> Proposal | ToolFailure:
        """Describe a write without making it. Refusals are audited (unless `audit_refusal` is
        off: a dry run writes nothing, not even that) and never queued. With `cross_team`, a
        write refused by role that another team owns becomes a cross-team request instead
        (tools/crossteam.py): planned within the owning team's rules, marked in its facts."""
        proposal_id = proposal_id or f"prop-{uuid.uuid4().hex[:12]}"
        try:
            spec = self._spec(tool, "write")
            args = _validate(spec, arguments)
            with self.db.read_session() as session:
                try:
                    plan: WritePlan = spec.fn(
                        self._context(session, actor, id_seed=proposal_id), args
                    )
                except PermissionRefused as refusal:
                    # --- cross-team request hook (tools/crossteam.py) ---
                    if not cross_team:
                        raise
                    given = args.model_dump(mode="json", exclude_unset=True)
                    delegation = crossteam.delegate(session, actor, tool, given, refusal)
                    ctx = self._context(session, delegation.acting_as, id_seed=proposal_id)
                    plan = spec.fn(ctx, args)
                    plan.facts[crossteam.FACT] = delegation.request.model_dump(mode="json")
        except ToolError as exc:
            failure = exc.to_failure(tool)
            if failure.kind == "refused" and audit_refusal:
                self._audit_refusal(actor, tool, arguments, failure, proposal_id, thread_id)
            return failure
        return Proposal(
            id=proposal_id,
            tool=tool,
            arguments=args.model_dump(mode="json", exclude_unset=True),
            actor_id=actor.id,
            record_type=plan.record_type,
            record_id=plan.record_id,
            account_id=plan.account_id,
            before=plan.before,
            after=json.loads(json.dumps(plan.after, default=str)),
            facts=json.loads(json.dumps(plan.facts, default=str)),
            expected_version=plan.expected_version,
            summary=plan.summary,
        )

    def classify(
        self,
        proposals: Sequence[Proposal],
        actor: Actor,
        *,
        extra_hits: dict[str, list[RuleHit]] | None = None,
    ) -> list[GateDecision]:
        """THE gate: classify a plan's proposals for the actor — commit now, review by which
        roles in which order, or refused (nobody but the actor could approve it).

        `extra_hits` adds review that does not come from the policy file (agents that did not
        agree, a meeting note overwriting what a person typed); it can only add review."""
        hits_per = self.policy.classify_plan([WriteToClassify(p.tool, p.facts) for p in proposals])
        extra = extra_hits or {}
        return [
            self._decide(p, [*hits, *extra.get(p.id, [])], actor, extra.get(p.id, []))
            for p, hits in zip(proposals, hits_per, strict=True)
        ]

    def gate(self, proposals: Sequence[Proposal], actor: Actor) -> list[GateDecision]:
        """The same as `classify` without extra hits (kept for callers of the older name)."""
        return self.classify(proposals, actor)

    def _decide(
        self, proposal: Proposal, hits: list[RuleHit], actor: Actor, extra: list[RuleHit]
    ) -> GateDecision:
        # --- cross-team request hook: the owning lead decides first (tools/crossteam.py) ---
        hits = crossteam.with_request_hit(proposal.facts, hits)
        if not hits:
            return GateDecision(proposal_id=proposal.id)
        team = proposal.facts.get("account_team")
        steps = []
        for role in self.policy.order([h.reviewer for h in hits]):
            mine = [h for h in hits if h.reviewer == role]
            steps.append(
                ReviewStep(
                    role=role,
                    rule_ids=list(dict.fromkeys(h.rule_id for h in mine)),
                    reasons=list(dict.fromkeys(h.reason for h in mine)),
                    reviewer_ids=self.reviewers(
                        role, team if isinstance(team, str) else None, actor
                    ),
                )
            )
        nobody = [s.role for s in steps if not s.reviewer_ids]
        return GateDecision(
            proposal_id=proposal.id,
            verdict="refused" if nobody else "review",
            needs_review=not nobody,
            steps=steps,
            rule_ids=list(dict.fromkeys(h.rule_id for h in hits)),
            reasons=list(dict.fromkeys(h.reason for h in hits)),
            reviewer_role=steps[0].role,
            reviewer_ids=steps[0].reviewer_ids,
            refusal=(
                f"Nobody but you could approve this ({', '.join(nobody)}); nothing was changed."
                if nobody
                else None
            ),
            extra_hits=[
                {"rule_id": h.rule_id, "reviewer": h.reviewer, "reason": h.reason} for h in extra
            ],
        )

    def apply(
        self,
        proposal: Proposal,
        clearance: GateDecision,
        *,
        idempotency_key: str | None = None,
        thread_id: str | None = None,
    ) -> Execution | ToolFailure:
        """Commit a proposal the gate cleared for commit now. A proposal that needs review is
        applied only by `decide_review`, once every step approved."""
        if clearance.proposal_id != proposal.id or clearance.verdict != "commit":
            why = clearance.refusal or "it needs review first"
            return ToolFailure(
                ok=False,
                tool=proposal.tool,
                kind="refused",
                rule="policy",
                message=f"Not committed: {proposal.summary} — {why}.",
            )
        return self.execute(proposal, idempotency_key=idempotency_key, thread_id=thread_id)

    def reviewers(self, role: str, team: str | None, actor: Actor) -> list[str]:
        """Who may decide: the role for the account's team; never the requester themself."""
        with self.db.read_session() as session:
            users = session.scalars(select(User).order_by(User.id)).all()
        if role == "manager":
            chosen = [u.id for u in users if u.id == actor.manager_id]
        else:
            holders = [u for u in users if role in (u.roles or [])]
            same_team = [u.id for u in holders if team is not None and u.team == team]
            chosen = same_team or [u.id for u in holders]
        chosen = [uid for uid in chosen if uid != actor.id]
        if not chosen and actor.manager_id:
            chosen = [actor.manager_id]
        if not chosen:
            chosen = [u.id for u in users if "admin" in (u.roles or []) and u.id != actor.id]
        return chosen

    @traced_tool_call
    def execute(
        self,
        proposal: Proposal,
        *,
        idempotency_key: str | None = None,
        approval_id: str | None = None,
        thread_id: str | None = None,
        reason: str | None = None,
        in_transaction: Callable[[Session], None] | None = None,
    ) -> Execution | ToolFailure:
        """Commit a proposal exactly once per idempotency key, with its audit event.

        `in_transaction` runs inside the same transaction before it commits (a review decision
        is recorded atomically with the write it allows); raising there writes nothing."""
        key = idempotency_key or f"proposal:{proposal.id}"
        digest = arguments_hash(proposal.tool, proposal.arguments)
        try:
            spec = self._spec(proposal.tool, "write")
            args = _validate(spec, proposal.arguments)
            with self.db.session() as session:
                stored = self._stored(session, key, digest, proposal.tool)
                if stored is not None:
                    return stored.model_copy(update={"proposal_id": proposal.id})
                user = session.get(User, proposal.actor_id)  # roles as they are now
                if user is None:
                    raise NotFound("user", proposal.actor_id)
                actor = Actor.from_user(user)
                # Claim the key first: a concurrent duplicate blocks here and then fails.
                claim = ToolExecution(
                    idempotency_key=key,
                    tool=proposal.tool,
                    arguments_hash=digest,
                    actor_id=actor.id,
                    result={},
                    created_at=self.clock.now(),
                )
                session.add(claim)
                session.flush()
                ctx = self._context(session, actor, id_seed=proposal.id)
                plan: WritePlan = spec.fn(ctx, args)  # permissions re-checked on fresh state
                if (
                    proposal.expected_version is not None
                    and plan.expected_version is not None
                    and plan.expected_version != proposal.expected_version
                ):
                    raise Conflict(
                        f"{proposal.record_type} {proposal.record_id} changed since this write was "
                        f"proposed (version {proposal.expected_version}, now "
                        f"{plan.expected_version}); look at it again and re-propose."
                    )
                result = plan.apply()
                session.add(
                    AuditEvent(
                        at=self.clock.now(),
                        actor_id=actor.id,
                        action=proposal.tool,
                        outcome="committed",
                        record_type=plan.record_type,
                        record_id=plan.record_id,
                        arguments=proposal.arguments,
                        before=plan.before,
                        after=result.record,
                        reason=reason,
                        proposal_id=proposal.id,
                        approval_id=approval_id,
                        idempotency_key=key,
                        thread_id=thread_id,
                    )
                )
                claim.result = result.model_dump(mode="json")
                if in_transaction is not None:
                    in_transaction(session)
            return Execution(proposal_id=proposal.id, tool=proposal.tool, result=claim.result)
        except StaleDataError:
            return Conflict(
                f"{proposal.record_type} {proposal.record_id} was changed by someone else while "
                "this write was being committed; nothing was written. Look again and retry."
            ).to_failure(proposal.tool)
        except IntegrityError:
            # Lost a race for the same idempotency key: return what the winner stored. A winner
            # with other arguments (an approve racing an edit) is a failure, not a traceback;
            # decide_review then reports the request as decided meanwhile.
            try:
                with self.db.read_session() as session:
                    stored = self._stored(session, key, digest, proposal.tool)
            except DuplicateKeyMismatch as mismatch:
                return mismatch.to_failure(proposal.tool)
            if stored is not None:
                return stored.model_copy(update={"proposal_id": proposal.id})
            raise
        except ToolError as exc:
            failure = exc.to_failure(proposal.tool)
            if failure.kind == "refused":
                self._audit_refusal(
                    self._safe_actor(proposal.actor_id),
                    proposal.tool,
                    proposal.arguments,
                    failure,
                    proposal.id,
                    thread_id,
                )
            return failure

    def call(
        self,
        tool: str,
        arguments: dict[str, Any],
        actor: Actor,
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Run a tool directly, without the policy gate (administrative use and tests)."""
        spec = REGISTRY.get(tool)
        if spec is None or spec.kind == "read":
            return self.read(tool, arguments, actor)
        proposal = self.propose(tool, arguments, actor)
        if isinstance(proposal, ToolFailure):
            return proposal.model_dump(mode="json")
        outcome = self.execute(proposal, idempotency_key=idempotency_key)
        if isinstance(outcome, ToolFailure):
            return outcome.model_dump(mode="json")
        return {"ok": True, **outcome.result, "replayed": outcome.replayed}

    # ------------------------------------------------------------ reviews

    def request_review(
        self,
        proposal: Proposal,
        decision: GateDecision,
        *,
        thread_id: str | None,
        ttl: timedelta,
        context: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a review request for a held proposal; asking twice returns the first one."""
        approval_id = f"appr-{proposal.id.removeprefix('prop-')}"
        with self.db.session() as session:
            existing = session.get(Approval, approval_id)
            if existing is None:
                now = self.clock.now()
                existing = Approval(
                    id=approval_id,
                    proposal_id=proposal.id,
                    thread_id=thread_id,
                    tool=proposal.tool,
                    arguments=proposal.arguments,
                    requested_by=proposal.actor_id,
                    reviewer_role=decision.reviewer_role or "admin",
                    reviewer_ids=decision.reviewer_ids,
                    rule_ids=decision.rule_ids,
                    reasons=decision.reasons,
                    context={
                        "proposal": proposal.model_dump(mode="json"),
                        # Argument values the model took only from data (agents/untrusted.py).
                        "untrusted_arguments": proposal.facts.get("untrusted_arguments") or [],
                        **(context or {}),
                        # Multi-step approval: the steps, which one waits, who approved what.
                        "steps": [st.model_dump() for st in decision.steps],
                        "step": 0,
                        "revision": 0,
                        "approvals": [],
                        "edits": [],
                        "extra_hits": decision.extra_hits,
                        "requested_arguments": proposal.arguments,
                        "requested_summary": proposal.summary,
                    },
                    status="pending",
                    created_at=now,
                    expires_at=now + ttl,
                )
                session.add(existing)
                try:
                    session.flush()
                except IntegrityError:
                    # asked at the same moment by another process (two replicas ingesting
                    # the same transcript): theirs is the request
                    session.rollback()
                    existing = session.get(Approval, approval_id)
                    if existing is None:
                        raise
            return _approval_dict(existing)

    def review_outcome(self, approval_id: str) -> ReviewOutcome:
        """The outcome of a review request as its requester is told it (applied values,
        approvers, the edit), for whoever reports it later (e.g. "while you were away")."""
        with self.db.read_session() as session:
            row = session.get(Approval, approval_id)
            if row is None:
                raise NotFound("review request", approval_id)
            return _outcome(row, already=True)

    def reviews(
        self,
        *,
        reviewer_id: str | None = None,
        status: str | None = "pending",
        approval_id: str | None = None,
        requested_by: str | None = None,
    ) -> list[dict[str, Any]]:
        stmt = select(Approval).order_by(Approval.created_at, Approval.id)
        if status:
            stmt = stmt.where(Approval.status == status)
        if approval_id:
            stmt = stmt.where(Approval.id == approval_id)
        if requested_by:
            stmt = stmt.where(Approval.requested_by == requested_by)
        with self.db.read_session() as session:
            rows = [_approval_dict(a) for a in session.scalars(stmt)]
        if reviewer_id:
            rows = [r for r in rows if reviewer_id in r["reviewer_ids"]]
        return rows

    def decide_review(
        self,
        approval_id: str,
        *,
        reviewer_id: str,
        decision: str,
        comment: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> ReviewOutcome:
        """Apply a reviewer's decision to the step that waits, exactly once.

        Nobody decides their own request (admins included); an admin may decide any other
        step. A rejection ends the request. An approval covers the waiting step and every other
        step whose role the decider holds; if steps remain, the request waits for the next one.
        An edit is a proposal: values only (an identifying argument is refused by name), and it
        is classified again — what it now needs and the decider cannot give becomes the next
        step. The last approval and the write it allows are one transaction."""
        if decision not in ("approve", "reject", "edit"):
            raise ReviewRefused(f"'{decision}' is not a decision; use approve, reject or edit.")
        with self.db.read_session() as session:
            approval = session.get(Approval, approval_id)
            if approval is None:
                raise ReviewRefused(f"There is no review request '{approval_id}'.")
            reviewer = session.get(User, reviewer_id)
        if approval.status != "pending":
            return _outcome(approval, already=True)
        if approval.expires_at is not None and self.clock.now() >= approval.expires_at:
            expired = self._close_review(approval_id, "expired", None, "The request expired.")
            raise ReviewRefused(
                f"Review request {approval_id} expired at {approval.expires_at:%Y-%m-%d %H:%M} "
                "UTC; nothing was changed. The requester has been told.",
                outcome=expired,
            )
        progress = _Progress.of(approval)
        step = progress.current
        is_admin = reviewer is not None and "admin" in (reviewer.roles or [])
        own = reviewer_id == approval.requested_by
        if reviewer is None or own or (reviewer_id not in step.reviewer_ids and not is_admin):
            who = ", ".join(i for i in step.reviewer_ids if i != reviewer_id) or step.role
            first = "Nobody decides their own request. " if own else ""
            raise ReviewRefused(
                f"{first}Only {who} may decide review request {approval_id} ({step.role} for "
                "this account); nothing was changed."
            )
        if decision == "reject":
            return self._close_review(approval_id, "rejected", reviewer_id, comment)
        requester = self._safe_actor(approval.requested_by)
        proposal = Proposal.model_validate(approval.context["proposal"])
        steps = progress.steps
        revision = progress.revision
        edit: dict[str, Any] | None = None
        if decision == "edit":
            proposal, steps, edit = self._edited(approval, progress, proposal, requester, arguments)
            edit["by"] = reviewer_id
            revision += 1
        approvals = [a for a in progress.approvals if a["revision"] == revision]
        given = {a["role"] for a in approvals}
        now = self.clock.now().isoformat()
        for candidate in steps:
            if candidate.role in given:
                continue
            if candidate.role == step.role or _may_give(reviewer, candidate, requester):
                approvals.append(
                    {"role": candidate.role, "by": reviewer_id, "at": now, "revision": revision}
                )
                given.add(candidate.role)
        left = [st for st in steps if st.role not in given]
        all_approvals = [
            *[a for a in progress.approvals if a["revision"] != revision],
            *approvals,
        ]
        edits = [*progress.edits, *([edit] if edit else [])]
        context = {
            **approval.context,
            "proposal": proposal.model_dump(mode="json"),
            "steps": [st.model_dump() for st in steps],
            "revision": revision,
            "approvals": all_approvals,
            "edits": edits,
        }
        if left:
            return self._next_step(
                approval_id, reviewer_id, comment, proposal, steps, left, context, bool(edit)
            )
        # --- cross-team request hook: the deciding lead makes the write (tools/crossteam.py) ---
        committer = crossteam.committer(proposal.facts, proposal.actor_id, reviewer_id)
        proposal = proposal.model_copy(update={"actor_id": committer})

        def mark(session: Session) -> None:
            row = session.get(Approval, approval_id)
            if row is None or row.status != "pending":
                raise Conflict(f"Review request {approval_id} was decided meanwhile.")
            row.status = "approved"
            row.decided_by = reviewer_id
            row.decided_at = self.clock.now()
            row.comment = comment
            row.context = context
            row.edited_arguments = proposal.arguments if edits else None
            session.add(
                self._review_event(
                    row, reviewer_id, "edited" if edit else "approved", proposal.arguments, comment
                )
            )

        outcome = self.execute(
            proposal,
            idempotency_key=f"approval:{approval_id}",
            approval_id=approval_id,
            thread_id=approval.thread_id,
            reason=comment,
            in_transaction=mark,
        )
        with self.db.read_session() as session:
            current = session.get(Approval, approval_id)
            assert current is not None
        if isinstance(outcome, ToolFailure):
            if current.status == "pending":  # the write could not go through: record why
                return self._close_review(
                    approval_id, "failed", reviewer_id, f"{comment or ''} {outcome.message}".strip()
                )
            return _outcome(current, already=True)
        return _outcome(current, already=outcome.replayed, result=outcome.result)

    def _edited(
        self,
        approval: Approval,
        progress: _Progress,
        proposal: Proposal,
        requester: Actor,
        arguments: dict[str, Any] | None,
    ) -> tuple[Proposal, list[ReviewStep], dict[str, Any]]:
        """An edit is a proposal by the requester with the reviewer's values: checked, then
        classified again with the same extra hits as the original request."""
        if not arguments:
            raise ReviewRefused("An edit needs the arguments to change.")
        spec = self._spec(proposal.tool, "write")
        for name in spec.identifying:
            if name in arguments and arguments[name] != proposal.arguments.get(name):
                raise ReviewRefused(
                    f"An edit may change values only; '{name}' says which record is written "
                    f"({proposal.arguments.get(name)!r}) and cannot become {arguments[name]!r}. "
                    "Reject the request instead, and ask for a new one."
                )
        edited = self.propose(
            proposal.tool,
            {**proposal.arguments, **arguments},
            requester,
            proposal_id=f"{approval.proposal_id}-e{len(progress.edits) + 1}",
            thread_id=approval.thread_id,
            cross_team=crossteam.is_request(proposal.facts),
        )
        if isinstance(edited, ToolFailure):
            raise ReviewRefused(f"The edited arguments do not work: {edited.message}")
        # The agent layer's facts about the original values (untrusted arguments) stay.
        kept = {k: v for k, v in proposal.facts.items() if k not in edited.facts}
        edited = edited.model_copy(update={"facts": {**kept, **edited.facts}})
        extra = [RuleHit(**h) for h in approval.context.get("extra_hits") or []]
        verdict = self.classify([edited], requester, extra_hits={edited.id: extra})[0]
        if verdict.verdict == "refused":
            raise ReviewRefused(f"The edited request cannot be approved: {verdict.refusal}")
        changed = {
            k: {"from": proposal.arguments.get(k), "to": v}
            for k, v in edited.arguments.items()
            if proposal.arguments.get(k) != v
        }
        edit: dict[str, Any] = {"by": "", "at": self.clock.now().isoformat(), "changes": changed}
        return edited, verdict.steps, edit

    def _next_step(
        self,
        approval_id: str,
        reviewer_id: str,
        comment: str | None,
        proposal: Proposal,
        steps: list[ReviewStep],
        left: list[ReviewStep],
        context: dict[str, Any],
        edited: bool,
    ) -> ReviewOutcome:
        """Record an approved step (and an edit) and hand the request to the next step."""
        nxt = left[0]
        context["step"] = steps.index(nxt)
        try:
            with self.db.session() as session:
                row = session.get(Approval, approval_id)
                if row is None or row.status != "pending":
                    raise Conflict(f"Review request {approval_id} was decided meanwhile.")
                row.context = context
                row.reviewer_role = nxt.role
                row.reviewer_ids = nxt.reviewer_ids
                row.rule_ids = list(dict.fromkeys(r for st in steps for r in st.rule_ids))
                row.reasons = list(dict.fromkeys(r for st in steps for r in st.reasons))
                if context["edits"]:
                    row.edited_arguments = proposal.arguments
                session.add(
                    self._review_event(
                        row,
                        reviewer_id,
                        "edited" if edited else "approved_step",
                        proposal.arguments,
                        f"step approved; next: {nxt.role} ({'; '.join(nxt.reasons)})"
                        + (f" — {comment}" if comment else ""),
                    )
                )
                session.flush()
                return _outcome(row, already=False, stepped_by=reviewer_id)
        except StaleDataError:
            with self.db.read_session() as session:
                current = session.get(Approval, approval_id)
                assert current is not None
                return _outcome(current, already=True)

    def expire_reviews(self) -> list[ReviewOutcome]:
        """Close every pending request past its expiry; returns what expired now."""
        now = self.clock.now()
        with self.db.read_session() as session:
            due = session.scalars(
                select(Approval.id).where(Approval.status == "pending", Approval.expires_at <= now)
            ).all()
        return [self._close_review(a, "expired", None, "The request expired.") for a in due]

    def _close_review(
        self, approval_id: str, status: str, reviewer_id: str | None, comment: str | None
    ) -> ReviewOutcome:
        try:
            with self.db.session() as session:
                row = session.get(Approval, approval_id)
                assert row is not None
                if row.status != "pending":
                    return _outcome(row, already=True)
                row.status = status
                row.decided_by = reviewer_id
                row.decided_at = self.clock.now()
                row.comment = comment
                session.add(self._review_event(row, reviewer_id, status, row.arguments, comment))
                session.flush()
                return _outcome(row, already=False)
        except StaleDataError:
            with self.db.read_session() as session:
                row = session.get(Approval, approval_id)
                assert row is not None
                return _outcome(row, already=True)

    # ------------------------------------------------------------ internals

    def _review_event(
        self,
        row: Approval,
        reviewer_id: str | None,
        outcome: str,
        arguments: dict[str, Any],
        reason: str | None,
    ) -> AuditEvent:
        """The audit event of one decision on a review request (a step, an edit, the end)."""
        return AuditEvent(
            at=self.clock.now(),
            actor_id=reviewer_id,
            action=f"review:{row.tool}",
            outcome=outcome,
            record_type="approval",
            record_id=row.id,
            arguments=arguments,
            reason=reason,
            proposal_id=row.proposal_id,
            approval_id=row.id,
            thread_id=row.thread_id,
        )

    def _spec(self, tool: str, kind: str) -> ToolSpec:
        spec = REGISTRY.get(tool)
        if spec is None:
            raise InvalidArguments(f"There is no tool named '{tool}'.", fields=["tool"])
        if spec.kind != kind:
            raise InvalidArguments(f"{tool} is a {spec.kind} tool, not a {kind} tool.")
        return spec

    def _stored(self, session: Session, key: str, digest: str, tool: str) -> Execution | None:
        row = session.get(ToolExecution, key)
        if row is None:
            return None
        if row.arguments_hash != digest or row.tool != tool:
            raise DuplicateKeyMismatch(
                f"Idempotency key '{key}' was already used for a different write ({row.tool}); "
                "nothing was written."
            )
        return Execution(proposal_id="", tool=row.tool, result=row.result, replayed=True)

    def _safe_actor(self, user_id: str) -> Actor:
        try:
            return self.actor(user_id)
        except NotFound:
            return Actor(id=user_id, name=user_id, roles=frozenset(), team=None, manager_id=None)

    def _audit_refusal(
        self,
        actor: Actor,
        tool: str,
        arguments: dict[str, Any],
        failure: ToolFailure,
        proposal_id: str | None,
        thread_id: str | None,
    ) -> None:
        with self.db.session() as session:
            session.add(
                AuditEvent(
                    at=self.clock.now(),
                    actor_id=actor.id,
                    action=tool,
                    outcome="refused",
                    arguments=json.loads(json.dumps(arguments, default=str)),
                    reason=failure.message,
                    proposal_id=proposal_id,
                    thread_id=thread_id,
                )
            )

    def audit_note(
        self,
        *,
        actor_id: str | None,
        action: str,
        outcome: str,
        reason: str,
        arguments: dict[str, Any] | None = None,
        proposal_id: str | None = None,
        thread_id: str | None = None,
    ) -> None:
        """Record a decision that is not a write (a negotiation, say) in the audit trail."""
        with self.db.session() as session:
            session.add(
                AuditEvent(
                    at=self.clock.now(),
                    actor_id=actor_id,
                    action=action,
                    outcome=outcome,
                    arguments=json.loads(json.dumps(arguments or {}, default=str)),
                    reason=reason,
                    proposal_id=proposal_id,
                    thread_id=thread_id,
                )
            )

    def audit_events(
        self,
        *,
        limit: int = 50,
        actor_id: str | None = None,
        record_id: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEvent]:
        stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if actor_id:
            stmt = stmt.where(AuditEvent.actor_id == actor_id)
        if record_id:
            stmt = stmt.where(AuditEvent.record_id == record_id)
        if since:
            stmt = stmt.where(AuditEvent.at >= since)
        with self.db.read_session() as session:
            return list(session.scalars(stmt))


class ReviewOutcome(BaseModel):
    approval_id: str
    status: str  # approved | rejected | expired | failed
    tool: str
    summary: str
    requested_by: str
    thread_id: str | None
    decided_by: str | None
    comment: str | None
    already_decided: bool
    result: dict[str, Any] | None = None
    # Multi-step approval and edits: who approved which step (in order), what each edit
    # changed ({"by", "changes": {arg: {"from", "to"}}}), the values as requested and applied,
    # and, while pending, the step that waits now.
    approvals: list[dict[str, Any]] = []
    edits: list[dict[str, Any]] = []
    requested_arguments: dict[str, Any] = {}
    arguments: dict[str, Any] = {}
    next_role: str | None = None
    next_reviewer_ids: list[str] = []
    next_reasons: list[str] = []
    stepped_by: str | None = None


class ReviewRefused(Exception):
    """A decision that cannot be taken; `message` is one sentence for the reviewer."""

    def __init__(self, message: str, *, outcome: ReviewOutcome | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.outcome = outcome


def _outcome(
    approval: Approval,
    *,
    already: bool,
    result: dict[str, Any] | None = None,
    stepped_by: str | None = None,
) -> ReviewOutcome:
    proposal = approval.context.get("proposal", {})
    progress = _Progress.of(approval)
    waiting = approval.status == "pending"
    return ReviewOutcome(
        approvals=[a for a in progress.approvals if a["revision"] == progress.revision],
        edits=progress.edits,
        requested_arguments=approval.context.get("requested_arguments") or approval.arguments,
        arguments=approval.edited_arguments or approval.arguments,
        next_role=progress.current.role if waiting else None,
        next_reviewer_ids=progress.current.reviewer_ids if waiting else [],
        next_reasons=progress.current.reasons if waiting else [],
        stepped_by=stepped_by,
        approval_id=approval.id,
        status=approval.status,
        tool=approval.tool,
        summary=proposal.get("summary", approval.tool),
        requested_by=approval.requested_by,
        thread_id=approval.thread_id,
        decided_by=approval.decided_by,
        comment=approval.comment,
        already_decided=already,
        result=result,
    )


class _Progress(BaseModel):
    """Where a review request stands: its steps, the one that waits, who approved what."""

    steps: list[ReviewStep]
    step: int = 0
    revision: int = 0
    approvals: list[dict[str, Any]] = []
    edits: list[dict[str, Any]] = []

    @property
    def current(self) -> ReviewStep:
        return self.steps[min(self.step, len(self.steps) - 1)]

    @classmethod
    def of(cls, approval: Approval) -> _Progress:
        ctx = approval.context or {}
        steps = ctx.get("steps") or [
            # a request recorded before multi-step approval: one step
            {
                "role": approval.reviewer_role,
                "rule_ids": approval.rule_ids,
                "reasons": approval.reasons,
                "reviewer_ids": approval.reviewer_ids,
            }
        ]
        return cls(
            steps=[ReviewStep.model_validate(st) for st in steps],
            step=ctx.get("step", 0),
            revision=ctx.get("revision", 0),
            approvals=ctx.get("approvals") or [],
            edits=ctx.get("edits") or [],
        )


def _may_give(reviewer: User, step: ReviewStep, requester: Actor) -> bool:
    """Whether the decider holds a step's role themself (not by an admin's reach)."""
    if reviewer.id == requester.id:
        return False
    if step.role == "manager":
        return reviewer.id == requester.manager_id
    return step.role in (reviewer.roles or []) or reviewer.id in step.reviewer_ids


def review_trail(row: dict[str, Any]) -> list[str]:
    """A review request's story in lines, for `warroom review` and `warroom audit --detail`:
    each step with its rules and reasons and who approved it, each edit as a diff."""
    ctx = row.get("context") or {}
    revision = ctx.get("revision", 0)
    approvals = [a for a in ctx.get("approvals") or [] if a.get("revision", 0) == revision]
    by_role = {a["role"]: a["by"] for a in approvals}
    lines = []
    steps = ctx.get("steps") or []
    for index, step in enumerate(steps, 1):
        who = by_role.get(step["role"])
        if who:
            state = f"approved by {who}"
        elif row.get("status") == "pending" and step["role"] == row.get("reviewer_role"):
            state = f"waits for {', '.join(step['reviewer_ids']) or step['role']}"
        else:
            state = "not approved"
        lines.append(
            f"step {index}/{len(steps)} {step['role']} ({', '.join(step['rule_ids'])}: "
            f"{'; '.join(step['reasons'])}) — {state}"
        )
    asked = ctx.get("requested_arguments") or {}
    for edit in ctx.get("edits") or []:
        diff = ", ".join(
            f"{arg}: asked {asked.get(arg, c['from'])}, was {c['from']} → {c['to']}"
            for arg, c in edit["changes"].items()
        )
        lines.append(f"edit by {edit['by']}: {diff or 'no change'}")
    if row.get("status") not in (None, "pending") and row.get("decided_by"):
        lines.append(f"{row['status']} by {row['decided_by']}")
    return lines


def _approval_dict(approval: Approval) -> dict[str, Any]:
    from tools.catalogue.common import snapshot

    return snapshot(approval)


def _validate(spec: ToolSpec, arguments: dict[str, Any]) -> Any:
    if not isinstance(arguments, dict):
        raise InvalidArguments(
            f"Arguments for {spec.name} must be an object, got {type(arguments).__name__}."
        )
    try:
        return spec.args_model.model_validate(arguments)
    except ValidationError as exc:
        raise InvalidArguments.from_validation_error(spec.name, exc) from exc
