"""Rich views the terminal shares: a person's inbox and a decision trail (`warroom inbox`,
`warroom trail`, `/inbox` and `/trail` in `warroom chat`)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tools.trail import Trail
from tools.worklist import Inbox, InboxItem

KIND_STYLE = {
    "cross-team request": "magenta",
    "review": "yellow",
    "task": "green",
    "team task": "green",
    "ticket": "cyan",
    "team ticket": "cyan",
}
STEP_STYLE = {
    "asked": "bold",
    "proposed": "blue",
    "negotiated": "blue",
    "cross-team": "magenta",
    "rules": "yellow",
    "review requested": "yellow",
    "reviewed": "bold yellow",
    "committed": "green",
    "refused": "red",
    "told": "dim",
}


def _items_table(title: str, items: list[InboxItem]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in ("age", "kind", "id", "what", "account", "from"):
        table.add_column(column)
    for item in items:
        style = KIND_STYLE.get(item.kind, "")
        table.add_row(
            item.age,
            f"[{style}]{item.kind}[/]" if style else item.kind,
            item.id,
            escape(item.title),
            item.account_id or "",
            escape(item.from_user or ""),
        )
    return table


def render_inbox(console: Console, box: Inbox) -> None:
    if not box.items:
        console.print("Nothing waits for you.")
    else:
        console.print(_items_table(f"Waiting for you ({len(box.items)}, oldest first)", box.items))
    if box.waiting_on_others:
        console.print(
            _items_table(
                f"Your requests waiting for others ({len(box.waiting_on_others)})",
                box.waiting_on_others,
            )
        )


def _detail_lines(details: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for finding in details.get("findings") or []:
        lines.append(f"found: {finding}")
    if details.get("counter"):
        lines.append(
            f"counter: {json.dumps(details['counter'], ensure_ascii=False)}"
            + (f" ({details['counter_reason']})" if details.get("counter_reason") else "")
        )
    for round_ in details.get("rounds") or []:
        counter = f" → {json.dumps(round_['counter'])}" if round_.get("counter") else ""
        lines.append(f"{round_['agent']}: {round_['stance']} — {round_['reason']}{counter}")
        lines += [f"  evidence: {e}" for e in (round_.get("evidence") or [])[:4]]
    for reason in details.get("reasons") or []:
        lines.append(f"rule: {reason}")
    if details.get("arguments") and not details.get("changes"):
        lines.append("values: " + json.dumps(details["arguments"], ensure_ascii=False))
    for key, change in (details.get("changes") or {}).items():
        if "asked" in change:
            lines.append(f"{key}: asked {change['asked']} → applied {change['applied']}")
        else:
            lines.append(f"{key}: {change['before']} → {change['after']}")
    return lines


def render_trail(console: Console, trail: Trail) -> None:
    title = f"Decision trail of {trail.subject} (as {trail.reader})"
    if trail.masked:
        title += " — some values are hidden from you"
    table = Table(title=title, title_justify="left", show_lines=True)
    for column in ("when (UTC)", "step", "who", "channel", "what"):
        table.add_column(column, overflow="fold")
    last_decision = None
    for step in trail.steps:
        what = escape(step.text)
        extra = _detail_lines(step.details)
        if extra:
            what += "\n[dim]" + escape("\n".join(extra)) + "[/]"
        if step.decision != last_decision:
            what = f"[dim]{escape(step.decision)}[/]\n" + what
            last_decision = step.decision
        style = STEP_STYLE.get(step.kind, "")
        table.add_row(
            step.at.strftime("%Y-%m-%d %H:%M"),
            f"[{style}]{step.kind}[/]" if style else step.kind,
            escape(step.who),
            escape(step.channel or ""),
            what,
        )
    if not trail.steps:
        console.print(f"No decisions on record for {trail.subject}.")
        return
    console.print(table)
