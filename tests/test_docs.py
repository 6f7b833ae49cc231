"""Docs that are true: `.env.example` is generated from the settings, no document cites a file
that does not exist, and `langgraph.json` points at a real graph."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from warroom.settings import Settings, env_example

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *ROOT.glob("docs/**/*.md"), ROOT / "tools/policy_default.yaml"])
# A repository path as cited in prose: a top-level folder, then a path (output names such as
# summary.json and examples such as my-policy.yaml are not citations).
TOP = r"(?:agents|tools|memory|channels|warroom|prompts|evals|benchmarks|tests|docs|spec)"
CITED = re.compile(rf"(?<![\w./-])({TOP}/[\w./-]*\w)(?![\w/*<-])")
NOT_FILES = {"warroom.settings", "out/eval"}


def test_env_example_is_generated_from_the_settings() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert text == env_example(), "regenerate: python -m warroom.settings > .env.example"
    for name in Settings.model_fields:
        assert f"# WARROOM_{name.upper()}=" in text, name


def _citations(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".yaml":
        text = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    found = []
    for match in CITED.finditer(text):
        cited = match.group(1).rstrip(".")
        if any(c in cited for c in "*…<>{}") or cited in NOT_FILES:
            continue
        found.append(cited)
    return found


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_no_doc_cites_a_file_that_does_not_exist(doc: Path) -> None:
    missing = []
    for cited in _citations(doc):
        candidates = [ROOT / cited, doc.parent / cited]
        if not any(c.exists() for c in candidates):
            missing.append(cited)
    assert not missing, f"{doc.relative_to(ROOT)} cites missing files: {sorted(set(missing))}"


def test_langgraph_json_points_at_the_graph() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))
    for target in config["graphs"].values():
        module_path, _, attribute = target.partition(":")
        source = (ROOT / module_path).read_text(encoding="utf-8")
        assert re.search(rf"^{attribute} = ", source, re.M), target


def test_contracts_live_in_the_repository() -> None:
    for name in ("crm-contract.md", "scenario-format.md", "meeting-notes.md"):
        assert (ROOT / "docs" / "spec" / name).is_file(), name
