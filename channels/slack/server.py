"""`warroom serve slack`: the Slack app over HTTP (Events API, interactivity and /warroom at
/slack/events, signatures verified by Bolt) or over Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from agents.conversation import ConversationService
from agents.llm_errors import LLMError
from channels import http_guard
from channels.health import Check, add_health_routes
from channels.identity import IdentityMapError, IdentityResolver, load_identity_map
from channels.inbox import Inbox
from channels.slack.channel import SlackChannel
from channels.slack.config import SlackConfig, SlackSettingsError, web_client
from channels.slack.dedupe import SharedDeliveries
from channels.slack.events import event_problem
from channels.slack.files import Ingest, meeting_ingest
from channels.slack.messages import SlackStartError
from channels.slack.people import SlackPeople
from channels.slack.worker import WorkerLoop
from warroom.app import App

__all__ = [
    "EVENTS_PATH",
    "build_channel",
    "conversations_on",
    "http_app",
    "run",
    "serving_http",
    "serving_socket_mode",
]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"  # Bolt's default: Events API, interactivity, slash commands
EXPIRY_SWEEP_SECONDS = 300.0
# Slack's events and interactions are small (files are fetched separately); 1 MB is generous.
MAX_BODY_BYTES = 1_000_000
_DEFAULT: Any = object()


def build_channel(
    *,
    app: App,
    convo: ConversationService,
    config: SlackConfig,
    ingest: Ingest | None = _DEFAULT,
    ingest_errors: tuple[type[BaseException], ...] | None = None,
    worker: WorkerLoop | None = None,
) -> SlackChannel:
    """The Slack channel on a conversation service (built on `worker`'s loop, if given).
    `ingest` defaults to meeting-note ingestion (`channels.meetings`) when it is installed."""
    try:
        mapping = load_identity_map(app.settings.identity_map_path)
    except IdentityMapError as exc:
        raise SlackSettingsError(str(exc)) from exc
    client = web_client(config)
    if ingest is _DEFAULT:
        ingest = meeting_ingest(
            crm=convo.crm, model=convo.model, convo=convo, max_bytes=config.max_file_bytes
        )
    if ingest_errors is None:
        try:
            from channels.meetings import IngestError

            ingest_errors = (IngestError,)
        except ImportError:
            ingest_errors = ()
    return SlackChannel(
        convo=convo,
        people=SlackPeople(client=client, resolver=IdentityResolver(app.db, mapping)),
        config=config,
        client=client,
        ingest=ingest,
        ingest_errors=ingest_errors,
        deliveries=SharedDeliveries(app.db, channel="slack"),
        worker=worker,
        inbox=Inbox(app.db, channel="slack"),
    )


def http_app(channel: SlackChannel, checks: Mapping[str, Check] | None = None) -> web.Application:
    verifier = SignatureVerifier(channel.config.signing_secret or "")

    async def events(request: web.Request) -> web.Response:
        text, body = await _checked_body(request, verifier)
        # The ack of a mention or direct message is: verified (above), stored durably, 200.
        # Everything else Slack sends (interactions, commands, other events) goes to Bolt.
        retry = request.headers.get("X-Slack-Retry-Num", "?")
        if body is not None and await channel.acknowledge(body, retry=retry):
            return web.Response(status=200)
        bolt_request = AsyncBoltRequest(
            body=text,
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]
        )
        response = await channel.bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True, "busy": channel.busy})

    application = web.Application(middlewares=[http_guard.refuse_hostile])
    application.router.add_post(EVENTS_PATH, events)
    application.router.add_get("/healthz", health)
    add_health_routes(application, checks or {})
    return application


async def _checked_body(
    request: web.Request, verifier: SignatureVerifier
) -> tuple[str, dict[str, Any] | None]:
    """The body of a request Slack signed, in a shape Bolt can read, and parsed when it is
    JSON; `Refused` (4xx) otherwise. The signature is checked before the body is parsed, so
    unsigned junk costs no parsing."""
    raw = await http_guard.read_body(request, limit=MAX_BODY_BYTES)
    stamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise http_guard.Refused(400, "X-Slack-Request-Timestamp must be a number of seconds.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise http_guard.Refused(400, "The request body is not UTF-8.") from None
    signature = request.headers.get("X-Slack-Signature", "")
    if not signature.isascii() or not verifier.is_valid(text, stamp, signature):
        raise http_guard.Refused(401, "The request is not signed with this app's secret.")
    if request.content_type == "application/json":
        body = http_guard.json_object(text)
        if "event" in body:
            problem = event_problem(body["event"])
            if problem:
                raise http_guard.Refused(400, problem)
        return text, body
    if request.content_type == "application/x-www-form-urlencoded":
        fields = http_guard.form_fields(text)
        if "payload" in fields:
            http_guard.json_object(fields["payload"][0], "The interaction payload")
        return text, None
    raise http_guard.Refused(415, "Slack sends JSON or form bodies only.")


@asynccontextmanager
async def serving_http(
    channel: SlackChannel, *, host: str, port: int, checks: Mapping[str, Check] | None = None
) -> AsyncIterator[str]:
    """Serve the channel over HTTP; yields the base URL (port 0 picks a free port)."""
    await channel.warm_up()
    channel.start_inbox()  # also resumes what a crash or restart left in the inbox
    runner = http_guard.runner(http_app(channel, checks))
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        yield f"http://{host}:{bound}"
    finally:
        await channel.drain()
        await runner.cleanup()


async def _expire_periodically(convo: ConversationService, every: float) -> None:
    """Requests expire even when nobody talks: their requesters are told in their threads."""
    while True:
        await asyncio.sleep(every)
        try:
            await convo.expire_due()
        except Exception:
            log.exception("Expiring review requests failed")


def run(app: App, *, port: int | None, socket_mode: bool) -> None:
    """Run until interrupted. Raises `SlackStartError` (one sentence) when it cannot start."""
    config = SlackConfig.from_settings(app.settings, socket_mode=socket_mode)
    try:  # before the model starts: a bad map should cost no time
        load_identity_map(app.settings.identity_map_path)
    except IdentityMapError as exc:
        raise SlackSettingsError(str(exc)) from exc
    from agents.llm import build_chat_model

    try:
        model = build_chat_model(app.settings)
    except LLMError as exc:
        raise SlackStartError(exc.user_message) from exc
    listen_port = port if port is not None else app.settings.http_port
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(app, config, model, port=listen_port, socket_mode=socket_mode))


@asynccontextmanager
async def conversations_on(
    worker: WorkerLoop, *, database_url: str, build: Callable[[Any], ConversationService]
) -> AsyncIterator[ConversationService]:
    """A conversation service living on the worker's loop, with its durable checkpointer
    (`build(checkpointer)` makes the service); closed on exit."""
    from memory.checkpoint import open_async_checkpointer

    stack = AsyncExitStack()

    async def open_service() -> ConversationService:
        saver = await stack.enter_async_context(open_async_checkpointer(database_url))
        return build(saver)

    convo = await worker.run(open_service())
    try:
        yield convo
    finally:
        await worker.run(stack.aclose())


async def _serve(
    app: App, config: SlackConfig, model: Any, *, port: int, socket_mode: bool
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    settings = app.settings
    worker = WorkerLoop().start()

    def build(saver: Any) -> ConversationService:
        return app.conversation_service(model=model, checkpointer=saver)

    try:
        url = settings.resolved_database_url()
        async with conversations_on(worker, database_url=url, build=build) as convo:
            channel = build_channel(app=app, convo=convo, config=config, worker=worker)
            await worker.run(convo.recover())
            sweeper = worker.submit(_expire_periodically(convo, EXPIRY_SWEEP_SECONDS))
            relay = worker.submit(channel.relay.run(asyncio.Event()))
            try:
                if socket_mode:
                    async with serving_socket_mode(channel):
                        print("warroom Slack app connected over Socket Mode.", flush=True)
                        await stop.wait()
                else:
                    from warroom.health import readiness_checks

                    checks = readiness_checks(app, channel="slack", model=model)
                    async with serving_http(
                        channel, host=settings.http_host, port=port, checks=checks
                    ) as base:
                        print(f"warroom Slack app listening at {base}{EVENTS_PATH}", flush=True)
                        await stop.wait()
            finally:
                sweeper.cancel()
                relay.cancel()
    finally:
        await worker.run(model.aclose())
        worker.stop()


@asynccontextmanager
async def serving_socket_mode(channel: SlackChannel) -> AsyncIterator[None]:
    """Connect over Socket Mode (apps.connections.open with the app-level token)."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    if not channel.config.app_token:
        raise SlackSettingsError("Socket Mode needs WARROOM_SLACK_APP_TOKEN (xapp-…).")
    await channel.warm_up()
    channel.start_inbox()
    handler = AsyncSocketModeHandler(channel.bolt, channel.config.app_token)
    await handler.connect_async()
    try:
        yield
    finally:
        await handler.close_async()
        await channel.drain()
