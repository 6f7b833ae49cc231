"""Who may post to the Teams bot: JWT validation (Microsoft 365 Agents SDK) with real tokens
signed by a locally generated RSA key whose JWKS is served on 127.0.0.1 — valid tokens pass;
missing, forged, expired, unsigned and misdirected ones get 401 and change nothing; starting
without credentials is one clear sentence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from channels.teams import TeamsStartError, messages
from channels.teams.auth import build_auth
from channels.teams.server import run
from tests.channels.teams_fakes import (
    TokenIssuer,
    card_execute,
    message,
    personal,
)
from tests.channels.teams_harness import (
    ALICE,
    ALICE_CHAT,
    APP_ID,
    CLIENT_SECRET,
    CLOSE_DATE,
    DISCOUNT,
    MARIA,
    MARIA_CHAT,
    OUTBOUND_TOKEN,
    auth_on,
    replies_in,
    static_tokens,
    teams_server,
)
from warroom.app import App
from warroom.cli import app as cli
from warroom.settings import Settings


async def test_signed_token_is_accepted_and_replies_carry_credentials(
    tmp_path: Path, teams_issuer: TokenIssuer
) -> None:
    async with teams_server(
        tmp_path, DISCOUNT, settings=auth_on(tmp_path), token_provider=static_tokens
    ) as teams:
        url = teams.connector.url

        async def post(body: dict[str, Any]) -> tuple[int, Any]:
            return await teams.post(
                body, token=teams_issuer.token(audience=APP_ID, service_url=url)
            )

        # Maria says hello, Alice asks for a discount, Maria approves on the card
        status, _ = await post(message("pending", **teams.to(MARIA, personal(MARIA_CHAT))))
        assert status == 200
        status, _ = await post(
            message("Give Acme a 25% discount", **teams.to(ALICE, personal(ALICE_CHAT)))
        )
        assert status == 200
        [reply] = await teams.connector.wait_for(replies_in(ALICE_CHAT, "waits for Maria"))
        assert reply.headers["Authorization"] == f"Bearer {OUTBOUND_TOKEN}"
        [card] = await teams.connector.wait_for(
            lambda calls: [c for c in calls if c.conversation_id == MARIA_CHAT and c.cards]
        )
        [approval] = teams.crm.reviews(reviewer_id="u-maria")
        status, body = await post(
            card_execute(
                "approve",
                approval["id"],
                card_id=card.response_id,
                **teams.to(MARIA, personal(MARIA_CHAT)),
            )
        )
        assert status == 200 and "Approved by Maria Lopez" in str(body["value"]["body"])
        [told] = await teams.connector.wait_for(replies_in(ALICE_CHAT, "Maria Lopez approved"))
        assert told.verb == "send" and told.headers["Authorization"] == f"Bearer {OUTBOUND_TOKEN}"
        assert teams.discount() == 25


async def test_missing_forged_expired_or_misdirected_tokens_get_401_and_change_nothing(
    tmp_path: Path, teams_issuer: TokenIssuer
) -> None:
    async with teams_server(
        tmp_path, CLOSE_DATE, settings=auth_on(tmp_path), token_provider=static_tokens
    ) as teams:
        url = teams.connector.url
        body = message("When does the deal close?", **teams.to(ALICE, personal(ALICE_CHAT)))
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        bad_tokens = {
            "no token": None,
            "not a JWT": "garbage",
            "two words": "Bearer x y",
            "signed by someone else": teams_issuer.token(
                audience=APP_ID, service_url=url, key=other_key
            ),
            "unsigned (alg none)": teams_issuer.token(
                audience=APP_ID, service_url=url, algorithm="none"
            ),
            "HMAC with a guessed secret": teams_issuer.token(
                audience=APP_ID, service_url=url, key=CLIENT_SECRET, algorithm="HS256"
            ),
            "expired": teams_issuer.token(audience=APP_ID, service_url=url, lifetime=-3600),
            "for another bot": teams_issuer.token(audience="another-app", service_url=url),
            "for another service URL": teams_issuer.token(
                audience=APP_ID, service_url="https://x.test/"
            ),
            "from another issuer": teams_issuer.token(
                audience=APP_ID, service_url=url, issuer="https://evil.example"
            ),
        }
        for why, token in bad_tokens.items():
            status, answer = await teams.post(body, token=token)
            assert status == 401, why
            assert answer["error"].startswith("The request is not authorized"), why
        assert teams.connector.calls == []
        assert teams.stored_events() == 0
        assert teams.model.remaining == 1
        assert await teams.bot.convo.history(f"teams:{ALICE_CHAT}") == []
        assert teams.bot.store.reference("user", "u-alice") is None


async def test_malformed_activities_get_400_naming_the_fault(tmp_path: Path) -> None:
    async with teams_server(tmp_path, CLOSE_DATE) as teams:
        status, answer = await teams.post(None, raw=b"{not json")
        assert status == 400 and answer["error"] == "The activity is not valid JSON."
        status, answer = await teams.post([1, 2])
        assert status == 400 and answer["error"] == "The activity must be a JSON object."
        good = message("When does the deal close?", **teams.to(ALICE, personal(ALICE_CHAT)))
        status, answer = await teams.post({k: v for k, v in good.items() if k != "type"})
        assert status == 400 and answer["error"] == "The activity has no 'type'."
        status, answer = await teams.post({k: v for k, v in good.items() if k != "serviceUrl"})
        assert status == 400 and answer["error"] == "The activity has no 'serviceUrl'."
        status, answer = await teams.post(dict(good, conversation={"conversationType": "personal"}))
        assert status == 400 and answer["error"] == "The activity has no 'conversation.id'."
        status, answer = await teams.post(dict(good, entities="not a list"))
        assert status == 400 and answer["error"].startswith("The activity is malformed: entities")
        assert teams.connector.calls == [] and teams.model.remaining == 1
        assert teams.stored_events() == 0


def test_starting_without_credentials_is_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(TeamsStartError) as caught:
        run(App(Settings()), port=0)
    assert str(caught.value) == messages.MISSING_CREDENTIALS
    with pytest.raises(TeamsStartError, match="single-tenant"):
        build_auth(Settings(teams_app_id=APP_ID, teams_app_tenant_id="t-1"))
    # the switch for local testing starts without credentials
    assert build_auth(Settings(teams_skip_auth=True)).enabled is False
    assert build_auth(Settings(teams_app_id="a", teams_app_password="p")).enabled

    result = CliRunner().invoke(cli, ["serve", "teams", "--port", "0"])
    assert result.exit_code == 2
    assert "WARROOM_TEAMS_APP_ID" in result.output and "Traceback" not in result.output


def test_the_bot_framework_sdk_is_not_used() -> None:
    """The Teams channel runs on the Microsoft 365 Agents SDK alone (the Bot Framework SDK for
    Python is archived): importing it loads no botbuilder, botframework or msrest module."""
    code = (
        "import sys, channels.teams.server, channels.teams.bot; "
        "print(sorted({m.split('.')[0] for m in sys.modules "
        "if m.split('.')[0] in ('botbuilder', 'botframework', 'msrest')}))"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=True,
    )
    assert done.stdout.strip() == "[]"
