"""Review cards replaced by the decided card whichever process decided the request: a click in
another replica, `ConversationService.decide` as `warroom review` calls it, or the expiry sweep
— each card updated once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from agents.conversation import ConversationService
from benchmarks.bench_slack import EchoModel
from channels.slack import cards
from tests.channels.slack_harness import CHANNEL, MARIA, SlackStack, slack_stack
from tests.conftest import small_company
from tools.db import Database
from tools.fixtures import load_fixture
from tools.service import CRMService

MARIA_DM = "D" + MARIA.id


def durable(crm: CRMService, checkpointer: Any) -> ConversationService:
    return ConversationService(crm=crm, model=EchoModel(), checkpointer=checkpointer)  # type: ignore[arg-type]


def shared_database(tmp_path: Path) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    db = Database(url)
    load_fixture(db, small_company())
    db.dispose()
    return {"database_url": url, "durable_convo": durable}


def request_discount(crm: CRMService) -> str:
    """A held 25 % discount raised outside Slack, told in a Slack thread."""
    actor = crm.actor("u-alice")
    arguments = {"opportunity_id": "opp-acme-1", "percent": 25, "reason": "volume"}
    proposal = crm.propose("apply_discount", arguments, actor)
    [decision] = crm.classify([proposal], actor)  # type: ignore[list-item]
    thread = f"slack:T0001:{CHANNEL}:100.000"
    row = crm.request_review(proposal, decision, thread_id=thread, ttl=timedelta(hours=72))  # type: ignore[arg-type]
    return str(row["id"])


async def poll(replica: SlackStack) -> dict[str, int]:
    return await replica.channel.worker.run(replica.channel.relay.poll_once())


def updates(*replicas: SlackStack) -> list[dict[str, Any]]:
    return [u for r in replicas for u in r.fake.to("chat.update")]


def assert_decided(update: dict[str, Any], card: tuple[str, str], words: str) -> None:
    assert (update["channel"], update["ts"]) == card
    shown = json.dumps(update["blocks"], ensure_ascii=False)
    assert words in shown, shown
    assert '"actions"' not in shown  # the buttons are gone


async def test_a_decision_taken_outside_slack_updates_the_card_once(tmp_path: Path) -> None:
    shared = shared_database(tmp_path)
    async with (
        slack_stack(tmp_path / "a", **shared) as one,
        slack_stack(tmp_path / "b", **shared) as two,
    ):
        approval_id = request_discount(one.crm)
        assert (await poll(one))["cards"] == 1  # replica A posts Maria's card
        card = one.card_of(approval_id, MARIA_DM)
        # decided as `warroom review approve` does: ConversationService.decide, no click
        await two.channel.worker.run(
            two.channel.convo.decide(
                approval_id=approval_id, reviewer_id="u-maria", decision="approve"
            )
        )
        assert updates(one, two) == []  # nobody in the deciding process knew the card
        assert (await poll(two))["card_updates"] == 1  # any replica may replace it
        assert (await poll(one))["card_updates"] == 0
        assert (await poll(two))["card_updates"] == 0
        [update] = updates(one, two)
        assert_decided(update, card, "Approved by Maria Lopez")


async def test_a_click_in_another_replica_updates_the_card_once(tmp_path: Path) -> None:
    shared = shared_database(tmp_path)
    async with (
        slack_stack(tmp_path / "a", **shared) as one,
        slack_stack(tmp_path / "b", **shared) as two,
    ):
        approval_id = request_discount(one.crm)
        await poll(one)
        card = one.card_of(approval_id, MARIA_DM)
        # Maria's click reaches replica B, which never posted the card
        assert (await two.click(cards.APPROVE, approval_id, user=MARIA.id, card=card)).status == 200
        await two.wait_for(lambda: updates(two), what="the clicked card updated at once")
        await two.settle()
        for replica in (one, two, one):
            assert (await poll(replica))["card_updates"] == 0
        [update] = updates(one, two)
        assert_decided(update, card, "Approved by Maria Lopez")


async def test_an_expired_request_card_is_updated(tmp_path: Path) -> None:
    shared = shared_database(tmp_path)
    async with slack_stack(tmp_path / "a", **shared) as one:
        approval_id = request_discount(one.crm)
        await poll(one)
        card = one.card_of(approval_id, MARIA_DM)
        one.crm.clock.current += timedelta(hours=73)  # type: ignore[attr-defined]
        expired = await one.channel.worker.run(one.channel.convo.expire_due())
        assert len(expired) == 1
        assert (await poll(one))["card_updates"] == 1
        assert (await poll(one))["card_updates"] == 0
        [update] = updates(one)
        assert_decided(update, card, "xpired")
