"""A scenario's world: a fresh CRM database, knowledge base and checkpoint store in a temp dir."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from evals.scenario import Scenario
from memory.checkpoint import open_async_checkpointer
from tools.context import FixedClock
from tools.db import Database
from tools.fixtures import load_fixture
from tools.policy import Policy
from tools.service import CRMService
from warroom.settings import DEFAULT_POLICY_PATH

__all__ = ["LazyKnowledge", "ScenarioWorld", "scenario_world"]


@cache
def _default_policy(path: Path) -> Policy:
    return Policy.load(path)


@cache
def _shared_embedder() -> Any:
    # Loading the embedding model takes seconds; every scenario's knowledge base shares it.
    from memory.embeddings import make_embedder

    return make_embedder()


class LazyKnowledge:
    """The scenario's knowledge base, opened on first use: most scenarios never search, and a
    Chroma store costs time to create."""

    def __init__(self, directory: Path, documents: list[dict[str, Any]]) -> None:
        self.directory = directory
        self.documents = documents
        self._kb: Any = None
        self._lock = threading.Lock()

    @property
    def opened(self) -> bool:
        return self._kb is not None

    def open(self) -> Any:
        with self._lock:
            if self._kb is None:
                from memory.knowledge import KnowledgeBase
                from memory.store import chroma_client

                kb = KnowledgeBase(
                    client=chroma_client(data_dir=self.directory), embedder=_shared_embedder()
                )
                if self.documents:
                    report = kb.add_documents(self.documents)
                    if report.failed:
                        problems = "; ".join(f"{f.name}: {f.reason}" for f in report.failed)
                        raise ValueError(f"knowledge documents could not be added: {problems}")
                self._kb = kb
            return self._kb

    def search(self, query: str, *, k: int = 5, roles: Collection[str] | None = None) -> list[Any]:
        return self.open().search(query, k=k, roles=roles)  # type: ignore[no-any-return]


def _account_memory(scenario: Scenario, directory: Path, clock: FixedClock) -> Any:
    from memory.account_memory import AccountMemory
    from memory.store import chroma_client

    memory = AccountMemory(
        client=chroma_client(data_dir=directory / "knowledge"), embedder=_shared_embedder()
    )
    for fact in scenario.fixture.account_memory:
        memory.remember(
            fact.account_id,
            fact.text,
            author_id=fact.author_id,
            source_kind=fact.source_kind,
            source_ref=fact.source_ref,
            contact_ids=fact.contact_ids,
            at=clock.now(),
        )
    return memory


@dataclass
class ScenarioWorld:
    db: Database
    crm: CRMService
    clock: FixedClock
    knowledge: LazyKnowledge
    checkpointer: Any
    directory: Path


@asynccontextmanager
async def scenario_world(
    scenario: Scenario, directory: Path, *, policy_path: Path = DEFAULT_POLICY_PATH
) -> AsyncIterator[ScenarioWorld]:
    """Everything fresh for one run of one scenario; closed on exit."""
    policy = _default_policy(policy_path)
    if scenario.policy:
        policy = policy.with_overrides(scenario.policy)
    url = f"sqlite:///{directory / 'crm.sqlite3'}"
    db = Database(url)
    try:
        load_fixture(db, scenario.fixture.crm_tables())
        clock = FixedClock.on(scenario.today, hour=9)
        documents = [d.model_dump(exclude_none=True) for d in scenario.fixture.knowledge]
        knowledge = LazyKnowledge(directory / "knowledge", documents)
        if documents:
            knowledge.open()  # bad documents fail the scenario before its first turn
        memory = (
            _account_memory(scenario, directory, clock) if scenario.fixture.account_memory else None
        )
        crm = CRMService(db, policy=policy, clock=clock, knowledge=knowledge, memory=memory)
        async with open_async_checkpointer(url) as saver:
            yield ScenarioWorld(db, crm, clock, knowledge, saver, directory)
    finally:
        db.dispose()
