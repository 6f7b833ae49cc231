"""`warroom serve teams`: the Bot Framework endpoint `/api/messages` on aiohttp.

The handler reads the activity, has botbuilder authenticate it (JWT validation unless
`teams_skip_auth`), then runs the bot. Malformed activities get 400 with what is wrong,
unauthenticated ones 401; neither reaches the bot.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from botframework.connector.auth import AuthenticateRequestResult
from msrest.exceptions import DeserializationError

from agents.conversation import ConversationService
from agents.llm import build_chat_model
from agents.llm_errors import LLMError
from channels.health import add_health_routes
from channels.identity import IdentityMapError, IdentityResolver, load_identity_map
from channels.teams import messages
from channels.teams.auth import TeamsAuth, TeamsStartError, build_authentication
from channels.teams.bot import TeamsBot
from channels.teams.store import ConversationStore
from memory.checkpoint import open_async_checkpointer
from warroom.app import App
from warroom.health import readiness_checks

log = logging.getLogger(__name__)

BOT_KEY = web.AppKey("teams_bot", TeamsBot)
AUTH_KEY = web.AppKey("teams_auth", TeamsAuth)
ENDPOINT = "/api/messages"
EXPIRY_SWEEP_SECONDS = 300.0
DRAIN_SECONDS = 30.0
# Fields a conversational activity cannot do without (outbound replies need all of them).
REQUIRED = {
    ActivityTypes.message: ("serviceUrl", "conversation.id", "from.id", "recipient.id"),
    ActivityTypes.invoke: ("serviceUrl", "conversation.id", "from.id", "recipient.id", "name"),
}


def create_web_app(bot: TeamsBot | None, auth: TeamsAuth) -> web.Application:
    """The aiohttp application; `bot` may be set later under BOT_KEY (by a cleanup context)."""
    webapp = web.Application(client_max_size=4 * 1024 * 1024)
    webapp[AUTH_KEY] = auth
    if bot is not None:
        webapp[BOT_KEY] = bot
    webapp.router.add_post(ENDPOINT, handle_messages)
    return webapp


async def handle_messages(request: web.Request) -> web.Response:
    bot, auth = request.app[BOT_KEY], request.app[AUTH_KEY]
    try:
        body = json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _problem(400, messages.BAD_BODY.format(error=exc))
    if not isinstance(body, dict):
        return _problem(400, messages.BAD_BODY.format(error=f"got {type(body).__name__}"))
    try:
        activity = Activity().deserialize(body)
    except (DeserializationError, TypeError, ValueError) as exc:
        return _problem(400, messages.BAD_ACTIVITY.format(error=exc))
    if not activity.type:
        return _problem(400, messages.MISSING_FIELD.format(field="type"))

    header = request.headers.get("Authorization") if auth.enabled else None
    try:
        authenticated: AuthenticateRequestResult = (
            await bot.adapter.bot_framework_authentication.authenticate_request(activity, header)
        )
    except Exception as exc:  # PermissionError, and jwt's errors for garbage tokens
        log.warning("Rejected a Teams request: %s", exc)
        return _problem(401, messages.UNAUTHORIZED.format(error=exc or type(exc).__name__))

    missing = _missing_fields(body, REQUIRED.get(activity.type, ()))
    if missing:
        return _problem(400, messages.MISSING_FIELD.format(field=missing))
    try:
        response = await bot.adapter.process_activity(authenticated, activity, bot.on_turn)
    except Exception:  # e.g. the Bot Connector API unreachable while replying
        log.exception("Teams activity %s could not be processed", activity.id)
        return _problem(500, messages.PROCESSING_FAILED)
    if response is None:
        return web.Response(status=200)
    return web.json_response(response.body, status=int(response.status))


def _missing_fields(body: dict[str, Any], paths: tuple[str, ...]) -> str | None:
    for path in paths:
        value: Any = body
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, str) or not value.strip():
            return path
    return None


def _problem(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


# ---------------------------------------------------------------------------- process


def run(app: App, *, port: int | None) -> None:
    """Serve the bot until interrupted. Raises TeamsStartError (one sentence) when it cannot."""
    settings = app.settings
    auth = build_authentication(settings)  # credentials first: fail before starting a model
    try:
        identities = IdentityResolver(app.db, load_identity_map(settings.identity_map_path))
    except IdentityMapError as exc:
        raise TeamsStartError(str(exc)) from exc
    try:
        model = build_chat_model(settings)
    except LLMError as exc:
        raise TeamsStartError(exc.user_message) from exc
    store = ConversationStore(app.db.engine)
    webapp = create_web_app(None, auth)
    add_health_routes(webapp, readiness_checks(app, channel="teams", model=model))

    async def lifecycle(webapp: web.Application) -> AsyncIterator[None]:
        try:
            async with open_async_checkpointer(settings.resolved_database_url()) as saver:
                convo = app.conversation_service(model=model, checkpointer=saver)
                bot = TeamsBot(
                    adapter=CloudAdapter(auth.authentication),
                    app_id=auth.app_id,
                    convo=convo,
                    identities=identities,
                    store=store,
                )
                webapp[BOT_KEY] = bot
                await convo.recover()
                sweeper = asyncio.create_task(_expire_periodically(convo))
                stop_relay = asyncio.Event()
                relay = asyncio.create_task(bot.relay.run(stop_relay))
                yield
                stop_relay.set()
                sweeper.cancel()
                await relay
                await bot.drain(DRAIN_SECONDS)
        finally:
            await model.aclose()

    webapp.cleanup_ctx.append(lifecycle)
    if not auth.enabled:
        log.warning("Teams JWT validation is OFF (teams_skip_auth): for local testing only.")
    web.run_app(webapp, host=settings.http_host, port=port or settings.http_port)


async def _expire_periodically(convo: ConversationService) -> None:
    """Overdue review requests expire even when nobody talks; their requesters are told."""
    while True:
        await asyncio.sleep(EXPIRY_SWEEP_SECONDS)
        try:
            await convo.expire_due()
        except Exception:
            log.exception("Expiring overdue review requests failed")
