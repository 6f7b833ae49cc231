"""Constrained argument types shared by the tool catalogue. Bad input fails validation with the
field named, before anything is read or written."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        return value.strip()
    raise ValueError(f"must be an ISO date like 2026-12-31, got {value!r}")


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        text = value.strip()
        if _ISO_DATE.match(text):
            return text + "T00:00:00+00:00"
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return text
    raise ValueError(f"must be an ISO 8601 date-time like 2026-11-20T15:00:00Z, got {value!r}")


def _aware(value: datetime) -> datetime:
    """Naive times are taken as UTC; every time is stored and shown in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


RecordId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\w.:-]+$"),
]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime), AfterValidator(_aware)]
Currency = Annotated[str, StringConstraints(to_upper=True, pattern=r"^[A-Za-z]{3}$")]


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# Decimals travel as JSON numbers (agents and scenario files compare 25 with 25, not "25.00").
Decimal_ = Annotated[Decimal, PlainSerializer(_number, when_used="json")]
Amount = Annotated[Decimal_, Field(ge=0, le=Decimal("1e12"), decimal_places=2)]
PercentValue = Annotated[Decimal_, Field(ge=0, le=100, decimal_places=2)]
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
LongText = Annotated[str, StringConstraints(max_length=10_000)]
Query = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

Stage = Literal[
    "prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"
]
OPEN_STAGES: tuple[str, ...] = ("prospecting", "qualification", "proposal", "negotiation")
ActivityKind = Literal["call", "meeting", "email", "note"]
Priority = Literal["p1", "p2", "p3", "p4"]
TicketStatus = Literal["open", "pending", "solved", "closed"]
Tier = Literal["strategic", "standard"]
# The values as tuples, for the policy schema (tools/registry.py facts).
STAGE_VALUES: tuple[str, ...] = get_args(Stage)
PRIORITIES: tuple[str, ...] = get_args(Priority)
TICKET_STATUSES: tuple[str, ...] = get_args(TicketStatus)


class Args(BaseModel):
    """Base of every tool's arguments: unknown arguments are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_max_length=20_000)


class Result(BaseModel):
    model_config = ConfigDict(ser_json_inf_nan="constants")


class WriteResult(Result):
    ok: Literal[True] = True
    tool: str
    record_type: str
    record_id: str
    message: str
    record: dict[str, Any] = {}
