"""Stand-ins for Microsoft's side of a Teams conversation, all on 127.0.0.1.

- `FakeConnector`: the Bot Connector API the bot sends to (the activity's serviceUrl); records
  every call so tests assert replies, proactive messages and card updates.
- `TokenIssuer`: the Bot Framework's OpenID metadata and signing keys (JWKS), served on
  127.0.0.1 from a locally generated RSA key, so tests can post activities with real signed
  tokens (and forged ones) to a bot whose JWT validation is on.
- `StaticTokenProvider`: outbound tokens without a login service.
- `activity()` and friends: activities shaped as Teams sends them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from microsoft_agents.hosting.core import AgentAuthConfiguration

from channels.core.progress import WORKING

TENANT = "tenant-0001"
BOT_ID = "28:warroom-bot"
BOT_NAME = "warroom"
CHANNEL_ID = "msteams"


@dataclass
class ConnectorCall:
    verb: str  # send | reply | update | member
    conversation_id: str
    activity_id: str | None
    body: dict[str, Any]
    headers: dict[str, str]
    response_id: str | None = None  # the id the connector gave a new message

    @property
    def text(self) -> str:
        return self.body.get("text") or ""

    @property
    def cards(self) -> list[dict[str, Any]]:
        return [
            a["content"]
            for a in self.body.get("attachments") or []
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]


@dataclass
class FakeConnector:
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[ConnectorCall] = field(default_factory=list)
    url: str = ""
    # The next `refusals` sends whose text contains `refuse_text` fail with 503 (an outage).
    refuse_text: str | None = None
    refusals: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        base = "/v3/conversations/{conversation_id}"
        app.router.add_post(base + "/activities", self._send)
        app.router.add_post(base + "/activities/{activity_id}", self._reply)
        app.router.add_put(base + "/activities/{activity_id}", self._update)
        app.router.add_get(base + "/members/{member_id}", self._member)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/"
        return self.url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _record(self, verb: str, request: web.Request) -> ConnectorCall:
        body = await request.json() if request.can_read_body else {}
        call = ConnectorCall(
            verb,
            request.match_info["conversation_id"],
            request.match_info.get("activity_id"),
            body,
            dict(request.headers),
        )
        self.calls.append(call)
        return call

    async def _send(self, request: web.Request) -> web.Response:
        call = await self._record("send", request)
        if self.refuse_text and self.refusals > 0 and self.refuse_text in call.text:
            self.refusals -= 1
            self.calls.remove(call)
            return web.json_response({"error": {"code": "ServiceUnavailable"}}, status=503)
        call.response_id = f"sent-{next(self._ids)}"
        return web.json_response({"id": call.response_id})

    async def _reply(self, request: web.Request) -> web.Response:
        call = await self._record("reply", request)
        call.response_id = f"sent-{next(self._ids)}"
        return web.json_response({"id": call.response_id})

    async def _update(self, request: web.Request) -> web.Response:
        call = await self._record("update", request)
        return web.json_response({"id": call.activity_id})

    async def _member(self, request: web.Request) -> web.Response:
        member_id = request.match_info["member_id"]
        self.calls.append(
            ConnectorCall(
                "member", request.match_info["conversation_id"], None, {}, dict(request.headers)
            )
        )
        if member_id not in self.members:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        return web.json_response({"id": member_id, **self.members[member_id]})

    def messages(self, conversation_id: str | None = None) -> list[ConnectorCall]:
        """Messages the bot sent or replied (typing indicators and the turn's status message
        left out: see `statuses`)."""
        return [
            c
            for c in self.calls
            if c.verb in ("send", "reply")
            and c.body.get("type") == "message"
            and not c.text.startswith(WORKING)
            and (conversation_id is None or c.conversation_id == conversation_id)
        ]

    def statuses(self) -> list[ConnectorCall]:
        """The turns' status messages as posted ("Working on it…")."""
        return [c for c in self.calls if c.verb in ("send", "reply") and c.text == WORKING]

    def card_updates(self) -> list[ConnectorCall]:
        """Edits that replace a card (status-message edits left out)."""
        return [c for c in self.calls if c.verb == "update" and c.body.get("attachments")]

    def status_edits(self) -> list[ConnectorCall]:
        return [c for c in self.calls if c.verb == "update" and not c.body.get("attachments")]

    async def wait_for(
        self, predicate: Callable[[list[ConnectorCall]], Any], *, seconds: float = 15.0
    ) -> Any:
        """Poll (every 50 ms, for at most `seconds`) until `predicate(calls)` is truthy."""
        deadline = time.monotonic() + seconds
        for _ in range(int(seconds / 0.05) + 1):
            result = predicate(self.calls)
            if result:
                return result
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"the fake connector never saw the expected call within {seconds}s; it saw: "
            + json.dumps([(c.verb, c.conversation_id, c.text) for c in self.calls])
        )


