"""Review cards and outcomes that reach a chat channel whichever process produced them.

A channel server hears the review requests and decisions of its own process through
`ConversationService.subscribe`. Requests raised elsewhere (a terminal chat, a meeting ingested
by the CLI, another replica) and decisions taken elsewhere (`warroom review`, the other chat
channel) are only in the CRM. The relay closes that gap: every few seconds it looks at the
review requests, and for each one this channel has not yet delivered it posts the card to the
reviewers (pending requests) or the outcome to the requester's thread (decided requests whose
thread belongs to this channel).

Where a channel posted each card is kept too (`PostedCards`), so that once a request is decided
or expires — by a click in another replica, `warroom review`, the other chat channel or the
expiry sweep — the relay replaces every card of it with the decided card (who decided, when; no
buttons), claimed once as a "card-update" delivery.

Each delivery is claimed in `channel_deliveries` before it is sent, so replicas and restarts
deliver each card and each outcome at most once; in-process listeners claim through the same
table, so a message the listener sent is not sent again by the relay. The first time a channel
runs, requests decided before it existed are marked delivered without sending anything (a new
Slack app does not replay a year of old outcomes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from agents.conversation import ConversationService
from agents.review import describe_outcome
from tools.errors import NotFound
from tools.models import ChannelCard, ChannelDelivery
from tools.service import CRMService, ReviewOutcome

log = logging.getLogger(__name__)

Kind = Literal["card", "outcome", "counter", "card-update"]
PostCard = Callable[[dict[str, Any]], Awaitable[None]]
PostOutcome = Callable[[str, str], Awaitable[None]]
# (the decided request, where its cards are) → each of those cards shows the decided card
UpdateCards = Callable[[dict[str, Any], list[str]], Awaitable[None]]


class DeliveryLedger:
    """Claims deliveries in the CRM database: `claim` is True exactly once per (channel,
    approval, kind) across processes."""

    def __init__(self, crm: CRMService, channel: str) -> None:
        self.crm = crm
        self.channel = channel

    def claim(self, approval_id: str, kind: Kind) -> bool:
        try:
            with self.crm.db.session() as session:
                session.add(
                    ChannelDelivery(
                        channel=self.channel,
                        approval_id=approval_id,
                        kind=kind,
                        delivered_at=self.crm.clock.now(),
                    )
                )
            return True
        except IntegrityError:
            return False

    def delivered(self, kind: Kind) -> set[str]:
        stmt = select(ChannelDelivery.approval_id).where(
            ChannelDelivery.channel == self.channel, ChannelDelivery.kind == kind
        )
        with self.crm.db.read_session() as session:
            return set(session.scalars(stmt))

    def is_new_channel(self) -> bool:
        stmt = select(func.count()).where(ChannelDelivery.channel == self.channel)
        with self.crm.db.read_session() as session:
            return not session.scalar(stmt)


class PostedCards:
    """Where one channel posted the cards of each request, in the CRM database: a location is
    the channel's own address of a message (Slack: "<channel id> <ts>")."""

    def __init__(self, crm: CRMService, channel: str) -> None:
        self.crm = crm
        self.channel = channel

    def remember(self, approval_id: str, location: str) -> None:
        try:
            with self.crm.db.session() as session:
                session.add(
                    ChannelCard(
                        channel=self.channel,
                        approval_id=approval_id,
                        location=location,
                        posted_at=self.crm.clock.now(),
                    )
                )
        except IntegrityError:
            pass  # remembered already

    def locations(self, approval_id: str) -> set[str]:
        stmt = select(ChannelCard.location).where(
            ChannelCard.channel == self.channel, ChannelCard.approval_id == approval_id
        )
        with self.crm.db.read_session() as session:
            return set(session.scalars(stmt))

    def approvals(self) -> set[str]:
        """The requests this channel posted cards of."""
        stmt = select(ChannelCard.approval_id).where(ChannelCard.channel == self.channel).distinct()
        with self.crm.db.read_session() as session:
            return set(session.scalars(stmt))


