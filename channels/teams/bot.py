"""The Teams bot: Bot Framework activities in, ConversationService calls, replies and cards out.

- A message in a personal chat, or a message that mentions the bot in a channel or group chat,
  is one turn of the warroom thread `teams:<conversation id>` (a channel's reply chain has its
  own conversation id, so each chain is its own thread). The turn runs in the background and its
  answer is posted to the conversation: a Bot Framework request must be answered within seconds,
  a model may take a minute.
- Review requests reach their reviewers as Adaptive Cards in the reviewer's personal chat with
  the bot; a card action decides the request through `ConversationService.decide` and the card
  is replaced by one showing who decided and when.
- When a decision is told to a requester's thread, the bot posts it to that conversation.

Who someone is comes only from the identity map or their email (`IdentityResolver`); unknown
people get a polite refusal and nothing else.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Mapping
from http import HTTPStatus
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ConversationReference,
)

from agents.conversation import ConversationError, ConversationService
from agents.llm_errors import LLMError
from agents.review import ReviewError
from channels.identity import IdentityResolver, UnknownUser
from channels.relay import ReviewRelay
from channels.teams import messages
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

THREAD_PREFIX = "teams:"
SHARED_CONVERSATIONS = ("channel", "groupChat")
PENDING_COMMANDS = ("/pending", "pending")
SEEN_ACTIVITIES = 2048  # how many activity ids are remembered to drop redelivered ones


def thread_id_of(conversation_id: str) -> str:
    return THREAD_PREFIX + conversation_id


class TeamsBot:
    """The bot's turn logic (`on_turn`) plus the proactive listeners of ConversationService."""

    def __init__(
        self,
        *,
        adapter: CloudAdapter,
        app_id: str | None,
        convo: ConversationService,
        identities: IdentityResolver,
        store: ConversationStore,
    ) -> None:
        self.adapter = adapter
        self.app_id = app_id or ""
        self.convo = convo
        self.identities = identities
        self.store = store
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread_locks: dict[str, asyncio.Lock] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        # Cards and outcomes of this process at once, and of other processes (the CLI, the
        # Slack app, other replicas) by polling: each delivered at most once (channels.relay).
        self.relay = ReviewRelay(
            convo,
            channel="teams",
            thread_prefix=THREAD_PREFIX,
            post_card=self.on_review_opened,
            post_outcome=self.on_requester_told,
        )
        self.relay.attach()
        adapter.on_turn_error = self._on_turn_error

    # ------------------------------------------------------------------ incoming activities

    async def on_turn(self, context: TurnContext) -> None:
        activity = context.activity
        if activity.type == ActivityTypes.message:
            if isinstance(activity.value, Mapping) and not (activity.text or "").strip():
                await self._on_card_submit(context)
            else:
                await self._on_message(context)
        elif activity.type == ActivityTypes.invoke and activity.name == "adaptiveCard/action":
            await self._on_card_execute(context)
        elif activity.type == ActivityTypes.conversation_update:
            await self._remember(context)  # e.g. the bot installed in a personal scope
        # Anything else (typing, reactions, other invokes) needs nothing from warroom; an
        # unanswered invoke gets 501 from the adapter.

    async def _on_message(self, context: TurnContext) -> None:
        activity = context.activity
        if activity.id and self._already_seen(activity.id):
            return  # a redelivery of a message already being answered
        shared = (activity.conversation.conversation_type or "personal") in SHARED_CONVERSATIONS
        if shared and not _mentions_bot(activity):
            return  # in channels and group chats the bot speaks when spoken to
        text = _text_without_mentions(activity)
        try:
            user_id = await self._who(context)
        except UnknownUser as exc:
            await context.send_activity(exc.message)
            return
        thread_id = thread_id_of(activity.conversation.id)
        await self._remember(context, user_id=user_id, thread_id=thread_id)
        if not text:
            await context.send_activity(messages.EMPTY_MESSAGE)
            return
        if text.lower() in PENDING_COMMANDS:
            await self._send_pending_cards(context, user_id)
            return
        await context.send_activity(Activity(type=ActivityTypes.typing))
        reference = TurnContext.get_conversation_reference(activity)
        self._spawn(self._answer(reference, thread_id, user_id, text))

    async def _answer(
        self, reference: ConversationReference, thread_id: str, user_id: str, text: str
    ) -> None:
        lock = self._thread_locks.setdefault(thread_id, asyncio.Lock())
        async with lock:  # one turn at a time per thread, in arrival order
            try:
                turn = await self.convo.send(thread_id=thread_id, user_id=user_id, text=text)
                reply = turn.reply or messages.TURN_FAILED
            except ConversationError as exc:
                reply = str(exc)
            except LLMError as exc:
                reply = exc.user_message
            except Exception:
                log.exception("Teams turn in %s failed", thread_id)
                reply = messages.TURN_FAILED
            await self.post(reference, text=reply)

    # ------------------------------------------------------------------ review cards

    async def _on_card_execute(self, context: TurnContext) -> None:
        """Universal Action (`Action.Execute`): the response replaces the card in place."""
        value: Mapping[str, Any] = (
            context.activity.value if isinstance(context.activity.value, Mapping) else {}
        )
        raw_action = value.get("action")
        action: Mapping[str, Any] = raw_action if isinstance(raw_action, Mapping) else {}
        try:
            card_action = read_card_action(action.get("verb"), action.get("data"))
        except CardActionError as exc:
            await self._invoke_response(context, _error_body(str(exc)))
            return
        card, message = await self._decide(context, card_action)
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
        card, message = await self._decide(context, card_action)
        if card is None:
            await context.send_activity(message)
            return
        card_id = activity.reply_to_id
        if not card_id:
            try:
                user_id = await self._who(context)
            except UnknownUser:
                user_id = ""
            card_id = self.store.activity_id("card", card_key(card_action.approval_id, user_id))
        if card_id:
            update = Activity(type=ActivityTypes.message, id=card_id, attachments=[card])
            update.conversation = activity.conversation
            await context.update_activity(update)
        else:
            await context.send_activity(Activity(type=ActivityTypes.message, attachments=[card]))

    async def _decide(
        self, context: TurnContext, action: CardAction
    ) -> tuple[Attachment | None, str]:
        """(the decided card, the message) — or (None, why nothing changed)."""
        try:
            reviewer = await self._who(context)
        except UnknownUser as exc:
            return None, exc.message
        await self._remember(context, user_id=reviewer)
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
        return decided_card(rows[0], self._name_of, note=message), message

    async def _send_pending_cards(self, context: TurnContext, user_id: str) -> None:
        rows = self.convo.crm.reviews(reviewer_id=user_id)
        if not rows:
            await context.send_activity(messages.NOTHING_PENDING)
            return
        await context.send_activity(messages.SENDING_PENDING.format(count=len(rows)))
        reader = self.convo.crm.actor(user_id)
        for row in rows:
            shown = review_for(reader, row)  # the reviewer's own view (tools/visibility)
            response = await context.send_activity(
                Activity(
                    type=ActivityTypes.message, attachments=[review_card(shown, self._name_of)]
                )
            )
            if response and response.id:
                self.store.remember(
                    "card",
                    card_key(row["id"], user_id),
                    TurnContext.get_conversation_reference(context.activity),
                    activity_id=response.id,
                )

    # ------------------------------------------------------------------ proactive messages

    async def on_review_opened(self, row: dict[str, Any]) -> None:
        """Send the review card to each addressed reviewer's personal chat with the bot."""
        for reviewer in row.get("reviewer_ids") or []:
            reference = self.store.reference("user", reviewer)
            if reference is None:
                log.warning(
                    "Review %s waits for %s, who has not talked to the Teams bot yet; they can "
                    "say 'pending' to the bot or use `warroom review`.",
                    row["id"],
                    reviewer,
                )
                continue
            try:
                shown = review_for(self.convo.crm.actor(reviewer), row)  # tools/visibility
                activity_id = await self.post(
                    reference, attachment=review_card(shown, self._name_of)
                )
                self.store.remember(
                    "card", card_key(row["id"], reviewer), reference, activity_id=activity_id
                )
            except Exception:
                log.exception("Could not send review card %s to %s", row["id"], reviewer)

    async def on_requester_told(self, thread_id: str, message: str) -> None:
        if not thread_id.startswith(THREAD_PREFIX):
            return  # another channel's thread
        reference = self.store.reference("thread", thread_id)
        if reference is None:
            log.warning("No Teams conversation is known for thread %s", thread_id)
            return
        try:
            await self.post(reference, text=message)
        except Exception:
            log.exception("Could not tell thread %s: %s", thread_id, message)

    async def post(
        self,
        reference: ConversationReference,
        *,
        text: str | None = None,
        attachment: Attachment | None = None,
    ) -> str | None:
        """A new message in a known conversation (Bot Connector API); returns its id."""
        sent: list[str | None] = []

        async def callback(context: TurnContext) -> None:
            context.activity.id = None  # a new message, not a reply to the continuation event
            activity = Activity(type=ActivityTypes.message, text=text)
            if attachment is not None:
                activity.attachments = [attachment]
            response = await context.send_activity(activity)
            sent.append(response.id if response else None)

        await self.adapter.continue_conversation(reference, callback, self.app_id)
        return sent[0] if sent else None

    # ------------------------------------------------------------------ plumbing

    async def _who(self, context: TurnContext) -> str:
        """The CRM user behind this activity: mapped AAD object id or Teams id, else email."""
        sender = context.activity.from_property
        if sender is None or not sender.id:
            raise UnknownUser("teams", "")
        ids = [i for i in (getattr(sender, "aad_object_id", None), sender.id) if i]
        for external_id in ids:
            try:
                return self.identities.resolve("teams", external_id)
            except UnknownUser:
                continue
        email = await self._email_of(context, sender.id)
        return self.identities.resolve("teams", ids[0], email)

    async def _email_of(self, context: TurnContext, member_id: str) -> str | None:
        if context.activity.channel_id != "msteams":
            return None
        try:
            member = await TeamsInfo.get_member(context, member_id)
        except Exception as exc:  # the roster may be unavailable; then there is no email
            log.info("No Teams roster entry for %s: %s", member_id, exc)
            return None
        return getattr(member, "email", None) or getattr(member, "user_principal_name", None)

    async def _remember(
        self, context: TurnContext, *, user_id: str | None = None, thread_id: str | None = None
    ) -> None:
        activity = context.activity
        if activity.conversation is None or not activity.service_url:
            return
        reference = TurnContext.get_conversation_reference(activity)
        if user_id is None:
            try:
                user_id = await self._who(context)
            except UnknownUser:
                return  # strangers are not remembered
        if (activity.conversation.conversation_type or "personal") == "personal":
            self.store.remember("user", user_id, reference)
        if thread_id:
            self.store.remember("thread", thread_id, reference)

    def _name_of(self, user_id: str | None) -> str:
        if not user_id:
            return "—"
        try:
            return self.convo.crm.actor(user_id).name
        except Exception:
            return user_id

    def _already_seen(self, activity_id: str) -> bool:
        if activity_id in self._seen:
            return True
        self._seen[activity_id] = None
        while len(self._seen) > SEEN_ACTIVITIES:
            self._seen.popitem(last=False)
        return False

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, grace_seconds: float) -> None:
        """Wait for background turns to finish (at shutdown), cancelling any left after
        `grace_seconds`."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()

    @staticmethod
    async def _invoke_response(context: TurnContext, body: dict[str, Any]) -> None:
        await context.send_activity(
            Activity(
                type=ActivityTypes.invoke_response,
                value=InvokeResponse(status=int(HTTPStatus.OK), body=body),
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


def _mentions_bot(activity: Activity) -> bool:
    return any(_mentioned_id(e) == activity.recipient.id for e in activity.entities or [])


def _mentioned_id(entity: Any) -> str | None:
    if (getattr(entity, "type", "") or "").lower() != "mention":
        return None
    mentioned = (entity.additional_properties or {}).get("mentioned") or {}
    return mentioned.get("id") if isinstance(mentioned, Mapping) else None


def _text_without_mentions(activity: Activity) -> str:
    """The message text without the bot's `<at>…</at>` mention (Teams puts it in the text)."""
    text = activity.text or ""
    bot_id = activity.recipient.id if activity.recipient else None
    for entity in activity.entities or []:
        if _mentioned_id(entity) == bot_id:
            mention_text = (entity.additional_properties or {}).get("text")
            if mention_text:
                text = text.replace(mention_text, " ")
    return " ".join(html.unescape(text).split())
