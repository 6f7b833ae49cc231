"""The policy engine: deterministic rules from a YAML file decide which proposed writes commit at
once and which wait for which human reviewers, in which order.

The file fails closed: it is read with a strict schema (unknown keys, tools, roles, facts and
operators, values a fact can never take, NaN/infinite or negative thresholds and duplicate rule
ids are errors that name the file, line, rule id and key), because a misspelt rule would
otherwise silently never fire. What a rule may test comes from the tool registry
(`ToolSpec.facts`), the one place a write tool's metadata is declared.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tools.files import FileRefused, compose_yaml, load_yaml, read_user_text

ReviewerRole = Literal["sales_manager", "support_lead", "delivery_lead", "admin", "manager"]
ROLES: tuple[ReviewerRole, ...] = (
    "manager",
    "sales_manager",
    "support_lead",
    "delivery_lead",
    "admin",
)
# The order review steps are taken in when a write needs several roles (policy `approval_order`).
DEFAULT_APPROVAL_ORDER: tuple[ReviewerRole, ...] = ROLES
Threshold = Annotated[float, Field(allow_inf_nan=False)]
Scalar = str | bool | float

DOMAIN_REVIEWER: dict[str, ReviewerRole] = {
    "sales": "sales_manager",
    "service": "support_lead",
    "delivery": "delivery_lead",
    "all": "admin",
}


class PolicyError(Exception):
    """A policy file that cannot be used; the message names the file, line and reason."""


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    eq: Scalar | None = None
    ne: Scalar | None = None
    gt: Threshold | None = None
    gte: Threshold | None = None
    lt: Threshold | None = None
    lte: Threshold | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in", min_length=1)
    not_in: list[Scalar] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _something(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError("a condition needs an operator (eq, ne, gt, gte, lt, lte, in, not_in)")
        return self

    def holds(self, value: Any) -> bool:
        checks: list[tuple[Any, Callable[[Any, Any], bool]]] = [
            (self.gt, operator.gt),
            (self.gte, operator.ge),
            (self.lt, operator.lt),
            (self.lte, operator.le),
        ]
        for bound, compare in checks:
            if bound is None:
                continue
            if value is None or isinstance(value, bool) or not isinstance(value, int | float):
                try:
                    value = float(cast(Any, value))
                except (TypeError, ValueError):
                    return False
            if not compare(value, bound):
                return False
        fields = self.model_fields_set
        if "eq" in fields and value != self.eq:
            return False
        if "ne" in fields and value == self.ne:
            return False
        if self.in_ is not None and value not in self.in_:
            return False
        return not (self.not_in is not None and value in self.not_in)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    tool: str | list[str]
    when: dict[str, Condition] = {}
    reviewer: ReviewerRole
    reason: str = Field(min_length=1)

    @field_validator("tool")
    @classmethod
    def _known_write_tools(cls, value: str | list[str]) -> str | list[str]:
        from tools.catalogue import REGISTRY

        for name in [value] if isinstance(value, str) else value:
            spec = REGISTRY.get(name)
            if spec is None:
                raise ValueError(f"unknown tool '{name}'")
            if spec.kind != "write":
                raise ValueError(f"'{name}' is a read tool; policy rules apply to writes")
        return value

    @property
    def tools(self) -> list[str]:
        return [self.tool] if isinstance(self.tool, str) else list(self.tool)

    def matches(self, tool: str, facts: dict[str, Any]) -> bool:
        return tool in self.tools and all(
            cond.holds(facts.get(name)) for name, cond in self.when.items()
        )


class PlanRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_writes: int = Field(ge=1)
    reviewer: ReviewerRole = "manager"
    reason: str = "Too many writes in one plan"


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1]
    rules: list[Rule]
    plan: PlanRule
    approval_order: list[ReviewerRole] = Field(default_factory=lambda: list(DEFAULT_APPROVAL_ORDER))

    @field_validator("approval_order")
    @classmethod
    def _every_role_once(cls, order: list[ReviewerRole]) -> list[ReviewerRole]:
        twice = sorted({r for r in order if order.count(r) > 1})
        missing = [r for r in ROLES if r not in order]
        if twice:
            raise ValueError(f"roles listed twice: {', '.join(twice)}")
        if missing:
            raise ValueError(f"every reviewer role must be placed; missing: {', '.join(missing)}")
        return order

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id '{rule.id}' is used twice")
            seen.add(rule.id)
        return rules


@dataclass(frozen=True)
class RuleHit:
    rule_id: str
    reviewer: ReviewerRole
    reason: str


@dataclass(frozen=True)
class WriteToClassify:
    tool: str
    facts: dict[str, Any]


class Policy:
    def __init__(self, document: PolicyFile, *, source: str = "<policy>") -> None:
        self.document = document
        self.source = source

    @classmethod
    def load(cls, path: Path | str) -> Policy:
        path = Path(path)
        try:
            text = read_user_text(path)
        except FileRefused as exc:
            reason = exc.reason.rstrip(".")
            raise PolicyError(f"{path}: cannot read the policy file ({reason}).") from exc
        return cls.from_yaml(text, source=str(path))

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "<policy>") -> Policy:
        data, lines = _load_with_lines(text, source)
        return cls.from_data(data, source=source, lines=lines)

    @classmethod
    def from_data(
        cls,
        data: Any,
        *,
        source: str = "<policy>",
        lines: dict[tuple[Any, ...], int] | None = None,
    ) -> Policy:
        try:
            document = PolicyFile.model_validate(data)
            for index, rule in enumerate(document.rules):
                _check_conditions(index, rule)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise _located(source, data, tuple(first["loc"]), str(first["msg"]), lines) from exc
        except _Problem as exc:
            raise _located(source, data, exc.loc, exc.reason, lines) from exc
        return cls(document, source=source)

    def with_overrides(self, overrides: dict[str, Any]) -> Policy:
        """A copy with scenario-style overrides merged in (rules replaced by id, plan merged)."""
        data = self.document.model_dump(by_alias=True, exclude_unset=True)
        rules = {r["id"]: r for r in data["rules"]}
        for rule in overrides.get("rules", []):
            if rule.get("disabled"):
                rules.pop(rule["id"], None)
            else:
                rules[rule["id"]] = {**rules.get(rule["id"], {}), **rule}
        data["rules"] = list(rules.values())
        data["plan"] = {**data["plan"], **overrides.get("plan", {})}
        unknown = set(overrides) - {"rules", "plan"}
        if unknown:
            raise PolicyError(f"{self.source}: unknown policy override key(s): {sorted(unknown)}.")
        return Policy.from_data(data, source=self.source + " (with overrides)")

    def classify(self, tool: str, facts: dict[str, Any]) -> list[RuleHit]:
        return [
            RuleHit(rule.id, rule.reviewer, rule.reason)
            for rule in self.document.rules
            if rule.matches(tool, facts)
        ]

    def classify_plan(self, writes: Sequence[WriteToClassify]) -> list[list[RuleHit]]:
        """Hits per write; a plan over the size limit sends every write in it to review."""
        hits = [self.classify(w.tool, w.facts) for w in writes]
        plan = self.document.plan
        if len(writes) > plan.max_writes:
            plan_hit = RuleHit("plan-size", plan.reviewer, plan.reason)
            hits = [h + [plan_hit] for h in hits]
        return hits

    def order(self, roles: Sequence[str]) -> list[str]:
        """Distinct roles in the policy's `approval_order`."""
        rank: dict[str, int] = {r: i for i, r in enumerate(self.document.approval_order)}
        return sorted(dict.fromkeys(roles), key=lambda r: rank.get(r, len(rank)))


