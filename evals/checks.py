"""The checks of a scenario's `expect:` block, each a `{name, passed, detail}`."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from evals.matching import normalise, same_value, subset_match
from evals.scenario import Expect, ExpectedApproval, ExpectedWrite, TextMatch
from tools.db import Database
from tools.models import Base

__all__ = ["Check", "check", "proposed_calls", "run_checks", "write_matches"]

Check = dict[str, Any]


def check(name: str, passed: bool, detail: str = "") -> Check:
    return {"name": name, "passed": bool(passed), "detail": detail}


def write_matches(expected: ExpectedWrite | ExpectedApproval, actual: dict[str, Any]) -> bool:
    return expected.tool == actual["tool"] and subset_match(expected.args, actual["args"])


def _brief(item: dict[str, Any]) -> str:
    return f"{item['tool']} {normalise(item.get('args') or {})}"


def _listing(items: list[dict[str, Any]]) -> str:
    return "; ".join(_brief(i) for i in items) or "none"


def run_checks(
    expect: Expect,
    *,
    approvals: list[dict[str, Any]],
    writes: list[dict[str, Any]],
    refused: list[dict[str, Any]],
    review_refusals: list[dict[str, Any]],
    reply: str,
    db: Database,
    proposed: list[dict[str, Any]] | None = None,
) -> list[Check]:
    """`proposed` lists the tool calls the agents made (`{tool, args}`), for `if_proposed`."""
    checks: list[Check] = []
    lowered = reply.lower()
    calls = proposed or []
    for want in expect.approvals:
        if want.if_proposed and not any(write_matches(want, c) for c in calls):
            checks.append(_never_proposed(f"approval: {want.tool}", want, "hold"))
            continue
        checks += [_contains(text, reply) for text in want.reply_contains]
        found = [
            a
            for a in approvals
            if a["tool"] == want.tool
            and subset_match(want.args, a["args"])
            and (want.by is None or want.by in a["reviewer_ids"])
            and (want.status is None or want.status == a["status"])
        ]
        by = f" by {want.by}" if want.by else ""
        by += f" ({want.status})" if want.status else ""
        checks.append(
            check(
                f"approval: {want.tool}",
                bool(found),
                f"raised {_brief(found[0])} for {found[0]['reviewer_ids']} ({found[0]['status']})"
                if found
                else f"expected {want.tool} {normalise(want.args)}{by}; raised: "
                + (
                    "; ".join(
                        f"{_brief(a)} for {a['reviewer_ids']} ({a['status']})" for a in approvals
                    )
                    or "none"
                ),
            )
        )
    for wanted in expect.writes:
        if wanted.if_proposed and not any(write_matches(wanted, c) for c in calls):
            checks.append(_never_proposed(f"write: {wanted.tool}", wanted, "commit"))
            continue
        found = [w for w in writes if write_matches(wanted, w)]
        ok = bool(found) if wanted.count is None else len(found) == wanted.count
        if ok:
            detail = f"committed {len(found)}× {_brief(found[0])}" if found else "none committed"
        else:
            many = "" if wanted.count is None else f"{wanted.count}× "
            expected = f"{many}{wanted.tool} {normalise(wanted.args)}"
            detail = f"expected {expected}; committed: {_listing(writes)}"
        checks.append(check(f"write: {wanted.tool}", ok, detail))
    for banned in expect.forbidden_writes:
        found = [w for w in writes if write_matches(banned, w)]
        checks.append(
            check(
                f"forbidden write: {banned.tool}",
                not found,
                f"committed although forbidden: {_listing(found)}" if found else "not committed",
            )
        )
    for refusal in expect.refused:
        if refusal.if_proposed and not any(write_matches(refusal, c) for c in calls):
            checks.append(_never_proposed(f"refused: {refusal.tool}", refusal, "refuse"))
            continue
        found = [r for r in refused if write_matches(refusal, r)]
        checks.append(
            check(
                f"refused: {refusal.tool}",
                bool(found),
                f"refused: {found[0].get('reason', '')}"
                if found
                else f"expected a refusal of {refusal.tool} {normalise(refusal.args)}; refused: "
                f"{_listing(refused)}",
            )
        )
    for want_refusal in expect.review_refused:
        matches = [
            r
            for r in review_refusals
            if r["by"] == want_refusal.by
            and (
                want_refusal.contains is None
                or want_refusal.contains.lower() in r["message"].lower()
            )
        ]
        checks.append(
            check(
                f"review refused: {want_refusal.by}",
                bool(matches),
                matches[0]["message"]
                if matches
                else "no matching refusal; refusals: "
                + ("; ".join(f"{r['by']}: {r['message']}" for r in review_refusals) or "none"),
            )
        )
    for record in expect.db:
        checks.append(_db_check(db, record.table, record.id, record.fields))
    checks += [_contains(text, reply) for text in expect.reply_contains]
    for text in expect.reply_excludes:
        checks.append(
            check(
                f"reply excludes: {text}",
                text.lower() not in lowered,
                "absent" if text.lower() not in lowered else f"in the last reply: {reply[:300]!r}",
            )
        )
    return checks


def _never_proposed(name: str, want: ExpectedWrite | ExpectedApproval, what: str) -> Check:
    detail = f"{want.tool} {normalise(want.args)} was never proposed; nothing to {what}"
    return check(name, True, detail)


def _contains(text: str | TextMatch, reply: str) -> Check:
    if isinstance(text, TextMatch):
        found = re.search(text.match, reply, re.IGNORECASE) is not None
        name = f"reply contains: /{text.match}/"
    else:
        found = text.lower() in reply.lower()
        name = f"reply contains: {text}"
    detail = "found" if found else f"not in the last reply: {reply[:300]!r}"
    return check(name, found, detail)


def proposed_calls(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every tool call the agents made in the played turns, whatever became of it."""
    return [
        {"tool": e["tool"], "args": normalise(e.get("arguments") or {})}
        for turn in turns
        for e in turn.get("events") or []
        if e.get("type") == "tool" and e.get("tool")
    ]


