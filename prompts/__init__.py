"""warroom prompts."""
