"""Where people talk to warroom: terminal, Slack, Teams, meeting notes, HTTP."""
