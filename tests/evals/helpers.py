"""Small scenario files written on the fly."""

from __future__ import annotations

from pathlib import Path

import yaml

PUBLIC_SUITE = Path(__file__).resolve().parents[2] / "evals" / "scenarios"

CAST = {
    "users": [
        {
            "id": "u-alice",
            "name": "Alice Wong",
            "roles": ["rep"],
            "team": "west",
            "manager_id": "u-maria",
        },
        {"id": "u-maria", "name": "Maria Lopez", "roles": ["sales_manager"], "team": "west"},
    ],
    "accounts": [
        {
            "id": "acc-acme",
            "name": "Acme Corp",
            "tier": "strategic",
            "owner_id": "u-alice",
            "team": "west",
        },
    ],
    "opportunities": [
        {
            "id": "opp-acme-1",
            "account_id": "acc-acme",
            "name": "Acme expansion",
            "stage": "proposal",
            "amount": 100000,
            "currency": "USD",
            "close_date": "2026-12-31",
            "owner_id": "u-alice",
        },
    ],
}


def discount_scenario(scenario_id: str, percent: int, **expect: object) -> dict:
    """A one-turn scenario: Alice asks for a discount of `percent` on the Acme deal."""
    return {
        "id": scenario_id,
        "title": f"{percent} % discount",
        "tags": ["test"],
        "fixture": CAST,
        "actor": "u-alice",
        "today": "2026-11-20",
        "turns": [{"user": f"Apply a {percent}% discount to opp-acme-1."}],
        "script": [
            {
                "agent": "sales",
                "tool_calls": [
                    {
                        "name": "apply_discount",
                        "arguments": {
                            "opportunity_id": "opp-acme-1",
                            "percent": percent,
                            "reason": "test",
                        },
                    }
                ],
            },
            {"agent": "sales", "reply": f"Asked for {percent}%."},
        ],
        "expect": expect,
    }


def write(directory: Path, data: dict | str, name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(data, dict):
        path = directory / f"{name or data['id']}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    else:
        path = directory / f"{name}.yaml"
        path.write_text(data, encoding="utf-8")
    return path
