"""Consent changes take effect at once for every agent and channel, and are recorded with who,
when and why."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agents.conversation import ConversationService
from agents.llm import ScriptedChatModel, ScriptStep
from agents.llm_types import ToolCall
from tools.models import AuditEvent, ConsentChange
from tools.privacy import PrivacyRequestError, PrivacyService
from tools.service import CRMService

EMAIL = {"contact_id": "con-jane", "subject": "Renewal", "body": "Shall we talk?"}


def test_withdrawal_blocks_the_next_tool_call_and_is_audited(crm: CRMService) -> None:
    alice = crm.actor("u-alice")
    proposal = crm.propose("send_email", EMAIL, alice)  # before the withdrawal
    assert not isinstance(proposal, dict) and proposal.tool == "send_email"
    report = PrivacyService(crm).set_consent(
        "con-jane", actor_id="u-sam", email=False, reason="Customer asked by phone"
    )
    assert report.changed == {"email": (True, False)}
    assert crm.call("send_email", EMAIL, alice)["rule"] == "consent"
    executed = crm.execute(proposal)  # proposed earlier, committed later: re-checked, refused
    assert executed.kind == "refused" and "consent" in executed.message
    with crm.db.read_session() as session:
        change = session.scalars(select(ConsentChange)).one()
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "privacy.consent")
        ).one()
    assert (change.changed_by, change.reason, change.changed_at) == (
        "u-sam",
        "Customer asked by phone",
        crm.clock.now(),
    )
    assert event.before == {"consent": {"email": True, "phone": True, "marketing": False}}
    assert event.after["consent"]["email"] is False and event.actor_id == "u-sam"

    PrivacyService(crm).set_consent("con-jane", actor_id="u-alice", email=True, reason="Opted in")
    assert crm.call("send_email", EMAIL, alice)["ok"] is True


async def test_a_conversation_turn_sees_the_withdrawal_at_once(crm: CRMService) -> None:
    model = ScriptedChatModel(
        [
            ScriptStep(agent="sales", tool_calls=[ToolCall("c1", "send_email", EMAIL)]),
            ScriptStep(agent="sales", reply="I tried to e-mail Jane."),
        ]
        * 2
    )
    convo = ConversationService(crm=crm, model=model)
    first = await convo.send(thread_id="t-1", user_id="u-alice", text="E-mail Jane at Acme")
    assert first.outcome["pending"]
    PrivacyService(crm).set_consent("con-jane", actor_id="u-alice", email=False, reason="Opt-out")
    second = await convo.send(thread_id="t-1", user_id="u-alice", text="E-mail Jane at Acme")
    assert not second.outcome["pending"]
    assert "has not consented to e-mail" in second.reply


def test_who_may_change_consent(crm: CRMService) -> None:
    privacy = PrivacyService(crm)
    with pytest.raises(PrivacyRequestError) as caught:  # support may not grant consent
        privacy.set_consent("con-raj", actor_id="u-sam", email=True, reason="asked")
    assert caught.value.kind == "refused"
    with pytest.raises(PrivacyRequestError) as caught:  # east rep does not see Acme
        privacy.set_consent("con-jane", actor_id="u-bob", email=False, reason="asked")
    # ... so Jane reads to him exactly like a contact that does not exist
    assert caught.value.kind == "not_found"
    assert caught.value.message == "There is no contact with id 'con-jane'."
    with pytest.raises(PrivacyRequestError, match="reason"):
        privacy.set_consent("con-jane", actor_id="u-alice", email=False, reason=" ")
    with pytest.raises(PrivacyRequestError, match="con-nobody"):
        privacy.set_consent("con-nobody", actor_id="u-admin", email=False, reason="x")
    with crm.db.read_session() as session:
        assert session.scalars(select(ConsentChange)).all() == []