class _Problem(Exception):
    def __init__(self, loc: tuple[Any, ...], reason: str) -> None:
        super().__init__(reason)
        self.loc = loc
        self.reason = reason


_ORDERING = ("gt", "gte", "lt", "lte")


def _check_conditions(index: int, rule: Rule) -> None:
    """Every `when` key must be a fact each of the rule's tools reports, tested with operators
    and values that fact can have: otherwise the rule could never fire and nobody would know."""
    from tools.catalogue import REGISTRY

    for fact, condition in rule.when.items():
        where = ("rules", index, "when", fact)
        specs = {name: REGISTRY[name].facts.get(fact) for name in rule.tools}
        lacking = sorted(name for name, spec in specs.items() if spec is None)
        if lacking:
            known = sorted(set.intersection(*(set(REGISTRY[n].facts) for n in rule.tools)))
            raise _Problem(
                where,
                f"unknown fact '{fact}' for {', '.join(lacking)} (known: {', '.join(known)})",
            )
        for spec in specs.values():
            assert spec is not None
            for op in condition.model_fields_set:
                key = "in" if op == "in_" else op
                value = getattr(condition, op)
                values = value if isinstance(value, list) else [value]
                _check_operand(where + (key,), fact, spec.kind, spec, key, values)


def _check_operand(
    loc: tuple[Any, ...], fact: str, kind: str, spec: Any, op: str, values: list[Any]
) -> None:
    if kind == "number":
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _Problem(loc, f"'{fact}' is a number; {value!r} is not")
            if value != value or value in (float("inf"), float("-inf")):
                raise _Problem(loc, f"'{fact}' needs a finite number, not {value!r}")
            if value < 0 and not spec.signed:
                raise _Problem(loc, f"'{fact}' is never negative; {value!r} cannot be a threshold")
        return
    if op in _ORDERING:
        raise _Problem(loc, f"'{fact}' is not a number; use eq, ne, in or not_in")
    for value in values:
        if not isinstance(value, str):
            raise _Problem(loc, f"'{fact}' is text; {value!r} is not")
        if kind == "choice" and value not in spec.values:
            raise _Problem(
                loc, f"'{fact}' is never {value!r}; it is one of: {', '.join(spec.values)}"
            )


