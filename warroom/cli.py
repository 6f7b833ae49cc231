"""The `warroom` command line. Follow the names from `warroom --help` down to the code."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agents.llm_errors import LLMError
from tools.errors import NotFound
from tools.policy import Policy, PolicyError
from warroom import (
    cli_eval,
    cli_inbox,
    cli_ingest,
    cli_kb,
    cli_model,
    cli_privacy,
    cli_review,
    cli_serve,
    cli_trail,
)
from warroom.app import App

app = typer.Typer(
    help="warroom: a multi-agent CRM assistant for sales, service and delivery.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
crm_app = typer.Typer(help="Look at CRM records as a given user sees them.", no_args_is_help=True)
policy_app = typer.Typer(help="The review policy.", no_args_is_help=True)
app.add_typer(crm_app, name="crm")
app.add_typer(policy_app, name="policy")

console = Console()
err = Console(stderr=True)

AsUser = Annotated[
    str,
    typer.Option(
        "--as",
        envvar="WARROOM_AS",
        help="The user to act as (e.g. u-alice); what they may not see stays hidden.",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def _app() -> App:
    try:
        application = App()
        application.policy  # noqa: B018  (invalid policy files fail at start)
        return application
    except PolicyError as exc:
        raise _fail(str(exc)) from exc


def _read(tool: str, args: dict[str, Any], as_user: str) -> dict[str, Any]:
    application = _app()
    service = application.crm()
    try:
        actor = service.actor(as_user)
    except NotFound as exc:
        raise _fail(
            f"There is no user '{as_user}'. Run `warroom seed` for the demo users."
        ) from exc
    result = service.read(tool, {k: v for k, v in args.items() if v is not None}, actor)
    if not result.get("ok"):
        raise _fail(result["message"])
    return result


def _table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> Table:
    table = Table(title=title, header_style="bold cyan")
    for column in columns:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*("—" if row.get(c) is None else str(row.get(c)) for c in columns))
    return table


def _show(result: dict[str, Any], key: str, title: str, columns: list[str], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(result[key], ensure_ascii=False))
        return
    console.print(_table(title, result[key], columns))
    if result.get("truncated"):
        console.print("[dim]Showing the first 50; narrow the filters to see more.[/]")


def _show_record(result: dict[str, Any], as_json: bool) -> None:
    result = {k: v for k, v in result.items() if k != "ok"}
    if as_json:
        console.print_json(json.dumps(result, ensure_ascii=False))
        return
    table = Table(show_header=False)
    table.add_column(style="bold")
    table.add_column()
    hidden = set(result.get("hidden_fields", []))
    for key, value in result.items():
        if key == "hidden_fields":
            continue
        shown = "[dim](hidden)[/]" if key in hidden else json.dumps(value, ensure_ascii=False)
        table.add_row(key, shown.strip('"') if isinstance(value, str) else shown)
    console.print(table)


@crm_app.command("accounts")
def crm_accounts(
    as_user: AsUser,
    query: Annotated[str | None, typer.Option(help="Name, domain or id contains this.")] = None,
    team: Annotated[str | None, typer.Option()] = None,
    tier: Annotated[str | None, typer.Option(help="strategic or standard")] = None,
    owner: Annotated[str | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """List accounts."""
    if query:
        result = _read("search_accounts", {"query": query}, as_user)
    else:
        result = _read("list_accounts", {"team": team, "tier": tier, "owner_id": owner}, as_user)
    columns = ["id", "name", "tier", "team", "owner_id", "industry", "region"]
    _show(result, "accounts", "Accounts", columns, as_json)


@crm_app.command("account")
def crm_account(account_id: str, as_user: AsUser, as_json: JsonFlag = False) -> None:
    """Show one account with contacts, open deals and recent activity."""
    result = _read("get_account", {"account_id": account_id}, as_user)
    if as_json:
        _show_record(result, True)
        return
    _show_record(result["account"], False)
    console.print(
        _table("Contacts", result["contacts"], ["id", "name", "title", "email", "consent"])
    )
    columns = ["id", "name", "stage", "amount", "currency", "discount_percent", "close_date"]
    console.print(_table("Open opportunities", result["open_opportunities"], columns))
    console.print(f"Open tickets: {result['open_tickets']}")
    console.print(
        _table("Recent activity", result["recent_activities"], ["occurred_at", "kind", "subject"])
    )


@crm_app.command("opportunities")
def crm_opportunities(
    as_user: AsUser,
    account: Annotated[str | None, typer.Option()] = None,
    owner: Annotated[str | None, typer.Option()] = None,
    stage: Annotated[str | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """List opportunities (deal money hidden from roles that may not see it)."""
    args = {"account_id": account, "owner_id": owner, "stage": stage}
    result = _read("list_opportunities", args, as_user)
    columns = [
        "id",
        "account_id",
        "name",
        "stage",
        "amount",
        "currency",
        "discount_percent",
        "close_date",
        "owner_id",
    ]
    _show(result, "opportunities", "Opportunities", columns, as_json)


@crm_app.command("opportunity")
def crm_opportunity(opportunity_id: str, as_user: AsUser, as_json: JsonFlag = False) -> None:
    """Show one opportunity."""
    _show_record(_read("get_opportunity", {"opportunity_id": opportunity_id}, as_user), as_json)


@crm_app.command("tickets")
def crm_tickets(
    as_user: AsUser,
    account: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option()] = None,
    priority: Annotated[str | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """List support tickets, soonest SLA first."""
    args = {"account_id": account, "status": status, "priority": priority}
    result = _read("list_tickets", args, as_user)
    columns = [
        "id",
        "account_id",
        "priority",
        "status",
        "subject",
        "sla_due_at",
        "sla_breached",
    ]
    _show(result, "tickets", "Tickets", columns, as_json)


@crm_app.command("ticket")
def crm_ticket(ticket_id: str, as_user: AsUser, as_json: JsonFlag = False) -> None:
    """Show one ticket."""
    _show_record(_read("get_ticket", {"ticket_id": ticket_id}, as_user), as_json)


@crm_app.command("projects")
def crm_projects(
    as_user: AsUser,
    account: Annotated[str | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """List delivery projects, soonest go-live first."""
    result = _read("list_projects", {"account_id": account}, as_user)
    columns = ["id", "account_id", "name", "seats", "status", "start_date", "go_live_date"]
    _show(result, "projects", "Projects", columns, as_json)


@crm_app.command("project")
def crm_project(project_id: str, as_user: AsUser, as_json: JsonFlag = False) -> None:
    """Show one delivery project."""
    _show_record(_read("get_project", {"project_id": project_id}, as_user), as_json)


@app.command("seed")
def seed(
    seed_value: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
    replace: Annotated[bool, typer.Option(help="Wipe the CRM first.")] = False,
    knowledge: Annotated[bool, typer.Option(help="Also load the demo knowledge base.")] = True,
) -> None:
    """Build the demo company: users, accounts, deals, tickets, projects, capacity, price book."""
    from tools.seed import seed_demo

    application = _app()
    anchor = _demo_today(application)
    try:
        counts = seed_demo(application.db, seed=seed_value, anchor=anchor, replace=replace)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    table = Table(title=f"Demo company seeded ({application.settings.resolved_database_url()})")
    table.add_column("records")
    table.add_column("count", justify="right")
    for name, count in counts.items():
        table.add_row(name, str(count))
    console.print(table)
    if knowledge:
        _seed_knowledge(application)


def _seed_knowledge(application: App) -> None:
    from memory.demo import seed_demo_knowledge

    report = seed_demo_knowledge(application.knowledge)
    console.print(
        f"Knowledge base: {len(report.added)} added, {len(report.replaced)} replaced, "
        f"{len(report.unchanged)} unchanged ({report.chunks_written} chunks)"
        + (f", {len(report.failed)} failed" if report.failed else "")
    )


def _demo_today(application: App) -> date:
    """The demo company's 'today': WARROOM_DEMO_TODAY (ISO date) or the company's today."""
    from tools.context import SystemClock

    fixed = os.environ.get("WARROOM_DEMO_TODAY")
    return (
        date.fromisoformat(fixed) if fixed else SystemClock(application.settings.timezone).today()
    )


@app.command("audit")
def audit(
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    actor: Annotated[str | None, typer.Option(help="Only this user's actions.")] = None,
    record: Annotated[str | None, typer.Option(help="Only events on this record id.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show the audit trail: who did what, before/after, and why (newest first)."""
    from tools.catalogue.common import snapshot

    events = _app().crm().audit_events(limit=limit, actor_id=actor, record_id=record)
    rows = [snapshot(e) for e in events]
    if as_json:
        console.print_json(json.dumps(rows, ensure_ascii=False, default=str))
        return
    table = Table(title="Audit trail", header_style="bold cyan", show_lines=True)
    for column in ("at", "actor", "action", "outcome", "record", "change / reason"):
        table.add_column(column)
    for row in rows:
        change = row.get("reason") or ""
        before, after = row.get("before") or {}, row.get("after") or {}
        if after:
            diffs = [
                f"{k}: {before.get(k)!s} → {v!s}"
                for k, v in after.items()
                if before.get(k) != v and k != "version"
            ]
            change = "; ".join(diffs[:6]) + (f"\n{change}" if change else "")
        if row.get("approval_id"):
            change += f"\napproved in {row['approval_id']}"
        table.add_row(
            str(row["at"])[:19],
            row.get("actor_id") or "—",
            row["action"],
            row["outcome"],
            f"{row.get('record_type') or ''} {row.get('record_id') or ''}".strip() or "—",
            change or "—",
        )
    console.print(table)


