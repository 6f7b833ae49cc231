"""The `warroom` command line. Follow the names from `warroom --help` down to the code.

Sub-command groups are imported only when used (`LAZY_GROUPS`), so `--help` stays fast; every
failure ends in one sentence and the exit code documented in warroom/cli_common.py.
"""

from __future__ import annotations

import importlib
import json
import re
import uuid
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer import _click as click  # typer vendors Click; its exceptions are these
from typer.core import TyperCommand, TyperGroup

from warroom import __version__
from warroom.cli_common import console, fail, open_app, run_guarded

if TYPE_CHECKING:
    from warroom.app import App

# name → (module with a Typer `app`, one-line help shown by `warroom --help`)
LAZY_GROUPS: dict[str, tuple[str, str]] = {
    "kb": ("warroom.cli_kb", "Knowledge base: add documents, search."),
    "model": ("warroom.cli_model", "The embedded local model."),
    "review": ("warroom.cli_review", "Review requests: your inbox, and approve / reject / edit."),
    "eval": (
        "warroom.cli_eval",
        "Run evaluation scenarios against a fresh CRM each and summarise the results.",
    ),
    "serve": ("warroom.cli_serve", "Run a chat channel server (Slack or Microsoft Teams)."),
    "ingest": (
        "warroom.cli_ingest",
        "Ingest meeting transcripts (WebVTT, SRT, text, JSON, Word) into the CRM.",
    ),
    "slack": ("warroom.cli_manifest:slack_app", "The Slack app: its manifest."),
    "teams": ("warroom.cli_manifest:teams_app", "The Microsoft Teams app: its package."),
    "privacy": (
        "warroom.cli_privacy",
        "Data protection: export, erase and consent for one contact.",
    ),
    "api-token": ("warroom.cli_tokens", "HTTP API tokens: one per CRM user, stored hashed."),
    "inbox": (
        "warroom.cli_inbox",
        "What waits for you: reviews, cross-team requests, your tasks and your team's queue.",
    ),
    "trail": (
        "warroom.cli_trail",
        "Who asked what, in which channel; proposals, negotiation, rules, reviews, commits, told.",
    ),
}


class _LazyStub(TyperCommand):
    """Stands in for a lazily imported group in help listings and completion."""


