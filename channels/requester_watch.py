"""The requester kept in the loop in the terminal: outcomes of their requests decided elsewhere.

A request raised in `warroom chat` is decided somewhere else — another terminal, Slack, Teams,
`warroom review` — often in another process. `RequesterWatch` reads the review records every few
seconds and prints, once per person, what happened to that person's requests: approved (with
the values applied, when a reviewer changed them), rejected, expired or failed, and counters an
owning team made on a cross-team request. On start it prints what happened while they were away.

"Once per person" is the channel delivery ledger (tools.models.ChannelDelivery), under a channel
key per user, so two terminals of the same person do not both print it and a restart does not
print it again; each outcome told is also put on the decision trail (tools/trail.py). The first
time a person opens the terminal, only the last `FIRST_LOOK` of history is shown.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.markup import escape
from sqlalchemy import func, select

from agents.review import describe_outcome
from channels.relay import DeliveryLedger
from tools.crossteam import request_of
from tools.models import ChannelDelivery
from tools.service import CRMService
from tools.trail import reader_mask, record_told

FIRST_LOOK = timedelta(days=14)
POLL_SECONDS = 3.0


def channel_key(user_id: str) -> str:
    """The ledger's channel for one person's terminal (the column holds 16 characters)."""
    return "tty-" + hashlib.sha256(user_id.encode()).hexdigest()[:12]


class RequesterWatch:
    def __init__(self, crm: CRMService, user_id: str) -> None:
        self.crm = crm
        self.user_id = user_id
        self.channel = channel_key(user_id)
        self.ledger = DeliveryLedger(crm, self.channel)

    # ------------------------------------------------------------ ledger

    def _claimed(self) -> set[tuple[str, str]]:
        return {(a, kind) for kind in ("outcome", "counter") for a in self.ledger.delivered(kind)}

    def _is_new(self) -> bool:
        stmt = select(func.count()).where(ChannelDelivery.channel == self.channel)
        with self.crm.db.read_session() as session:
            return not session.scalar(stmt)

    # ------------------------------------------------------------ what to tell

    def mark_seen(self, approval_ids: list[str]) -> None:
        """Requests the person just saw raised in their own turn: their counter is not news."""
        for approval_id in approval_ids:
            self.ledger.claim(approval_id, "counter")

    def away(self) -> list[str]:
        """What happened to this person's requests since they last looked (on start)."""
        if self._is_new():
            cutoff = self.crm.clock.now() - FIRST_LOOK
            for row in self.crm.reviews(requested_by=self.user_id, status=None):
                decided = row.get("decided_at") or row.get("created_at")
                if decided is not None and str(decided) < cutoff.isoformat():
                    self.ledger.claim(row["id"], "outcome")
                    self.ledger.claim(row["id"], "counter")
        return self.poll()

    def poll(self) -> list[str]:
        """New outcomes and counters of this person's requests, each told once."""
        claimed = self._claimed()
        mask = reader_mask(self.crm.actor(self.user_id))
        told: list[str] = []
        for row in self.crm.reviews(requested_by=self.user_id, status=None):
            approval_id = row["id"]
            if row["status"] != "pending":
                if (approval_id, "outcome") in claimed or not self.ledger.claim(
                    approval_id, "outcome"
                ):
                    continue
                message = mask.text(row["tool"], self._outcome(row))
                record_told(
                    self.crm,
                    approval_id=approval_id,
                    thread_id=row.get("thread_id"),
                    channel="terminal",
                    message=message,
                    how="shown to the requester in their open terminal",
                )
                told.append(f"{message} [{approval_id}]")
                continue
            request = request_of(
                ((row.get("context") or {}).get("proposal") or {}).get("facts") or {}
            )
            if request is None or not request.counter or (approval_id, "counter") in claimed:
                continue
            if self.ledger.claim(approval_id, "counter"):
                asked = ", ".join(f"{k} {(request.asked or {}).get(k)}" for k in request.counter)
                offered = ", ".join(f"{k} {v}" for k, v in request.counter.items())
                told.append(
                    mask.text(
                        row["tool"],
                        f"{request.domain.capitalize()} countered your request: {offered} "
                        f"instead of {asked} ({request.counter_reason}); it waits for the "
                        f"{request.lead_noun}. [{approval_id}]",
                    )
                )
        return told

    def _outcome(self, row: dict[str, Any]) -> str:
        outcome = self.crm.review_outcome(row["id"])
        names: dict[str, str] = {}
        for who in {outcome.decided_by, *(a["by"] for a in outcome.approvals)} - {None}:
            try:
                names[who] = self.crm.actor(who).name
            except Exception:  # noqa: BLE001 - a missing name must not hide the outcome
                pass
        return describe_outcome(outcome, names)

    # ------------------------------------------------------------ the terminal

    def print_away(self, console: Console) -> None:
        news = self.away()
        if news:
            console.print("[bold]While you were away:[/]")
            for line in news:
                console.print(f"  • {escape(line)}")

    async def run(
        self, console: Console, stop: asyncio.Event, *, interval: float = POLL_SECONDS
    ) -> None:
        """Print news as it comes until `stop` is set; a failed look is retried next time."""
        while not stop.is_set():
            try:
                news = await asyncio.to_thread(self.poll)
            except Exception:  # noqa: BLE001 - the chat goes on whatever the database says
                news = []
            for line in news:
                console.print(f"\n[cyan]🔔 {escape(line)}[/]")
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass
