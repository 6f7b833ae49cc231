"""`warroom privacy`: export a contact's personal data, erase it everywhere, record consent.

Mounted by the main CLI with `app.add_typer(cli_privacy.app, name="privacy")`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from tools.privacy import PrivacyRequestError, PrivacyService
from warroom.app import App

__all__ = ["app", "privacy_service"]

app = typer.Typer(
    help="Data protection: export, erase and consent for one contact.", add_completion=False
)
console = Console()
err_console = Console(stderr=True)
AsUser = Annotated[str, typer.Option("--as", envvar="WARROOM_AS", help="Who asks (e.g. u-admin).")]


def privacy_service(application: App) -> PrivacyService:
    """The CRM plus every other store that may hold personal data, in erasure order (the CRM
    itself always goes last)."""
    from memory.account_memory import open_account_memory
    from memory.privacy import AccountMemoryStore, CheckpointStore, ChromaLogStore, KnowledgeStore

    s = application.settings
    memory = open_account_memory(
        data_dir=s.data_dir,
        chroma_url=s.chroma_url,
        embeddings_base_url=s.embeddings_base_url,
        embeddings_api_key=s.embeddings_api_key,
        embeddings_model=s.embeddings_model,
    )
    stores: list[Any] = [
        KnowledgeStore(application.knowledge),
        AccountMemoryStore(memory),
        CheckpointStore(s.resolved_database_url()),
    ]
    if not s.chroma_url:
        stores.append(ChromaLogStore(s.data_dir / "chroma"))
    return PrivacyService(application.crm(), stores)


def _fail(exc: PrivacyRequestError) -> typer.Exit:
    err_console.print(f"[red]{escape(exc.message)}[/]")
    return typer.Exit(code=3 if exc.kind == "refused" else 2)


def _on_off(value: str | None, option: str) -> bool | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("on", "yes", "true", "1"):
        return True
    if lowered in ("off", "no", "false", "0"):
        return False
    err_console.print(f"[red]{option} takes on or off, not {escape(value)!r}.[/]")
    raise typer.Exit(code=2)


@app.command("export")
def export(
    contact_id: str,
    as_user: AsUser,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the JSON here instead of stdout.")
    ] = None,
) -> None:
    """Everything warroom holds about a contact, as JSON (admins only; the export is audited)."""
    application = App()
    try:
        service = privacy_service(application)
        data = service.export(contact_id, actor_id=as_user)
    except PrivacyRequestError as exc:
        raise _fail(exc) from exc
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if out is None:
        typer.echo(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(text + "\n", encoding="utf-8")
    partial.replace(out)  # nothing half-written under the requested name
    console.print(f"Wrote the personal data of {escape(contact_id)} to {escape(str(out))}.")


@app.command("erase")
def erase(
    contact_id: str,
    as_user: AsUser,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit event).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Erase a contact's personal data from every store (admins only). Safe to run again."""
    application = App()
    try:
        report = privacy_service(application).erase(contact_id, actor_id=as_user, reason=reason)
    except PrivacyRequestError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    state = "was already erased; checked again" if report.already_erased else "erased"
    console.print(f"Contact {escape(contact_id)} {state}:")
    for store, counts in report.stores.items():
        shown = ", ".join(f"{k} {v}" for k, v in counts.items()) or "nothing"
        console.print(f"  {store}: {shown}")
    console.print(f"Audit event {report.audit_event_id} records what was erased.")


@app.command("consent")
def consent(
    contact_id: str,
    as_user: AsUser,
    reason: Annotated[str, typer.Option(help="Why the consent changes (audited).")],
    email: Annotated[str | None, typer.Option(help="on or off")] = None,
    phone: Annotated[str | None, typer.Option(help="on or off")] = None,
    marketing: Annotated[str | None, typer.Option(help="on or off")] = None,
) -> None:
    """Record a consent change; it holds at once for every agent and channel."""
    application = App()
    try:
        report = PrivacyService(application.crm()).set_consent(
            contact_id,
            actor_id=as_user,
            reason=reason,
            email=_on_off(email, "--email"),
            phone=_on_off(phone, "--phone"),
            marketing=_on_off(marketing, "--marketing"),
        )
    except PrivacyRequestError as exc:
        raise _fail(exc) from exc
    if not report.changed:
        console.print(f"Consent of {escape(contact_id)} already was as asked; nothing changed.")
    for channel, (old, new) in report.changed.items():
        console.print(
            f"{escape(contact_id)} {channel}: {'on' if old else 'off'} → {'on' if new else 'off'} "
            f"(by {report.by} at {report.at:%Y-%m-%d %H:%M} UTC)"
        )
