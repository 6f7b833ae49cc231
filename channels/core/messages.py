"""Sentences every chat channel says the same way, in one place."""

from __future__ import annotations

ARGUMENTS_NOT_JSON = "This is not valid JSON: {problem} (line {line}, column {column})."
ARGUMENTS_NOT_OBJECT = 'The arguments must be a JSON object such as {{"percent": 18}}.'
ARGUMENTS_EMPTY = "Give the arguments to change."
