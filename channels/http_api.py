"""The HTTP API (aiohttp): `POST /ingest` takes a meeting transcript, `GET /healthz` says the
process is up. Run by `warroom serve api`.

Auth: `Authorization: Bearer <token>`, each token bound to one CRM user (tools/api_tokens.py,
issued by `warroom api-token add USER`); the request acts as that user. An `X-Warroom-User`
header may repeat the user; naming anyone else is refused. A transcript arrives either as
multipart/form-data (part `file`, optional fields `dry_run`, `account_id`, `thread_id`) or as
the raw body with the file name in `?filename=` or an `X-Filename` header (options then in the
query). The body is read in chunks and refused with 413 as soon as it passes the size limit.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import BodyPartReader, web

from channels import http_guard
from channels.meetings import IngestError, MeetingService
from tools.api_tokens import ApiTokens, TokenFileError, token_file
from tools.errors import NotFound
from tools.service import CRMService

__all__ = ["build_api", "run"]

MEETINGS = web.AppKey("meetings", MeetingService)
CRM = web.AppKey("crm", CRMService)
TOKENS = web.AppKey("tokens", ApiTokens)
USER_HEADER = "X-Warroom-User"
_CHUNK = 64 * 1024
NO_TOKENS = (
    "The HTTP API needs at least one user token: run `warroom api-token add USER` (each token "
    "acts as its own CRM user; a single shared WARROOM_API_TOKEN is no longer accepted)."
)


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _read_limited(stream: Any, limit: int, name: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await stream.read_chunk(_CHUNK) if isinstance(stream, BodyPartReader) else (
            await stream.read(_CHUNK)
        )  # fmt: skip
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            from channels.meetings.errors import messages

            raise IngestError(messages.too_large(name, None, limit), filename=name, status=413)
        chunks.append(chunk)


async def _receive(request: web.Request, options: dict[str, str], limit: int) -> tuple[str, bytes]:
    """The uploaded file's name and bytes (options given as form fields land in `options`);
    `Refused` (4xx) for a body that is not what it claims to be."""
    if not request.content_type.startswith("multipart/"):
        filename = options.get("filename") or request.headers.get("X-Filename")
        if not filename:
            raise http_guard.Refused(
                400, "Name the file: ?filename=… or an X-Filename header (or upload it as "
                "multipart/form-data with a 'file' part).",
            )  # fmt: skip
        return filename, await _read_limited(request.content, limit, filename)
    filename, data = None, None
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                raise http_guard.Refused(400, "Nested multipart bodies are not accepted.")
            if part.name == "file":
                filename = part.filename or options.get("filename") or "upload"
                data = await _read_limited(part, limit, filename)
            elif part.name in ("dry_run", "account_id", "thread_id", "filename"):
                options[part.name] = (await _read_limited(part, 1000, part.name)).decode().strip()
    except (ValueError, AssertionError, LookupError):  # aiohttp's multipart parser, decode()
        raise http_guard.Refused(400, "The multipart/form-data body is malformed.") from None
    if data is None or filename is None:
        raise http_guard.Refused(400, "The upload has no 'file' part holding the transcript.")
    return filename, data


async def ingest(request: web.Request) -> web.Response:
    app = request.app
    service = app[MEETINGS]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user_id = app[TOKENS].user_of(token.strip()) if scheme.lower() == "bearer" else None
    if user_id is None:
        return _error(401, "A valid bearer token is required.", **{"WWW-Authenticate": "Bearer"})
    named = request.headers.get(USER_HEADER, "").strip()
    if named and named != user_id:
        return _error(
            403, f"This token belongs to another user; it cannot act as '{named}'. Each user "
            "ingests with their own token (`warroom api-token add USER`).",
        )  # fmt: skip
    try:
        await asyncio.to_thread(app[CRM].actor, user_id)
    except NotFound:
        return _error(403, f"There is no warroom user '{user_id}'.")
    options: dict[str, str] = dict(request.query)
    try:
        filename, data = await asyncio.wait_for(
            _receive(request, options, service.max_bytes), timeout=http_guard.BODY_SECONDS
        )
    except TimeoutError:
        return _error(408, f"The upload did not arrive within {http_guard.BODY_SECONDS:g} seconds.")
    except http_guard.Refused as exc:
        return _error(exc.status, exc.reason)
    except IngestError as exc:
        return _error(exc.status, exc.message)
    try:
        result = await service.ingest_bytes(
            filename=filename, data=data, actor_id=user_id, dry_run=_flag(options.get("dry_run")),
            thread_id=options.get("thread_id") or None,
            account_id=options.get("account_id") or None,
        )  # fmt: skip
    except IngestError as exc:
        return _error(exc.status, exc.message)
    return web.json_response(result.to_dict(), dumps=_dumps)


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def build_api(*, meetings: MeetingService, crm: CRMService, tokens: ApiTokens) -> web.Application:
    """The aiohttp application; refuses to be built without a token."""
    if not tokens:
        raise ValueError(NO_TOKENS)
    app = web.Application(
        client_max_size=meetings.max_bytes + 1_000_000, middlewares=[http_guard.refuse_hostile]
    )
    app[MEETINGS] = meetings
    app[CRM] = crm
    app[TOKENS] = tokens
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/ingest", ingest)
    return app


def run(application: Any, *, port: int | None = None) -> None:
    """Serve the API with the configured model, checkpointer and account memory."""
    from agents.llm import build_chat_model
    from memory.account_memory import open_account_memory
    from memory.checkpoint import open_async_checkpointer

    settings = application.settings
    try:
        tokens = ApiTokens.load(token_file(settings.data_dir))
    except TokenFileError as exc:
        raise SystemExit(f"error: {exc.message}") from exc
    if not tokens:
        raise SystemExit(f"error: {NO_TOKENS}")
    crm = application.crm()
    model = build_chat_model(settings)
    memory = open_account_memory(
        data_dir=settings.data_dir, chroma_url=settings.chroma_url,
        embeddings_base_url=settings.embeddings_base_url,
        embeddings_api_key=settings.embeddings_api_key, embeddings_model=settings.embeddings_model,
    )  # fmt: skip

    async def make_app() -> web.Application:
        saver_cm = open_async_checkpointer(settings.resolved_database_url())
        saver = await saver_cm.__aenter__()
        convo = application.conversation_service(model=model, checkpointer=saver, crm=crm)
        meetings = MeetingService(crm=crm, model=model, convo=convo, memory=memory,
                                  max_bytes=settings.ingest_max_bytes,
                                  review_ttl_hours=settings.review_ttl_hours)  # fmt: skip
        app = build_api(meetings=meetings, crm=crm, tokens=tokens)
        from channels.health import add_health_routes
        from warroom.health import readiness_checks

        add_health_routes(app, readiness_checks(application, channel="api", model=model))

        async def close(_: web.Application) -> None:
            await saver_cm.__aexit__(None, None, None)
            await model.aclose()

        app.on_cleanup.append(close)
        return app

    web.run_app(
        make_app(),
        host=settings.http_host,
        port=port or settings.http_port,
        keepalive_timeout=http_guard.IDLE_SECONDS,  # slow clients: see channels.http_guard
    )
