"""The CRM service: the one door through which agents, channels and the CLI read and change the
CRM. Reads run at once. A write is first *proposed* (validated, permission-checked, described with
before/after and policy facts, nothing changed), then *gated* by the policy, then *executed*
exactly once per idempotency key, in one transaction with its audit event.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

import tools.catalogue  # noqa: F401  (registers the tool catalogue)
from tools.context import AccountRecall, Actor, Clock, KnowledgeSearch, SystemClock, ToolContext
from tools.db import Database
from tools.errors import (
    Conflict,
    DuplicateKeyMismatch,
    InvalidArguments,
    NotFound,
    ToolError,
    ToolFailure,
)
from tools.models import Approval, AuditEvent, ToolExecution, User
from tools.policy import Policy, RuleHit, WriteToClassify
from tools.registry import REGISTRY, ToolSpec, WritePlan


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


class GateDecision(BaseModel):
    proposal_id: str
    needs_review: bool
    rule_ids: list[str] = []
    reasons: list[str] = []
    reviewer_role: str | None = None
    reviewer_ids: list[str] = []


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
    ) -> Proposal | ToolFailure:
        """Describe a write without making it. Refusals are audited (unless `audit_refusal` is
        off: a dry run writes nothing, not even that) and never queued."""
        proposal_id = proposal_id or f"prop-{uuid.uuid4().hex[:12]}"
        try:
            spec = self._spec(tool, "write")
            args = _validate(spec, arguments)
            with self.db.read_session() as session:
                plan: WritePlan = spec.fn(self._context(session, actor, id_seed=proposal_id), args)
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

    def gate(self, proposals: Sequence[Proposal], actor: Actor) -> list[GateDecision]:
        """Classify a plan's proposals: commit now, or review by whom."""
        hits_per = self.policy.classify_plan([WriteToClassify(p.tool, p.facts) for p in proposals])
        return [self.decision(p, hits, actor) for p, hits in zip(proposals, hits_per, strict=True)]

    def decision(self, proposal: Proposal, hits: list[RuleHit], actor: Actor) -> GateDecision:
        if not hits:
            return GateDecision(proposal_id=proposal.id, needs_review=False)
        role = hits[0].reviewer
        team = proposal.facts.get("account_team")
        return GateDecision(
            proposal_id=proposal.id,
            needs_review=True,
            rule_ids=[h.rule_id for h in hits],
            reasons=[h.reason for h in hits],
            reviewer_role=role,
            reviewer_ids=self.reviewers(role, team if isinstance(team, str) else None, actor),
        )

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
                    },
                    status="pending",
                    created_at=now,
                    expires_at=now + ttl,
                )
                session.add(existing)
                session.flush()
            return _approval_dict(existing)

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
        """Apply a reviewer's decision exactly once. The decision and the write it allows are
        one transaction; deciding an already decided request changes nothing and says so."""
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
        is_admin = reviewer is not None and "admin" in (reviewer.roles or [])
        if reviewer is None or (reviewer_id not in approval.reviewer_ids and not is_admin):
            who = ", ".join(approval.reviewer_ids) or approval.reviewer_role
            raise ReviewRefused(
                f"Only {who} may decide review request {approval_id} ({approval.reviewer_role} "
                f"for this account); nothing was changed."
            )
        if decision == "reject":
            return self._close_review(approval_id, "rejected", reviewer_id, comment)
        proposal = Proposal.model_validate(approval.context["proposal"])
        if decision == "edit":
            if not arguments:
                raise ReviewRefused("An edit needs the arguments to change.")
            edited = self.propose(
                proposal.tool,
                {**proposal.arguments, **arguments},
                self._safe_actor(proposal.actor_id),
                proposal_id=f"{proposal.id}-edit",
                thread_id=approval.thread_id,
            )
            if isinstance(edited, ToolFailure):
                raise ReviewRefused(f"The edited arguments do not work: {edited.message}")
            proposal = edited

        def mark(session: Session) -> None:
            row = session.get(Approval, approval_id)
            if row is None or row.status != "pending":
                raise Conflict(f"Review request {approval_id} was decided meanwhile.")
            row.status = "approved"
            row.decided_by = reviewer_id
            row.decided_at = self.clock.now()
            row.comment = comment
            row.edited_arguments = proposal.arguments if decision == "edit" else None

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
                session.add(
                    AuditEvent(
                        at=self.clock.now(),
                        actor_id=reviewer_id,
                        action=f"review:{row.tool}",
                        outcome=status,
                        record_type="approval",
                        record_id=approval_id,
                        arguments=row.arguments,
                        reason=comment,
                        proposal_id=row.proposal_id,
                        approval_id=approval_id,
                        thread_id=row.thread_id,
                    )
                )
                session.flush()
                return _outcome(row, already=False)
        except StaleDataError:
            with self.db.read_session() as session:
                row = session.get(Approval, approval_id)
                assert row is not None
                return _outcome(row, already=True)

    # ------------------------------------------------------------ internals

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


class ReviewRefused(Exception):
    """A decision that cannot be taken; `message` is one sentence for the reviewer."""

    def __init__(self, message: str, *, outcome: ReviewOutcome | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.outcome = outcome


def _outcome(
    approval: Approval, *, already: bool, result: dict[str, Any] | None = None
) -> ReviewOutcome:
    proposal = approval.context.get("proposal", {})
    return ReviewOutcome(
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
