"""Knowledge base, per-account memory and the LangGraph checkpointer factory."""
