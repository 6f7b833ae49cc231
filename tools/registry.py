"""The tool registry: plain typed functions, registered with their domain, kind and risk hints.

A read tool is `fn(ctx, args) -> Result`. A write tool is `fn(ctx, args) -> WritePlan`: it loads
what it touches, checks permission, and describes the change (before, after, the facts the policy
decides on) without changing anything; `WritePlan.apply()` makes the change. The service runs
`apply` inside the transaction that also records the audit event and the idempotency key.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, get_type_hints

from pydantic import BaseModel

from tools.context import ToolContext
from tools.types import Args, WriteResult

Domain = Literal["sales", "service", "delivery", "all"]
Kind = Literal["read", "write"]
FactKind = Literal["number", "choice", "text"]


@dataclass(frozen=True)
class FactSpec:
    """One fact a write tool reports to the policy: a number (thresholds), one of fixed
    `values` (compared exactly, case and all), or free text. `signed` numbers may be negative
    (a go-live moved earlier); other numbers are never below zero, nor are their thresholds."""

    kind: FactKind
    values: tuple[str, ...] = ()
    signed: bool = False
    description: str = ""


def number(description: str = "", *, signed: bool = False) -> FactSpec:
    return FactSpec("number", signed=signed, description=description)


def choice(values: Iterable[str], description: str = "") -> FactSpec:
    return FactSpec("choice", values=tuple(values), description=description)


def text(description: str = "") -> FactSpec:
    return FactSpec("text", description=description)


# Facts every write reports (the account it touches) or that the agent layer adds (values the
# model took only from data it read, agents/untrusted.py).
COMMON_FACTS: dict[str, FactSpec] = {
    "account_tier": choice(("strategic", "standard"), "tier of the account written to"),
    "account_team": text("team that owns the account"),
    "untrusted_argument_count": number("argument values found only in data the model read"),
}


@dataclass
class WritePlan:
    record_type: str
    record_id: str
    account_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any]
    apply: Callable[[], WriteResult]
    facts: dict[str, Any] = field(default_factory=dict)
    expected_version: int | None = None
    summary: str = ""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    domain: Domain
    kind: Kind
    description: str
    args_model: type[Args]
    fn: Callable[..., Any]
    risk_hints: tuple[str, ...] = ()
    # Write tools only: the arguments that say *which* record is written (an edit in review may
    # not change them), and the facts the policy may test (tools/policy.py checks rules against
    # these). Everything else in the arguments is a value.
    identifying: tuple[str, ...] = ()
    facts: dict[str, FactSpec] = field(default_factory=dict)

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(n for n in self.args_model.model_fields if n not in self.identifying)

    def openai_schema(self, *, compact: bool = True) -> dict[str, Any]:
        """The OpenAI tool definition. Compact (the default) drops what the tool layer enforces
        anyway (lengths, patterns, null branches), which keeps prompts small for small models."""
        schema = self.args_model.model_json_schema()
        schema.pop("title", None)
        for name, prop in list(schema.get("properties", {}).items()):
            prop.pop("title", None)
            if compact:
                schema["properties"][name] = _compact(prop)
        if compact:
            schema.pop("additionalProperties", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": schema},
        }


_NOISE = ("maxLength", "minLength", "pattern", "title")


def _compact(prop: dict[str, Any]) -> dict[str, Any]:
    if "anyOf" in prop:
        branches = [b for b in prop["anyOf"] if b.get("type") != "null"]
        numeric = [b for b in branches if b.get("type") in ("number", "integer")]
        if numeric and len(branches) > 1:  # decimals accept number or string: say number
            branches = numeric
        if len(branches) == 1:
            rest = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
            prop = {**branches[0], **rest}
    cleaned = {k: v for k, v in prop.items() if k not in _NOISE}
    if cleaned.get("default", 0) is None:
        cleaned.pop("default")
    if cleaned.get("maximum", 0) >= 1e9:
        cleaned.pop("maximum")
    if "items" in cleaned:
        cleaned["items"] = _compact(cleaned["items"])
    return cleaned


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, ToolSpec] = {}

    def register(self, spec: ToolSpec) -> None:
        if spec.name in self._tools:
            raise ValueError(f"tool {spec.name} registered twice")
        self._tools[spec.name] = spec

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def __getitem__(self, name: str) -> ToolSpec:
        return self._tools[name]

    def get(self, name: str) -> ToolSpec | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def select(
        self,
        *,
        domain: Domain | Iterable[Domain] | None = None,
        kind: Kind | None = None,
        names: Iterable[str] | None = None,
    ) -> list[ToolSpec]:
        """Tools of the given domain(s) and kind; `all`-domain tools belong to every domain."""
        domains = {domain} if isinstance(domain, str) else set(domain) if domain else None
        wanted = set(names) if names is not None else None
        chosen = []
        for spec in self._tools.values():
            if domains is not None and spec.domain not in domains and spec.domain != "all":
                continue
            if kind is not None and spec.kind != kind:
                continue
            if wanted is not None and spec.name not in wanted:
                continue
            chosen.append(spec)
        return chosen

    def openai_schemas(self, **selector: Any) -> list[dict[str, Any]]:
        return [spec.openai_schema() for spec in self.select(**selector)]


REGISTRY = ToolRegistry()


def _args_model(fn: Callable[..., Any]) -> type[Args]:
    hints = get_type_hints(fn)
    params = list(inspect.signature(fn).parameters)
    if len(params) != 2 or hints.get(params[0]) is not ToolContext:
        raise TypeError(f"tool {fn.__name__} must take (ctx: ToolContext, args: <Args model>)")
    model = hints[params[1]]
    if not (isinstance(model, type) and issubclass(model, Args)):
        raise TypeError(f"tool {fn.__name__}: second parameter must be an Args model")
    return model


def _register(
    domain: Domain,
    kind: Kind,
    risk_hints: tuple[str, ...],
    identifying: tuple[str, ...] = (),
    facts: dict[str, FactSpec] | None = None,
) -> Callable[[Any], Any]:
    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        description = " ".join(inspect.cleandoc(fn.__doc__ or "").split())
        if not description:
            raise TypeError(f"tool {fn.__name__} needs a docstring: it is the description")
        args_model = _args_model(fn)
        unknown = [n for n in identifying if n not in args_model.model_fields]
        if unknown:
            raise TypeError(f"tool {fn.__name__}: identifying {unknown} are not arguments")
        REGISTRY.register(
            ToolSpec(
                name=fn.__name__,
                domain=domain,
                kind=kind,
                description=description,
                args_model=args_model,
                fn=fn,
                risk_hints=risk_hints,
                identifying=identifying,
                facts={**COMMON_FACTS, **(facts or {})} if kind == "write" else {},
            )
        )
        return fn

    return decorator


def read_tool(*, domain: Domain) -> Callable[[Any], Any]:
    return _register(domain, "read", ())


def write_tool(
    *,
    domain: Domain,
    identifying: tuple[str, ...],
    facts: dict[str, FactSpec] | None = None,
    risk_hints: tuple[str, ...] = (),
) -> Callable[[Any], Any]:
    """Register a write tool with everything the rest of the system needs to know about it:
    its domain (which specialist proposes it, which lead reviews a negotiation about it), the
    arguments that identify the record, and the facts its plan reports to the policy."""
    return _register(domain, "write", risk_hints, identifying, facts)


def result_model_of(spec: ToolSpec) -> type[BaseModel] | None:
    ret = get_type_hints(spec.fn).get("return")
    return ret if isinstance(ret, type) and issubclass(ret, BaseModel) else None