class ReviewRelay:
    """Delivers cards and outcomes of review requests to one channel (see the module doc)."""

    def __init__(
        self,
        convo: ConversationService,
        *,
        channel: str,
        thread_prefix: str,
        post_card: PostCard,
        post_outcome: PostOutcome,
        update_cards: UpdateCards | None = None,
        interval_seconds: float = 5.0,
    ) -> None:
        """`update_cards`: how the channel shows the decided card in place of the cards it
        posted (locations it handed to `card_posted`); None leaves posted cards as they are."""
        self.convo = convo
        self.crm = convo.crm
        self.ledger = DeliveryLedger(convo.crm, channel)
        self.cards = PostedCards(convo.crm, channel)
        self.thread_prefix = thread_prefix
        self._post_card = post_card
        self._post_outcome = post_outcome
        self._update_cards = update_cards
        self.interval_seconds = interval_seconds
        self._baselined = False

    # In-process listeners: claim, then send (so the relay never repeats them).
    async def review_opened(self, review: dict[str, Any]) -> None:
        if self.ledger.claim(review["id"], "card"):
            await self._post_card(review)

    async def outcome_told(self, thread_id: str, message: str, approval_id: str) -> None:
        if thread_id.startswith(self.thread_prefix) and self.ledger.claim(approval_id, "outcome"):
            await self._post_outcome(thread_id, message)

    async def card_posted(self, approval_id: str, location: str) -> None:
        """The channel posted a card of the request there (to be replaced once decided)."""
        await asyncio.to_thread(self.cards.remember, approval_id, location)

    async def refresh_cards(self, row: dict[str, Any], *, clicked: Iterable[str] = ()) -> int:
        """Show the decided card in place of every card of the decided request `row`, once
        across processes (claimed as "card-update"); returns how many cards were updated.
        `clicked`: cards the caller knows of (the one a reviewer just clicked), updated even
        when the others were updated before — unless they were among them."""
        if self._update_cards is None:
            return 0
        known = await asyncio.to_thread(self.cards.locations, row["id"])
        if await asyncio.to_thread(self.ledger.claim, row["id"], "card-update"):
            targets = known | set(clicked)
        else:
            targets = set(clicked) - known
        if targets:
            await self._deliver(row["id"], self._update_cards, row, sorted(targets))
        return len(targets)

    def attach(self) -> None:
        """Subscribe the listeners to the conversation service."""
        self.convo.subscribe(review_opened=self.review_opened, outcome_told=self.outcome_told)

    async def poll_once(self) -> dict[str, int]:
        """Deliver what is due; returns how many cards, outcomes and card updates were sent."""
        reviews = await asyncio.to_thread(self.crm.reviews, status=None)
        if not self._baselined:
            self._baselined = True
            if await asyncio.to_thread(self.ledger.is_new_channel):
                for row in reviews:
                    if row["status"] != "pending":
                        await asyncio.to_thread(self.ledger.claim, row["id"], "outcome")
        cards_done = await asyncio.to_thread(self.ledger.delivered, "card")
        outcomes_done = await asyncio.to_thread(self.ledger.delivered, "outcome")
        to_update: set[str] = set()
        if self._update_cards is not None:
            to_update = await asyncio.to_thread(self.cards.approvals)
            to_update -= await asyncio.to_thread(self.ledger.delivered, "card-update")
        sent = {"cards": 0, "outcomes": 0, "card_updates": 0}
        for row in reviews:
            if row["status"] == "pending":
                if row["id"] not in cards_done and self.ledger.claim(row["id"], "card"):
                    await self._deliver(row["id"], self._post_card, row)
                    sent["cards"] += 1
                continue
            if row["id"] in to_update:
                sent["card_updates"] += await self.refresh_cards(row)
            thread_id = row.get("thread_id") or ""
            if not thread_id.startswith(self.thread_prefix) or row["id"] in outcomes_done:
                continue
            if self.ledger.claim(row["id"], "outcome"):
                message = await self._outcome_message(row)
                await self._deliver(row["id"], self._post_outcome, thread_id, message)
                sent["outcomes"] += 1
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; a failed round is logged and the next one goes on."""
        while not stop.is_set():
            try:
                await self.poll_once()
            except Exception:  # a channel outage must not end the relay
                log.exception("review relay round failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval_seconds)
            except TimeoutError:
                pass

    async def _deliver(
        self, approval_id: str, post: Callable[..., Awaitable[None]], *args: Any
    ) -> None:
        try:
            await post(*args)
        except Exception:
            # Claimed but not delivered: logged with the request id so an operator can resend
            # (at most once is the promise; a duplicate approval card would be worse).
            log.exception("delivery of review %s failed", approval_id)

    async def _outcome_message(self, row: dict[str, Any]) -> str:
        """The sentence the review thread told the requester, or the same sentence rebuilt."""
        snapshot = await self.convo.review_graph.aget_state(
            {"configurable": {"thread_id": f"review:{row['id']}"}}
        )
        message = (snapshot.values or {}).get("message")
        if message:
            return str(message)
        outcome = ReviewOutcome(
            approval_id=row["id"],
            status=row["status"],
            tool=row["tool"],
            summary=(row.get("context") or {}).get("proposal", {}).get("summary") or row["tool"],
            requested_by=row["requested_by"],
            thread_id=row.get("thread_id"),
            decided_by=row.get("decided_by"),
            comment=row.get("comment"),
            already_decided=True,
        )
        names: dict[str, str] = {}
        if outcome.decided_by:
            try:
                names[outcome.decided_by] = self.crm.actor(outcome.decided_by).name
            except NotFound:
                pass
        return describe_outcome(outcome, names)
