"""OpenTelemetry spans of a conversation turn: graph nodes, model calls, tool calls, reviews.

Off by default and then free: until `enable_tracing()` runs (warroom/observability.py calls it
when OTEL_EXPORTER_OTLP_ENDPOINT is set; tests pass an in-memory provider) every helper here
returns after one `is None` check. This module sits at the lowest floor (it imports only the
OpenTelemetry API and langchain-core) so tools, memory and agents can all use it.

Hooks in the rest of the code are one line each:
- `@traced_tool_call` on CRMService.read / execute (tool name, actor, outcome);
- `@traced_model_call` on the chat models' request method (agent, model, tokens, cache hits);
- `turn_span(...)` around one conversation turn;
- graph nodes need no hook: a LangChain configure hook adds a callback handler to every graph
  run, opening a span per node (LangGraph reports each node as a chain run).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, TypeVar
from uuid import UUID

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

__all__ = [
    "enable_tracing",
    "traced_model_call",
    "traced_tool_call",
    "tracer",
    "turn_span",
]

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    tracer: Tracer | None = None


_state = _State()


def tracer() -> Tracer | None:
    """The active tracer, or None when tracing is off."""
    return _state.tracer


def enable_tracing(provider: trace.TracerProvider | None = None) -> Tracer:
    """Start recording spans with `provider` (default: the global one) and trace graph nodes.

    Idempotent for the graph hook; calling it again switches the provider (tests do)."""
    provider = provider or trace.get_tracer_provider()
    _state.tracer = provider.get_tracer("warroom")
    _install_graph_hook()
    return _state.tracer


def disable_tracing() -> None:
    _state.tracer = None


@contextmanager
def turn_span(thread_id: str, user_id: str, **attributes: Any) -> Iterator[Span | None]:
    """The parent span of one conversation turn (model and tool spans nest under it)."""
    active = _state.tracer
    if active is None:
        yield None
        return
    with active.start_as_current_span(
        "warroom.turn",
        attributes={"warroom.thread_id": thread_id, "warroom.user_id": user_id, **attributes},
    ) as span:
        yield span


# --- tool calls ------------------------------------------------------------------------------


def _tool_outcome(result: Any) -> tuple[str, str | None]:
    if isinstance(result, dict):
        return ("ok", None) if result.get("ok", True) else ("failed", result.get("kind"))
    kind = getattr(result, "kind", None)
    if getattr(result, "ok", True) is False:
        return "failed", kind
    return "ok", None


def traced_tool_call(method: F) -> F:
    """Decorate CRMService.read(tool, arguments, actor) / execute(proposal, …): one span per
    tool call with the tool, the actor and the outcome (ok, or the failure kind)."""

    @functools.wraps(method)
    def wrapper(self: Any, first: Any, *args: Any, **kwargs: Any) -> Any:
        active = _state.tracer
        if active is None:
            return method(self, first, *args, **kwargs)
        tool = first if isinstance(first, str) else getattr(first, "tool", "?")
        actor = args[1] if len(args) > 1 else kwargs.get("actor")
        actor_id = getattr(actor, "id", None) or getattr(first, "actor_id", None) or ""
        with active.start_as_current_span(
            f"tool {tool}",
            attributes={
                "warroom.tool": tool,
                "warroom.tool.kind": method.__name__,
                "warroom.actor_id": actor_id,
            },
        ) as span:
            result = method(self, first, *args, **kwargs)
            outcome, kind = _tool_outcome(result)
            span.set_attribute("warroom.tool.outcome", outcome)
            if kind:
                span.set_attribute("warroom.tool.failure_kind", str(kind))
                span.set_status(Status(StatusCode.ERROR, str(kind)))
            return result

    return wrapper  # type: ignore[return-value]


# --- model calls -----------------------------------------------------------------------------


def _record_usage(span: Span, result: Any) -> None:
    usage = getattr(result, "usage", None)
    if usage is None:
        return
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    if prompt is not None:
        span.set_attribute("gen_ai.usage.input_tokens", int(prompt))
    if completion is not None:
        span.set_attribute("gen_ai.usage.output_tokens", int(completion))
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    if cached is not None:
        span.set_attribute("gen_ai.usage.cache_read_tokens", int(cached))
    model = getattr(result, "model", None)
    if isinstance(model, str) and model:
        span.set_attribute("gen_ai.response.model", model)


def traced_model_call(method: F) -> F:
    """Decorate an async model request method taking `agent` first (or as keyword): one span
    per call with the agent, the model, token counts and cached prompt tokens when reported."""
    if not inspect.iscoroutinefunction(method):  # pragma: no cover
        raise TypeError("traced_model_call decorates async methods")

    @functools.wraps(method)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        active = _state.tracer
        if active is None:
            return await method(self, *args, **kwargs)
        agent = kwargs.get("agent", args[0] if args else "?")
        model_for = getattr(self, "model_for", None)
        attributes: dict[str, Any] = {"warroom.agent": str(agent), "gen_ai.operation.name": "chat"}
        if callable(model_for):
            attributes["gen_ai.request.model"] = str(model_for(agent))
        with active.start_as_current_span(f"llm {agent}", attributes=attributes) as span:
            result = await method(self, *args, **kwargs)
            _record_usage(span, result)
            return result

    return wrapper  # type: ignore[return-value]


# --- graph nodes (LangChain callback handler installed by a configure hook) -----------------

_graph_handler: ContextVar[Any] | None = None


def _install_graph_hook() -> None:
    global _graph_handler
    if _graph_handler is not None:
        return
    from langchain_core.tracers.context import register_configure_hook

    # One handler for every context on purpose: it keys its spans by run id.
    _graph_handler = ContextVar("warroom_graph_tracing", default=_NodeSpans())  # noqa: B039
    register_configure_hook(_graph_handler, inheritable=True)


def _node_spans_class() -> type:
    from langchain_core.callbacks import BaseCallbackHandler

    class NodeSpans(BaseCallbackHandler):
        """A span per LangGraph run (the graph) and per node run inside it."""

        run_inline = True  # callbacks in the caller's context, in order

        def __init__(self) -> None:
            self._spans: dict[UUID, Span] = {}
            self._parent: dict[UUID, UUID | None] = {}

        def _span_of(self, run_id: UUID | None) -> Span | None:
            while run_id is not None:
                if run_id in self._spans:
                    return self._spans[run_id]
                run_id = self._parent.get(run_id)
            return None

        def on_chain_start(
            self,
            serialized: dict[str, Any] | None,
            inputs: Any,
            *,
            run_id: UUID,
            parent_run_id: UUID | None = None,
            metadata: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> None:
            self._parent[run_id] = parent_run_id
            active = _state.tracer
            if active is None:
                return
            name = kwargs.get("name") or (serialized or {}).get("name") or "chain"
            node = (metadata or {}).get("langgraph_node")
            if parent_run_id is None:
                span_name, attributes = f"graph {name}", {"warroom.graph": str(name)}
            elif node and name == node:
                span_name, attributes = f"node {node}", {"warroom.node": str(node)}
            else:
                return
            parent = self._span_of(parent_run_id)
            context = trace.set_span_in_context(parent) if parent is not None else None
            self._spans[run_id] = active.start_span(
                span_name, context=context, attributes=attributes
            )

        def _end(self, run_id: UUID, error: BaseException | None = None) -> None:
            self._parent.pop(run_id, None)
            span = self._spans.pop(run_id, None)
            if span is None:
                return
            if error is not None and type(error).__name__ not in ("GraphInterrupt", "Interrupt"):
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.end()

        def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
            self._end(run_id)

        def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
            self._end(run_id, error)

    return NodeSpans


def _NodeSpans() -> Any:  # noqa: N802  (a factory standing in for the lazily built class)
    return _node_spans_class()()


def span_or_nothing(name: str, **attributes: Any) -> Any:
    """A current span named `name` when tracing is on; a no-op context otherwise (reviews)."""
    active = _state.tracer
    if active is None:
        return nullcontext()
    return active.start_as_current_span(name, attributes=attributes)
