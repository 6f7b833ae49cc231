"""Meeting-note ingestion: transcripts (WebVTT, SRT, plain text, JSON, Word) in, grounded CRM
updates out, per spec/meeting-notes.md. The CLI, a watched folder, the HTTP API and Slack file
shares all call `MeetingService`."""

from channels.meetings.errors import IngestError
from channels.meetings.result import IngestBatch, IngestFailure, MeetingResult
from channels.meetings.service import TRANSCRIPT_SUFFIXES, MeetingService

__all__ = [
    "TRANSCRIPT_SUFFIXES",
    "IngestBatch",
    "IngestError",
    "IngestFailure",
    "MeetingResult",
    "MeetingService",
]
