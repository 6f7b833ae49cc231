"""An edit racing an approve of the same request: the loser is told the request was decided
meanwhile (no DuplicateKeyMismatch traceback), and exactly one write is applied."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from tools.models import Approval, ToolExecution
from tools.service import CRMService

DISCOUNT = [
    {
        "agent": "sales",
        "tool_calls": [
            {
                "name": "apply_discount",
                "arguments": {"opportunity_id": "opp-acme-1", "percent": 25, "reason": "200 seats"},
            }
        ],
    },
    {"agent": "sales", "reply": "The 25% discount waits for Maria."},
]


class ApproveDuringEdit(CRMService):
    """An approve commits while an edit is inside its write, after the edit looked for an
    earlier write under the request's key and found none: both then claim the key, and the edit
    loses (the race, made deterministic)."""

    racing = False

    def _stored(self, session: Any, key: str, digest: str, tool: str) -> Any:
        if self.racing and key.startswith("approval:"):
            self.racing = False
            approval_id = key.removeprefix("approval:")
            outcome = self.decide_review(approval_id, reviewer_id="u-maria", decision="approve")
            assert outcome.status == "approved" and not outcome.already_decided
            return None  # what the edit saw before the approve committed
        return super()._stored(session, key, digest, tool)


async def test_an_edit_racing_an_approve_is_told_decided_meanwhile(crm: CRMService) -> None:
    racing = ApproveDuringEdit(crm.db, policy=crm.policy, clock=crm.clock)
    convo = ConversationService(crm=racing, model=ScriptedChatModel(DISCOUNT))
    turn = await convo.send(thread_id="deal-1", user_id="u-alice", text="Give Acme a 25% discount")
    [pending] = turn.outcome["pending"]
    racing.racing = True
    outcome = racing.decide_review(
        pending["approval_id"], reviewer_id="u-maria", decision="edit", arguments={"percent": 18}
    )
    assert outcome.already_decided and outcome.status == "approved"
    with crm.db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(ToolExecution)) == 1
        row = s.get(Approval, pending["approval_id"])
        assert row is not None and row.edited_arguments is None  # the approve won
