"""Resuming an interrupted ingestion: the model's answer for each window (or chunk) of a
transcript is kept in the CRM database as soon as it arrives, keyed by the transcript's hash
and a hash of the model and the exact request. Ingesting the same bytes again — after a crash,
a Ctrl-C, a model that failed half-way — asks the model only for the windows it has not
answered yet. The answers are forgotten once the ingestion is done (its receipt stored), and
answers of ingestions never finished are pruned after `KEEP`.

    await ask(model, messages, Schema, memo)   # memo's answer, or the model's (then kept)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete

from agents.llm_types import ChatModel, Message
from tools.context import Clock
from tools.db import Database
from tools.models import MeetingWindow

__all__ = ["KEEP", "WindowMemo", "ask"]

KEEP = timedelta(days=7)
SchemaT = TypeVar("SchemaT", bound=BaseModel)


class WindowMemo:
    """The kept window answers of one transcript (by its SHA-256) for one model."""

    def __init__(self, db: Database, *, sha256: str, model_id: str, clock: Clock) -> None:
        self.db = db
        self.sha256 = sha256
        self.model_id = model_id
        self.clock = clock
        self.resumed = 0  # windows answered from what was kept
        self.asked = 0  # windows the model was asked

    def key(self, messages: list[Message], schema: type[BaseModel]) -> str:
        request = json.dumps([self.model_id, schema.__name__, messages], sort_keys=True)
        return hashlib.sha256(request.encode("utf-8")).hexdigest()

    async def recall(self, messages: list[Message], schema: type[SchemaT]) -> SchemaT | None:
        key = self.key(messages, schema)

        def read() -> dict[str, object] | None:
            with self.db.read_session() as session:
                row = session.get(MeetingWindow, (self.sha256, key))
                return dict(row.answer) if row is not None else None

        kept = await asyncio.to_thread(read)
        if kept is None:
            return None
        try:
            return schema.model_validate(kept)
        except ValidationError:
            return None  # kept by an older schema: ask again

    async def keep(self, messages: list[Message], answer: BaseModel) -> None:
        key = self.key(messages, type(answer))
        now = self.clock.now()

        def write() -> None:
            with self.db.session() as session:
                session.execute(delete(MeetingWindow).where(MeetingWindow.saved_at < now - KEEP))
                session.merge(
                    MeetingWindow(
                        sha256=self.sha256, key=key, answer=answer.model_dump(), saved_at=now
                    )
                )

        await asyncio.to_thread(write)

    async def forget(self) -> None:
        def remove() -> None:
            with self.db.session() as session:
                session.execute(delete(MeetingWindow).where(MeetingWindow.sha256 == self.sha256))

        await asyncio.to_thread(remove)


async def ask(
    model: ChatModel,
    *,
    agent: str,
    messages: list[Message],
    schema: type[SchemaT],
    memo: WindowMemo | None,
) -> SchemaT:
    """The kept answer to this very request, or the model's (kept before it is returned)."""
    if memo is not None:
        kept = await memo.recall(messages, schema)
        if kept is not None:
            memo.resumed += 1
            return kept
    answer = await model.structured(agent=agent, messages=messages, schema=schema)
    if memo is not None:
        memo.asked += 1
        await memo.keep(messages, answer)
    return answer
