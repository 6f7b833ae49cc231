"""/healthz and /readyz: readiness goes 503 naming the dependency that fails, here a real
PostgreSQL server that is stopped, and a model endpoint that does not answer."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from channels.health import add_health_routes
from tools.api_tokens import ApiTokens, token_file
from warroom.app import App
from warroom.health import readiness_checks
from warroom.pgtemp import PostgresUnavailable, _as_server_user, _bin, temporary_postgres
from warroom.settings import Settings


class _Model:
    """What the model check reads from a chat model: its endpoint (and no owned server)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.owned_server = None


async def _client(checks: dict) -> TestClient:
    app = web.Application()
    add_health_routes(app, checks)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
def models_endpoint() -> web.Application:
    async def models(_: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "local"}]})

    app = web.Application()
    app.router.add_get("/v1/models", models)
    return app


async def test_readyz_goes_503_when_postgresql_stops(
    tmp_path: Path, models_endpoint: web.Application
) -> None:
    try:
        pg = temporary_postgres()
        url = pg.__enter__()
    except PostgresUnavailable as exc:
        if os.environ.get("WARROOM_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"PostgreSQL is not available here: {exc}")
    model_server = TestServer(models_endpoint, host="127.0.0.1")
    await model_server.start_server()
    try:
        ApiTokens.issue(token_file(tmp_path), "u-admin")
        application = App(Settings(database_url=url, data_dir=tmp_path))
        with application.db.engine.connect() as connection:
            data_dir = connection.execute(text("SHOW data_directory")).scalar_one()
        model = _Model(str(model_server.make_url("/v1")))
        checks = readiness_checks(application, channel="api", model=model)
        await checks["vector_store"]()  # warm: chromadb loads in seconds on a busy machine
        client = await _client(checks)
        try:
            ready = await client.get("/readyz")
            body = await ready.json()
            assert ready.status == 200, body
            assert body["checks"] == {
                "database": "ok",
                "vector_store": "ok",
                "api_credentials": "ok",
                "model_endpoint": "ok",
            }
            stop = _as_server_user(
                [_bin("pg_ctl"), "-D", data_dir, "-m", "immediate", "-w", "stop"]
            )
            await asyncio.to_thread(
                subprocess.run, stop, check=True, capture_output=True, timeout=60
            )
            down = await client.get("/readyz")
            body = await down.json()
            assert down.status == 503
            assert body["failing"] == ["database"]
            assert body["error"].startswith("Not ready: database: ")
            assert (await client.get("/healthz")).status == 200  # alive, just not ready
        finally:
            await client.close()
            application.db.dispose()
    finally:
        await model_server.close()
        pg.__exit__(None, None, None)


async def test_readyz_names_a_silent_model_endpoint_and_missing_credentials(
    tmp_path: Path,
) -> None:
    application = App(Settings(data_dir=tmp_path))  # no API token issued
    model = _Model("http://127.0.0.1:9/v1")  # the discard port: nothing listens
    client = await _client(readiness_checks(application, channel="api", model=model))
    try:
        response = await client.get("/readyz")
        body = await response.json()
        assert response.status == 503
        assert body["failing"] == ["api_credentials", "model_endpoint"]
        assert body["checks"]["api_credentials"] == (
            "not set: API tokens (run `warroom api-token add USER`)"
        )
    finally:
        await client.close()


async def test_teams_credentials_are_checked(tmp_path: Path) -> None:
    application = App(Settings(data_dir=tmp_path))
    client = await _client(readiness_checks(application, channel="teams"))
    try:
        body = await (await client.get("/readyz")).json()
        assert body["failing"] == ["teams_credentials"]
        assert "WARROOM_TEAMS_APP_ID" in body["checks"]["teams_credentials"]
    finally:
        await client.close()
