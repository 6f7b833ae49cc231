"""App manifests from the settings: the Slack app manifest (YAML) and the Teams app package
(manifest.json with two icons, zipped). `warroom slack manifest` / `warroom teams manifest`."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import yaml

from warroom.settings import Settings

__all__ = ["SLACK_BOT_SCOPES", "slack_manifest", "teams_manifest", "teams_package"]

SLACK_EVENTS_PATH = "/slack/events"
TEAMS_MESSAGES_PATH = "/api/messages"
# What the Slack channel calls (channels/slack/*), each with the reason (docs/SLACK.md).
SLACK_BOT_SCOPES = (
    "app_mentions:read",  # mentions in channels
    "chat:write",  # answers, status edits, cards, private notes
    "im:history",  # direct messages to the bot
    "im:write",  # open a DM with a reviewer for their cards
    "users:read",  # who wrote (users.info)
    "users:read.email",  # map Slack users to CRM users by email
    "files:read",  # download transcripts shared with the bot
    "files:write",  # attach very long answers as a file
    "commands",  # /warroom
)
ACCENT = (0x2F, 0x55, 0x97)


def slack_manifest(settings: Settings, *, public_url: str | None, socket_mode: bool) -> str:
    """The Slack app manifest (YAML). HTTP mode needs the server's public HTTPS address."""
    if not socket_mode and not public_url:
        raise ValueError(
            "HTTP mode needs the server's public address: --url https://your.host "
            "(or --socket for Socket Mode)."
        )
    events = None if socket_mode else f"{str(public_url).rstrip('/')}{SLACK_EVENTS_PATH}"
    command: dict[str, Any] = {
        "command": "/warroom",
        "description": 'Ask warroom privately; "pending" lists your review requests',
        "usage_hint": "what's open with Acme? | pending | help",
        "should_escape": False,
    }
    if events:
        command = {
            "command": "/warroom",
            "url": events,
            **{k: v for k, v in command.items() if k != "command"},
        }
    settings_part: dict[str, Any] = {
        "event_subscriptions": {"bot_events": ["app_mention", "message.im"]},
        "interactivity": {"is_enabled": True},
        "org_deploy_enabled": False,
        "socket_mode_enabled": socket_mode,
        "token_rotation_enabled": False,
    }
    if events:
        settings_part["event_subscriptions"] = {
            "request_url": events,
            **settings_part["event_subscriptions"],
        }
        settings_part["interactivity"]["request_url"] = events
    manifest = {
        "display_information": {
            "name": "warroom",
            "description": "Sales, service and delivery agents on your CRM, with humans "
            "approving risky steps.",
        },
        "features": {
            "app_home": {"messages_tab_enabled": True, "messages_tab_read_only_enabled": False},
            "bot_user": {"display_name": "warroom", "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(SLACK_BOT_SCOPES)}},
        "settings": settings_part,
    }
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)


def teams_manifest(
    settings: Settings, *, developer: str, website: str, version: str
) -> dict[str, Any]:
    """The Teams app manifest (schema 1.16) for the bot of WARROOM_TEAMS_APP_ID."""
    app_id = settings.teams_app_id
    if not app_id:
        raise ValueError("Set WARROOM_TEAMS_APP_ID (the bot's Microsoft App ID) first.")
    site = website.rstrip("/")
    return {
        "$schema": "https://developer.microsoft.com/en-us/json-schemas/teams/v1.16/"
        "MicrosoftTeams.schema.json",
        "manifestVersion": "1.16",
        "version": version,
        "id": app_id,
        "developer": {
            "name": developer,
            "websiteUrl": site,
            "privacyUrl": f"{site}/privacy",
            "termsOfUseUrl": f"{site}/terms",
        },
        "name": {"short": "warroom", "full": "warroom CRM assistant"},
        "description": {
            "short": "CRM war room assistant",
            "full": "Sales, service and delivery agents on your CRM, with humans approving "
            "risky steps.",
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal", "team", "groupchat"],
                "supportsFiles": False,
                "isNotificationOnly": False,
            }
        ],
        "validDomains": [],
    }


def _png(size: int, rgba: tuple[int, int, int, int], *, border: bool = False) -> bytes:
    """A square PNG of one colour (or a white outline on transparent), without Pillow."""
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            edge = x < 2 or y < 2 or x >= size - 2 or y >= size - 2
            pixel = rgba if (not border or edge) else (0, 0, 0, 0)
            row += bytes(pixel)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def teams_package(
    settings: Settings, out: Path, *, developer: str, website: str, version: str = "1.0.0"
) -> Path:
    """Write the app package (manifest.json, color.png 192×192, outline.png 32×32) as a zip."""
    manifest = teams_manifest(settings, developer=developer, website=website, version=version)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        package.writestr("color.png", _png(192, (*ACCENT, 255)))
        package.writestr("outline.png", _png(32, (255, 255, 255, 255), border=True))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buffer.getvalue())
    return out
