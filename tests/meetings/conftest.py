"""Fixtures of the meeting-ingestion tests: the small test company plus a Chinese account, a
scripted extraction model, and pytest-recording for the local-model cassettes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from agents.llm import ScriptedChatModel
from channels.meetings import MeetingService
from tests.conftest import small_company
from tools.context import FixedClock
from tools.db import Database
from tools.fixtures import load_fixture
from tools.policy import Policy
from tools.service import CRMService
from warroom.settings import DEFAULT_POLICY_PATH

FIXTURES = Path(__file__).parent / "fixtures"
MEETING_DAY = date(2026, 11, 20)


def meeting_company() -> dict[str, Any]:
    """small_company plus 华星科技 with 王芳, the APAC rep 陈伟 and a second Acme deal-free
    account whose contact shares a first name with Acme's (for ambiguity)."""
    data = small_company()
    data["users"].append(
        {"id": "u-chen", "name": "陈伟 Chen Wei", "email": "chen@warroom.example",
         "roles": ["rep"], "team": "apac", "manager_id": "u-li"}
    )  # fmt: skip
    data["users"].append(
        {"id": "u-li", "name": "李娜 Li Na", "email": "li@warroom.example",
         "roles": ["sales_manager"], "team": "apac", "manager_id": "u-admin"}
    )  # fmt: skip
    data["accounts"].append(
        {"id": "acc-huaxing", "name": "华星科技 Huaxing Tech", "domain": "huaxing.example",
         "tier": "strategic", "owner_id": "u-chen", "team": "apac", "region": "cn"}
    )  # fmt: skip
    data["contacts"] += [
        {"id": "con-wang", "account_id": "acc-huaxing", "name": "王芳 Wang Fang",
         "email": "wang.fang@huaxing.example", "consent": {"email": True}},
        {"id": "con-jane-initech", "account_id": "acc-initech", "name": "Jane Park",
         "email": "jane.park@initech.example", "consent": {"email": True}},
    ]  # fmt: skip
    data["opportunities"].append(
        {"id": "opp-huaxing-1", "account_id": "acc-huaxing", "name": "华星科技 企业版",
         "stage": "proposal", "amount": 2268000, "currency": "CNY", "close_date": "2027-02-14",
         "probability": 50, "owner_id": "u-chen", "seats": 300}
    )  # fmt: skip
    return data


@pytest.fixture
def meeting_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    load_fixture(db, meeting_company())
    yield db
    db.dispose()


@pytest.fixture
def meeting_crm(meeting_db: Database) -> CRMService:
    clock = FixedClock.on(MEETING_DAY, hour=15)
    return CRMService(meeting_db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=clock)


def scripted(*outputs: dict[str, Any]) -> ScriptedChatModel:
    return ScriptedChatModel([{"agent": "meetings", "output": o} for o in outputs])


def extraction(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "",
        "summary": "",
        "decisions": [],
        "action_items": [],
        "risks": [],
        "competitors": [],
        "qualification": {"budget": "", "authority": "", "need": "", "timeline": ""},
        "changes": [],
    }
    return {**base, **fields}


ACME_EXTRACTION = extraction(
    title="Acme expansion sync",
    summary="Acme grows from 100 to 200 seats; a revised quote is due next Friday.",
    decisions=[{"text": "Quote 200 seats", "evidence": "we're now looking at 200 seats"}],
    action_items=[
        {"text": "Send revised quote for 200 seats", "owner": "Alice Wong", "due": "next Friday",
         "evidence": "I'll send the revised quote for 200 seats by next Friday"},
        {"text": "Set up a security review", "owner": "I", "due": "in two weeks",
         "evidence": "I will set up a security review with our IT team in two weeks"},
        {"text": "Book a celebration dinner", "owner": "Jane Doe", "due": "tomorrow",
         "evidence": "Jane promised to book a dinner tomorrow"},
    ],
    risks=[{"text": "Competing offer from Umbrella Analytics",
            "evidence": "Umbrella Analytics sent us a cheaper offer"}],
    competitors=["Umbrella Analytics", "Globex"],
    qualification={"budget": "", "authority": "Procurement needs the revised quote",
                   "need": "200 seats", "timeline": "before the end of the year"},
    changes=[
        {"field": "amount", "value": "240000",
         "evidence": "we're now looking at 200 seats instead of 100"},
        {"field": "stage", "value": "closed_won", "evidence": "Jane said the deal is signed"},
        {"field": "next_step", "value": "Send the revised quote for 200 seats",
         "evidence": "I'll send the revised quote for 200 seats"},
    ],
)  # fmt: skip


@pytest.fixture
def acme_vtt() -> bytes:
    return (FIXTURES / "acme-2026-11-20.vtt").read_bytes()


@pytest.fixture
def make_service(meeting_crm: CRMService):  # type: ignore[no-untyped-def]
    def build(*outputs: dict[str, Any], **options: Any) -> MeetingService:
        model = scripted(*outputs) if outputs else None
        return MeetingService(crm=meeting_crm, model=model, max_bytes=options.pop("max_bytes",
                              1_000_000), **options)  # fmt: skip

    return build
