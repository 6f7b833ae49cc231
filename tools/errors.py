"""Typed failures of the tool layer, each with one clear sentence an agent can relay.

A tool never half-writes: every failure below is raised before the transaction commits.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ValidationError

FailureKind = Literal["validation", "not_found", "refused", "conflict", "duplicate_key"]


class ToolFailure(BaseModel):
    """What a tool call returns instead of a result when it cannot go through."""

    ok: Literal[False] = False
    tool: str
    kind: FailureKind
    message: str
    fields: list[str] = []
    rule: str | None = None


class ToolError(Exception):
    kind: FailureKind = "validation"

    def __init__(self, message: str, *, fields: list[str] | None = None, rule: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or []
        self.rule = rule

    def to_failure(self, tool: str) -> ToolFailure:
        return ToolFailure(
            tool=tool, kind=self.kind, message=self.message, fields=self.fields, rule=self.rule
        )


class InvalidArguments(ToolError):
    kind = "validation"

    @classmethod
    def from_validation_error(cls, tool: str, error: ValidationError) -> InvalidArguments:
        problems: list[str] = []
        fields: list[str] = []
        for item in error.errors():
            field = ".".join(str(part) for part in item["loc"]) or "(arguments)"
            fields.append(field)
            problems.append(f"{field}: {_plain(dict(item))}")
        return cls(f"Invalid arguments for {tool}: " + "; ".join(problems) + ".", fields=fields)


class NotFound(ToolError):
    kind = "not_found"

    def __init__(self, record: str, record_id: str, *, field: str | None = None):
        super().__init__(
            f"No {record} with id '{record_id}' exists (or you may not see it).",
            fields=[field] if field else [],
        )


class PermissionRefused(ToolError):
    kind = "refused"


class ConsentRefused(PermissionRefused):
    pass


class Conflict(ToolError):
    kind = "conflict"


class DuplicateKeyMismatch(ToolError):
    kind = "duplicate_key"


def _plain(item: dict[str, Any]) -> str:
    message = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
    if item.get("type") == "missing":
        return "is required"
    if item.get("type") == "extra_forbidden":
        return "is not an argument of this tool"
    return message[0].lower() + message[1:] if message else message
