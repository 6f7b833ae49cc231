"""The LangGraph graph: router, specialist agents, policy gate, executor, responder."""
