"""Microsoft Teams channel: a bot on the Microsoft 365 Agents SDK (`CloudAdapter` on aiohttp)
at `/api/messages`, with Adaptive Card approvals. Start it with `warroom serve teams`."""

from channels.teams.auth import TeamsStartError

__all__ = ["TeamsStartError"]
