"""The terminal's live status line: shown at once, then one stage per step of the turn."""

from __future__ import annotations

import io

from rich.console import Console

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from tools.service import CRMService

# `channels` is imported inside the tests: once tests/channels (a package of the same name) has
# been collected, a module-level import could fail the whole collection.
DISCOUNT = {"opportunity_id": "opp-acme-1", "percent": 25, "reason": "expansion"}


def _convo(crm: CRMService) -> ConversationService:
    return ConversationService(
        crm=crm,
        model=ScriptedChatModel(
            [
                {
                    "agent": "sales",
                    "tool_calls": [{"name": "apply_discount", "arguments": DISCOUNT}],
                },
                {"agent": "sales", "reply": "Asked Maria for the 25% discount."},
            ]
        ),
    )


async def test_status_line_follows_the_turn(crm: CRMService) -> None:
    from channels.terminal import LiveStatus

    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    live = LiveStatus(console)
    live.start()
    try:
        await _convo(crm).send(
            thread_id="t-live",
            user_id="u-alice",
            text="Give Acme 25% off opp-acme-1",
            on_event=live.on_event,
        )
    finally:
        await live.stop()
    stages = [stage for _, stage in live.stages]
    assert stages[0] == "routing" and live.stages[0][0] < 1.0
    assert stages[1:4] == ["sales agent", "sales agent", "sales agent · get_opportunity"] or (
        "sales agent · apply_discount" in stages
    )
    assert stages.index("sales agent") < stages.index("sales agent · apply_discount")
    assert stages[-1] == "waiting for review"


async def test_say_prints_the_steps_and_the_reply(crm: CRMService) -> None:
    from channels.terminal import say

    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120)
    turn = await say(
        console, _convo(crm), thread_id="t-say", user_id="u-alice", text="Give Acme a 25% discount"
    )
    assert turn is not None
    text = out.getvalue()
    assert "sales agent" in text and "apply_discount" in text and "needs approval" in text
    assert "Asked Maria for the 25% discount." in text