@policy_app.command("check")
def policy_check(
    path: Annotated[
        str | None, typer.Argument(help="Policy file; default: the configured one.")
    ] = None,
) -> None:
    """Validate a policy file and list its rules."""
    from warroom.settings import load_settings

    target = path or str(load_settings().policy_path)
    try:
        policy = Policy.load(target)
    except PolicyError as exc:
        raise _fail(str(exc)) from exc
    table = Table(title=f"Policy {target}", header_style="bold cyan")
    for column in ("rule", "tool", "when", "reviewer"):
        table.add_column(column)
    for rule in policy.document.rules:
        conditions = []
        for fact, condition in rule.when.items():
            ops = condition.model_dump(by_alias=True, exclude_unset=True)
            conditions.append(f"{fact} " + " ".join(f"{op} {v}" for op, v in ops.items()))
        when = ", ".join(conditions)
        table.add_row(rule.id, ", ".join(rule.tools), when or "always", rule.reviewer)
    plan = policy.document.plan
    table.add_row("plan-size", "any", f"more than {plan.max_writes} writes", plan.reviewer)
    console.print(table)


@app.command("demo")
def demo(
    conversations: Annotated[
        bool, typer.Option(help="Also run conversations with the model (local by default).")
    ] = True,
    knowledge: Annotated[bool, typer.Option(help="Also load the demo knowledge base.")] = True,
) -> None:
    """Build the demo company and run the showcase (non-interactive)."""
    from warroom.demo import run_conversations, run_crm_showcase

    application = _app()
    anchor = _demo_today(application)
    run_crm_showcase(application, console, anchor=anchor)
    if knowledge:
        _seed_knowledge(application)
    if conversations:
        try:
            asyncio.run(run_conversations(application, console))
        except LLMError as exc:
            raise _fail(exc.user_message) from exc


