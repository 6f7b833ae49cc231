"""Every sentence the Slack channel says to people, written once."""

from __future__ import annotations

# How a reviewer's edited arguments are refused is the same in every channel.
from channels.core import progress
from channels.core.messages import (  # noqa: F401  (re-exported)
    ARGUMENTS_EMPTY,
    ARGUMENTS_NOT_JSON,
    ARGUMENTS_NOT_OBJECT,
)

WORKING = progress.WORKING  # one status headline for every channel
HELP = (
    "Ask me about accounts, deals, tickets and projects, e.g. `/warroom what's open with Acme?`. "
    "`/warroom pending` lists the review requests waiting for you. Mention me in a channel or "
    "message me directly for a threaded conversation; share a meeting transcript with me to "
    "have it filed."
)
NOTHING_PENDING = "Nothing waits for your review."
INGEST_UNAVAILABLE = (
    "Transcript ingestion is not available in this deployment, so I cannot file {filename}."
)
INGEST_FAILED = "I could not ingest {filename}: {reason}"
INGEST_INTERNAL = (
    "I could not ingest {filename} because of an internal error; the logs have details."
)
TURN_INTERNAL = "Something went wrong on my side while answering; the logs have details."
FULL_ANSWER_ATTACHED = "The answer is long; the full text is attached."
ALREADY_DECIDED = "Already {status} by {who} at {when}: nothing was applied again."
REVIEW_GONE = "There is no review request {approval_id}."
NOT_YOUR_REVIEW = "Only {who} may decide review request {approval_id}; nothing was changed."
REASON_REQUIRED = "Say why you reject the request; the requester will read it."
DECISION_FAILED = "Your decision on {approval_id} did not go through: {reason}"
REVIEW_UNADDRESSED = (
    "Review request {approval_id} waits for {who}, who has no Slack account I can find; "
    "they can decide it with `warroom review`."
)


def _size(count: int) -> str:
    if count < 1_000:
        return f"{count} bytes"
    if count < 1_000_000:
        return f"{count / 1_000:.1f} kB"
    return f"{count / 1_000_000:.1f} MB"


def file_too_large(filename: str, size: int | None, limit: int) -> str:
    how_big = f"it is {_size(size)}" if size is not None else "it is larger than that"
    return f"I could not ingest {filename}: the limit is {_size(limit)} and {how_big}."


def file_unreadable(filename: str, detail: str) -> str:
    return f"I could not download {filename} from Slack ({detail})."


class SlackStartError(Exception):
    """The Slack server cannot start; the message is one sentence for the operator."""


def missing_settings(names: list[str], socket_mode: bool) -> str:
    what = {
        "WARROOM_SLACK_BOT_TOKEN": "the bot token xoxb-… from OAuth & Permissions",
        "WARROOM_SLACK_SIGNING_SECRET": "the signing secret from Basic Information",
        "WARROOM_SLACK_APP_TOKEN": "an app-level token xapp-… with connections:write",
    }
    mode = "Socket Mode" if socket_mode else "HTTP mode"
    listed = " and ".join(f"{name} ({what[name]})" for name in names)
    return f"The Slack app cannot start in {mode}: set {listed}."


def wrong_token_kind(name: str, prefix: str) -> str:
    return f"{name} does not look right: it should start with '{prefix}'."


def token_refused(error: str | None) -> str:
    return (
        f"Slack refused WARROOM_SLACK_BOT_TOKEN ({error or 'no reason given'}); copy the bot "
        "token again from the app's OAuth & Permissions page."
    )


def api_unreachable(api_url: str, exc: BaseException) -> str:
    return (
        f"The Slack Web API at {api_url} could not be reached ({type(exc).__name__}); check the "
        "network or WARROOM_SLACK_API_URL."
    )