def _located(
    source: str,
    data: Any,
    loc: tuple[Any, ...],
    reason: str,
    lines: dict[tuple[Any, ...], int] | None,
) -> PolicyError:
    """One sentence naming the file, the line, the rule id and the key."""
    line = _line_for(loc, lines or {})
    where = f"{source}, line {line}" if line else source
    rule = ""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        try:
            rule_id = data["rules"][loc[1]].get("id")
        except (KeyError, IndexError, TypeError, AttributeError):
            rule_id = None
        rule = f"rule '{rule_id}': " if rule_id else f"rule #{loc[1] + 1}: "
        loc = loc[2:]
    path = ".".join("in" if p == "in_" else str(p) for p in loc) or "(top level)"
    reason = reason.removeprefix("Value error, ")
    return PolicyError(f"{where}: {rule}{path}: {reason}.")


def _load_with_lines(text: str, source: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    try:
        node = compose_yaml(text, source=source)  # alias expansion bounded
        data = load_yaml(text, source=source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f", line {mark.line + 1}" if mark else ""
        raise PolicyError(f"{source}{line}: not valid YAML ({exc.problem}).") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML ({exc}).") from exc
    except FileRefused as exc:
        raise PolicyError(str(exc)) from exc
    if data is None:
        raise PolicyError(f"{source}: the policy file is empty.")
    lines: dict[tuple[Any, ...], int] = {}

    def walk(n: yaml.Node, path: tuple[Any, ...]) -> None:
        lines.setdefault(path, n.start_mark.line + 1)  # a key's own line wins over its value's
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                lines[(*path, key.value)] = key.start_mark.line + 1
                walk(value, (*path, key.value))
        elif isinstance(n, yaml.SequenceNode):
            for index, item in enumerate(n.value):
                walk(item, (*path, index))

    if node is not None:
        walk(node, ())
    return data, lines


def _line_for(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    # pydantic may name a key by alias ("in") or add union branch names; walk back to a known path.
    normalised = tuple("in" if part == "in_" else part for part in loc)
    for end in range(len(normalised), -1, -1):
        if normalised[:end] in lines:
            return lines[normalised[:end]]
    return None
