"""`warroom serve teams`: the Teams endpoint `/api/messages` on aiohttp (Microsoft 365 Agents
SDK `CloudAdapter`).

Before anything is stored or run, a request must pass the HTTP guard (`channels.http_guard`:
size limit, slow-client timeout, readable headers), be a JSON object, carry a valid token for
this app (`channels.teams.auth`) and be a well-formed activity. Anything else gets a 4xx with
a one-sentence reason and nothing is written. Turns then go to the durable inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from microsoft_agents.hosting.aiohttp import CloudAdapter

from agents.conversation import ConversationService
from agents.llm_errors import LLMError
from channels import http_guard
from channels.health import Check, add_health_routes
from channels.identity import IdentityMapError, IdentityResolver, load_identity_map
from channels.inbox import Inbox
from channels.teams import messages
from channels.teams.activities import CHANNEL, ReviewChannel, read_activity
from channels.teams.auth import TeamsAuth, TeamsStartError, Unauthorized, build_auth
from channels.teams.bot import TeamsBot
from channels.teams.store import ConversationStore
from tools.db import Database
from warroom.app import App
from warroom.settings import Settings

__all__ = ["ENDPOINT", "build_bot", "create_web_app", "run", "serving"]

log = logging.getLogger(__name__)

BOT_KEY = web.AppKey("teams_bot", TeamsBot)
ENDPOINT = "/api/messages"
EXPIRY_SWEEP_SECONDS = 300.0
DRAIN_SECONDS = 30.0
# An activity with an Adaptive Card submission is a few kB; 256 kB leaves room for long text.
MAX_BODY_BYTES = 256 * 1024


def create_web_app(bot: TeamsBot, checks: Mapping[str, Check] | None = None) -> web.Application:
    webapp = web.Application(
        middlewares=[http_guard.refuse_hostile], client_max_size=MAX_BODY_BYTES
    )
    webapp[BOT_KEY] = bot
    webapp.router.add_post(ENDPOINT, handle_messages)
    add_health_routes(webapp, checks or {})
    return webapp


async def handle_messages(request: web.Request) -> web.Response:
    bot = request.app[BOT_KEY]
    if request.content_type != "application/json":
        raise http_guard.Refused(415, messages.NOT_JSON)
    raw = await http_guard.read_body(request, limit=MAX_BODY_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise http_guard.Refused(400, "The request body is not UTF-8.") from None
    body = http_guard.json_object(text, "The activity")
    service_url = body.get("serviceUrl")
    try:
        claims = await bot.auth.authenticate(
            request.headers.get("Authorization"),
            service_url if isinstance(service_url, str) else None,
        )
    except Unauthorized as exc:
        log.warning("Rejected a Teams request: %s", exc)
        return http_guard.refusal(401, messages.UNAUTHORIZED.format(error=exc))
    activity = read_activity(body)
    try:
        response = await bot.receive(claims, activity, body)
    except Exception:  # e.g. the connector API unreachable while replying
        log.exception("Teams activity %s could not be processed", activity.id)
        return http_guard.refusal(502, messages.PROCESSING_FAILED)
    if response is None:
        return web.Response(status=200)
    return web.json_response(response.body, status=int(response.status or 200))


# ---------------------------------------------------------------------------- process


def review_channel_of(settings: Settings) -> ReviewChannel | None:
    if not settings.teams_review_channel:
        return None
    return ReviewChannel(
        conversation_id=settings.teams_review_channel,
        service_url=settings.teams_service_url,
        tenant_id=settings.teams_app_tenant_id,
    )


def build_bot(
    *,
    settings: Settings,
    db: Database,
    convo: ConversationService,
    auth: TeamsAuth,
    identities: IdentityResolver,
    poll_seconds: float = 1.0,
    lease_seconds: float = 60.0,
) -> TeamsBot:
    """The bot on a conversation service; `auth` from `build_auth`. A turn whose worker stops
    renewing its lease (a crash, a failed delivery) is taken again after `lease_seconds`."""
    return TeamsBot(
        adapter=CloudAdapter(connection_manager=auth.connections),
        auth=auth,
        convo=convo,
        identities=identities,
        store=ConversationStore(db.engine),
        inbox=Inbox(db, channel=CHANNEL, lease_seconds=lease_seconds),
        review_channel=review_channel_of(settings),
        poll_seconds=poll_seconds,
    )


@asynccontextmanager
async def serving(
    bot: TeamsBot, *, host: str, port: int, checks: Mapping[str, Check] | None = None
) -> AsyncIterator[str]:
    """Serve the bot (inbox worker and relay included); yields the base URL (port 0 picks a
    free port)."""
    bot.start_inbox()  # also resumes what a crash or restart left in the inbox
    stop_relay = asyncio.Event()
    relay = asyncio.create_task(bot.relay.run(stop_relay))
    runner = http_guard.runner(create_web_app(bot, checks))
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        yield f"http://{host}:{runner.addresses[0][1]}"
    finally:
        stop_relay.set()
        await runner.cleanup()
        await bot.drain(DRAIN_SECONDS)
        await relay


def run(app: App, *, port: int | None) -> None:
    """Serve the bot until interrupted. Raises TeamsStartError (one sentence) when it cannot."""
    settings = app.settings
    auth = build_auth(settings)  # credentials first: fail before starting a model
    try:
        identities = IdentityResolver(app.db, load_identity_map(settings.identity_map_path))
    except IdentityMapError as exc:
        raise TeamsStartError(str(exc)) from exc
    from agents.llm import build_chat_model

    try:
        model = build_chat_model(settings)
    except LLMError as exc:
        raise TeamsStartError(exc.user_message) from exc
    if not auth.enabled:
        log.warning("Teams JWT validation is OFF (teams_skip_auth): for local testing only.")
    listen = port if port is not None else settings.http_port
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(app, auth, identities, model, port=listen))


async def _serve(
    app: App, auth: TeamsAuth, identities: IdentityResolver, model: Any, *, port: int
) -> None:
    from memory.checkpoint import open_async_checkpointer
    from warroom.health import readiness_checks

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    settings = app.settings
    try:
        async with open_async_checkpointer(settings.resolved_database_url()) as saver:
            convo = app.conversation_service(model=model, checkpointer=saver)
            bot = build_bot(
                settings=settings, db=app.db, convo=convo, auth=auth, identities=identities
            )
            await convo.recover()
            sweeper = asyncio.create_task(_expire_periodically(convo))
            checks = readiness_checks(app, channel="teams", model=model)
            try:
                async with serving(bot, host=settings.http_host, port=port, checks=checks) as url:
                    print(f"warroom Teams bot listening at {url}{ENDPOINT}", flush=True)
                    await stop.wait()
            finally:
                sweeper.cancel()
    finally:
        await model.aclose()


async def _expire_periodically(convo: ConversationService) -> None:
    """Overdue review requests expire even when nobody talks; their requesters are told."""
    while True:
        await asyncio.sleep(EXPIRY_SWEEP_SECONDS)
        try:
            await convo.expire_due()
        except Exception:
            log.exception("Expiring overdue review requests failed")
