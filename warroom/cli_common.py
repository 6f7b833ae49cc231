"""What every `warroom` command shares: the consoles, the one way to fail, opening the app,
checking paths before anything starts, and turning exceptions into one sentence and an exit code.

Exit codes (the same in every command, docs/CLI.md):
  0  success
  1  the action was refused or failed (permission, a dependency down, a model error)
  2  a usage or configuration mistake (an argument, a setting, a path) — fix it and run again
130  interrupted (Ctrl-C)

Only typer, click and rich are imported at module level: `warroom --help` stays fast.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer import _click as click  # typer vendors Click; its exceptions are these

if TYPE_CHECKING:
    from warroom.app import App
    from warroom.settings import Settings

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "ConfigError",
    "console",
    "err",
    "explain",
    "fail",
    "open_app",
    "require_writable_dir",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

console = Console()
err = Console(stderr=True)


class ConfigError(Exception):
    """A setting or path that cannot work; the message names it and says what to do."""


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print `error: <message>` (escaped: square brackets in user text stay text) and return
    the Exit to raise: `raise fail("…")`."""
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def debug_enabled() -> bool:
    return os.environ.get("WARROOM_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def require_writable_dir(path: Path, setting: str) -> None:
    """Create `path` if needed and prove it is writable, naming the setting when it is not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".warroom-write-check"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(
            f"{setting}={path} is not a writable folder ({reason}); point {setting} at a folder "
            "this user can write, or fix its permissions."
        ) from exc


def check_settings_paths(settings: Settings) -> None:
    """The data dir is needed for SQLite, the embedded Chroma store and caches."""
    require_writable_dir(settings.data_dir, "WARROOM_DATA_DIR")
    if not settings.policy_path.is_file():
        raise ConfigError(
            f"WARROOM_POLICY_PATH={settings.policy_path}: there is no such file; unset it for "
            "the default policy or point it at a policy YAML file."
        )


def open_app(settings: Settings | None = None, *, entry: str | None = None) -> App:
    """The application with its settings, paths and policy checked (one sentence on failure).

    `entry` names a long-running entry point (chat, serve slack, ingest…): it then prints the
    start-up line (model endpoint, database, vector store, whether data leaves the machine)
    and installs tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set."""
    from tools.policy import PolicyError
    from warroom.app import App

    application = App(settings)
    check_settings_paths(application.settings)
    try:
        application.policy  # noqa: B018  (invalid policy files fail at start)
    except PolicyError as exc:
        raise ConfigError(str(exc)) from exc
    if entry is not None:
        from warroom.observability import announce, setup_tracing

        setup_tracing()
        announce(application.settings, entry)
    return application


# --- exceptions → one sentence and an exit code --------------------------------------------


def _env_name(field: str) -> str:
    return f"WARROOM_{field.upper()}"


def _redact_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def explain(exc: BaseException) -> tuple[str, int] | None:
    """The sentence and exit code for an exception a user can cause or fix; None for a bug."""
    if isinstance(exc, ConfigError):
        return str(exc), EXIT_USAGE
    if isinstance(exc, click.exceptions.UsageError):
        command = exc.ctx.command_path if exc.ctx is not None else "warroom"
        message = exc.format_message().replace("Value error, ", "")
        return f"{message} (see `{command} --help`)", EXIT_USAGE
    if isinstance(exc, KeyboardInterrupt):
        return "Interrupted.", EXIT_INTERRUPTED
    explained = _explain_settings(exc) or _explain_database(exc) or _explain_project(exc)
    if explained:
        return explained
    if isinstance(exc, PermissionError):
        return (
            f"Permission denied: {exc.filename or exc}; fix the permissions or the setting "
            "that points there.",
            EXIT_USAGE,
        )
    if isinstance(exc, ModuleNotFoundError):
        return (
            f"A required module is not installed: {exc.name}; reinstall warroom "
            "(pip install -e .) or the extra that provides it.",
            EXIT_USAGE,
        )
    return None


def _explain_settings(exc: BaseException) -> tuple[str, int] | None:
    from pydantic import ValidationError

    try:
        from pydantic_settings import SettingsError
    except ImportError:  # pragma: no cover
        SettingsError = ()  # type: ignore[assignment,misc]  # noqa: N806
    if isinstance(exc, SettingsError):
        match = re.search(r'field "(\w+)"', str(exc))
        name = _env_name(match.group(1)) if match else "a WARROOM_* setting"
        cause = exc.__cause__
        detail = f" ({cause})" if cause else ""
        return (
            f"{name} could not be read{detail}; it must be JSON, e.g. "
            + ('{"router": "gpt-4o-mini", "sales": "gpt-4o"}.' if "MODELS" in name else "[] or {}.")
        ), EXIT_USAGE
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        parts = []
        for error in exc.errors()[:3]:
            field = str(error["loc"][0]) if error["loc"] else "?"
            message = str(error["msg"]).removeprefix("Value error, ")
            parts.append(f"{_env_name(field)}: {message}")
        return "; ".join(parts) + ". Fix the setting (environment or .env).", EXIT_USAGE
    return None


def _explain_database(exc: BaseException) -> tuple[str, int] | None:
    module = type(exc).__module__
    if not module.startswith("sqlalchemy"):
        return None
    from sqlalchemy import exc as sa

    if isinstance(exc, sa.OperationalError):
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return (
            f"The database is not reachable ({first}); start it, or fix WARROOM_DATABASE_URL.",
            EXIT_FAILED,
        )
    if isinstance(exc, sa.ArgumentError | sa.NoSuchModuleError):
        return f"WARROOM_DATABASE_URL is not usable: {exc}.", EXIT_USAGE
    return None


def _explain_project(exc: BaseException) -> tuple[str, int] | None:
    from agents.llm_errors import LLMError
    from tools.errors import ToolError
    from tools.policy import PolicyError

    if isinstance(exc, PolicyError):
        return str(exc), EXIT_USAGE
    if isinstance(exc, ToolError):
        return exc.message, EXIT_FAILED if exc.kind in ("refused", "conflict") else EXIT_USAGE
    if isinstance(exc, LLMError):
        return exc.user_message, EXIT_FAILED
    return None


def report(exc: BaseException) -> NoReturn:
    """Print the sentence for `exc` and exit with its code; re-raise bugs (and everything
    under --debug / WARROOM_DEBUG=1)."""
    explained = explain(exc)
    if debug_enabled():
        raise exc
    if explained is None:
        err.print(
            f"[bold red]error:[/] unexpected {type(exc).__name__}: {escape(str(exc))} "
            "(run with --debug or WARROOM_DEBUG=1 for the traceback)",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_FAILED) from exc
    message, code = explained
    raise fail(message, code) from exc


def run_guarded(invoke: Any, ctx: click.Context) -> Any:
    """Run a click invocation, turning user-fixable exceptions into one line and an exit code."""
    try:
        return invoke(ctx)
    except (typer.Exit, typer.Abort, click.exceptions.NoArgsIsHelpError):
        raise
    except Exception as exc:  # noqa: BLE001  (the one place that turns exceptions into exits)
        report(exc)
    except KeyboardInterrupt as exc:
        report(exc)
