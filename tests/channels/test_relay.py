"""The review relay: cards and outcomes reach a channel whichever process raised or decided the
request, each at most once across replicas and restarts."""

from __future__ import annotations

from typing import Any

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from channels.relay import ReviewRelay
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


class Channel:
    def __init__(self) -> None:
        self.cards: list[str] = []
        self.outcomes: list[tuple[str, str]] = []

    async def card(self, review: dict[str, Any]) -> None:
        self.cards.append(review["id"])

    async def outcome(self, thread_id: str, message: str) -> None:
        self.outcomes.append((thread_id, message))


def relay_for(convo: ConversationService, channel: Channel, name: str = "slack") -> ReviewRelay:
    return ReviewRelay(
        convo,
        channel=name,
        thread_prefix=f"{name}:",
        post_card=channel.card,
        post_outcome=channel.outcome,
    )


async def ask(crm: CRMService, thread_id: str) -> tuple[ConversationService, str]:
    convo = ConversationService(crm=crm, model=ScriptedChatModel(DISCOUNT))
    turn = await convo.send(thread_id=thread_id, user_id="u-alice", text="Give Acme a 25% discount")
    [pending] = turn.outcome["pending"]
    return convo, pending["approval_id"]


def twin(convo: ConversationService) -> ConversationService:
    """Another process: its own service (no shared listeners), the same durable stores."""
    other = ConversationService(crm=convo.crm, model=None)
    other.graph, other.review_graph = convo.graph, convo.review_graph
    return other


async def test_a_request_raised_elsewhere_gets_its_card_once(crm: CRMService) -> None:
    convo, approval_id = await ask(crm, "cli-alice-1")  # raised in a terminal chat
    channel = Channel()
    relay = relay_for(twin(convo), channel)
    assert await relay.poll_once() == {"cards": 1, "outcomes": 0, "card_updates": 0}
    assert await relay.poll_once() == {"cards": 0, "outcomes": 0, "card_updates": 0}
    assert channel.cards == [approval_id]


async def test_a_decision_taken_elsewhere_reaches_the_requesters_thread(crm: CRMService) -> None:
    convo, approval_id = await ask(crm, "slack:T1:C1:1700000000.000100")
    channel = Channel()
    relay = relay_for(twin(convo), channel)
    await relay.poll_once()  # card
    # decided from `warroom review` (another process): the channel's listeners never hear it
    await convo.decide(approval_id=approval_id, reviewer_id="u-maria", decision="approve")
    assert await relay.poll_once() == {"cards": 0, "outcomes": 1, "card_updates": 0}
    [(thread_id, message)] = channel.outcomes
    assert thread_id == "slack:T1:C1:1700000000.000100"
    assert "approved" in message and "25% discount" in message
    assert await relay.poll_once() == {"cards": 0, "outcomes": 0, "card_updates": 0}


async def test_listeners_and_relay_share_one_ledger(crm: CRMService) -> None:
    convo, approval_id = await ask(crm, "slack:T1:C1:2")
    here, elsewhere = Channel(), Channel()
    live = relay_for(convo, here)
    live.attach()
    replica = relay_for(twin(convo), elsewhere)
    await replica.poll_once()  # the replica posts the card of the request raised before
    await convo.decide(
        approval_id=approval_id, reviewer_id="u-maria", decision="reject", comment="too deep"
    )
    assert [t for t, _ in here.outcomes] == ["slack:T1:C1:2"]  # told live, in-process
    assert await replica.poll_once() == {"cards": 0, "outcomes": 0, "card_updates": 0}  # not again
    assert elsewhere.cards == [approval_id] and here.cards == []


async def test_other_channels_threads_are_left_alone(crm: CRMService) -> None:
    convo, approval_id = await ask(crm, "teams:19:abc@thread.v2")
    slack = Channel()
    relay = relay_for(twin(convo), slack)
    await relay.poll_once()
    await convo.decide(approval_id=approval_id, reviewer_id="u-maria", decision="approve")
    assert (await relay.poll_once())["outcomes"] == 0 and slack.outcomes == []


async def test_a_new_channel_does_not_replay_old_outcomes(crm: CRMService) -> None:
    convo, approval_id = await ask(crm, "slack:T1:C1:3")
    await convo.decide(approval_id=approval_id, reviewer_id="u-maria", decision="approve")
    channel = Channel()
    relay = relay_for(twin(convo), channel)
    assert await relay.poll_once() == {"cards": 0, "outcomes": 0, "card_updates": 0}
    assert channel.outcomes == [] and channel.cards == []


async def test_a_failed_post_is_not_retried_twice_and_does_not_stop_the_round(
    crm: CRMService,
) -> None:
    convo, first = await ask(crm, "slack:T1:C1:4")
    calls: list[str] = []

    async def flaky(review: dict[str, Any]) -> None:
        calls.append(review["id"])
        raise ConnectionError("channel down")

    relay = ReviewRelay(
        twin(convo),
        channel="slack",
        thread_prefix="slack:",
        post_card=flaky,
        post_outcome=Channel().outcome,
    )
    assert (await relay.poll_once())["cards"] == 1
    assert (await relay.poll_once())["cards"] == 0
    assert calls == [first]
