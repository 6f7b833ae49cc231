"""The terminal chat's input loop: local commands never reach the model, Ctrl-C cancels the
running answer only."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterable
from typing import Any

from rich.console import Console

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from channels.terminal import LOCAL_COMMANDS, chat_loop
from tools.service import CRMService


def lines(items: Iterable[str]) -> Any:
    queue = list(items)

    async def read(prompt: str) -> str:
        if not queue:
            raise EOFError
        return queue.pop(0)

    return read


async def test_local_commands_are_answered_here_and_never_sent(crm: CRMService) -> None:
    model = ScriptedChatModel(
        [
            {"agent": "service", "reply": "No P1 ticket breaches its SLA."},
            {"agent": "delivery", "reply": "Helix goes live in January."},
        ]
    )
    convo = ConversationService(crm=crm, model=model)
    console = Console(record=True, width=200)
    typed = ["/help", "/whoami", "/inbox", "/pending", "/dance", "", "Which P1 tickets breach SLA?"]
    typed.append("/delivery when is Helix live?")  # picks an agent: goes to the conversation
    await chat_loop(
        console, convo, thread_id="t-term", user_id="u-sam", read_line=lines([*typed, "/quit"])
    )
    out = console.export_text()
    assert len(model.requests) == 2  # only the two questions went to the model
    assert all(name in out for name in LOCAL_COMMANDS)
    assert "u-sam" in out and "t-term" in out  # /whoami
    assert "Waiting for you" in out and "None of your requests" in out  # /inbox, /pending
    assert "Unknown command /dance" in out
    assert "No P1 ticket breaches its SLA." in out and "Helix goes live in January." in out


class _Stalled(ScriptedChatModel):
    """A model that never answers (until cancelled)."""

    asked = asyncio.Event()

    def for_turn(self, budget: Any = None) -> _Stalled:
        return self

    async def chat(self, **kwargs: Any) -> Any:
        self.asked.set()
        await asyncio.sleep(3600)

    async def structured(self, **kwargs: Any) -> Any:
        return await self.chat(**kwargs)


async def test_ctrl_c_cancels_the_running_answer_not_the_chat(crm: CRMService) -> None:
    model = _Stalled([])
    model.asked = asyncio.Event()
    convo = ConversationService(crm=crm, model=model)
    console = Console(record=True, width=200)
    queue = ["Which P1 tickets breach SLA?", "/whoami", "/quit"]

    async def read(prompt: str) -> str:
        return queue.pop(0)

    async def interrupt() -> None:
        await asyncio.wait_for(model.asked.wait(), 60)  # the turn is running
        os.kill(os.getpid(), signal.SIGINT)

    interrupter = asyncio.create_task(interrupt())
    await asyncio.wait_for(
        chat_loop(console, convo, thread_id="t-c", user_id="u-alice", read_line=read), 60
    )
    await interrupter
    out = console.export_text()
    assert "Cancelled." in out
    assert "in thread t-c" in out.split("Cancelled.")[1]  # /whoami answered after the cancel
    assert queue == []
