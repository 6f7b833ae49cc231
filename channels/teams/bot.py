"""The Teams bot: activities in, ConversationService calls, replies and cards out (Microsoft
365 Agents SDK).

- A message in a personal chat, or a message that mentions the bot in a channel or group chat,
  is one turn of the warroom thread `teams:<conversation id>` (a channel's reply chain has its
  own conversation id, so each chain is its own thread). The server stores it in the durable
  inbox (`channels.inbox`) before answering 200; whichever replica takes it runs the turn and
  posts the answer to the conversation — a turn may take a minute, a request must be answered
  within seconds, and a crash or restart loses nothing.
- Review requests reach their reviewers as Adaptive Cards: in the configured review channel
  (`teams_review_channel`), so nobody needs to have talked to the bot first, or else in each
  reviewer's personal chat with the bot. A card action decides the request through
  `ConversationService.decide` and the card is replaced by one showing who decided and when.
- When a decision is told to a requester's thread, the bot posts it to that conversation.

Who someone is comes only from the identity map or their email (`IdentityResolver`); unknown
people get a polite refusal and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    Attachment,
    ConversationReference,
    InvokeResponse,
)
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import (
    AuthenticationConstants,
    ClaimsIdentity,
    ConnectorClientBase,
    TeamsConnectorClient,
    TurnContext,
)

from agents.conversation import ConversationError, ConversationService
from agents.llm_errors import LLMError
from agents.review import ReviewError
from channels.core.cache import MISSING, TimedCache
from channels.core.conversations import native_id
from channels.core.locks import KeyedLocks
from channels.core.progress import StatusMessage, describe_step
from channels.core.reviews import card_deliveries, names_of
from channels.identity import IdentityResolver, UnknownUser
from channels.inbox import Inbox, InboxEvent, InboxWorker, run_turn
from channels.relay import ReviewRelay
from channels.teams import messages
from channels.teams.activities import (
    CHANNEL,
    THREAD_PREFIX,
    ReviewChannel,
    continuation,
    conversation_reference,
    inbox_key,
    is_card_submit,
    is_turn,
    text_without_mentions,
    thread_id_of,
)
from channels.teams.auth import TeamsAuth
from channels.teams.cards import (
    CARD_CONTENT_TYPE,
    CardAction,
    CardActionError,
    decided_card,
    read_card_action,
    review_card,
)
from channels.teams.store import ConversationStore, card_key
from tools.visibility import review_for

log = logging.getLogger(__name__)

PENDING_COMMANDS = ("/pending", "pending")
REVIEW_CHANNEL_KEY = "#review-channel"  # card_key's "user" for the review channel's card


class TeamsBot:
    """The bot's turn logic (`on_turn`, `handle_stored`) plus the proactive listeners of
    ConversationService."""

    def __init__(
        self,
        *,
        adapter: CloudAdapter,
        auth: TeamsAuth,
        convo: ConversationService,
        identities: IdentityResolver,
        store: ConversationStore,
        inbox: Inbox,
        review_channel: ReviewChannel | None = None,
        concurrency: int = 8,
        poll_seconds: float = 1.0,
    ) -> None:
        self.adapter = adapter
        self.auth = auth
        self.convo = convo
        self.identities = identities
        self.store = store
        self.inbox = inbox
        self.review_channel = review_channel
        self.worker = InboxWorker(
            inbox, self.handle_stored, concurrency=concurrency, poll_seconds=poll_seconds
        )
        self._locks = KeyedLocks()  # one decision at a time per review request
        self._emails = TimedCache(900.0, 5_000, time.monotonic)  # roster emails by Teams id
        self._inbox_stop = asyncio.Event()
        self._inbox_task: asyncio.Task[None] | None = None
        # Cards and outcomes of this process at once, and of other processes (the CLI, the
        # Slack app, other replicas) by polling: each delivered at most once (channels.relay).
        self.relay = ReviewRelay(
            convo,
            channel=CHANNEL,
            thread_prefix=THREAD_PREFIX,
            post_card=self.on_review_opened,
            post_outcome=self.on_requester_told,
        )
        self.relay.attach()
        adapter.on_turn_error = self._on_turn_error

    # ------------------------------------------------------------------ the inbox

    async def receive(
        self, claims: ClaimsIdentity, activity: Activity, body: dict[str, Any]
    ) -> InvokeResponse | None:
        """An authenticated, well-formed activity: a turn is stored (and answered later by
        whichever replica takes it); card actions and installs run now; the rest (channel chatter
        without a mention, typing, reactions) needs nothing. Returns the invoke response."""
        if is_turn(activity):
            assert activity.conversation is not None
            event_id = inbox_key(activity.id or f"no-id-{uuid.uuid4().hex}", 128)
            conversation = inbox_key(thread_id_of(activity.conversation.id), 200)
            stored = await asyncio.to_thread(
                self.inbox.put, event_id, conversation, {"activity": body}
            )
            if stored:
                self.worker.wake()
            else:
                log.info("Skipping %s: it was stored before", event_id)
            return None
        if not (
            is_card_submit(activity)
            or activity.type in (ActivityTypes.invoke, ActivityTypes.conversation_update)
        ):
            return None
        return await self.adapter.process_activity(claims, activity, self.on_turn)

    def start_inbox(self) -> None:
        """Take stored turns (also those a crash or restart left, once their lease ran out)."""
        if self._inbox_task is None:
            self._inbox_stop.clear()
            self._inbox_task = asyncio.create_task(self.worker.run(self._inbox_stop))

    async def drain(self, within: float = 30.0) -> None:
        """Stop taking turns and wait (at most `within` seconds) for those running."""
        task, self._inbox_task = self._inbox_task, None
        if task is None:
            return
        self._inbox_stop.set()
        await asyncio.wait([task], timeout=within)

    async def handle_stored(self, stored: InboxEvent) -> None:
        activity = Activity.model_validate(stored.payload["activity"])
        await self._on_message(activity, stored)

    # ------------------------------------------------------------------ incoming activities

    async def on_turn(self, context: TurnContext) -> None:
        activity = context.activity
        if is_card_submit(activity):
            await self._on_card_submit(context)
        elif activity.type == ActivityTypes.invoke and activity.name == "adaptiveCard/action":
            await self._on_card_execute(context)
        elif activity.type == ActivityTypes.conversation_update:
            await self._remember(activity)  # e.g. the bot installed in a personal scope
        # Other invokes need nothing from warroom; an unanswered invoke gets 501 from the
        # adapter.

    async def _on_message(self, activity: Activity, stored: InboxEvent | None = None) -> None:
        assert activity.conversation is not None
        reference = conversation_reference(activity)
        text = text_without_mentions(activity)
        try:
            user_id = await self._who(activity)
        except UnknownUser as exc:
            await self.post(reference, text=exc.message)
            return
        thread = thread_id_of(activity.conversation.id)
        await self._remember(activity, user_id=user_id, thread_id=thread)
        if not text:
            await self.post(reference, text=messages.EMPTY_MESSAGE)
            return
        if text.lower() in PENDING_COMMANDS:
            await self._send_pending_cards(reference, user_id)
            return
        try:
            await self.post(reference, typing=True)
        except Exception as exc:  # a courtesy: the turn goes on without it
            log.info("No typing indicator in %s: %s", thread, exc)
        status = self._status_message(reference)
        try:
            await status.start()
        except Exception as exc:  # a courtesy as well: without it, the answer still comes
            log.info("No status message in %s: %s", thread, exc)
        headline = "✓ Done."
        try:
            turn = await run_turn(
                self.convo,
                thread_id=thread,
                user_id=user_id,
                text=text,
                stored=stored,
                inbox=self.inbox,
                on_event=status.on_event,
            )
            reply = turn.reply or messages.TURN_FAILED
            if turn.outcome.get("pending"):
                headline = "⏳ Done; part of it waits for approval."
        except ConversationError as exc:
            reply, headline = str(exc), "✗ Not done."
        except LLMError as exc:
            reply, headline = exc.user_message, "✗ Not done."
        except Exception:
            log.exception("Teams turn in %s failed", thread)
            reply, headline = messages.TURN_FAILED, "✗ Not done."
        await status.finish(headline)
        await self.post(reference, text=reply)

    def _status_message(self, reference: ConversationReference) -> StatusMessage:
        """The turn's status message in the conversation: stages, steps and the reply's
        streamed words, edited in place (channels.core.progress)."""

        async def post(text: str) -> str | None:
            return await self.post(reference, text=text)

        async def edit(activity_id: str, text: str) -> None:
            async def callback(context: TurnContext) -> None:
                await context.update_activity(
                    Activity(
                        type=ActivityTypes.message,
                        id=activity_id,
                        text=text,
                        conversation=reference.conversation,
                    )
                )

            await self._proactive(reference, callback)

        return StatusMessage(post, edit, describe_step)

    # ------------------------------------------------------------------ review cards

    async def _on_card_execute(self, context: TurnContext) -> None:
        """Universal Action (`Action.Execute`): the response replaces the card in place."""
        value = context.activity.value if isinstance(context.activity.value, Mapping) else {}
        raw_action = value.get("action")
        action: Mapping[str, Any] = raw_action if isinstance(raw_action, Mapping) else {}
        try:
            card_action = read_card_action(action.get("verb"), action.get("data"))
        except CardActionError as exc:
            await self._invoke_response(context, _error_body(str(exc)))
            return
        card, message = await self._decide(context.activity, card_action)
        if card is None:
            body = {
                "statusCode": 200,
                "type": "application/vnd.microsoft.activity.message",
                "value": message,
            }
        else:
            body = {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card.content}
        await self._invoke_response(context, body)

    async def _on_card_submit(self, context: TurnContext) -> None:
        """Classic `Action.Submit`: a message whose value holds the inputs; the card message
        (the one this replies to) is updated."""
        activity = context.activity
        try:
            card_action = read_card_action(None, activity.value)
        except CardActionError as exc:
            await context.send_activity(str(exc))
            return
        card, message = await self._decide(activity, card_action)
        if card is None:
            await context.send_activity(message)
            return
        card_id: str | None = activity.reply_to_id
        if not card_id:
            try:
                user_id = await self._who(activity)
            except UnknownUser:
                user_id = ""
            card_id = self.store.activity_id("card", card_key(card_action.approval_id, user_id))
        if card_id:
            update = Activity(
                type=ActivityTypes.message,
                id=card_id,
                attachments=[card],
                conversation=activity.conversation,
            )
            await context.update_activity(update)
        else:
            await context.send_activity(Activity(type=ActivityTypes.message, attachments=[card]))

    async def _decide(
        self, activity: Activity, action: CardAction
    ) -> tuple[Attachment | None, str]:
        """(the decided card, the message) — or (None, why nothing changed)."""
        try:
            reviewer = await self._who(activity)
        except UnknownUser as exc:
            return None, exc.message
        await self._remember(activity, user_id=reviewer)
        async with self._locks.hold(f"review:{action.approval_id}"):
            try:
                result = await self.convo.decide(
                    approval_id=action.approval_id,
                    reviewer_id=reviewer,
                    decision=action.verb,
                    comment=action.comment,
                    arguments=action.arguments,
                )
                message = result.reply
            except ReviewError as exc:
                message = exc.user_message
        rows = self.convo.crm.reviews(status=None, approval_id=action.approval_id)
        if not rows or rows[0]["status"] == "pending":
            return None, message  # refused: the card stays as it is
        row = rows[0]
        names = names_of(self.convo.crm, [row["requested_by"], row.get("decided_by")])
        return decided_card(row, names, note=message), message

    async def _send_pending_cards(self, reference: ConversationReference, user_id: str) -> None:
        rows = self.convo.crm.reviews(reviewer_id=user_id)
        if not rows:
            await self.post(reference, text=messages.NOTHING_PENDING)
            return
        await self.post(reference, text=messages.SENDING_PENDING.format(count=len(rows)))
        reader = self.convo.crm.actor(user_id)
        for row in rows:
            shown = review_for(reader, row)  # the reviewer's own view (tools/visibility)
            names = names_of(self.convo.crm, [row["requested_by"]])
            activity_id = await self.post(reference, attachment=review_card(shown, names))
            if activity_id:
                self.store.remember(
                    "card", card_key(row["id"], user_id), reference, activity_id=activity_id
                )

    # ------------------------------------------------------------------ proactive messages

    async def on_review_opened(self, row: dict[str, Any]) -> None:
        """Send the review card to the review channel, or else to each addressed reviewer's
        personal chat with the bot."""
        names = names_of(self.convo.crm, [row["requested_by"]])
        references: dict[str | None, ConversationReference] = {}
        if self.review_channel is not None:
            references[None] = self.review_channel.reference(self._bot_id())
        else:
            for reviewer in row.get("reviewer_ids") or []:
                reference = self.store.reference("user", reviewer)
                if reference is None:
                    log.warning(messages.REVIEW_UNADDRESSED, row["id"], reviewer)
                else:
                    references[reviewer] = reference
        deliveries = card_deliveries(
            self.convo.crm,
            row,
            review_channel=self.review_channel is not None,
            reachable=[r for r in references if r],
        )
        for delivery in deliveries:
            reference = references[delivery.reviewer_id]
            key = card_key(row["id"], delivery.reviewer_id or REVIEW_CHANNEL_KEY)
            try:
                card = review_card(delivery.shown, names)
                activity_id = await self.post(reference, attachment=card)
                self.store.remember("card", key, reference, activity_id=activity_id)
            except Exception:
                log.exception("Could not send review card %s (%s)", row["id"], key)

    async def on_requester_told(self, thread: str, message: str) -> None:
        if native_id(CHANNEL, thread) is None:
            return  # another channel's thread
        reference = self.store.reference("thread", thread)
        if reference is None:
            log.warning("No Teams conversation is known for thread %s", thread)
            return
        try:
            await self.post(reference, text=message)
        except Exception:
            log.exception("Could not tell thread %s: %s", thread, message)

    async def post(
        self,
        reference: ConversationReference,
        *,
        text: str | None = None,
        attachment: Attachment | None = None,
        typing: bool = False,
    ) -> str | None:
        """A new message in a known conversation (proactive, through the connector); returns
        its id."""
        sent: list[str | None] = []

        async def callback(context: TurnContext) -> None:
            if typing:
                activity = Activity(type=ActivityTypes.typing)
            else:
                activity = Activity(type=ActivityTypes.message, text=text)
                if attachment is not None:
                    activity.attachments = [attachment]
            response = await context.send_activity(activity)
            sent.append(response.id if response else None)

        await self._proactive(reference, callback)
        return sent[0] if sent else None

    async def _proactive(
        self, reference: ConversationReference, callback: Callable[[TurnContext], Awaitable[None]]
    ) -> None:
        """Run `callback` in a turn of a known conversation, with the bot's own identity (or
        anonymous, when authentication is off for local testing). A failure is raised to the
        caller (the adapter would hand it to its turn-error handler): an inbox event whose
        answer could not be delivered is taken again, a relay delivery is logged."""
        failed: list[Exception] = []

        async def guarded(context: TurnContext) -> None:
            try:
                await callback(context)
            except Exception as exc:
                failed.append(exc)

        await self.adapter.continue_conversation_with_claims(
            self.auth.bot_identity(),
            continuation(reference),
            guarded,
            audience=AuthenticationConstants.AGENTS_SDK_SCOPE,
        )
        if failed:
            raise failed[0]

    # ------------------------------------------------------------------ plumbing

    async def _who(self, activity: Activity) -> str:
        """The CRM user behind this activity: mapped AAD object id or Teams id, else email."""
        sender = activity.from_property
        if sender is None or not sender.id:
            raise UnknownUser(CHANNEL, "")
        ids = [i for i in (sender.aad_object_id, sender.id) if i]
        for external_id in ids:
            if external_id not in self.identities.mapping[CHANNEL]:
                continue
            try:
                return await asyncio.to_thread(self.identities.resolve, CHANNEL, external_id)
            except UnknownUser:
                continue
        email = self._emails.get(sender.id)
        if email is MISSING:
            email = await self._email_of(activity, sender.id)
            if email is not None:  # a failed lookup is not cached: it may be transient
                self._emails.put(sender.id, email)
        return await asyncio.to_thread(self.identities.resolve, CHANNEL, ids[0], email)

    async def _email_of(self, activity: Activity, member_id: str) -> str | None:
        """The member's email from the conversation's roster (Teams only)."""
        if activity.channel_id != "msteams" or activity.conversation is None:
            return None
        found: list[str | None] = []
        conversation_id = activity.conversation.id

        async def callback(context: TurnContext) -> None:
            connector = context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]
            if not isinstance(connector, TeamsConnectorClient):
                return
            try:
                member = await connector.get_conversation_member(conversation_id, member_id)
            except Exception as exc:  # the roster may be unavailable; then there is no email
                log.info("No Teams roster entry for %s: %s", member_id, exc)
                return
            found.append(member.email or member.user_principal_name)

        try:
            await self._proactive(conversation_reference(activity), callback)
        except Exception as exc:  # the roster may be unavailable; then there is no email
            log.info("No Teams roster entry for %s: %s", member_id, exc)
            return None
        return found[0] if found else None

    async def _remember(
        self, activity: Activity, *, user_id: str | None = None, thread_id: str | None = None
    ) -> None:
        if activity.conversation is None or not activity.service_url:
            return
        reference = conversation_reference(activity)
        if user_id is None:
            try:
                user_id = await self._who(activity)
            except UnknownUser:
                return  # strangers are not remembered
        if (activity.conversation.conversation_type or "personal") == "personal":
            self.store.remember("user", user_id, reference)
        if thread_id:
            self.store.remember("thread", thread_id, reference)

    def _bot_id(self) -> str:
        return f"28:{self.auth.app_id}" if self.auth.app_id else ""

    @staticmethod
    async def _invoke_response(context: TurnContext, body: dict[str, Any]) -> None:
        await context.send_activity(
            Activity(
                type=ActivityTypes.invoke_response, value=InvokeResponse(status=200, body=body)
            )
        )

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        log.error("Teams turn failed", exc_info=error)
        if context.activity.type == ActivityTypes.message:
            try:
                await context.send_activity(messages.TURN_FAILED)
            except Exception as exc:  # the connector itself may be what failed
                log.error("Could not tell the user the turn failed: %s", exc)


def _error_body(message: str) -> dict[str, Any]:
    return {
        "statusCode": 400,
        "type": "application/vnd.microsoft.error",
        "value": {"code": "BadRequest", "message": message},
    }