class WarroomGroup(TyperGroup):
    """The root group: lazily imported sub-groups, and one sentence + exit code per failure."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in LAZY_GROUPS if n not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in LAZY_GROUPS:
            return super().get_command(ctx, cmd_name)
        return _LazyStub(cmd_name, help=LAZY_GROUPS[cmd_name][1])

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, _LazyStub) and name is not None:
            command = load_group(name)
            self.commands[name] = command
        return name, command, rest

    def invoke(self, ctx: click.Context) -> Any:
        return run_guarded(super().invoke, ctx)


def load_group(name: str) -> click.Command:
    module_name, _, attribute = LAZY_GROUPS[name][0].partition(":")
    module = importlib.import_module(module_name)
    command = typer.main.get_command(getattr(module, attribute or "app"))
    command.name = name
    return command


app = typer.Typer(
    cls=WarroomGroup,
    help="warroom: a multi-agent CRM assistant for sales, service and delivery.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
crm_app = typer.Typer(help="Look at CRM records as a given user sees them.", no_args_is_help=True)
policy_app = typer.Typer(help="The review policy.", no_args_is_help=True)
app.add_typer(crm_app, name="crm")
app.add_typer(policy_app, name="policy")


def _version(value: bool) -> None:
    if value:
        console.print(f"warroom {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", envvar="WARROOM_DEBUG", help="Show the full traceback when a command fails."
        ),
    ] = False,
) -> None:
    """warroom: a multi-agent CRM assistant for sales, service and delivery.

    Exit codes: 0 success, 1 refused or failed, 2 usage or configuration mistake."""
    import os

    if debug:
        os.environ["WARROOM_DEBUG"] = "1"
    from warroom.observability import setup_logging

    setup_logging()


AsUser = Annotated[
    str,
    typer.Option(
        "--as",
        envvar="WARROOM_AS",
        help="The user to act as (e.g. u-alice); what they may not see stays hidden.",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


# The CRM's enums (tools/types.py) as choices, so a typo is a usage error naming the values.
# Spelled out here because importing tools.types costs most of a second at every start;
# tests/test_cli_errors.py checks they match.
class TierChoice(StrEnum):
    strategic = "strategic"
    standard = "standard"


class StageChoice(StrEnum):
    prospecting = "prospecting"
    qualification = "qualification"
    proposal = "proposal"
    negotiation = "negotiation"
    closed_won = "closed_won"
    closed_lost = "closed_lost"


class StatusChoice(StrEnum):
    open = "open"
    pending = "pending"
    solved = "solved"
    closed = "closed"


class PriorityChoice(StrEnum):
    p1 = "p1"
    p2 = "p2"
    p3 = "p3"
    p4 = "p4"


def _value(choice: StrEnum | None) -> str | None:
    return None if choice is None else choice.value


_fail = fail
_app = open_app


def _read(tool: str, args: dict[str, Any], as_user: str) -> dict[str, Any]:
    from tools.errors import NotFound

    application = _app()
    service = application.crm()
    try:
        actor = service.actor(as_user)
    except NotFound as exc:
        raise _fail(
            f"There is no user '{as_user}'. Run `warroom seed` for the demo users, or "
            "`warroom users --as <admin>` to list them."
        ) from exc
    result = service.read(tool, {k: v for k, v in args.items() if v is not None}, actor)
    if not result.get("ok"):
        # Asking for what does not exist is a usage mistake (2); being refused is 1.
        raise _fail(result["message"], 1 if result.get("kind") in ("refused", "conflict") else 2)
    return result


def _table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> Table:
    table = Table(title=title, header_style="bold cyan")
    for column in columns:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*("—" if row.get(c) is None else escape(str(row.get(c))) for c in columns))
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
        if key in hidden:
            table.add_row(escape(key), "[dim](hidden)[/]")
            continue
        shown = json.dumps(value, ensure_ascii=False)
        table.add_row(escape(key), escape(shown.strip('"') if isinstance(value, str) else shown))
    console.print(table)


@crm_app.command("accounts")
def crm_accounts(
    as_user: AsUser,
    query: Annotated[str | None, typer.Option(help="Name, domain or id contains this.")] = None,
    team: Annotated[str | None, typer.Option()] = None,
    tier: Annotated[TierChoice | None, typer.Option()] = None,
    owner: Annotated[str | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """List accounts."""
    if query:
        result = _read("search_accounts", {"query": query}, as_user)
    else:
        result = _read(
            "list_accounts", {"team": team, "tier": _value(tier), "owner_id": owner}, as_user
        )
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
    stage: Annotated[StageChoice | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """List opportunities (deal money hidden from roles that may not see it)."""
    args = {"account_id": account, "owner_id": owner, "stage": _value(stage)}
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
    status: Annotated[StatusChoice | None, typer.Option()] = None,
    priority: Annotated[PriorityChoice | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """List support tickets, soonest SLA first."""
    args = {"account_id": account, "status": _value(status), "priority": _value(priority)}
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


@app.command("users")
def users(as_user: AsUser, as_json: JsonFlag = False) -> None:
    """List CRM users (ids for --as): admins see everyone, others their own team."""
    from sqlalchemy import select

    from tools.errors import NotFound
    from tools.models import User

    application = _app()
    try:
        actor = application.crm().actor(as_user)
    except NotFound as exc:
        raise _fail(
            f"There is no user '{as_user}'. Run `warroom seed` for the demo users."
        ) from exc
    query = select(User).order_by(User.team, User.id)
    if "admin" not in actor.roles:
        query = query.where(User.team == actor.team)
    with application.db.read_session() as session:
        rows = [
            {
                "id": u.id,
                "name": u.name,
                "email": u.email,
                "roles": ", ".join(u.roles or []),
                "team": u.team,
                "manager_id": u.manager_id,
            }
            for u in session.scalars(query)
        ]
    title = "Users" if "admin" in actor.roles else f"Users of team {actor.team or '—'}"
    _show({"users": rows}, "users", title, list(rows[0]) if rows else ["id"], as_json)


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

    fixed = application.settings.demo_today
    return fixed or SystemClock(application.settings.timezone).today()


_HIDE_FIGURES = re.compile(r"(?<![\w-])\d[\d,.]*\s?%?(?![\w-])")


@app.command("audit")
def audit(
    as_user: Annotated[
        str,
        typer.Option(
            "--as",
            envvar="WARROOM_AS",
            help="Who reads the trail (required): rows and figures are shown as this user may "
            "see them.",
        ),
    ],
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    actor: Annotated[str | None, typer.Option(help="Only this user's actions.")] = None,
    record: Annotated[str | None, typer.Option(help="Only events on this record id.")] = None,
    detail: Annotated[
        bool,
        typer.Option("--detail", help="Under each reviewed write: its steps, approvers, edits."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Show the audit trail as USER may see it: who did what, before/after, and why (newest
    first)."""
    from tools.audit_view import audit_trail
    from tools.errors import NotFound
    from tools.service import review_trail
    from tools.visibility import sees

    crm = _app().crm()
    try:
        reader = crm.actor(as_user)
    except NotFound as exc:
        raise _fail(f"There is no warroom user '{as_user}'.") from exc
    with crm.db.read_session() as session:
        trail = audit_trail(session, reader, limit=limit, actor_id=actor, record_id=record)
    rows = [r.model_dump(mode="json") for r in trail]
    money = sees(reader, "deal_money")
    trails: dict[str, list[str]] = {}
    for approval_id in {r["approval_id"] for r in rows if r.get("approval_id")}:
        requests = crm.reviews(status=None, approval_id=approval_id)
        lines = review_trail(requests[0]) if requests else []
        # A step's values may be deal money: shown only to a reader who may see it.
        trails[approval_id] = lines if money else [_HIDE_FIGURES.sub("(hidden)", x) for x in lines]
    if detail:
        for row in rows:
            if row.get("approval_id"):
                row["review"] = trails.get(row["approval_id"], [])
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
            steps = trails.get(row["approval_id"], [])
            approvers = [line for line in steps if "— approved by" in line]
            names = ", ".join(line.rsplit("approved by ", 1)[1] for line in approvers)
            change += f"\napproved in {row['approval_id']}" + (f" by {names}" if names else "")
            if detail:
                change += "".join(f"\n  {line}" for line in steps)
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
    from tools.policy import Policy, PolicyError
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

    application = open_app(entry="demo" if conversations else None)
    anchor = _demo_today(application)
    run_crm_showcase(application, console, anchor=anchor)
    if knowledge:
        _seed_knowledge(application)
    if conversations:
        import asyncio

        asyncio.run(run_conversations(application, console))


@app.command("chat")
def chat(
    as_user: AsUser,
    thread: Annotated[
        str | None, typer.Option(help="Continue this conversation thread (default: a new one).")
    ] = None,
) -> None:
    """Talk to warroom in the terminal (handoffs, tool calls and approvals shown live)."""
    application = open_app(entry="chat")
    thread_id = thread or f"cli-{as_user}-{uuid.uuid4().hex[:8]}"
    import asyncio

    asyncio.run(_chat(application, as_user, thread_id))
    console.print(
        f"[dim]Continue later with: warroom chat --as {escape(as_user)} --thread "
        f"{escape(thread_id)}[/]"
    )


async def _chat(application: App, user_id: str, thread_id: str) -> None:
    from agents.llm import build_chat_model
    from channels.terminal import chat_loop
    from memory.checkpoint import open_async_checkpointer
    from tools.errors import NotFound

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
            convo = application.conversation_service(model=model, checkpointer=saver, crm=crm)
            await chat_loop(
                console,
                convo,
                thread_id=thread_id,
                user_id=user_id,
                history_file=application.settings.data_dir / "chat_history",
            )
    finally:
        await model.aclose()


def main() -> None:
    app(prog_name="warroom")


if __name__ == "__main__":
    main()
