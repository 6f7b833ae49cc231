"""`/healthz` (liveness: the process answers) and `/readyz` (readiness: every dependency the
server needs answers) for every warroom HTTP server: Slack, Teams and the HTTP API.

A readiness check is a named coroutine that returns normally when its dependency is usable and
raises with a short reason when not; `/readyz` answers 200 with every check's result, or 503
naming the failing dependencies. The checks themselves are built by the composition root
(warroom/health.py) from the settings, so channels stay unaware of how parts are configured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

__all__ = ["CHECK_TIMEOUT_SECONDS", "Check", "add_health_routes", "readiness"]

Check = Callable[[], Awaitable[None]]
CHECKS: web.AppKey[dict[str, Check]] = web.AppKey("readiness_checks", dict)
CHECK_TIMEOUT_SECONDS = 5.0


async def _run(name: str, check: Check) -> tuple[str, str | None]:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return name, f"no answer within {CHECK_TIMEOUT_SECONDS:.0f} s"
    except Exception as exc:  # noqa: BLE001  (a failing dependency is the answer, not an error)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return name, reason[:300]
    return name, None


async def readiness(checks: Mapping[str, Check]) -> tuple[bool, dict[str, str]]:
    """Run every check concurrently; (all ok, {name: "ok" or the reason it failed})."""
    results = await asyncio.gather(*(_run(name, check) for name, check in checks.items()))
    report = {name: ("ok" if reason is None else reason) for name, reason in results}
    return all(reason is None for _, reason in results), report


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, Check] = request.app[CHECKS]
    ok, report = await readiness(checks)
    if ok:
        return web.json_response({"ok": True, "checks": report})
    failing = [name for name, result in report.items() if result != "ok"]
    return web.json_response(
        {
            "ok": False,
            "failing": failing,
            "error": "Not ready: " + "; ".join(f"{n}: {report[n]}" for n in failing),
            "checks": report,
        },
        status=503,
    )


def add_health_routes(app: web.Application, checks: Mapping[str, Check]) -> None:
    """Add GET /readyz (and GET /healthz when the server has none of its own)."""
    app[CHECKS] = dict(checks)
    paths = {getattr(r.resource, "canonical", None) for r in app.router.routes()}
    if "/healthz" not in paths:
        app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
