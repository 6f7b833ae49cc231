"""Who sees what, on every surface: a planted deal amount, discount, cost and margin, read by
every role on every surface that shows data to a person. Nothing leaks, and each permitted
reader still sees the figure (tools/visibility.py is the one model they all apply).

Permitted, by the contract (spec/crm-contract.md): amount and discount for sales roles within
their rows and admins; cost and margin for the team's sales manager and admins. A shared review
channel shows only what every member may see, i.e. none of the four."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from channels.slack import cards as slack_cards
from channels.teams import cards as teams_cards
from memory.account_memory import AccountMemory
from memory.store import chroma_client
from tests.privacy.conftest import HashEmbedder
from tools.audit_view import audit_trail
from tools.context import Actor
from tools.models import Account, Activity, AuditEvent, Opportunity
from tools.privacy import PrivacyRequestError, PrivacyService
from tools.service import CRMService, Proposal
from tools.visibility import Audience, receipt_for, review_for, tag
from warroom.cli import app

ROLES = {
    "rep": "u-alice",
    "other_team_rep": "u-bob",
    "sales_manager": "u-maria",
    "support": "u-sam",
    "support_lead": "u-priya",
    "delivery_lead": "u-dana",
    "admin": "u-admin",
}
# The planted figures, written as they appear in records and in derived text.
FIGURES = {"amount": "123457", "discount": "13.7", "cost": "86421", "margin": "29.3"}
MONEY = {"amount", "discount"}
SEES_MONEY = {"rep", "sales_manager", "admin"}
SEES_COST = {"sales_manager", "admin"}
AT = datetime(2026, 11, 18, 10, tzinfo=UTC)
NOTE = (
    f"Agreed USD 123,457 with a 13.7% discount; margin {tag('margin', '29.3%')}, "
    f"cost {tag('cost', 'USD 86421')}."
)


def _digits(text: str) -> str:
    return text.replace(",", "")


def visible_figures(text: str) -> set[str]:
    flat = _digits(text)
    return {name for name, figure in FIGURES.items() if figure in flat}


def permitted(role: str, surface: str) -> set[str]:
    if surface in ("review_card_shared_slack", "review_card_shared_teams"):
        return set()
    allowed = set()
    if role in SEES_MONEY:
        allowed |= MONEY
    if role in SEES_COST:
        allowed |= {"cost", "margin"}
    if surface in ("review_card_dm_slack", "review_card_dm_teams"):
        return allowed & MONEY  # a discount request carries the amount and discount, no cost
    if surface == "memory" or surface == "activity" or surface == "negotiation":
        return allowed
    if surface == "privacy_export":
        return set()  # the planted contact-free deal is not personal data of the contact
    return allowed


@pytest.fixture
def planted(crm: CRMService, tmp_path: Any) -> dict[str, Any]:
    with crm.db.session() as s:
        opp = s.get(Opportunity, "opp-acme-1")
        assert opp is not None
        opp.amount, opp.discount_percent = 123457, 13.7  # type: ignore[assignment]
        opp.cost, opp.margin_percent = 86421, 29.3  # type: ignore[assignment]
        s.add(Activity(id="act-money", account_id="acc-acme", kind="meeting",
                       subject="Pricing call", summary=NOTE, occurred_at=AT,
                       author_id="u-alice", contact_ids=[]))  # fmt: skip
        s.add(AuditEvent(at=AT, actor_id="u-alice", action="negotiation", outcome="agreed",
                         record_type="opportunity", record_id="opp-acme-1",
                         arguments={"account_id": "acc-acme", "transcript": [
                             {"agent": "sales", "stance": "propose", "reason": NOTE}]},
                         before={"account_id": "acc-acme", "amount": 100000, "cost": 60000},
                         after={"account_id": "acc-acme", "amount": 123457, "cost": 86421,
                                "margin_percent": 29.3, "discount_percent": 13.7},
                         reason=NOTE))  # fmt: skip
    memory = AccountMemory(client=chroma_client(data_dir=tmp_path / "chroma"),
                           embedder=HashEmbedder(),
                           collection=f"memory-{uuid.uuid4().hex[:8]}")  # fmt: skip
    memory.remember("acc-acme", NOTE, author_id="u-alice", source_kind="meeting",
                    source_ref="pricing.vtt", at=AT)  # fmt: skip
    crm.memory = memory
    alice = crm.actor("u-alice")
    proposal = crm.propose("apply_discount", {"opportunity_id": "opp-acme-1", "percent": 13.7,
                                              "reason": "USD 123,457 deal"}, alice)  # fmt: skip
    assert isinstance(proposal, Proposal)
    decision = crm.gate([proposal], alice)[0]
    approval = crm.request_review(proposal, decision, thread_id="t", ttl=timedelta(days=3650))
    row = crm.reviews(status=None, approval_id=approval["id"])[0]
    return {"row": row}


def _read(crm: CRMService, actor: Actor) -> str:
    parts = [
        crm.read("get_opportunity", {"opportunity_id": "opp-acme-1"}, actor),
        crm.read("list_opportunities", {"account_id": "acc-acme"}, actor),
    ]
    return json.dumps(parts)


def _names(ids: Any) -> dict[str, str]:
    return {i: i for i in ids}


SURFACES: dict[str, Callable[[CRMService, Actor, dict[str, Any]], str]] = {
    # What an agent reads, so what a chat answer can say: the tool results.
    "tool_result": lambda crm, a, p: _read(crm, a),
    "memory": lambda crm, a, p: json.dumps(
        crm.read("recall_account_memory", {"account_id": "acc-acme"}, a)
    ),
    "activity": lambda crm, a, p: json.dumps(
        crm.read("get_account", {"account_id": "acc-acme"}, a)
    ),
    "negotiation": lambda crm, a, p: _audit(crm, a),
    "review_card_dm": lambda crm, a, p: json.dumps(review_for(a, p["row"]), default=str),
    "review_card_dm_slack": lambda crm, a, p: json.dumps(
        slack_cards.review_card(review_for(a, p["row"]), _names([p["row"]["requested_by"]]))
    ),
    "review_card_dm_teams": lambda crm, a, p: json.dumps(
        teams_cards.review_card(review_for(a, p["row"]), {}).content
    ),
    "review_card_shared_slack": lambda crm, a, p: json.dumps(
        slack_cards.review_card(
            review_for(Audience(()), p["row"]), _names([p["row"]["requested_by"]])
        )
    ),
    "review_card_shared_teams": lambda crm, a, p: json.dumps(
        teams_cards.review_card(review_for(Audience(()), p["row"]), {}).content
    ),
    "http_api_receipt": lambda crm, a, p: _receipt(crm, a),
    "privacy_export": lambda crm, a, p: _export(crm, a),
}


def _audit(crm: CRMService, actor: Actor) -> str:
    with crm.db.read_session() as session:
        rows = audit_trail(session, actor, limit=50)
    return json.dumps([r.model_dump(mode="json") for r in rows])


def _receipt(crm: CRMService, actor: Actor) -> str:
    """What the HTTP API (and the CLI) return for a transcript someone else ingested."""
    stored = {"account_id": "acc-acme", "proposed_changes": [
        {"tool": "update_opportunity", "args": {"opportunity_id": "opp-acme-1",
                                                "amount": 123457}}],
        "summary_text": NOTE}  # fmt: skip
    with crm.db.read_session() as session:
        account = session.get(Account, "acc-acme")
        shown = receipt_for(actor, first_actor_id="u-ben", account=account, result=stored)
    return json.dumps(shown)


def _export(crm: CRMService, actor: Actor) -> str:
    try:
        return json.dumps(PrivacyService(crm).export("con-jane", actor_id=actor.id), default=str)
    except PrivacyRequestError as exc:
        return exc.message


@pytest.mark.parametrize("surface", list(SURFACES))
@pytest.mark.parametrize("role", list(ROLES))
def test_no_leak_and_permitted_readers_see(
    crm: CRMService, planted: dict[str, Any], role: str, surface: str
) -> None:
    actor = crm.actor(ROLES[role])
    shown = SURFACES[surface](crm, actor, planted)
    expected = set() if role == "other_team_rep" else permitted(role, surface)
    assert visible_figures(shown) == expected, (role, surface, shown[:2000])


def test_shared_channel_card_says_where_the_rest_is(planted: dict[str, Any]) -> None:
    card = slack_cards.review_card(review_for(Audience(()), planted["row"]), {})
    assert "reviewer's own view" in json.dumps(card) and not visible_figures(json.dumps(card))


@pytest.mark.parametrize("role", list(ROLES))
def test_cli_audit_and_review(
    crm: CRMService, planted: dict[str, Any], role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`warroom audit --as` and `warroom review --as` print what the user may see."""
    monkeypatch.setenv("WARROOM_DATABASE_URL", crm.db.url)
    runner = CliRunner()
    user = ROLES[role]
    audit = runner.invoke(app, ["audit", "--as", user, "--json"])
    assert audit.exit_code == 0, audit.output
    expected = set() if role == "other_team_rep" else permitted(role, "negotiation")
    lines = [ln for ln in audit.output.splitlines() if "13.7" in ln or "123" in ln]
    assert visible_figures(audit.output) == expected, lines
    review = runner.invoke(app, ["review", "--as", user])
    assert review.exit_code == 0, review.output
    shown = visible_figures(review.output)
    if user in planted["row"]["reviewer_ids"]:
        assert shown == permitted(role, "review_card_dm_slack")
    else:
        assert shown == set(), review.output


def test_forecast_sums_only_the_sales_rows(crm: CRMService) -> None:
    """A sales manager who also holds a support role sees every account, but sums deal money
    only over their own team's."""
    manager = crm.actor("u-maria")
    both = Actor(id="u-maria", name="Maria", roles=frozenset({"sales_manager", "support"}),
                 team="west", manager_id=None)  # fmt: skip
    alone = crm.read("forecast", {"quarter": "2026-Q4"}, manager)
    mixed = crm.read("forecast", {"quarter": "2026-Q4"}, both)
    assert alone["ok"] and mixed["by_currency"] == alone["by_currency"]
    lead = crm.read("forecast", {"quarter": "2026-Q4"}, crm.actor("u-priya"))
    assert lead["kind"] == "refused"  # a support lead manages no deal money
