"""The channel core Slack and Teams share; each chat channel is a thin adapter around it.

- `conversations`: which warroom thread a chat conversation is (`<channel>:<native id>`).
- `reviews`: the review card model (what a card says, whatever renders it), reading a
  reviewer's edited arguments, names of CRM users.
- `reviews`: also where a request's cards go and what each may show (`card_deliveries`).
- `locks`: per-key locks that are released when nobody holds them.
- `cache`: a time-limited cache of what a platform tells about people (emails).

Also shared, in their own modules one level up: the durable inbox (`channels.inbox`), the
delivery relay of cards and outcomes (`channels.relay`), who a chat user is
(`channels.identity`) and the HTTP guard (`channels.http_guard`).
"""
