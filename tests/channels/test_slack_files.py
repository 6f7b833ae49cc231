"""Transcripts shared with the bot go through meeting-note ingestion: downloaded with the bot
token from url_private, handed over with the requester and the thread, summary in the thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from channels.slack import cards, messages
from tests.channels.slack_fake_api import BOT_TOKEN
from tests.channels.slack_harness import (
    ALICE,
    CHANNEL,
    MARIA,
    STRANGER,
    direct_message,
    mention,
    slack_stack,
)
from tests.meetings.conftest import ACME_EXTRACTION, FIXTURES

TRANSCRIPT = b"WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Jane>We want 200 seats.\n"


class TranscriptUnreadable(Exception):
    """Stands in for ingestion's own error type."""


@dataclass
class Filed:
    filename: str

    def summary(self) -> str:
        return f"Filed {self.filename}: 1 note for Acme Corp, 1 change waits for review."


@dataclass
class RecordingIngest:
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, **kwargs: Any) -> Filed:
        self.calls.append(kwargs)
        if kwargs["data"].startswith(b"%PDF"):
            raise TranscriptUnreadable("scanned.pdf has no text layer; export it as text or VTT.")
        return Filed(kwargs["filename"])


async def test_file_shared_in_a_dm_is_ingested_and_summarised(tmp_path: Path) -> None:
    ingest = RecordingIngest()
    async with slack_stack(tmp_path, ingest=ingest, ingest_errors=(TranscriptUnreadable,)) as slack:
        file = slack.fake.add_file("F1", "acme-call.vtt", TRANSCRIPT)
        event = direct_message("", ts="100.000", subtype="file_share", files=[file])
        assert (await slack.event(event)).status == 200
        summary = await slack.wait_for(
            lambda: [t for t in slack.fake.posted("DUALICE", "100.000") if t.startswith("Filed")],
            what="the ingestion summary",
        )
        await slack.settle()
        assert summary == ["Filed acme-call.vtt: 1 note for Acme Corp, 1 change waits for review."]
        [call] = ingest.calls
        assert call == {
            "filename": "acme-call.vtt",
            "data": TRANSCRIPT,
            "actor_id": "u-alice",
            "thread_id": "slack:T0001:DUALICE:100.000",
        }
        [download] = [c for c in slack.fake.calls if c.method == "file_download"]
        assert download.token == BOT_TOKEN
        edits = [u["text"] for u in slack.fake.to("chat.update")]
        assert edits[-1].startswith("✓ Read acme-call.vtt.")


async def test_file_with_a_mention_in_a_channel_and_a_partial_file_object(tmp_path: Path) -> None:
    ingest = RecordingIngest()
    async with slack_stack(tmp_path, ingest=ingest) as slack:
        slack.fake.add_file("F2", "standup.txt", b"Jane: 200 seats by Dec 31.")
        # Slack sometimes sends only the id ("file_access": "check_file_info")
        event = mention("here are the notes", ts="200.000")
        event["files"] = [{"id": "F2", "file_access": "check_file_info"}]
        await slack.event(event)
        await slack.wait_for(lambda: ingest.calls, what="ingestion")
        await slack.settle()
        assert slack.fake.to("files.info") == [{"file": "F2"}]
        assert ingest.calls[0]["data"] == b"Jane: 200 seats by Dec 31."
        assert ingest.calls[0]["thread_id"] == f"slack:T0001:{CHANNEL}:200.000"


async def test_refused_files_say_why_and_nothing_is_ingested(tmp_path: Path) -> None:
    ingest = RecordingIngest()
    async with slack_stack(
        tmp_path, ingest=ingest, ingest_errors=(TranscriptUnreadable,), max_file_bytes=1_000
    ) as slack:
        big = slack.fake.add_file("F3", "all-hands.vtt", b"x" * 5_000)
        await slack.event(direct_message("", ts="300.000", subtype="file_share", files=[big]))
        pdf = slack.fake.add_file("F4", "scanned.pdf", b"%PDF-1.7 ...")
        await slack.event(direct_message("", ts="301.000", subtype="file_share", files=[pdf]))
        # a link that is not Slack's never gets the bot token
        elsewhere = {
            "id": "F5",
            "name": "x.vtt",
            "size": 10,
            "url_private": "https://evil.example/x",
        }
        await slack.event(direct_message("", ts="302.000", subtype="file_share", files=[elsewhere]))
        await slack.wait_for(lambda: len(slack.fake.posted("DUALICE")) >= 6, what="three answers")
        await slack.settle()
        too_big = slack.fake.posted("DUALICE", "300.000")[-1]
        assert too_big == (
            "I could not ingest all-hands.vtt: the limit is 1.0 kB and it is 5.0 kB."
        )
        assert slack.fake.posted("DUALICE", "301.000")[-1] == (
            "I could not ingest scanned.pdf: "
            "scanned.pdf has no text layer; export it as text or VTT."
        )
        assert "not a Slack address" in slack.fake.posted("DUALICE", "302.000")[-1]
        assert [c["filename"] for c in ingest.calls] == ["scanned.pdf"]
        assert [c.args["name"] for c in slack.fake.calls if c.method == "file_download"] == [
            "scanned.pdf"
        ]


