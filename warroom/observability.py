"""Logging, the start-up line, and tracing: set up once, at the edge.

- `setup_logging()`: one configuration for every entry point, from WARROOM_LOG_LEVEL
  (DEBUG/INFO/WARNING/ERROR) and WARROOM_LOG_FORMAT (text|json), to stderr.
- `startup_line(settings)`: which model endpoint, database and vector store an entry point uses,
  and whether data leaves the machine.
- `setup_tracing()`: OpenTelemetry traces of each turn, exported over OTLP when
  OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise the API's no-op tracer (agents/tracing.py holds
  the span helpers the graph calls).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from warroom.settings import Settings

__all__ = ["JsonFormatter", "setup_logging", "setup_tracing", "startup_line"]

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_configured = False


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str | None = None, fmt: str | None = None) -> None:
    """Configure the root logger once, from the arguments or WARROOM_LOG_LEVEL/FORMAT.

    Read from the environment directly (not Settings) so a broken setting elsewhere still gets
    its error message logged; unknown values fall back to WARNING/text (Settings validation
    names them when the command loads its settings)."""
    global _configured
    level = (level or os.environ.get("WARROOM_LOG_LEVEL") or "WARNING").upper()
    fmt = (fmt or os.environ.get("WARROOM_LOG_FORMAT") or "text").lower()
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    if _configured:
        for old in [h for h in root.handlers if getattr(h, "_warroom", False)]:
            root.removeHandler(old)
    handler._warroom = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level if level in _LEVELS else "WARNING")
    # Chatty libraries stay at WARNING unless asked for DEBUG.
    for name in ("httpx", "httpcore", "chromadb", "urllib3", "aiohttp.access"):
        logging.getLogger(name).setLevel("DEBUG" if level == "DEBUG" else "WARNING")
    _configured = True


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def startup_line(settings: Settings, entry: str) -> str:
    """One line: model endpoint, database, vector store, and whether data leaves the machine."""
    if settings.uses_external_llm():
        model = f"model endpoint {settings.llm_base_url} ({settings.llm_model})"
    else:
        model = "model: embedded local (llama.cpp on 127.0.0.1)"
    store = (
        f"vector store {settings.chroma_url}"
        if settings.chroma_url
        else f"vector store: embedded Chroma in {settings.data_dir}"
    )
    leaves = []
    if settings.uses_external_llm():
        leaves.append("model requests")
    if settings.embeddings_base_url:
        leaves.append("embedding requests")
    if settings.chroma_url:
        leaves.append("knowledge chunks")
    if leaves:
        data = (
            f"data leaves this machine ({', '.join(leaves)}); PII masking "
            f"{'on' if settings.masks_pii() else 'OFF'}"
        )
    else:
        data = f"no data leaves this machine; PII masking {'on' if settings.masks_pii() else 'off'}"
    database = _redact(settings.resolved_database_url())
    return f"warroom {entry}: {model}; database {database}; {store}; {data}."


def announce(settings: Settings, entry: str) -> None:
    """Print the start-up line on stderr (stdout stays the command's own output)."""
    print(startup_line(settings, entry), file=sys.stderr, flush=True)


def setup_tracing() -> bool:
    """Install an OTLP-exporting tracer provider when OTEL_EXPORTER_OTLP_ENDPOINT is set.

    Returns True when traces are exported. Without the variable nothing is installed and the
    OpenTelemetry API's default no-op tracer makes every span free."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    if protocol.startswith("http"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "warroom")})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True
