"""The readiness checks of a warroom server, built from its settings and parts:
database, vector store, model endpoint and the channel's credentials (channels/health.py
serves them at /readyz)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from channels.health import Check
from warroom.app import App

__all__ = ["readiness_checks"]

Channel = Literal["slack", "teams", "api"]


def readiness_checks(
    application: App, *, channel: Channel, model: Any | None = None
) -> dict[str, Check]:
    """Named checks; `model` is the server's chat model (its endpoint is probed)."""
    store = _VectorStore(application)
    checks: dict[str, Check] = {
        "database": lambda: _database(application),
        "vector_store": store.check,
        f"{channel}_credentials": lambda: _credentials(application, channel),
    }
    if model is not None:
        checks["model_endpoint"] = lambda: _model_endpoint(application, model)
    return checks


async def _database(application: App) -> None:
    from sqlalchemy import text

    def ping() -> None:
        with application.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        await asyncio.to_thread(ping)
    except Exception as exc:
        orig = getattr(exc, "orig", None) or exc
        raise RuntimeError(str(orig).strip().splitlines()[0]) from exc


class _VectorStore:
    """Heartbeat of the Chroma store; the client is made once (the first probe of a cold
    process may time out while chromadb loads: not ready yet, which is the truth)."""

    def __init__(self, application: App) -> None:
        self._settings = application.settings
        self._client: Any = None

    def _ping(self) -> None:
        from memory.store import chroma_client

        if self._client is None:
            s = self._settings
            self._client = chroma_client(data_dir=s.data_dir, chroma_url=s.chroma_url)
        self._client.heartbeat()

    async def check(self) -> None:
        await asyncio.to_thread(self._ping)


async def _model_endpoint(application: App, model: Any) -> None:
    import httpx

    base = getattr(model, "base_url", None) or application.settings.llm_base_url
    if not base:
        raise RuntimeError("no model endpoint is configured")
    server = getattr(model, "owned_server", None)
    key = server.api_key if server is not None else application.settings.llm_api_key
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(timeout=3.0) as client:
        response = await client.get(f"{str(base).rstrip('/')}/models", headers=headers)
    if response.status_code >= 400:
        raise RuntimeError(f"{base}/models answered HTTP {response.status_code}")


async def _credentials(application: App, channel: Channel) -> None:
    s = application.settings
    missing: list[str] = []
    if channel == "slack":
        if not s.slack_bot_token:
            missing.append("WARROOM_SLACK_BOT_TOKEN")
        if not (s.slack_signing_secret or s.slack_app_token):
            missing.append("WARROOM_SLACK_SIGNING_SECRET or WARROOM_SLACK_APP_TOKEN")
    elif channel == "teams":
        if not s.teams_skip_auth and not (s.teams_app_id and s.teams_app_password):
            missing.append("WARROOM_TEAMS_APP_ID and WARROOM_TEAMS_APP_PASSWORD")
    else:
        from tools.api_tokens import ApiTokens, token_file

        # The API serves the per-user tokens of `warroom api-token add` (tools/api_tokens.py).
        if not ApiTokens.load(token_file(s.data_dir)):
            missing.append("API tokens (run `warroom api-token add USER`)")
    if missing:
        raise RuntimeError("not set: " + ", ".join(missing))
