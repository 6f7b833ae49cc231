"""Prompts rendered with fixed fields, compared with snapshots: a prompt change shows up in
review. Refresh deliberately with UPDATE_SNAPSHOTS=1."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agents.specialist import TOOLSETS, tool_schemas
from prompts import PROMPTS_DIR, load_prompt, render_prompt

SNAPSHOTS = Path(__file__).parent / "snapshots"
FIELDS = {
    "user_name": "Alice Wong",
    "user_roles": "rep",
    "user_team": "west",
    "today": "2026-11-20 (Friday)",
    "context": "\nContext:\n- The request is about account acc-acme.",
}


def _check(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; see the diff"


@pytest.mark.parametrize("name", sorted(p.stem for p in PROMPTS_DIR.glob("*.md")))
def test_prompt_snapshot(name: str) -> None:
    fields = {k: v for k, v in FIELDS.items() if "{" + k + "}" in load_prompt(name)}
    _check(f"prompt-{name}.txt", render_prompt(name, **fields))


@pytest.mark.parametrize("agent", list(TOOLSETS))
def test_tool_schema_snapshot(agent: str) -> None:
    _check(f"tools-{agent}.json", json.dumps(tool_schemas(agent), indent=1, sort_keys=True))


def test_missing_field_and_unknown_prompt_are_named() -> None:
    with pytest.raises(KeyError, match="needs"):
        render_prompt("single_agent", user_name="x")
    with pytest.raises(KeyError, match="no prompt named 'nope'"):
        load_prompt("nope")
