"""Comparing what a scenario expects with what happened: numbers numerically, dates as ISO
strings, text exactly, and expected arguments as a subset of the actual ones.

Free text a model writes (an e-mail subject, an escalation reason) cannot be foreseen word for
word; an expected value written `{match: REGEX}` matches a text by a case-insensitive search."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["normalise", "same_value", "subset_match"]


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except (InvalidOperation, ValueError):
            return None
    return None


def normalise(value: Any) -> Any:
    """Plain JSON-like data: dates and datetimes as ISO strings, Decimals as numbers."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    return value


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value if isinstance(value, str) else None


def same_value(expected: Any, actual: Any) -> bool:
    """Equality as a scenario author means it."""
    if expected is None or actual is None:
        return expected is actual
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    if isinstance(expected, Mapping):
        if isinstance(actual, str) and set(expected) == {"match"}:
            return re.search(str(expected["match"]), actual, re.IGNORECASE) is not None
        return isinstance(actual, Mapping) and subset_match(expected, actual)
    if isinstance(expected, list | tuple):
        return (
            isinstance(actual, list | tuple)
            and len(expected) == len(actual)
            and all(same_value(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, int | float | Decimal):
        number = _number(actual)
        return number is not None and number == _number(expected)
    if isinstance(expected, datetime | date) or isinstance(actual, datetime | date):
        left, right = _iso(expected), _iso(actual)
        if left is None or right is None:
            return False
        # A date expected against a datetime stored: compare the day.
        if len(left) == 10 or len(right) == 10:
            return left[:10] == right[:10]
        return _same_instant(left, right)
    if isinstance(expected, str) and not isinstance(actual, str):
        number = _number(actual)
        return number is not None and number == _number(expected)
    return bool(expected == actual)


def _same_instant(left: str, right: str) -> bool:
    try:
        a = datetime.fromisoformat(left.replace("Z", "+00:00"))
        b = datetime.fromisoformat(right.replace("Z", "+00:00"))
    except ValueError:
        return left == right
    return a == b


def subset_match(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> bool:
    """Every key given in `expected` is in `actual` with the same value."""
    return all(key in actual and same_value(value, actual[key]) for key, value in expected.items())
