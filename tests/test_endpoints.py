"""Which model endpoint warroom talks to, and what it says about it at start-up.

The embedded local model is the default; only WARROOM_LLM_BASE_URL changes that. An exported
OPENAI_API_KEY (common on developer machines) alone sends nothing anywhere."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from agents.llm import LocalModelNotFetched, PIIMaskingChatModel, build_chat_model
from warroom.observability import startup_line
from warroom.settings import Settings


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every outgoing connection or name lookup attempted by the process, refused."""
    attempts: list[Any] = []

    def refuse_connect(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network disabled in this test")

    def refuse_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(host)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_connect)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    monkeypatch.setattr(socket, "create_connection", refuse_lookup)
    return attempts


def test_openai_api_key_alone_sends_nothing_anywhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, connections: list[Any]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-exported-for-another-project")
    monkeypatch.setattr(
        "agents.local_model_server.pick_runtime", lambda requested=None: "llama-server"
    )
    settings = Settings(model_cache_dir=tmp_path)
    assert not settings.uses_external_llm() and not settings.masks_pii()
    # The embedded model is chosen (here not fetched, so building stops with that sentence)…
    with pytest.raises(LocalModelNotFetched):
        build_chat_model(settings)
    # …and nothing tried to reach any host, api.openai.com or other.
    assert connections == []
    line = startup_line(settings, "chat")
    assert "embedded local" in line and "no data leaves this machine" in line


async def test_an_explicit_base_url_is_the_opt_in(connections: list[Any]) -> None:
    settings = Settings(llm_base_url="https://api.openai.com/v1", llm_api_key="sk-x")
    model = build_chat_model(settings)
    assert isinstance(model, PIIMaskingChatModel)  # external: masking on by default
    line = startup_line(settings, "serve slack")
    assert "https://api.openai.com/v1" in line
    assert "data leaves this machine (model requests); PII masking on" in line
    await model.aclose()
    assert connections == []  # building a client connects nowhere either


def test_startup_line_names_every_part_and_hides_passwords() -> None:
    settings = Settings(
        database_url="postgresql+psycopg://crm:s3cret@127.0.0.1:5432/warroom",
        chroma_url="http://127.0.0.1:8000",
        llm_base_url="http://127.0.0.1:8080/v1",
        mask_pii=False,
    )
    line = startup_line(settings, "serve api")
    assert "s3cret" not in line and "crm:***@127.0.0.1" in line
    assert "vector store http://127.0.0.1:8000" in line
    assert "PII masking OFF" in line
