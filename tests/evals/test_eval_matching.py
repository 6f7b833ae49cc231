"""What 'the same' means when a scenario's expectation meets what was committed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from agents.llm_scripted import ScriptStep
from evals.matching import same_value, subset_match
from evals.model import route_from_script


@pytest.mark.parametrize(
    ("expected", "actual", "same"),
    [
        (25, 25.0, True),
        (25, Decimal("25.00"), True),
        (25, "25", True),
        (25.5, 25, False),
        (0, False, False),
        (date(2026, 12, 31), "2026-12-31", True),
        ("2026-12-31", date(2026, 12, 31), True),
        (date(2026, 12, 31), datetime(2026, 12, 31, 9, tzinfo=UTC), True),
        ("2026-11-20T09:00:00Z", datetime(2026, 11, 20, 9, tzinfo=UTC), True),
        ("2026-12-30", date(2026, 12, 31), False),
        ("p1", "p1", True),
        ("P1", "p1", False),
        (["con-jane"], ["con-jane"], True),
        (["con-jane"], ["con-jane", "con-raj"], False),
        (None, None, True),
        (True, True, True),
    ],
)
def test_same_value(expected: object, actual: object, same: bool) -> None:
    assert same_value(expected, actual) is same


def test_subset_match_checks_only_the_keys_given() -> None:
    committed = {"opportunity_id": "opp-acme-1", "percent": 25.0, "reason": "volume"}
    assert subset_match({}, committed)
    assert subset_match({"percent": 25}, committed)
    assert subset_match({"opportunity_id": "opp-acme-1", "percent": "25"}, committed)
    assert not subset_match({"percent": 26}, committed)
    assert not subset_match({"currency": "USD"}, committed)  # a key that is not there
    assert subset_match({"consent": {"email": True}}, {"consent": {"email": True, "phone": 0}})


def test_route_read_off_the_script() -> None:
    def steps(*agents: str) -> list[ScriptStep]:
        return [ScriptStep(agent=a) for a in agents]

    assert route_from_script(steps("sales", "sales")) == ["sales"]
    assert route_from_script(steps("sales", "delivery", "delivery")) == ["sales", "delivery"]
    # Back to an earlier specialist, or a router step: that belongs to the next turn.
    assert route_from_script(steps("service", "sales")) == ["service"]
    assert route_from_script(steps("sales", "router", "service")) == ["sales"]
    assert route_from_script(steps("router")) == []
