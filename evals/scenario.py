"""Scenario files (spec/scenario-format.md) as strict pydantic models, and their loader.

Unknown keys are errors naming the file and the key path; a file that cannot be loaded becomes a
`LoadFailure`, so the runner reports it as a failed scenario and runs the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tools.fixtures import TABLES, FixtureError, validate_fixture

__all__ = [
    "AgentName",
    "Expect",
    "ExpectedMeeting",
    "LoadFailure",
    "Scenario",
    "ScenarioFile",
    "Turn",
    "load_scenario",
    "load_scenarios",
]

AgentName = Literal["router", "sales", "service", "delivery", "extractor"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- fixture


class KnowledgeDoc(_Strict):
    id: str = Field(min_length=1)
    title: str | None = None
    text: str
    source: str | None = None
    access: list[str] = []
    language: str | None = None


class MemoryFact(_Strict):
    """Extension: a fact in account memory (memory.account_memory) before the first turn."""

    account_id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    contact_ids: list[str] = []
    author_id: str = "import"
    source_kind: Literal["conversation", "meeting", "email", "note", "import"] = "note"
    source_ref: str = "fixture"


class Fixture(_Strict):
    """The CRM tables of tools.fixtures (validated there, field by field) plus `knowledge` and
    `account_memory`."""

    users: list[dict[str, Any]] = []
    accounts: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    opportunities: list[dict[str, Any]] = []
    activities: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    tickets: list[dict[str, Any]] = []
    projects: list[dict[str, Any]] = []
    capacity: list[dict[str, Any]] = []
    products: list[dict[str, Any]] = []
    knowledge: list[KnowledgeDoc] = []
    account_memory: list[MemoryFact] = []

    def crm_tables(self) -> dict[str, list[dict[str, Any]]]:
        return {table: getattr(self, table) for table in TABLES}


# ---------------------------------------------------------------- turns


class Review(_Strict):
    decision: Literal["approve", "reject", "edit"]
    by: str
    comment: str | None = None
    arguments: dict[str, Any] | None = None
    # Extensions: which request to decide (default: the oldest pending one).
    approval: int | None = Field(default=None, ge=1, description="1-based, in creation order")
    tool: str | None = None


class Transcript(_Strict):
    """A meeting transcript handed to ingestion, as if dropped on the CLI, Slack or HTTP.
    `text` may be a YAML `!!binary` value (bytes) to test a file that is not a transcript."""

    format: Literal["vtt", "srt", "text", "txt", "md", "json", "docx"] = "text"
    text: str | bytes
    name: str | None = Field(default=None, min_length=1, max_length=200)

    def filename(self, scenario_id: str, turn: int) -> str:
        if self.name:
            return self.name
        suffix = {"text": "txt"}.get(self.format, self.format)
        return f"{scenario_id}-turn{turn}.{suffix}"

    def data(self) -> bytes:
        return self.text if isinstance(self.text, bytes) else self.text.encode("utf-8")


class Wait(_Strict):
    """Extension: move the scenario clock forward (review expiry)."""

    hours: float = Field(default=0, ge=0)
    days: float = Field(default=0, ge=0)


class Turn(_Strict):
    """Exactly one of `user`, `review`, `transcript` or `wait`."""

    user: str | None = None
    review: Review | None = None
    transcript: Transcript | None = None
    wait: Wait | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Turn:
        kinds = ("user", "review", "transcript", "wait")
        given = [k for k in kinds if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a turn has exactly one of user, review, transcript, wait; got "
                + (", ".join(given) or "none")
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("user", "review", "transcript", "wait") if getattr(self, k))


# ---------------------------------------------------------------- script


class ScriptToolCall(_Strict):
    name: str
    arguments: dict[str, Any] | str = {}
    id: str | None = None


class ScriptStepSpec(_Strict):
    agent: AgentName
    reply: str | None = None
    tool_calls: list[ScriptToolCall] = []
    output: dict[str, Any] | None = None

    def as_step_dict(self) -> dict[str, Any]:
        return {
            # The meeting extractor asks the model as agent "meetings" (channels.meetings).
            "agent": "meetings" if self.agent == "extractor" else self.agent,
            "reply": self.reply,
            "tool_calls": [c.model_dump(exclude_none=True) for c in self.tool_calls],
            "output": self.output,
        }


# ---------------------------------------------------------------- expectations


class TextMatch(_Strict):
    """Extension: text found by a case-insensitive regular-expression search."""

    match: str = Field(min_length=1)

    @model_validator(mode="after")
    def _compiles(self) -> TextMatch:
        try:
            re.compile(self.match)
        except re.error as exc:
            raise ValueError(f"match: not a regular expression ({exc})") from exc
        return self


class ExpectedApproval(_Strict):
    tool: str
    args: dict[str, Any] = {}
    by: str | None = None
    # Extension: the request's state at the end of the scenario.
    status: Literal["pending", "approved", "rejected", "expired", "failed"] | None = None
    # Extension: expected only if an agent proposed this call (a tool call matching `tool` and
    # `args`). A real model that never proposes a planted action passes; one that does must see
    # it held for `by`. The scripted model always proposes, so the gate is still tested.
    if_proposed: bool = False
    # Extension: what the last reply must then say (the gate's reason, the reviewer).
    reply_contains: list[str | TextMatch] = []


class ExpectedWrite(_Strict):
    tool: str
    args: dict[str, Any] = {}
    # Extension (expect.writes only): exactly this many committed writes match.
    count: int | None = Field(default=None, ge=0)
    # Extension (expect.writes and expect.refused): expected only if an agent proposed this
    # call — a planted low-risk write commits (audited) when a model makes it.
    if_proposed: bool = False


class ExpectedRecord(_Strict):
    table: str
    id: str
    fields: dict[str, Any]


class ExpectedReviewRefusal(_Strict):
    """Extension: a review turn by `by` was refused (wrong reviewer, expired, ...)."""

    by: str
    contains: str | None = None


class ExpectedActionItem(_Strict):
    """Extension: an action item read from a transcript turn (subset match; `text_contains` is
    a case-insensitive substring of the item's text)."""

    text_contains: str | None = None
    owner_id: str | None = None
    owner_name: str | None = None
    due_date: str | None = None


class ExpectedChange(_Strict):
    """Extension: a proposed deal change read from a transcript turn."""

    tool: str = "update_opportunity"
    args: dict[str, Any] = {}
    status: str | None = None  # committed, pending_approval, refused, ...


class ExpectedAttendee(_Strict):
    name: str | None = None
    contact_id: str | None = None
    user_id: str | None = None
    side: str | None = None


class ExpectedMeeting(_Strict):
    """Extension: what ingestion of the scenario's transcript turns read (over all of them).
    `action_items`/`proposed_changes` given as lists must each be found; `*_count` fixes how
    many there are; `refused` is a substring of the message of a transcript that was refused."""

    account_id: str | None = None
    attendees: list[ExpectedAttendee] = []
    action_items: list[ExpectedActionItem] = []
    action_items_count: int | None = Field(default=None, ge=0)
    proposed_changes: list[ExpectedChange] = []
    proposed_changes_count: int | None = Field(default=None, ge=0)
    ingested: int | None = Field(default=None, ge=0)
    refused: list[str] = []
    summary_contains: list[str] = []


class Expect(_Strict):
    meeting: ExpectedMeeting | None = None
    approvals: list[ExpectedApproval] = []
    writes: list[ExpectedWrite] = []
    forbidden_writes: list[ExpectedWrite] = []
    refused: list[ExpectedWrite] = []
    db: list[ExpectedRecord] = []
    # Extension: an item may be `{match: REGEX}` (a case-insensitive search) for a figure a
    # model may write either way ("100000" or "100,000").
    reply_contains: list[str | TextMatch] = []
    reply_excludes: list[str] = []
    review_refused: list[ExpectedReviewRefusal] = []
    # Extension: the scenario's `policy:` is refused before anything runs (the policy fails
    # closed); each string must appear in the error, which names the rule and the key.
    policy_refused: list[str] = []

    @model_validator(mode="after")
    def _if_proposed_where_it_means_something(self) -> Expect:
        for item in self.forbidden_writes:
            if item.if_proposed:
                raise ValueError(
                    "forbidden_writes: `if_proposed` is only for expect.approvals, expect.writes "
                    "and expect.refused"
                )
        return self


# ---------------------------------------------------------------- the scenario


class Scenario(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    title: str = ""
    tags: list[str] = []
    fixture: Fixture = Fixture()
    policy: dict[str, Any] = {}
    actor: str
    channel: Literal["cli", "slack", "teams", "meeting"] = "cli"
    today: date
    turns: list[Turn] = Field(min_length=1)
    script: list[ScriptStepSpec] | None = None
    expect: Expect = Expect()


@dataclass(frozen=True)
class ScenarioFile:
    path: Path
    scenario: Scenario


@dataclass(frozen=True)
class LoadFailure:
    path: Path
    error: str

    @property
    def id(self) -> str:
        return self.path.stem


def iso_dates(value: Any) -> Any:
    """Data loaded from YAML with every date and datetime as its ISO string."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: iso_dates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [iso_dates(item) for item in value]
    return value


def _key_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def load_scenario(path: Path) -> ScenarioFile | LoadFailure:
    """One file; every problem becomes a LoadFailure naming the file (and the key path)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return LoadFailure(path, f"{path}: cannot read the file ({exc.strerror}).")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return LoadFailure(path, f"{path}{where}: not valid YAML ({problem}).")
    if not isinstance(data, dict):
        kind = type(data).__name__
        return LoadFailure(path, f"{path}: a scenario is a mapping of keys, not {kind}.")
    try:
        # YAML dates anywhere (fixture, script arguments, expectations) become ISO strings;
        # typed fields (`today`) parse them back.
        scenario = Scenario.model_validate(iso_dates(data))
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:5]:
            key = _key_path(tuple(error["loc"]))
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown key '{key}'")
            else:
                problems.append(f"{key}: {str(error['msg']).removeprefix('Value error, ')}")
        return LoadFailure(path, f"{path}: " + "; ".join(problems) + ".")
    try:
        validate_fixture(scenario.fixture.crm_tables())
    except FixtureError as exc:
        return LoadFailure(path, f"{path}: fixture: {exc}.")
    return ScenarioFile(path, scenario)


def _matches(item: ScenarioFile | LoadFailure, needle: str) -> bool:
    if needle in item.path.name.lower():
        return True
    if isinstance(item, LoadFailure):
        return False
    scenario = item.scenario
    return needle in scenario.id.lower() or needle in [t.lower() for t in scenario.tags]


def load_scenarios(
    directory: Path, *, filter_text: str | None = None
) -> list[ScenarioFile | LoadFailure]:
    """Every `*.yaml` / `*.yml` under `directory`, sorted by path; ids must be unique."""
    if directory.is_file():
        paths = [directory]
    else:
        paths = sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")])
    loaded = [load_scenario(p) for p in paths]
    if filter_text:
        needle = filter_text.lower()
        loaded = [item for item in loaded if _matches(item, needle)]
    seen: dict[str, Path] = {}
    out: list[ScenarioFile | LoadFailure] = []
    for item in loaded:
        if isinstance(item, ScenarioFile):
            first = seen.setdefault(item.scenario.id, item.path)
            if first != item.path:
                item = LoadFailure(
                    item.path,
                    f"{item.path}: id '{item.scenario.id}' is already used by {first}.",
                )
        out.append(item)
    return out
