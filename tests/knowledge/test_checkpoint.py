from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

from memory.checkpoint import checkpoint_location, open_async_checkpointer, open_checkpointer


class _State(TypedDict):
    notes: Annotated[list[str], operator.add]


def _graph(checkpointer):
    builder = StateGraph(_State)
    builder.add_node("note", lambda state: {"notes": [f"turn {len(state['notes']) + 1}"]})
    builder.add_edge(START, "note")
    builder.add_edge("note", END)
    return builder.compile(checkpointer=checkpointer)


def test_sqlite_round_trip_survives_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    config = {"configurable": {"thread_id": "thread-1"}}
    with open_checkpointer(url) as saver:
        _graph(saver).invoke({"notes": ["hello"]}, config)
    assert (tmp_path / "crm.checkpoints.sqlite3").exists()
    assert not (tmp_path / "crm.sqlite3").exists()  # the CRM file is not touched
    with open_checkpointer(url) as saver:
        graph = _graph(saver)
        assert graph.get_state(config).values["notes"] == ["hello", "turn 2"]
        graph.invoke({"notes": []}, config)
        assert graph.get_state(config).values["notes"] == ["hello", "turn 2", "turn 3"]


async def test_async_sqlite_round_trip(tmp_path: Path) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'crm.sqlite3'}"
    config = {"configurable": {"thread_id": "t"}}
    async with open_async_checkpointer(url) as saver:
        await _graph(saver).ainvoke({"notes": ["a"]}, config)
    async with open_async_checkpointer(url) as saver:
        state = await _graph(saver).aget_state(config)
        assert state.values["notes"] == ["a", "turn 2"]


def test_in_memory_sqlite() -> None:
    with open_checkpointer("sqlite://") as saver:
        config = {"configurable": {"thread_id": "t"}}
        assert _graph(saver).invoke({"notes": []}, config)["notes"] == ["turn 1"]


def test_urls_map_to_backends(tmp_path: Path) -> None:
    assert checkpoint_location(f"sqlite:///{tmp_path}/data/crm.sqlite3") == (
        "sqlite",
        f"{tmp_path}/data/crm.checkpoints.sqlite3",
    )
    assert checkpoint_location("postgresql+psycopg://app:s3cret@127.0.0.1:5432/warroom") == (
        "postgres",
        "postgresql://app:s3cret@127.0.0.1:5432/warroom",
    )
    with pytest.raises(ValueError, match="mysql"):
        checkpoint_location("mysql://127.0.0.1/crm")


@pytest.mark.postgres
def test_postgres_round_trip(postgres_url: str) -> None:
    config = {"configurable": {"thread_id": "pg-thread"}}
    with open_checkpointer(postgres_url) as saver:
        _graph(saver).invoke({"notes": ["hello"]}, config)
    with open_checkpointer(postgres_url) as saver:
        assert _graph(saver).get_state(config).values["notes"] == ["hello", "turn 2"]


@pytest.mark.postgres
async def test_async_postgres_round_trip(postgres_url: str) -> None:
    config = {"configurable": {"thread_id": "pg-async"}}
    async with open_async_checkpointer(postgres_url) as saver:
        await _graph(saver).ainvoke({"notes": ["a"]}, config)
    async with open_async_checkpointer(postgres_url) as saver:
        state = await _graph(saver).aget_state(config)
        assert state.values["notes"] == ["a", "turn 2"]
