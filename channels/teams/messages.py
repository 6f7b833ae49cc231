"""Every sentence the Teams bot says on its own account, in one place."""

from __future__ import annotations

MISSING_CREDENTIALS = (
    "The Teams bot needs its app credentials: set WARROOM_TEAMS_APP_ID and "
    "WARROOM_TEAMS_APP_PASSWORD (or, for local testing only, WARROOM_TEAMS_SKIP_AUTH=true)."
)
SINGLE_TENANT_NEEDS_PASSWORD = (
    "A single-tenant Teams bot (WARROOM_TEAMS_APP_TENANT_ID) also needs WARROOM_TEAMS_APP_ID "
    "and WARROOM_TEAMS_APP_PASSWORD."
)
EMPTY_MESSAGE = "Ask me something about your accounts, deals, tickets or projects."
TURN_FAILED = "Something went wrong on my side while answering; please try again in a moment."
NOTHING_PENDING = "Nothing waits for your review."
SENDING_PENDING = "{count} request(s) wait for your review; the cards follow."
REVIEW_UNADDRESSED = (
    "Review %s waits for %s, who has not talked to the Teams bot yet and no review channel is "
    "set (WARROOM_TEAMS_REVIEW_CHANNEL); they can say 'pending' to the bot or use "
    "`warroom review`."
)

NOTHING_CHANGED = "Nothing was changed."
NOT_A_CARD_ACTION = (
    "That card submission is not a warroom review action (it has no 'warroom: review' marker); "
    "nothing was changed."
)
UNKNOWN_CARD_ACTION = (
    "The card action '{verb}' is not one I know (approve, reject or edit); nothing was changed."
)
MISSING_APPROVAL_ID = (
    "The card did not say which review request it is for (no approval_id); nothing was changed."
)
REJECT_NEEDS_REASON = (
    "Say why you reject it: write a reason in the Reason box, then press Reject again. "
    "Nothing was changed."
)

NOT_JSON = "Teams sends activities as JSON (Content-Type: application/json)."
BAD_ACTIVITY = "The activity is malformed: {error}."
MISSING_FIELD = "The activity has no '{field}'."
UNAUTHORIZED = "The request is not authorized: {error}."
PROCESSING_FAILED = "The bot could not process the activity; the error is in its log."