# ------------------------------------------------------------------------------- tokens


class TokenIssuer:
    """OpenID metadata + JWKS over plain HTTP in a thread (the SDK fetches keys with PyJWT's
    blocking client, so they are not served by the test's own event loop)."""

    ISSUER = "https://api.botframework.com"

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, use="sig", endorsements=[CHANNEL_ID])
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/.well-known/openidconfiguration":
                    payload = {"issuer": issuer.ISSUER, "jwks_uri": issuer.url + "/keys"}
                elif self.path == "/keys":
                    payload = {"keys": [jwk]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.metadata_url = self.url + "/.well-known/openidconfiguration"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def jwks_url(self) -> str:
        return self.url + "/keys"

    def token(
        self,
        *,
        audience: str,
        service_url: str,
        key: Any = None,
        issuer: str | None = None,
        lifetime: int = 600,
        algorithm: str = "RS256",
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": issuer or self.ISSUER,
            "aud": audience,
            "serviceurl": service_url,
            "nbf": now - 10 if lifetime > 0 else now + lifetime - 700,
            "exp": now + lifetime,
        }
        if algorithm == "none":
            return jwt.encode(claims, None, algorithm="none", headers={"kid": self.kid})
        return jwt.encode(claims, key or self.key, algorithm=algorithm, headers={"kid": self.kid})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class StaticTokenProvider:
    """Outbound credentials without a login service: a fixed bearer token for every call."""

    def __init__(self, configuration: AgentAuthConfiguration, token: str) -> None:
        self._configuration, self.token = configuration, token

    @property
    def configuration(self) -> AgentAuthConfiguration:
        return self._configuration

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        return self.token

    def get_token_credential(self) -> Any:
        raise NotImplementedError


# ------------------------------------------------------------------------------ activities

_ids = itertools.count(1_700_000_000_000)


def account(user_id: str, name: str, aad: str | None = None) -> dict[str, Any]:
    return {"id": user_id, "name": name, **({"aadObjectId": aad} if aad else {})}


def personal(conversation_id: str) -> dict[str, Any]:
    return {"conversationType": "personal", "tenantId": TENANT, "id": conversation_id}


def channel(root_message_id: str) -> dict[str, Any]:
    return {
        "isGroup": True,
        "conversationType": "channel",
        "tenantId": TENANT,
        "id": f"19:deals@thread.tacv2;messageid={root_message_id}",
    }


def activity(
    kind: str,
    *,
    service_url: str,
    sender: dict[str, Any],
    conversation: dict[str, Any],
    **fields: Any,
) -> dict[str, Any]:
    body = {
        "type": kind,
        "id": str(next(_ids)),
        "timestamp": "2026-11-20T12:00:00.000Z",
        "localTimestamp": "2026-11-20T13:00:00.000+01:00",
        "serviceUrl": service_url,
        "channelId": CHANNEL_ID,
        "from": sender,
        "conversation": conversation,
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "locale": "en-US",
        "channelData": {"tenant": {"id": TENANT}},
    }
    if conversation.get("conversationType") == "channel":
        body["channelData"].update(
            teamsChannelId="19:deals@thread.tacv2",
            teamsTeamId="19:team-sales@thread.tacv2",
            channel={"id": "19:deals@thread.tacv2"},
            team={"id": "19:team-sales@thread.tacv2"},
        )
    body.update(fields)
    return body


def message(text: str, **kw: Any) -> dict[str, Any]:
    return activity("message", text=text, textFormat="plain", **kw)


def mention_message(text: str, **kw: Any) -> dict[str, Any]:
    """A channel post that @mentions the bot, as Teams sends it (mention inside the text)."""
    tag = f"<at>{BOT_NAME}</at>"
    entity = {"type": "mention", "text": tag, "mentioned": {"id": BOT_ID, "name": BOT_NAME}}
    return activity("message", text=f"{tag} {text}", textFormat="plain", entities=[entity], **kw)


def card_execute(
    verb: str,
    approval_id: str,
    *,
    card_id: str | None,
    inputs: dict[str, Any] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    data = {"warroom": "review", "approval_id": approval_id, **(inputs or {})}
    value = {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"}
    return activity("invoke", name="adaptiveCard/action", value=value, replyToId=card_id, **kw)


def card_submit(
    verb: str,
    approval_id: str,
    *,
    card_id: str | None,
    inputs: dict[str, Any] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    value = {"warroom": "review", "verb": verb, "approval_id": approval_id, **(inputs or {})}
    return activity("message", value=value, replyToId=card_id, **kw)
