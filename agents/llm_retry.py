"""The one place LLM requests are retried: exponential backoff with jitter, honouring the
server's Retry-After, on rate limits, server errors, timeouts and dropped connections.

The openai SDK's own retries are switched off (`max_retries=0`) so attempts never multiply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

__all__ = ["RetriesExhausted", "RetryPolicy", "is_retryable", "retry_after_seconds"]

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]

# 408/409 are what OpenAI itself documents as transient, next to 429 and any 5xx.
_RETRYABLE_STATUS = frozenset({408, 409, 429})


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500 and _is_request_validation_error(exc):
            return False
        return exc.status_code in _RETRYABLE_STATUS or exc.status_code >= 500
    return False


def _is_request_validation_error(exc: openai.APIStatusError) -> bool:
    """llama-cpp-python reports a malformed request as HTTP 500 with FastAPI's "N validation
    error(s)"; repeating the same request cannot succeed."""
    return "validation error" in (exc.message or "")


def retry_after_seconds(exc: BaseException, now: datetime) -> float | None:
    """The wait the server asked for: `retry-after-ms`, or `retry-after` as seconds or as an
    HTTP date; None when it said nothing usable."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class RetriesExhausted(Exception):
    """Internal: a retryable error outlived every attempt; the model turns it into an
    `LLMError` that names the endpoint."""

    def __init__(self, last: BaseException, attempts: int) -> None:
        super().__init__(f"gave up after {attempts} attempts: {last!r}")
        self.last = last
        self.attempts = attempts


class RetryPolicy:
    """Bounded retries; `sleep` and `clock` are injectable so tests never wait."""

    def __init__(
        self,
        max_retries: int = 4,
        *,
        backoff_initial: float = 0.5,
        backoff_max: float = 20.0,
        retry_after_max: float = 60.0,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.max_attempts = max_retries + 1
        self.retry_after_max = retry_after_max
        self.sleep = sleep
        self.clock = clock
        self._backoff = wait_random_exponential(multiplier=backoff_initial, max=backoff_max)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if exc is not None:
            asked = retry_after_seconds(exc, self.clock())
            if asked is not None:
                # A server that asks for longer than we are willing to wait still gets
                # the longest wait we allow rather than an immediate hammering.
                return min(asked, self.retry_after_max)
        return float(self._backoff(state))

    async def call(self, request: Callable[[], Awaitable[T]]) -> T:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            sleep=self.sleep,
            reraise=True,
        )
        attempts = 0
        try:
            async for attempt in retrying:
                attempts = attempt.retry_state.attempt_number
                with attempt:
                    return await request()
        except Exception as exc:
            if is_retryable(exc):
                raise RetriesExhausted(exc, attempts) from exc
            raise
        raise AssertionError("unreachable: tenacity either returns or raises")