@app.command("chat")
def chat(
    as_user: AsUser,
    thread: Annotated[
        str | None, typer.Option(help="Continue this conversation thread (default: a new one).")
    ] = None,
) -> None:
    """Talk to warroom in the terminal (handoffs, tool calls and approvals shown live)."""
    application = _app()
    thread_id = thread or f"cli-{as_user}-{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_chat(application, as_user, thread_id))
    except LLMError as exc:
        raise _fail(exc.user_message) from exc
    console.print(f"[dim]Continue later with: warroom chat --as {as_user} --thread {thread_id}[/]")


async def _chat(application: App, user_id: str, thread_id: str) -> None:
    from agents.conversation import ConversationService
    from agents.llm import build_chat_model
    from channels.terminal import chat_loop
    from memory.checkpoint import open_async_checkpointer

    crm = application.crm(with_knowledge=True)
    try:
        crm.actor(user_id)
    except NotFound as exc:
        raise _fail(
            f"There is no user '{user_id}'. Run `warroom seed` for the demo users."
        ) from exc
    model = build_chat_model(application.settings)
    try:
        async with open_async_checkpointer(application.settings.resolved_database_url()) as saver:
            convo = ConversationService(
                crm=crm,
                model=model,
                checkpointer=saver,
                review_ttl_hours=application.settings.review_ttl_hours,
            )
            await chat_loop(console, convo, thread_id=thread_id, user_id=user_id)
    finally:
        await model.aclose()


app.add_typer(cli_kb.app, name="kb")
app.add_typer(cli_model.app, name="model")
app.add_typer(cli_review.app, name="review")
app.add_typer(cli_eval.app, name="eval")
app.add_typer(cli_serve.app, name="serve")
app.add_typer(cli_ingest.app, name="ingest")
app.add_typer(cli_privacy.app, name="privacy")
app.command("inbox")(cli_inbox.inbox)  # what waits for a person (cli_inbox.py)
app.command("trail")(cli_trail.trail)  # the decision trail (cli_trail.py)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
