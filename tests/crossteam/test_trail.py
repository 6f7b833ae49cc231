"""The decision trail of a negotiated, edited, approved write, every step in order, and masked
for a reader who may not see deal money."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from tools.models import Project
from tools.service import CRMService
from tools.trail import TrailRefused, mermaid, trail


def helix_discount_steps() -> list[dict]:
    return [
        {
            "agent": "sales",
            "tool_calls": [
                {
                    "name": "apply_discount",
                    "arguments": {
                        "opportunity_id": "opp-helix-1",
                        "percent": 20,
                        "reason": "renewal push",
                    },
                }
            ],
        },
        {"agent": "sales", "reply": "Proposed 20% off for Helix."},
        {
            "agent": "service",
            "output": {
                "stance": "counter",
                "reason": "The P1 outage is open; keep it modest.",
                "counter_arguments": {"percent": 19},
            },
        },
        {"agent": "sales", "output": {"stance": "accept", "reason": "19 is fine."}},
    ]


async def negotiated_edited_approved(crm: CRMService) -> str:
    convo = ConversationService(crm=crm, model=ScriptedChatModel(helix_discount_steps()))
    turn = await convo.send(
        thread_id="cli-u-bob-1", user_id="u-bob", text="Give Helix a 20% discount on the rollout"
    )
    [pending] = turn.outcome["pending"]
    crm.clock.current += timedelta(minutes=30)  # type: ignore[attr-defined]
    await convo.decide(
        approval_id=pending["approval_id"],
        reviewer_id="u-omar",
        decision="edit",
        arguments={"percent": 18},
        comment="18 is the most I can do",
    )
    return str(pending["approval_id"])


async def test_trail_lists_every_step_in_order(crm: CRMService) -> None:
    approval_id = await negotiated_edited_approved(crm)
    bob = crm.actor("u-bob")
    for subject in (approval_id, "acc-helix"):
        steps = trail(crm, subject, bob).steps
        kinds = [s.kind for s in steps]
        assert kinds == [
            "asked",
            "proposed",
            "negotiated",
            "rules",
            "review requested",
            "reviewed",
            "committed",
            "told",
        ], (subject, kinds)
        asked, proposed, negotiated, rules, requested, reviewed, committed, told = steps
        assert asked.who == "Bob Stone" and asked.channel == "terminal"
        assert "20% discount" in asked.text
        assert "19% discount" in proposed.text  # the negotiated proposal went to review
        rounds = negotiated.details["rounds"]
        assert [r["stance"] for r in rounds] == ["propose", "counter", "accept"]
        assert any("tkt-helix-1 P1 Login outage" in e for e in rounds[1]["evidence"])
        assert "discount-above-15" in rules.text
        assert requested.text == "sales_manager Omar Haddad"
        assert reviewed.who == "Omar Haddad" and reviewed.text.startswith("approved with changes")
        assert reviewed.details["changes"] == {"percent": {"asked": 19, "applied": 18}}
        assert committed.who == "Bob Stone"
        assert committed.details["changes"]["discount_percent"]["after"] == 18
        assert told.who == "Bob Stone" and told.channel == "terminal"
        assert [s.at for s in steps] == sorted(s.at for s in steps)


async def test_a_reader_without_deal_money_sees_it_masked(crm: CRMService) -> None:
    approval_id = await negotiated_edited_approved(crm)
    visible = trail(crm, approval_id, crm.actor("u-omar"))  # sales manager: sees it all
    masked = trail(crm, approval_id, crm.actor("u-sam"))  # support: no deal money
    assert not visible.masked and masked.masked
    rep_view = trail(crm, approval_id, crm.actor("u-bob"))  # a rep: deal money, but no cost
    rep_commit = next(s for s in rep_view.steps if s.kind == "committed")
    assert rep_view.masked and rep_commit.details["changes"]["discount_percent"]["after"] == 18
    assert [s.kind for s in masked.steps] == [s.kind for s in visible.steps]
    text = masked.model_dump_json()
    for secret in ("20%", "19%", "18%", "450000", '"percent":18', '"percent":19'):
        assert secret not in text.replace(" ", ""), secret
    reviewed = next(s for s in masked.steps if s.kind == "reviewed")
    assert reviewed.details["changes"] == {"percent": {"asked": "(hidden)", "applied": "(hidden)"}}
    committed = next(s for s in masked.steps if s.kind == "committed")
    assert committed.details["changes"]["discount_percent"]["after"] == "(hidden)"


async def test_a_reader_who_may_not_see_the_account_gets_no_trail(crm: CRMService) -> None:
    approval_id = await negotiated_edited_approved(crm)
    with pytest.raises(TrailRefused, match="or you may not see it"):
        trail(crm, approval_id, crm.actor("u-alice"))  # west rep, Helix is east's
    with pytest.raises(TrailRefused, match="no account or review request"):
        trail(crm, "acc-nope", crm.actor("u-admin"))


async def test_mermaid_sequence_diagram(crm: CRMService) -> None:
    approval_id = await negotiated_edited_approved(crm)
    diagram = mermaid(trail(crm, approval_id, crm.actor("u-bob")))
    assert diagram.startswith("sequenceDiagram\n")
    assert "participant P0 as Bob Stone" in diagram
    assert "review requested" in diagram and "approved with changes" in diagram
    assert ";" not in diagram.split("\n", 2)[2]


async def test_cross_team_trail_shows_findings_counter_and_the_lead(crm: CRMService) -> None:
    with crm.db.session() as session:  # a later go-live, so that the request pulls it in
        session.get(Project, "prj-acme").go_live_date = date(2027, 2, 15)
    steps = [
        {
            "agent": "delivery",
            "tool_calls": [
                {
                    "name": "schedule_go_live",
                    "arguments": {"project_id": "prj-acme", "go_live_date": "2027-01-06"},
                }
            ],
        },
        {"agent": "delivery", "reply": "Asked delivery."},
    ]
    convo = ConversationService(crm=crm, model=ScriptedChatModel(steps))
    turn = await convo.send(
        thread_id="cli-u-alice-1", user_id="u-alice", text="Move the Acme go-live to 2027-01-06"
    )
    [pending] = turn.outcome["pending"]
    await convo.decide(approval_id=pending["approval_id"], reviewer_id="u-dana", decision="approve")
    steps_ = trail(crm, "acc-acme", crm.actor("u-alice")).steps
    assert [s.kind for s in steps_] == [
        "asked",
        "proposed",
        "cross-team",
        "rules",
        "review requested",
        "reviewed",
        "committed",
        "told",
    ]
    cross = next(s for s in steps_ if s.kind == "cross-team")
    assert "the week of 2027-01-04 is fully booked" in cross.details["findings"]
    assert cross.details["counter"] == {"go_live_date": "2027-01-13"}
    committed = next(s for s in steps_ if s.kind == "committed")
    assert committed.who == "Dana Kim"  # the lead made the write the rep asked for
