"""warroom: a conversational multi-agent CRM assistant (composition root)."""

__version__ = "0.1.0"
