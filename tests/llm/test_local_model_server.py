"""LocalModelServer's failure paths with the real llama-cpp-python runtime (no model needed)."""

from __future__ import annotations

import pytest

from agents.llm import LocalServerFailed
from agents.local_model_server import LocalModelServer

from .conftest import local_runtime_missing

pytestmark = pytest.mark.skipif(
    local_runtime_missing() is not None, reason=local_runtime_missing() or ""
)


def test_a_broken_model_file_fails_with_the_server_output(tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file")
    server = LocalModelServer(broken, start_timeout=60)
    with pytest.raises(LocalServerFailed) as caught:
        server.start()
    assert caught.value.user_message.startswith("The embedded local model server exited with code")
    assert "Last server output:" in caught.value.user_message
    assert not server.running


def test_start_up_is_bounded(tmp_path, monkeypatch):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file")
    server = LocalModelServer(broken, start_timeout=0.01)
    with pytest.raises(LocalServerFailed, match="did not answer at http://127.0.0.1:.* within 0"):
        server.start()
    assert not server.running
