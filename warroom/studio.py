"""The conversation graph for LangGraph's dev server and Studio (`langgraph.json` points here).

    pip install "langgraph-cli[inmem]" && langgraph dev

Studio shows the graph's nodes and edges from this module. The nodes need warroom's run
context (the CRM service and the model, `agents.state.AgentDeps`), which the dev server does not
build, so turns are run with `warroom chat`; traces of those turns go to LangSmith through
LangGraph's own variables (LANGSMITH_TRACING=true, LANGSMITH_API_KEY) or to any OpenTelemetry
collector (OTEL_EXPORTER_OTLP_ENDPOINT), see docs/OPERATIONS.md.
"""

from __future__ import annotations

from agents.graph import build_graph

# The dev server supplies its own checkpointer.
graph = build_graph()