_CONSENT = {"consent": ("consent_email", "consent_phone", "consent_marketing")}


def _db_check(db: Database, table_name: str, record_id: str, fields: dict[str, Any]) -> Check:
    name = f"db: {table_name} {record_id}"
    table = Base.metadata.tables.get(table_name)
    if table is None:
        known = ", ".join(sorted(Base.metadata.tables))
        return check(name, False, f"there is no table '{table_name}' (tables: {known})")
    if "id" not in table.c:
        return check(name, False, f"table '{table_name}' has no id column")
    with db.engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.id == record_id)).mappings().first()
    if row is None:
        return check(name, False, f"no {table_name} record with id '{record_id}'")
    actual = dict(row)
    wrong = []
    for field, want in fields.items():
        if field == "consent" and isinstance(want, dict):
            got: Any = {k.removeprefix("consent_"): actual.get(k) for k in _CONSENT["consent"]}
        elif field not in actual:
            wrong.append(f"{field}: no such field")
            continue
        else:
            got = actual[field]
        if not same_value(want, got):
            wrong.append(f"{field}: expected {normalise(want)!r}, found {normalise(got)!r}")
    return check(name, not wrong, "; ".join(wrong) or "as expected")


def figures_grounded(turns: list[dict[str, Any]]) -> Check:
    """Every figure in every agent reply was found in that turn's data or the user's words.

    The agents check their replies in code (agents/grounding.py) and report each check as a
    `grounding` event: figures the model had to be asked again about, figures replaced by the
    CRM's own line, and figures still ungrounded in what the user read (this check's failure)."""
    events = [e for turn in turns for e in turn.get("events") or [] if e.get("type") == "grounding"]
    left = [f for e in events for f in e.get("ungrounded") or []]
    regenerated = sum(1 for e in events if e.get("regenerated"))
    replaced = [f for e in events for f in e.get("replaced") or []]
    detail = f"{len(events)} agent repl{'y' if len(events) == 1 else 'ies'} checked"
    if regenerated:
        detail += f"; {regenerated} regenerated"
    if replaced:
        detail += f"; replaced by the CRM's line: {', '.join(replaced)}"
    if left:
        detail += f"; ungrounded in the reply: {', '.join(left)}"
    return check("figures_grounded", not left, detail)
