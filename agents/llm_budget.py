"""The per-turn LLM budget and the token accounting per agent.

One `Budget` lives for one conversation turn. Models check it *before* each request, so a
runaway loop stops with `BudgetExhausted` instead of burning tokens, and charge it after,
so the graph can report who used what.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from agents.llm_errors import BudgetExhausted

__all__ = ["AgentUsage", "Budget", "Message", "TokenUsage", "estimate_tokens"]

# A chat message in the OpenAI format (re-exported by agents/llm_types.py).
Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Prompt tokens the server took from its cache instead of evaluating (when it says so).
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
        )


def estimate_tokens(payload: str | list[Message] | dict[str, Any] | None) -> int:
    """Rough token count (about four characters a token) for budgeting before a call and for
    scripted models, which have no tokenizer."""
    if payload is None:
        return 0
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return max(1, len(text) // 4) if text else 0


@dataclass(slots=True)
class AgentUsage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def evaluated_tokens(self) -> int:
        """Prompt tokens the server evaluated: those sent minus those it reused from cache."""
        return self.prompt_tokens - self.cached_tokens

    def add(self, usage: TokenUsage, seconds: float) -> None:
        self.calls += 1
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cached_tokens += usage.cached_tokens
        self.seconds += seconds

    def as_dict(self) -> dict[str, float | int]:
        return {
            **asdict(self),
            "total_tokens": self.total_tokens,
            "evaluated_tokens": self.evaluated_tokens,
        }


class Budget:
    """Token and call limits of one turn, plus what each agent has used so far."""

    def __init__(self, max_tokens: int | None = None, max_calls: int | None = None) -> None:
        self.max_tokens = max_tokens
        self.max_calls = max_calls
        self.by_agent: dict[str, AgentUsage] = {}

    @classmethod
    def unlimited(cls) -> Budget:
        return cls(None, None)

    def fresh(self) -> Budget:
        """A new, unused budget with the same limits, for the next turn."""
        return Budget(self.max_tokens, self.max_calls)

    @property
    def tokens_used(self) -> int:
        return sum(usage.total_tokens for usage in self.by_agent.values())

    @property
    def calls_used(self) -> int:
        return sum(usage.calls for usage in self.by_agent.values())

    @property
    def tokens_left(self) -> int | None:
        return None if self.max_tokens is None else max(0, self.max_tokens - self.tokens_used)

    def total(self) -> AgentUsage:
        total = AgentUsage()
        for usage in self.by_agent.values():
            total.calls += usage.calls
            total.prompt_tokens += usage.prompt_tokens
            total.completion_tokens += usage.completion_tokens
            total.cached_tokens += usage.cached_tokens
            total.seconds += usage.seconds
        return total

    def check(self, agent: str, prompt_tokens: int = 0) -> None:
        """Raise `BudgetExhausted` if one more call of about `prompt_tokens` would not fit.

        The prompt estimate is all that is known before the call; completion tokens are
        charged afterwards, so a turn can overshoot by at most one answer.
        """
        if self.max_calls is not None and self.calls_used + 1 > self.max_calls:
            raise BudgetExhausted("calls", self.calls_used, self.max_calls, agent)
        if self.max_tokens is not None and self.tokens_used + prompt_tokens > self.max_tokens:
            raise BudgetExhausted("tokens", self.tokens_used, self.max_tokens, agent)

    def charge(self, agent: str, usage: TokenUsage, seconds: float) -> None:
        self.by_agent.setdefault(agent, AgentUsage()).add(usage, seconds)

    def report(self) -> dict[str, Any]:
        """Usage as plain data for traces, eval reports and the terminal footer."""
        return {
            "max_tokens": self.max_tokens,
            "max_calls": self.max_calls,
            "total": self.total().as_dict(),
            "by_agent": {name: usage.as_dict() for name, usage in sorted(self.by_agent.items())},
        }

    def __repr__(self) -> str:
        return (
            f"Budget(tokens={self.tokens_used}/{self.max_tokens}, "
            f"calls={self.calls_used}/{self.max_calls})"
        )
