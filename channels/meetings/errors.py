"""Errors of meeting-note ingestion; every message is one sentence naming the file and the fault.

The wording lives here, once, so the CLI, the HTTP API and Slack say the same thing."""

from __future__ import annotations

__all__ = ["IngestError", "messages"]


class IngestError(Exception):
    """A transcript that cannot be ingested. `message` names the file and the reason;
    `status` is the HTTP status the API answers with."""

    def __init__(self, message: str, *, filename: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.filename = filename
        self.status = status

    def __str__(self) -> str:
        return self.message


class messages:  # noqa: N801  (a namespace of sentence builders)
    @staticmethod
    def empty(name: str) -> str:
        return f"{name}: the file is empty; there is no transcript to read."

    @staticmethod
    def too_large(name: str, size: int | None, limit: int) -> str:
        got = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
        return (
            f"{name}: the file is {got}; the limit is {limit:,} bytes "
            "(WARROOM_INGEST_MAX_BYTES). Split the transcript or raise the limit."
        )

    @staticmethod
    def binary(name: str) -> str:
        return (
            f"{name}: this is not a transcript (binary content); send WebVTT, SRT, plain text, "
            "JSON or Word (.docx)."
        )

    @staticmethod
    def undecodable(name: str) -> str:
        return f"{name}: the text is not in a readable encoding (tried UTF-8, UTF-16, GB18030)."

    @staticmethod
    def no_speech(name: str, fmt: str) -> str:
        return f"{name}: read as {fmt}, but it holds no spoken text."

    @staticmethod
    def bad_json(name: str, detail: str) -> str:
        return f"{name}: the JSON transcript cannot be read ({detail})."

    @staticmethod
    def bad_docx(name: str, detail: str) -> str:
        return f"{name}: the Word document cannot be opened ({detail})."

    @staticmethod
    def unreadable(name: str, detail: str) -> str:
        return f"{name}: cannot read the file ({detail})."

    @staticmethod
    def not_found(name: str) -> str:
        return f"{name}: there is no such file or folder."

    @staticmethod
    def unknown_user(user_id: str) -> str:
        return f"There is no warroom user '{user_id}', so nothing can be ingested on their behalf."

    @staticmethod
    def no_account(name: str, account_id: str) -> str:
        # The same words whether the account does not exist or is not the user's to see.
        return f"{name}: there is no account '{account_id}' that you can see."

    @staticmethod
    def hidden_account(name: str) -> str:
        return (
            f"{name}: the meeting is about an account you cannot see; nothing was read from it "
            "or written. Ask the account's owner to ingest it."
        )

    @staticmethod
    def other_account(name: str, account_id: str) -> str:
        return (
            f"{name}: the meeting is not about '{account_id}' — its people, e-mail addresses or "
            "the names said point at another account; nothing was applied. Check the file and "
            "--account."
        )
