"""One way to reach Chroma: an embedded `PersistentClient` under the data directory, or a Chroma
server through `HttpClient` when a URL is configured. Telemetry is always off."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["chroma_client"]

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def chroma_client(*, data_dir: Path, chroma_url: str | None = None):
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
        ssl = url.scheme == "https"
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if ssl else 8000),
            ssl=ssl,
            settings=settings,
        )
    path = Path(data_dir).expanduser() / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)
