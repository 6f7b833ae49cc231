"""Negotiation between agents: agree, counter, reject/escalate, round limit, transcript kept."""

from __future__ import annotations

from sqlalchemy import select

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from tools.models import Approval, Opportunity
from tools.service import CRMService


def discount_steps(percent: int) -> list[dict]:
    return [
        {
            "agent": "sales",
            "tool_calls": [
                {
                    "name": "apply_discount",
                    "arguments": {
                        "opportunity_id": "opp-helix-1",
                        "percent": percent,
                        "reason": "renewal push",
                    },
                }
            ],
        },
        {"agent": "sales", "reply": f"Proposed {percent}% off for Helix."},
    ]


def position(agent: str, stance: str, reason: str, **extra: object) -> dict:
    return {"agent": agent, "output": {"stance": stance, "reason": reason, **extra}}


async def run(crm: CRMService, steps: list[dict], text: str = "Give Helix a discount"):
    model = ScriptedChatModel(steps)
    convo = ConversationService(crm=crm, model=model)
    turn = await convo.send(thread_id="neg", user_id="u-bob", text=text)
    model.assert_exhausted()
    return turn, model


def helix_discount(crm: CRMService) -> float:
    with crm.db.read_session() as s:
        return float(s.get(Opportunity, "opp-helix-1").discount_percent)


async def test_no_other_domain_no_negotiation(crm: CRMService) -> None:
    steps = [
        {
            "agent": "sales",
            "tool_calls": [
                {
                    "name": "apply_discount",
                    "arguments": {"opportunity_id": "opp-globex-1", "percent": 5, "reason": "r"},
                }
            ],
        },
        {"agent": "sales", "reply": "Done."},
    ]
    model = ScriptedChatModel(steps)
    turn = await ConversationService(crm=crm, model=model).send(
        thread_id="n0", user_id="u-ben", text="Give Globex a 5% discount"
    )
    assert "Negotiation" not in turn.reply and not any(
        e["type"] == "negotiation" for e in turn.events
    )


async def test_service_accepts_and_the_plan_goes_ahead(crm: CRMService) -> None:
    turn, model = await run(
        crm, [*discount_steps(10), position("service", "accept", "The P1 has a fix in test.")]
    )
    assert "Negotiation (agreed)" in turn.reply and "service: accept" in turn.reply
    assert helix_discount(crm) == 10
    asked = model.requests[-1]
    assert asked["agent"] == "service"
    evidence = asked["messages"][1]["content"]
    assert "tkt-helix-1 P1 Login outage (SLA breached)" in evidence  # grounded in its tools


async def test_counter_accepted_changes_the_plan(crm: CRMService) -> None:
    turn, _ = await run(
        crm,
        [
            *discount_steps(12),
            position(
                "service",
                "counter",
                "P1 outage open: hold at 8% until it is fixed.",
                counter_arguments={"percent": 8},
            ),
            position("sales", "accept", "8% now, revisit after the fix."),
        ],
    )
    assert "Negotiation (agreed with changes)" in turn.reply
    assert helix_discount(crm) == 8


async def test_reject_escalates_with_every_position(crm: CRMService) -> None:
    turn, _ = await run(
        crm, [*discount_steps(10), position("service", "reject", "No discounts while P1 is open.")]
    )
    assert "escalated to a human" in turn.reply and helix_discount(crm) == 0
    with crm.db.read_session() as s:
        approval = s.scalars(select(Approval)).one()
    assert approval.rule_ids == ["negotiation-escalated"] and approval.reviewer_ids == ["u-omar"]
    transcript = approval.context["negotiation"]["transcript"]
    assert [t["agent"] for t in transcript] == ["sales", "service"]
    assert transcript[1]["stance"] == "reject" and transcript[1]["evidence"]


async def test_round_limit_gives_a_deterministic_escalation(crm: CRMService) -> None:
    turn, _ = await run(
        crm,
        [
            *discount_steps(12),
            position("service", "counter", "8% at most.", counter_arguments={"percent": 8}),
            position("sales", "counter", "10% then.", counter_arguments={"percent": 10}),
            position("service", "counter", "Still 8%.", counter_arguments={"percent": 8}),
            position("sales", "counter", "9%?", counter_arguments={"percent": 9}),
        ],
    )
    assert "escalated to a human" in turn.reply and helix_discount(crm) == 0
    events = [e for e in crm.audit_events() if e.action == "negotiation"]
    assert events and events[0].outcome == "escalated"
    assert "no agreement within 2 round(s)" in crm.reviews()[0]["reasons"][-1]


async def test_closing_won_consults_delivery(crm: CRMService) -> None:
    steps = [
        {
            "agent": "sales",
            "tool_calls": [
                {
                    "name": "update_opportunity",
                    "arguments": {"opportunity_id": "opp-acme-1", "stage": "closed_won"},
                }
            ],
        },
        {"agent": "sales", "reply": "Marked won, pending approval."},
        position(
            "delivery",
            "counter",
            "Jan 4 week is fully booked; Jan 18 works.",
            conditions=["go-live no earlier than 2027-01-18"],
        ),
        position("sales", "accept", "Jan 18 it is."),
    ]
    model = ScriptedChatModel(steps)
    turn = await ConversationService(crm=crm, model=model).send(
        thread_id="n5", user_id="u-alice", text="Close the Acme deal as won"
    )
    assert "delivery: counter — Jan 4 week is fully booked" in turn.reply
    assert "go-live no earlier than 2027-01-18" in turn.reply
    assert "Waiting for approval" in turn.reply  # closing won is reviewed anyway
    evidence = model.requests[2]["messages"][1]["content"]
    assert "week of 2027-01-04: 0 free delivery days (fully booked)" in evidence


async def test_model_failure_in_negotiation_escalates(crm: CRMService) -> None:
    turn, _ = await run(crm, [*discount_steps(10), {"agent": "service", "reply": "garbage"}])
    assert "escalated to a human" in turn.reply and helix_discount(crm) == 0
