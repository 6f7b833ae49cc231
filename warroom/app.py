"""Wiring: settings in, ready-to-use parts out. The only place that knows how parts fit."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from tools.context import SystemClock
from tools.db import Database
from tools.policy import Policy
from tools.service import CRMService
from warroom.settings import Settings, load_settings

if TYPE_CHECKING:
    from agents.conversation import ConversationService
    from agents.llm_types import ChatModel


def conversation_service(
    crm: CRMService,
    model: ChatModel | None,
    *,
    checkpointer: Any,
    review_ttl_hours: float = 72.0,
) -> ConversationService:
    """The one construction site of `ConversationService`: terminal, Slack, Teams, the HTTP
    API, meeting ingestion, the demo and the eval runner all get theirs from here (through
    `App.conversation_service`, or directly when they bring their own CRM, as evals do)."""
    from agents.conversation import ConversationService

    return ConversationService(
        crm=crm, model=model, checkpointer=checkpointer, review_ttl_hours=review_ttl_hours
    )


class App:
    """Lazily built parts, so `warroom crm …` never pays for the knowledge base or the model."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()

    @cached_property
    def policy(self) -> Policy:
        return Policy.load(self.settings.policy_path)

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.resolved_database_url())

    def _store_settings(self) -> dict[str, Any]:
        """Where the knowledge base and account memory live, and how they embed."""
        s = self.settings
        return {
            "data_dir": s.data_dir,
            "chroma_url": s.chroma_url,
            "embeddings_base_url": s.embeddings_base_url,
            "embeddings_api_key": s.embeddings_api_key,
            "embeddings_model": s.embeddings_model,
        }

    @cached_property
    def knowledge(self):  # type: ignore[no-untyped-def]
        from memory.knowledge import open_knowledge_base

        return open_knowledge_base(**self._store_settings())

    @cached_property
    def account_memory(self):  # type: ignore[no-untyped-def]
        from memory.account_memory import open_account_memory

        return open_account_memory(**self._store_settings())

    def conversation_service(
        self,
        *,
        model: ChatModel | None,
        checkpointer: Any,
        crm: CRMService | None = None,
        with_knowledge: bool = True,
    ) -> ConversationService:
        """A conversation service over this app's CRM (or `crm`), with the configured review
        time-to-live."""
        return conversation_service(
            crm if crm is not None else self.crm(with_knowledge=with_knowledge),
            model,
            checkpointer=checkpointer,
            review_ttl_hours=self.settings.review_ttl_hours,
        )

    def crm(self, *, with_knowledge: bool = False) -> CRMService:
        """The CRM service; `with_knowledge` adds the knowledge base and account memory (what
        conversations need: `search_knowledge`, `recall_account_memory`)."""
        return CRMService(
            self.db,
            policy=self.policy,
            clock=SystemClock(self.settings.timezone),
            knowledge=self.knowledge if with_knowledge else None,
            memory=self.account_memory if with_knowledge else None,
        )
