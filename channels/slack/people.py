"""Slack users ↔ CRM users: the identity map first, then the Slack profile's email
(users.info / users.lookupByEmail). Unknown people get `UnknownUser`, never a default."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from channels.core.cache import MISSING, TimedCache
from channels.identity import IdentityResolver, UnknownUser

log = logging.getLogger(__name__)


class SlackPeople:
    def __init__(
        self,
        *,
        client: AsyncWebClient,
        resolver: IdentityResolver,
        ttl_seconds: float = 900.0,
        max_entries: int = 5_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.resolver = resolver
        self._emails = TimedCache(ttl_seconds, max_entries, clock)
        self._slack_ids = TimedCache(ttl_seconds, max_entries, clock)

    async def crm_user(self, slack_user_id: str) -> str:
        """The CRM user id of a Slack user; raises `UnknownUser` (with a polite `message`)."""
        if not slack_user_id:
            raise UnknownUser("slack", "")
        email = None
        if slack_user_id not in self.resolver.mapping["slack"]:
            email = await self._email(slack_user_id)
        return await asyncio.to_thread(self.resolver.resolve, "slack", slack_user_id, email)

    async def _email(self, slack_user_id: str) -> str | None:
        cached = self._emails.get(slack_user_id)
        if cached is not MISSING:
            return cached
        try:
            response = await self.client.users_info(user=slack_user_id)
        except SlackApiError as exc:
            log.warning("users.info for %s failed: %s", slack_user_id, exc.response.get("error"))
            return None  # not cached: a transient failure should not lock someone out
        user = response.get("user") or {}
        email = None
        if not user.get("deleted") and not user.get("is_bot"):
            email = (user.get("profile") or {}).get("email") or None
        self._emails.put(slack_user_id, email)
        return email

    async def slack_user(self, crm_user_id: str) -> str | None:
        """The Slack user to address for a CRM user (a reviewer); None when there is none."""
        mapped = self.resolver.external_ids("slack", crm_user_id)
        if mapped:
            return mapped[0]
        cached = self._slack_ids.get(crm_user_id)
        if cached is not MISSING:
            return cached
        email = await asyncio.to_thread(self.resolver.email_of, crm_user_id)
        slack_id = None
        if email:
            try:
                response = await self.client.users_lookupByEmail(email=email)
                slack_id = (response.get("user") or {}).get("id")
            except SlackApiError as exc:
                if exc.response.get("error") != "users_not_found":
                    log.warning("users.lookupByEmail failed: %s", exc.response.get("error"))
                    return None
        self._slack_ids.put(crm_user_id, slack_id)
        return slack_id
