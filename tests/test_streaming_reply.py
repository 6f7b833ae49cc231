"""The reply streamed as it is written: the terminal's and Slack's live drafts get the words,
the turn's recorded events do not, and a figure found in no data stops the draft before it is
shown (the checked reply replaces the draft)."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from agents.conversation import ConversationService
from agents.llm_scripted import ScriptedChatModel
from tools.service import CRMService

REQUEST = "What is the next step on opp-acme-1?"


def _convo(crm: CRMService, reply: str, *, again: str | None = None) -> ConversationService:
    steps: list[dict[str, Any]] = [{"agent": "sales", "reply": reply}]
    if again is not None:
        steps.append({"agent": "sales", "reply": again})
    return ConversationService(crm=crm, model=ScriptedChatModel(steps))


def _drafts(events: list[dict[str, Any]]) -> str:
    text = ""
    for event in events:
        if event.get("type") == "reply_delta":
            text = "" if event.get("reset") else text + event["text"]
    return text


async def test_words_arrive_before_the_reply_and_are_not_recorded(crm: CRMService) -> None:
    seen: list[dict[str, Any]] = []
    reply = "The next step on opp-acme-1 is to review the proposal with Jane Doe. "
    turn = await _convo(crm, reply).send(
        thread_id="t-stream", user_id="u-alice", text=REQUEST, on_event=seen.append
    )
    deltas = [e for e in seen if e["type"] == "reply_delta" and not e.get("reset")]
    assert len(deltas) > 5  # word by word, not one block
    assert _drafts(seen).strip() == reply.strip()
    assert "review the proposal" in turn.reply
    assert not [e for e in turn.events if e["type"] == "reply_delta"]


async def test_an_ungrounded_figure_is_never_streamed(crm: CRMService) -> None:
    invented = "Acme will sign for $987,654 next week, then expand. "
    grounded = "The next step on opp-acme-1 is to review the proposal with Jane Doe. "
    seen: list[dict[str, Any]] = []
    turn = await _convo(crm, invented, again=grounded).send(
        thread_id="t-stream-2", user_id="u-alice", text=REQUEST, on_event=seen.append
    )
    shown = "".join(e["text"] for e in seen if e["type"] == "reply_delta")
    assert "987" not in shown
    assert "Acme will sign for" in shown  # the words before the figure were shown
    assert "987" not in turn.reply and "review the proposal" in turn.reply


async def test_terminal_shows_the_draft_while_the_turn_runs(crm: CRMService) -> None:
    from channels.terminal import LiveStatus

    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    live = LiveStatus(console)
    live.start()
    drafts: list[str] = []

    def on_event(event: dict[str, Any]) -> None:
        live.on_event(event)
        if event["type"] == "reply_delta" and not event.get("reset"):
            drafts.append(live._text().plain)  # type: ignore[union-attr]

    try:
        await _convo(crm, "Review the proposal with Jane Doe this week. ").send(
            thread_id="t-term", user_id="u-alice", text=REQUEST, on_event=on_event
        )
    finally:
        await live.stop()
    assert live.first_words_at is not None
    assert drafts[0].startswith("Review") and "Jane Doe" in drafts[-1]
    assert "sales agent" in drafts[-1]  # the stage line stays under the draft


async def test_slack_status_message_carries_the_draft_then_gives_way() -> None:
    from channels.slack.progress import StatusMessage

    class Client:
        def __init__(self) -> None:
            self.updates: list[str] = []

        async def chat_postMessage(self, **kwargs: Any) -> dict[str, str]:
            return {"ts": "1.0"}

        async def chat_update(self, **kwargs: Any) -> dict[str, str]:
            self.updates.append(kwargs["text"])
            return {"ts": "1.0"}

    client = Client()
    status = StatusMessage(client, channel="C1", thread_ts="0.1", interval=0.0)  # type: ignore[arg-type]
    await status.start()
    for word in ["Review ", "the ", "proposal. "]:
        status.on_event({"type": "reply_delta", "agent": "sales", "text": word})
        await status._pending  # type: ignore[misc]
    assert "Review the proposal." in client.updates[-1]
    await status.finish("✓ Done.")
    assert "Review" not in client.updates[-1] and client.updates[-1].startswith("✓ Done.")
