"""The Slack app: Bolt listeners that acknowledge at once and hand the work to
`ConversationService` in the background.

    mention / DM      → a turn in the Slack thread's conversation, progress in a status message
    file shared       → meeting-note ingestion, summary in the thread
    /warroom …        → a private turn, answered through response_url
    review requests   → Block Kit cards to the reviewers (DM or the review channel)
    card buttons      → approve / reject (modal) / edit (modal) through ConversationService.decide
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agents.conversation import ConversationError, ConversationService
from agents.llm_errors import LLMError
from agents.review import ReviewError
from channels.core.locks import KeyedLocks
from channels.core.reviews import card_deliveries, names_of
from channels.identity import UnknownUser
from channels.inbox import GroupCommit, Inbox, InboxEvent, InboxWorker, run_turn
from channels.relay import ReviewRelay
from channels.slack import cards, messages
from channels.slack.config import SlackConfig
from channels.slack.dedupe import RecentDeliveries, SharedDeliveries
from channels.slack.events import wanted
from channels.slack.files import FileRefused, Ingest, download
from channels.slack.messages import SlackStartError
from channels.slack.people import SlackPeople
from channels.slack.progress import StatusMessage
from channels.slack.text import MAX_PARTS, escape, from_slack, split_message
from channels.slack.threads import PREFIX as THREAD_PREFIX
from channels.slack.threads import SlackThread
from channels.slack.worker import WorkerLoop
from tools.errors import NotFound
from tools.visibility import Audience, review_for

log = logging.getLogger(__name__)

COMMAND = "/warroom"


class SlackChannel:
    def __init__(
        self,
        *,
        convo: ConversationService,
        people: SlackPeople,
        config: SlackConfig,
        client: AsyncWebClient,
        ingest: Ingest | None = None,
        ingest_errors: tuple[type[BaseException], ...] = (),
        deliveries: RecentDeliveries | SharedDeliveries | None = None,
        worker: WorkerLoop | None = None,
        inbox: Inbox | None = None,
    ) -> None:
        """`worker`: the loop (in its own thread) that runs conversations, reviews and
        ingestion, and on which `convo` was built; None runs them on the serving loop.
        `inbox`: mentions and direct messages are stored there before they are acknowledged
        and handled by whichever replica takes them (channels.inbox); None handles them in
        this process only, after the ack."""
        self.convo = convo
        self.crm = convo.crm
        self.people = people
        self.config = config
        self.client = client
        self.ingest = ingest
        self.ingest_errors = ingest_errors
        # Production (build_channel) shares the ids through the CRM database; alone, in memory.
        self.deliveries = deliveries if deliveries is not None else RecentDeliveries()
        self.bolt = AsyncApp(
            name="warroom",
            client=client,
            signing_secret=config.signing_secret or "",
            logger=logging.getLogger("warroom.slack.bolt"),
        )
        self.worker = worker
        self.inbox = inbox
        self.inbox_worker = (
            InboxWorker(inbox, self._handle_stored, concurrency=config.max_concurrent_turns)
            if inbox is not None
            else None
        )
        self._store = GroupCommit(inbox) if inbox is not None else None
        self._bot_user_id: str | None = None  # known after warm_up (auth.test)
        self._inbox_stop: asyncio.Event | None = None
        self._inbox_job: concurrent.futures.Future[None] | asyncio.Task[None] | None = None
        self._jobs: set[asyncio.Task[None] | concurrent.futures.Future[None]] = set()
        self._locks = KeyedLocks()
        self._turn_slots = asyncio.Semaphore(config.max_concurrent_turns)
        self._register()
        # Cards and outcomes of this process at once, and of other processes (the CLI, the
        # Teams bot, other replicas) by polling: each delivered at most once (channels.relay).
        # So are the decided cards that replace a request's cards, wherever it was decided.
        self.relay = ReviewRelay(
            convo,
            channel="slack",
            thread_prefix=f"{THREAD_PREFIX}:",
            post_card=self.post_review_card,
            post_outcome=self.tell_requester,
            update_cards=self.show_decided_card,
        )
        self.relay.attach()

    # ------------------------------------------------------------------ plumbing

    def _register(self) -> None:
        bolt = self.bolt
        bolt.middleware(self._once_per_event)
        bolt.event("app_mention")(self._on_mention)
        bolt.event("message")(self._on_direct_message)
        bolt.command(COMMAND)(self._on_command)
        bolt.action(cards.APPROVE)(self._on_approve)
        bolt.action(cards.REJECT)(self._on_reject_clicked)
        bolt.action(cards.EDIT)(self._on_edit_clicked)
        bolt.view(cards.REJECT_VIEW)(self._on_reject_submitted)
        bolt.view(cards.EDIT_VIEW)(self._on_edit_submitted)

    async def warm_up(self) -> None:
        """Check the bot token once at start, so a wrong token is one clear error rather than
        every request failing, and hand the answer to Bolt's authorization so that the first
        burst of events does not call auth.test once each."""
        try:
            identity = await self.client.auth_test()
        except SlackApiError as exc:
            raise SlackStartError(messages.token_refused(exc.response.get("error"))) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise SlackStartError(messages.api_unreachable(self.config.api_url, exc)) from exc
        for middleware in self.bolt._async_middleware_list:
            if isinstance(middleware, AsyncSingleTeamAuthorization):
                middleware.auth_test_result = identity
        if identity.get("bot_id"):
            self._bot_user_id = identity.get("user_id")

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Run `work` after the ack; kept referenced until done, failures logged."""

        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("Slack %s failed", what)

        job: asyncio.Task[None] | concurrent.futures.Future[None]
        if self.worker is None:
            job = asyncio.get_running_loop().create_task(guarded(), name=f"slack {what}")
        else:
            job = self.worker.submit(guarded())
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    @property
    def busy(self) -> int:
        """Background jobs still running (stored events being handled included)."""
        stored = self.inbox_worker.busy if self.inbox_worker is not None else 0
        return len(self._jobs) + stored

    def start_inbox(self) -> None:
        """Start taking stored events (on the worker loop when there is one). Events this or
        another process stored and never finished — a crash, a restart — are taken too, once
        their lease has run out."""
        if self.inbox_worker is None or self._inbox_job is not None:
            return
        worker = self.inbox_worker

        async def run() -> None:
            self._inbox_stop = asyncio.Event()
            await worker.run(self._inbox_stop)

        if self.worker is None:
            self._inbox_job = asyncio.get_running_loop().create_task(run(), name="slack inbox")
        else:
            self._inbox_job = self.worker.submit(run())

    async def stop_inbox(self) -> None:
        job, stop = self._inbox_job, self._inbox_stop
        if job is None:
            return
        if stop is not None:
            if self.worker is None:
                stop.set()
            else:
                self.worker.loop.call_soon_threadsafe(stop.set)
        waiting = job if isinstance(job, asyncio.Task) else asyncio.wrap_future(job)
        await asyncio.wait([waiting], timeout=35)
        self._inbox_job = None

    async def drain(self, within: float = 30.0) -> None:
        """Wait (at most `within` seconds) for background work, e.g. before shutting down."""
        running = list(self._jobs)  # one C-level copy: the worker thread discards finished jobs
        jobs = [j if isinstance(j, asyncio.Task) else asyncio.wrap_future(j) for j in running]
        if jobs:
            await asyncio.wait(jobs, timeout=within)
        await self.stop_inbox()

    async def acknowledge(self, body: Mapping[str, Any], *, retry: str = "?") -> bool:
        """The ack of an Events API delivery without Bolt, for the HTTP server to answer 200 as
        soon as this returns True: a mention or direct message (not our own) is remembered and
        stored in the durable inbox, or skipped as a repeat — nothing else. False (nothing
        done): Bolt must handle the delivery. The signature was checked by the caller."""
        event_id, event = body.get("event_id"), body.get("event")
        if not (event_id and self._store is not None and self._bot_user_id and wanted(event)):
            return False
        assert isinstance(event, dict)
        if event.get("user") == self._bot_user_id:
            return False  # Bolt ignores the app's own events
        await self._store_before_ack(str(event_id), body, event, self._bot_user_id, retry)
        return True

    async def _store_before_ack(
        self,
        event_id: str,
        body: Mapping[str, Any],
        event: dict[str, Any],
        bot_user_id: str | None,
        retry: str,
    ) -> None:
        """Stored before the ack: from here on, some replica answers it (`_handle_stored`)."""
        assert self._store is not None
        if not self.deliveries.first_time(event_id):
            log.info("Skipping repeated delivery of %s (retry %s)", event_id, retry)
            return
        team = str(body.get("team_id") or event.get("team") or "")
        thread = SlackThread(
            team, event["channel"], thread_ts=event.get("thread_ts") or event["ts"]
        )
        payload = {"team": team, "event": event, "bot_user_id": bot_user_id}
        if await self._store.store(event_id, thread.id, payload):
            if self.inbox_worker is not None:
                self.inbox_worker.wake()
        else:
            log.info("Skipping %s: it was stored before", event_id)

    async def _once_per_event(
        self, req: AsyncBoltRequest, resp: BoltResponse, next: Any
    ) -> BoltResponse:
        """Slack redelivers an event it believes unacknowledged; each event_id runs once.
        (Runs after Bolt's signature check, so forged requests cannot fill the memory.)
        Over HTTP, mentions and direct messages do not come this way (`acknowledge`)."""
        body = req.body if isinstance(req.body, dict) else {}
        event_id = body.get("event_id")
        retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
        event = body.get("event")
        if event_id and self._store is not None and wanted(event):
            assert isinstance(event, dict)
            await self._store_before_ack(str(event_id), body, event, req.context.bot_user_id, retry)
            return BoltResponse(status=200, body="")
        if event_id and not self.deliveries.first_time(str(event_id)):
            log.info("Skipping repeated delivery of %s (retry %s)", event_id, retry)
            return BoltResponse(status=200, body="")
        if event_id:
            # Other replicas are asked after the ack, before the work starts (`_message`).
            req.context["warroom_event_id"] = str(event_id)
        return await next()

    async def _ephemeral(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> None:
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, thread_ts=thread_ts
            )
        except SlackApiError as exc:
            log.warning("chat.postEphemeral failed: %s", exc.response.get("error"))

    async def _post(self, thread: SlackThread, text: str) -> None:
        """An answer in a thread: split into parts, or attached when very long."""
        assert thread.thread_ts is not None
        if not text.strip():
            return  # Slack refuses empty messages (no_text)
        parts = split_message(escape(text))
        if len(parts) > MAX_PARTS:
            await self.client.chat_postMessage(
                channel=thread.channel,
                thread_ts=thread.thread_ts,
                text=parts[0] + "\n\n" + messages.FULL_ANSWER_ATTACHED,
            )
            await self.client.files_upload_v2(
                channel=thread.channel,
                thread_ts=thread.thread_ts,
                content=text,
                filename="warroom-answer.txt",
                title="warroom answer",
            )
            return
        for part in parts:
            await self.client.chat_postMessage(
                channel=thread.channel, thread_ts=thread.thread_ts, text=part
            )

    def _names(self, user_ids: list[str]) -> dict[str, str]:
        return names_of(self.crm, user_ids)

    # ------------------------------------------------------------ conversations

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        team = body.get("team_id") or event.get("team") or ""
        event_id = context.get("warroom_event_id")
        self._spawn(self._message(team, event, context.bot_user_id, event_id), "mention")

    async def _on_direct_message(
        self, event: dict[str, Any], body: dict[str, Any], context: Any
    ) -> None:
        if not wanted(event):
            return  # see channels.slack.events.wanted
        team = body.get("team_id") or event.get("team") or ""
        event_id = context.get("warroom_event_id")
        self._spawn(self._message(team, event, context.bot_user_id, event_id), "direct message")

    async def _handle_stored(self, stored: InboxEvent) -> None:
        """An event from the inbox (this process's, another replica's, or one a crash left)."""
        payload = stored.payload
        await self._message(
            str(payload.get("team") or ""),
            payload["event"],
            payload.get("bot_user_id"),
            stored=stored,
        )

    async def _message(
        self,
        team: str,
        event: dict[str, Any],
        bot_user_id: str | None,
        event_id: str | None = None,
        stored: InboxEvent | None = None,
    ) -> None:
        if event_id and await self.deliveries.taken_elsewhere(event_id):
            log.info("Skipping %s: another process took it first", event_id)
            return
        channel, user = event["channel"], event.get("user") or ""
        thread = SlackThread(team, channel, thread_ts=event.get("thread_ts") or event["ts"])
        try:
            actor = await self.people.crm_user(user)
        except UnknownUser as exc:
            await self._ephemeral(channel, user, exc.message, thread_ts=thread.thread_ts)
            return
        async with self._locks.hold(thread.id), self._turn_slots:
            if event.get("files"):
                for file in event["files"]:
                    await self._ingest_file(thread, actor, file)
                return
            text = from_slack(event.get("text") or "", bot_user_id=bot_user_id)
            await self._turn(thread, actor, text, stored=stored)

    async def _turn(
        self, thread: SlackThread, actor: str, text: str, *, stored: InboxEvent | None = None
    ) -> None:
        assert thread.thread_ts is not None
        status = StatusMessage(
            self.client,
            channel=thread.channel,
            thread_ts=thread.thread_ts,
            interval=self.config.progress_interval,
        )
        await status.start()
        try:
            turn = await run_turn(
                self.convo,
                thread_id=thread.id,
                user_id=actor,
                text=text,
                stored=stored,
                inbox=self.inbox,
                on_event=status.on_event,
            )
        except ConversationError as exc:
            await status.finish(f"✗ {escape(str(exc))}")
            return
        except LLMError as exc:
            await status.finish(f"✗ {escape(exc.user_message)}")
            return
        except Exception:
            log.exception("Turn in %s failed", thread.id)
            await status.finish(f"✗ {messages.TURN_INTERNAL}")
            return
        waiting = (turn.outcome or {}).get("pending")
        await status.finish("⏳ Done; part of it waits for approval." if waiting else "✓ Done.")
        await self._post(thread, turn.reply)

    async def _ingest_file(self, thread: SlackThread, actor: str, file: dict[str, Any]) -> None:
        name = str(file.get("name") or file.get("title") or file.get("id") or "the file")
        if self.ingest is None:
            await self._post(thread, messages.INGEST_UNAVAILABLE.format(filename=name))
            return
        assert thread.thread_ts is not None
        status = StatusMessage(
            self.client,
            channel=thread.channel,
            thread_ts=thread.thread_ts,
            interval=self.config.progress_interval,
        )
        await status.start(f"Reading {escape(name)}…")
        try:
            if not (file.get("url_private") or file.get("url_private_download")) and file.get("id"):
                file = (await self.client.files_info(file=file["id"]))["file"]
            data = await download(
                file,
                bot_token=self.config.bot_token,
                api_url=self.config.api_url,
                max_bytes=self.config.max_file_bytes,
            )
            result = await self.ingest(
                filename=name, data=data, actor_id=actor, thread_id=thread.id
            )
            answer = result.summary()
            headline = f"✓ Read {escape(name)}."
        except FileRefused as exc:
            answer, headline = str(exc), f"✗ {escape(name)} was not read."
        except Exception as exc:
            if not isinstance(exc, self.ingest_errors):
                log.exception("Ingesting %s failed", name)
                answer = messages.INGEST_INTERNAL.format(filename=name)
            else:
                answer = messages.INGEST_FAILED.format(filename=name, reason=exc)
            headline = f"✗ {escape(name)} was not filed."
        await status.finish(headline)
        await self._post(thread, answer)

    # ----------------------------------------------------------------- /warroom

    async def _on_command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        text = (command.get("text") or "").strip()
        if text.lower() in ("", "help"):
            await ack(text=messages.HELP)
            return
        if text.lower() == "pending":
            await ack()
        else:
            await ack(text=messages.WORKING)
        self._spawn(self._command(command, text, respond), "slash command")

    async def _command(self, command: dict[str, Any], text: str, respond: Any) -> None:
        user = command["user_id"]
        thread = SlackThread(command.get("team_id") or "", command["channel_id"], private_to=user)

        async def answer(reply: str) -> None:
            parts = split_message(escape(reply))
            for part in parts[:MAX_PARTS]:
                await respond(text=part, response_type="ephemeral", replace_original=False)

        try:
            actor = await self.people.crm_user(user)
        except UnknownUser as exc:
            await answer(exc.message)
            return
        if text.lower() == "pending":
            rows = await asyncio.to_thread(self.crm.reviews, reviewer_id=actor)
            names = await asyncio.to_thread(self._names, [r["requested_by"] for r in rows])
            lines = [
                f"{r['id']}: {cards.summary_of(r)} — from {names.get(r['requested_by'])}, "
                f"expires {cards.when(r['expires_at'])}"
                for r in rows
            ]
            await answer("\n".join(lines) or messages.NOTHING_PENDING)
            return
        async with self._locks.hold(thread.id), self._turn_slots:
            try:
                turn = await self.convo.send(thread_id=thread.id, user_id=actor, text=text)
            except ConversationError as exc:
                await answer(str(exc))
                return
            except LLMError as exc:
                await answer(exc.user_message)
                return
        await answer(turn.reply)

    # ------------------------------------------------------------------ review

    async def post_review_card(self, row: dict[str, Any]) -> None:
        """ConversationService listener: a new review request → cards for its reviewers."""
        try:
            await self._post_review_card(row)
        except Exception:
            log.exception("Posting the review card of %s failed", row.get("id"))

    async def _post_review_card(self, row: dict[str, Any]) -> None:
        if row["status"] != "pending":
            return
        names = await asyncio.to_thread(self._names, [row["requested_by"], *row["reviewer_ids"]])
        slack_ids = {rid: await self.people.slack_user(rid) for rid in row["reviewer_ids"]}
        for rid, slack_id in slack_ids.items():
            if slack_id is None:
                log.warning(
                    messages.REVIEW_UNADDRESSED.format(approval_id=row["id"], who=names[rid])
                )
        found = [s for s in slack_ids.values() if s]
        deliveries = await asyncio.to_thread(
            card_deliveries,
            self.crm,
            row,
            review_channel=bool(self.config.review_channel),
            reachable=[rid for rid, slack_id in slack_ids.items() if slack_id],
        )
        for delivery in deliveries:
            if delivery.reviewer_id is None:
                channel, mention = str(self.config.review_channel), found
            else:
                slack_id = str(slack_ids[delivery.reviewer_id])
                opened = await self.client.conversations_open(users=slack_id)
                channel, mention = opened["channel"]["id"], [slack_id]
            card = cards.review_card(delivery.shown, names, mention=mention)
            posted = await self.client.chat_postMessage(
                channel=channel, text=card["text"], blocks=card["blocks"]
            )
            await self.relay.card_posted(row["id"], _location(channel, posted["ts"]))

    async def tell_requester(self, thread_id: str, message: str) -> None:
        """ConversationService listener: a decision or expiry, told in the requester's thread."""
        thread = SlackThread.parse(thread_id)
        if thread is None:
            return  # another channel's conversation
        try:
            if thread.private_to:
                await self._ephemeral(thread.channel, thread.private_to, escape(message))
            else:
                await self._post(thread, message)
        except SlackApiError as exc:
            log.warning("Telling %s failed: %s", thread_id, exc.response.get("error"))

    @staticmethod
    def _card_of(body: dict[str, Any]) -> tuple[str, str]:
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
        return str(channel), str(ts)

    async def _review(self, approval_id: str) -> dict[str, Any] | None:
        rows = await asyncio.to_thread(self.crm.reviews, status=None, approval_id=approval_id)
        return rows[0] if rows else None

    async def _refresh_cards(self, row: dict[str, Any], clicked: tuple[str, str]) -> None:
        """Every card of a decided request shows who decided and when; no buttons remain. The
        clicked card at once; the others unless some process replaced them already."""
        await self.relay.refresh_cards(row, clicked=[_location(*clicked)])

    async def show_decided_card(self, row: dict[str, Any], locations: list[str]) -> None:
        """Relay callback: the decided card in place of the cards at `locations`."""
        who = [row.get("decided_by") or "", row["requested_by"]]
        shown = review_for(Audience(()), row)  # cards may sit in a shared channel
        card = cards.decided_card(shown, await asyncio.to_thread(self._names, who))
        for location in locations:
            channel, _, ts = location.partition(" ")
            try:
                await self.client.chat_update(
                    channel=channel, ts=ts, text=card["text"], blocks=card["blocks"]
                )
            except SlackApiError as exc:
                error = exc.response.get("error")
                log.warning("Updating the card of %s failed: %s", row["id"], error)

    async def _on_approve(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        self._spawn(
            self._decide(
                approval_id=action["value"],
                slack_user=body["user"]["id"],
                decision="approve",
                card=self._card_of(body),
            ),
            "approval",
        )

    async def _decide(
        self,
        *,
        approval_id: str,
        slack_user: str,
        decision: str,
        card: tuple[str, str],
        comment: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> None:
        channel = card[0]
        try:
            reviewer = await self.people.crm_user(slack_user)
        except UnknownUser as exc:
            await self._ephemeral(channel, slack_user, exc.message)
            return
        async with self._locks.hold(f"review:{approval_id}"):
            try:
                result = await self.convo.decide(
                    approval_id=approval_id,
                    reviewer_id=reviewer,
                    decision=decision,
                    comment=comment,
                    arguments=arguments,
                )
            except ReviewError as exc:
                await self._ephemeral(channel, slack_user, escape(exc.user_message))
                row = await self._review(approval_id)
                if row is not None and row["status"] != "pending":  # e.g. it expired
                    await self._refresh_cards(row, card)
                return
        row = await self._review(approval_id)
        assert row is not None
        # A fresh decision reports its ReviewOutcome (`already_decided` False); a repeat click
        # reports the stored request, which has no such field.
        if (result.outcome.get("review") or {}).get("already_decided", True):
            names = await asyncio.to_thread(self._names, [row.get("decided_by") or ""])
            await self._ephemeral(channel, slack_user, cards.already_decided(row, names))
        await self._refresh_cards(row, card)

    async def _may_decide(self, row: dict[str, Any], reviewer: str) -> bool:
        """Mirrors CRMService.decide_review (which stays the authority) to refuse early, before
        a modal opens: the addressed reviewers, or an admin."""
        if reviewer in row["reviewer_ids"]:
            return True
        try:
            actor = await asyncio.to_thread(self.crm.actor, reviewer)
        except NotFound:
            return False
        return "admin" in (actor.roles or [])

    async def _on_reject_clicked(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any]
    ) -> None:
        await ack()
        self._spawn(self._open_modal(body, action["value"], cards.reject_modal), "reject")

    async def _on_edit_clicked(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any]
    ) -> None:
        await ack()
        self._spawn(self._open_modal(body, action["value"], cards.edit_modal), "edit")

    async def _open_modal(self, body: dict[str, Any], approval_id: str, build: Any) -> None:
        slack_user = body["user"]["id"]
        card = self._card_of(body)
        try:
            reviewer = await self.people.crm_user(slack_user)
        except UnknownUser as exc:
            await self._ephemeral(card[0], slack_user, exc.message)
            return
        row = await self._review(approval_id)
        if row is None:
            await self._ephemeral(
                card[0], slack_user, messages.REVIEW_GONE.format(approval_id=approval_id)
            )
            return
        if row["status"] != "pending":
            names = await asyncio.to_thread(self._names, [row.get("decided_by") or ""])
            await self._ephemeral(card[0], slack_user, cards.already_decided(row, names))
            await self._refresh_cards(row, card)
            return
        if not await self._may_decide(row, reviewer):
            names = await asyncio.to_thread(self._names, row["reviewer_ids"])
            who = ", ".join(names[r] for r in row["reviewer_ids"]) or row["reviewer_role"]
            await self._ephemeral(
                card[0],
                slack_user,
                messages.NOT_YOUR_REVIEW.format(who=who, approval_id=approval_id),
            )
            return
        await self.client.views_open(
            trigger_id=body["trigger_id"],
            view=build(
                review_for(await asyncio.to_thread(self.crm.actor, reviewer), row),
                channel=card[0],
                ts=card[1],
            ),
        )

    async def _on_reject_submitted(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        reason = cards.submitted_value(view, cards.REASON_BLOCK, cards.REASON_INPUT)
        if not reason:
            errors = {cards.REASON_BLOCK: messages.REASON_REQUIRED}
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        meta = cards.read_metadata(view)
        self._spawn(
            self._decide(
                approval_id=meta["approval_id"],
                slack_user=body["user"]["id"],
                decision="reject",
                comment=reason,
                card=(meta["channel"], meta["ts"]),
            ),
            "rejection",
        )

    async def _on_edit_submitted(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        raw = cards.submitted_value(view, cards.ARGUMENTS_BLOCK, cards.ARGUMENTS_INPUT)
        arguments, problem = cards.parse_edited_arguments(raw)
        if problem:
            await ack(response_action="errors", errors={cards.ARGUMENTS_BLOCK: problem})
            return
        await ack()
        meta = cards.read_metadata(view)
        comment = cards.submitted_value(view, cards.COMMENT_BLOCK, cards.COMMENT_INPUT) or None
        self._spawn(
            self._decide(
                approval_id=meta["approval_id"],
                slack_user=body["user"]["id"],
                decision="edit",
                comment=comment,
                arguments=arguments,
                card=(meta["channel"], meta["ts"]),
            ),
            "edit",
        )


def _location(channel: str, ts: str) -> str:
    """Where a card is, as the relay keeps it (channels.relay.PostedCards)."""
    return f"{channel} {ts}"
