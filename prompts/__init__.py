"""Prompt templates as files, one per agent or task, loaded by name.

Templates use `str.format`-style fields ({user_name}, {today}, ...); a field the caller does not
supply is an error naming the prompt and the field, not a silently empty hole.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Formatter

PROMPTS_DIR = Path(__file__).resolve().parent


@cache
def load_prompt(name: str) -> str:
    path = PROMPTS_DIR / f"{name}.md"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.md")))
        raise KeyError(f"no prompt named '{name}' (known: {known})")
    return path.read_text(encoding="utf-8").strip()


def render_prompt(name: str, **fields: object) -> str:
    template = load_prompt(name)
    wanted = {f for _, f, _, _ in Formatter().parse(template) if f}
    missing = wanted - fields.keys()
    if missing:
        raise KeyError(f"prompt '{name}' needs {sorted(missing)}")
    return template.format(**fields)
