"""Who may post to the Teams bot: JWT validation with real signed tokens, 401 for missing,
forged and misdirected ones; malformed activities; starting without credentials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from botframework.connector.auth import ChannelValidation
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from channels.teams import TeamsStartError, messages
from channels.teams.auth import build_authentication
from channels.teams.server import run
from tests.channels.teams_fakes import StaticCredentialsFactory, TokenIssuer, message, personal
from tests.channels.teams_harness import ALICE, ALICE_CHAT, CLOSE_DATE, replies_in, teams_server
from warroom.app import App
from warroom.cli import app as cli
from warroom.settings import Settings

APP_ID = "00000000-aaaa-4bbb-8ccc-000000000001"
OUTBOUND_TOKEN = "outbound-token-for-the-connector"


@pytest.fixture
def issuer(monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenIssuer]:
    """Bot Framework signing keys served locally; botbuilder's channel validation reads them."""
    token_issuer = TokenIssuer()
    monkeypatch.setattr(ChannelValidation, "open_id_metadata_endpoint", token_issuer.metadata_url)
    yield token_issuer
    token_issuer.close()


def auth_on(tmp_path: Path) -> Settings:
    return Settings(
        identity_map_path=tmp_path / "identities.yaml",
        teams_app_id=APP_ID,
        teams_app_password="a-client-secret",
    )


async def test_signed_token_is_accepted_and_replies_carry_credentials(
    tmp_path: Path, issuer: TokenIssuer
) -> None:
    async with teams_server(
        tmp_path,
        CLOSE_DATE,
        settings=auth_on(tmp_path),
        credentials_factory=StaticCredentialsFactory(APP_ID, OUTBOUND_TOKEN),
    ) as teams:
        body = message("When does the deal close?", **teams.to(ALICE, personal(ALICE_CHAT)))
        token = issuer.token(audience=APP_ID, service_url=teams.connector.url)
        status, _ = await teams.post(body, token=token)
        assert status == 200
        [reply] = await teams.connector.wait_for(replies_in(ALICE_CHAT, "It closes soon."))
        assert reply.headers["Authorization"] == f"Bearer {OUTBOUND_TOKEN}"


async def test_missing_forged_or_misdirected_tokens_get_401_and_change_nothing(
    tmp_path: Path, issuer: TokenIssuer
) -> None:
    async with teams_server(
        tmp_path,
        CLOSE_DATE,
        settings=auth_on(tmp_path),
        credentials_factory=StaticCredentialsFactory(APP_ID, OUTBOUND_TOKEN),
    ) as teams:
        url = teams.connector.url
        body = message("When does the deal close?", **teams.to(ALICE, personal(ALICE_CHAT)))
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        bad_tokens = {
            "no token": None,
            "not a JWT": "garbage",
            "signed by someone else": issuer.token(audience=APP_ID, service_url=url, key=other_key),
            "for another bot": issuer.token(audience="another-app", service_url=url),
            "for another service URL": issuer.token(audience=APP_ID, service_url="https://x.test/"),
            "from another issuer": issuer.token(
                audience=APP_ID, service_url=url, issuer="https://evil.example"
            ),
        }
        for why, token in bad_tokens.items():
            status, answer = await teams.post(body, token=token)
            assert status == 401, why
            assert answer["error"].startswith("The request is not authorized"), why
        assert teams.connector.calls == []
        assert teams.model.remaining == 1
        assert await teams.bot.convo.history(f"teams:{ALICE_CHAT}") == []
        assert teams.bot.store.reference("user", "u-alice") is None


async def test_malformed_activities_get_400_naming_the_fault(tmp_path: Path) -> None:
    async with teams_server(tmp_path, CLOSE_DATE) as teams:
        status, answer = await teams.post(None, raw=b"{not json")
        assert status == 400 and "not a JSON object" in answer["error"]
        status, answer = await teams.post([1, 2])
        assert status == 400 and "got list" in answer["error"]
        good = message("When does the deal close?", **teams.to(ALICE, personal(ALICE_CHAT)))
        status, answer = await teams.post({k: v for k, v in good.items() if k != "type"})
        assert status == 400 and answer["error"] == "The activity has no 'type'."
        status, answer = await teams.post({k: v for k, v in good.items() if k != "serviceUrl"})
        assert status == 400 and answer["error"] == "The activity has no 'serviceUrl'."
        status, answer = await teams.post(dict(good, conversation={"conversationType": "personal"}))
        assert status == 400 and answer["error"] == "The activity has no 'conversation.id'."
        assert teams.connector.calls == [] and teams.model.remaining == 1


def test_starting_without_credentials_is_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(TeamsStartError) as caught:
        run(App(Settings()), port=0)
    assert str(caught.value) == messages.MISSING_CREDENTIALS
    with pytest.raises(TeamsStartError, match="single-tenant"):
        build_authentication(Settings(teams_app_id=APP_ID, teams_app_tenant_id="t-1"))
    # the switch for local testing starts without credentials
    assert build_authentication(Settings(teams_skip_auth=True)).enabled is False
    assert build_authentication(Settings(teams_app_id="a", teams_app_password="p")).enabled

    result = CliRunner().invoke(cli, ["serve", "teams", "--port", "0"])
    assert result.exit_code == 2
    assert "WARROOM_TEAMS_APP_ID" in result.output and "Traceback" not in result.output