async def test_no_ingestion_and_unknown_people(tmp_path: Path) -> None:
    async with slack_stack(tmp_path, ingest=None) as slack:
        file = slack.fake.add_file("F6", "call.vtt", TRANSCRIPT)
        await slack.event(direct_message("", ts="400.000", subtype="file_share", files=[file]))
        stranger_dm = direct_message(
            "", user=STRANGER.id, ts="401.000", subtype="file_share", files=[file]
        )
        await slack.event(stranger_dm)
        await slack.wait_for(lambda: slack.fake.to("chat.postEphemeral"), what="the refusal")
        await slack.wait_for(lambda: slack.fake.posted("DUALICE", "400.000"), what="the answer")
        await slack.settle()
        assert slack.fake.posted("DUALICE", "400.000") == [
            messages.INGEST_UNAVAILABLE.format(filename="call.vtt")
        ]
        assert [c for c in slack.fake.calls if c.method == "file_download"] == []
        assert ALICE.id not in {e["user"] for e in slack.fake.to("chat.postEphemeral")}


async def test_real_meeting_ingestion_from_a_slack_file_to_an_approval(tmp_path: Path) -> None:
    """channels.meetings end to end: the transcript is filed, the held amount change becomes a
    review card for Maria, and her click tells the outcome in the thread of the file."""
    steps = [{"agent": "meetings", "output": ACME_EXTRACTION}]
    async with slack_stack(tmp_path, steps=steps, real_meetings=True) as slack:
        data = (FIXTURES / "acme-2026-11-20.vtt").read_bytes()
        file = slack.fake.add_file("F9", "acme-2026-11-20.vtt", data)
        await slack.event(direct_message("", ts="900.000", subtype="file_share", files=[file]))
        summary = await slack.wait_for(
            lambda: [t for t in slack.fake.posted("DUALICE", "900.000") if "(vtt)" in t],
            what="the meeting summary",
        )
        await slack.settle()
        assert "acme-2026-11-20.vtt (vtt): Acme expansion sync, 2026-11-20" in summary[0]
        assert "pending_approval" in summary[0] and "u-maria" in summary[0]
        assert slack.model.remaining == 0
        [row] = slack.crm.reviews(reviewer_id="u-maria")
        assert row["arguments"] == {"opportunity_id": "opp-acme-1", "amount": 240000}
        assert row["thread_id"] == "slack:T0001:DUALICE:900.000"
        card = slack.card_of(row["id"], "D" + MARIA.id)
        await slack.click(cards.APPROVE, row["id"], user=MARIA.id, card=card)
        told = await slack.wait_for(
            lambda: [t for t in slack.fake.posted("DUALICE", "900.000") if "approved" in t],
            what="the outcome in the file's thread",
        )
        assert told[0].startswith("Maria Lopez approved:")
        opportunity = slack.crm.read(
            "get_opportunity", {"opportunity_id": "opp-acme-1"}, slack.crm.actor("u-alice")
        )
        assert float(opportunity["amount"]) == 240000
        # the same bytes shared again change nothing
        again = slack.fake.add_file("F10", "acme-copy.vtt", data)
        await slack.event(direct_message("", ts="901.000", subtype="file_share", files=[again]))
        repeat = await slack.wait_for(
            lambda: [t for t in slack.fake.posted("DUALICE", "901.000") if "(vtt)" in t],
            what="the second summary",
        )
        assert "Already ingested" in repeat[0]
