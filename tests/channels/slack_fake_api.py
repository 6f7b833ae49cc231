"""A local stand-in for the Slack Web API (https://slack.com/api/), as bolt-python's own tests
use: an aiohttp server on 127.0.0.1 that records every call the app makes and answers the way
Slack does. It also serves private file downloads, response_url posts, file uploads and a
Socket Mode websocket."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
BOT_USER = "UBOT"
TEAM = "T0001"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class SlackUser:
    id: str
    email: str | None
    is_bot: bool = False
    deleted: bool = False


class FakeSlackAPI:
    def __init__(self, users: list[SlackUser] | None = None) -> None:
        self.users = {u.id: u for u in users or []}
        self.calls: list[Call] = []
        self.files: dict[str, bytes] = {}
        self.file_records: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self._failures: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self._ts = itertools.count(1)
        self._socket_deliveries: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.socket_acks: list[dict[str, Any]] = []
        self.socket_connected = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_get("/files/{name}", self._download)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return self.base_url + "api/"

    # --------------------------------------------------------------- test helpers

    def response_url(self, key: str) -> str:
        return f"{self.base_url}respond/{key}"

    def add_file(self, file_id: str, name: str, data: bytes, **extra: Any) -> dict[str, Any]:
        """A file as Slack describes it in a message event (downloadable with the bot token)."""
        self.files[name] = data
        record = {
            "id": file_id,
            "name": name,
            "size": len(data),
            "url_private": f"{self.base_url}files/{name}",
            "url_private_download": f"{self.base_url}files/{name}",
            **extra,
        }
        self.file_records[file_id] = record
        return record

    def fail_next(self, method: str, status: int = 429, headers: dict[str, str] | None = None):
        """The next call of `method` gets this HTTP status (default: 429, Retry-After 0)."""
        self._failures.setdefault(method, []).append(
            (status, headers if headers is not None else {"Retry-After": "0"})
        )

    def to(self, method: str, where: Callable[[dict[str, Any]], bool] | None = None) -> list:
        return [
            c.args for c in self.calls if c.method == method and (where is None or where(c.args))
        ]

    def posted(self, channel: str | None = None, thread_ts: str | None = None) -> list[str]:
        """Texts of chat.postMessage calls, optionally in one channel / thread."""
        return [
            a.get("text", "")
            for a in self.to("chat.postMessage")
            if (channel is None or a.get("channel") == channel)
            and (thread_ts is None or a.get("thread_ts") == thread_ts)
        ]

    async def deliver_over_socket(self, envelope: dict[str, Any]) -> None:
        await self._socket_deliveries.put(envelope)

    # ----------------------------------------------------------------- handlers

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                args.update(json.loads(raw or b"{}"))
            else:
                args.update(parse_qsl(raw.decode()))
        for key in ("blocks", "view", "files"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        return args

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth else args.get("token")
        call = Call(method, args, token)
        self.calls.append(call)
        if self._failures.get(method):
            status, headers = self._failures[method].pop(0)
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=status, headers=headers
            )
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        call.result = {"ok": True, **handler(args)}
        return web.json_response(call.result)

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://test.slack.com/",
            "team": "Test",
            "user": "warroom",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": "BBOT",
        }

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        return {
            "channel": args.get("channel"),
            "ts": ts,
            "message": {"text": args.get("text"), "ts": ts},
        }

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": args.get("channel"), "ts": args.get("ts"), "text": args.get("text")}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"message_ts": self._next_ts()}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": {"id": "D" + str(args.get("users"))}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {
            "user": {
                "id": user.id,
                "is_bot": user.is_bot,
                "deleted": user.deleted,
                "profile": {"email": user.email} if user.email else {},
            }
        }

    def _users_lookupByEmail(self, args: dict[str, Any]) -> dict[str, Any]:
        for user in self.users.values():
            if user.email and user.email.lower() == str(args.get("email")).lower():
                return {"user": {"id": user.id}}
        return {"ok": False, "error": "users_not_found"}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"view": {"id": "V0001", **args.get("view", {})}}

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        record = self.file_records.get(str(args.get("file")))
        return {"file": record} if record else {"ok": False, "error": "file_not_found"}

    def _files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"FUP{next(self._ts)}"
        return {"upload_url": f"{self.base_url}upload/{file_id}", "file_id": file_id}

    def _files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files") or []
        return {"files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.base_url.replace("http://", "ws://") + "socket"}

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(Call("response_url", {"key": request.match_info["key"], **body}, None))
        return web.Response(text="ok")

    async def _download(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            # Slack answers an unauthenticated download with its sign-in page
            return web.Response(text="<html>sign in</html>", content_type="text/html")
        if name not in self.files:
            return web.Response(status=404)
        self.calls.append(Call("file_download", {"name": name}, BOT_TOKEN))
        return web.Response(body=self.files[name], content_type="application/octet-stream")

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text="OK - 0")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1})
        self.socket_connected.set()

        async def deliver() -> None:
            while True:
                await ws.send_json(await self._socket_deliveries.get())

        sender = asyncio.create_task(deliver())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.socket_acks.append(json.loads(msg.data))
        finally:
            sender.cancel()
        return ws
