"""BM25 over the knowledge-base chunks, for Chinese and English alike, plus an evaluator of
Chroma-style `where` filters so lexical hits obey the same filters as vector hits."""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LexicalIndex", "matches_where", "tokenize"]

_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+(?:[.'’][a-z0-9]+)*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_EN_STOP = frozenset(
    "a an and are as at be by can do does for from has have how i if in is it its me my of on "
    "or our so than that the their them then there these this to was we were what when where "
    "which who why will with you your".split()
)
_ZH_STOP = frozenset(
    "的 了 是 在 和 与 及 或 吗 呢 吧 啊 也 都 就 而 被 把 对 从 给 让 我 你 他 她 它 我们 你们 "
    "他们 这 那 这个 那个 什么 多少 如何 怎么 怎样 哪些 哪个 是否 有 没有 要 需要 可以 能 会 "
    "吗？ 一个 之 其 以 于 为 将 中 上 下 个 请问".split()
)
_jieba_lock = threading.Lock()
_jieba_ready = False


def _jieba():
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_ready = True
    return jieba


def _stem(word: str) -> str:
    """A deliberately light English stemmer: plurals and common verb endings."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith("ed") and len(word) > 4:
        return word[:-2]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed English words and jieba search-mode Chinese words."""
    tokens: list[str] = []
    for run in _TOKEN.findall(text.lower()):
        if _CJK.match(run):
            for word in _jieba().cut_for_search(run):
                if word and word not in _ZH_STOP:
                    tokens.append(word)
        elif run not in _EN_STOP:
            tokens.append(_stem(run))
    return tokens


def _compare(value: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return value == operand
    if op == "$ne":
        return value != operand
    if op == "$in":
        return value in operand
    if op == "$nin":
        return value not in operand
    if op in ("$contains", "$not_contains"):
        present = isinstance(value, list | tuple) and operand in value
        return present if op == "$contains" else not present
    if value is None or isinstance(value, list | tuple):
        return False
    try:
        if op == "$gt":
            return value > operand
        if op == "$gte":
            return value >= operand
        if op == "$lt":
            return value < operand
        if op == "$lte":
            return value <= operand
    except TypeError:
        return False
    raise ValueError(f"Unsupported filter operator {op!r}.")


def matches_where(where: Mapping[str, Any] | None, metadata: Mapping[str, Any]) -> bool:
    """Evaluate a Chroma `where` filter against one metadata mapping."""
    if not where:
        return True
    for key, condition in where.items():
        if key == "$and":
            if not all(matches_where(c, metadata) for c in condition):
                return False
        elif key == "$or":
            if not any(matches_where(c, metadata) for c in condition):
                return False
        elif isinstance(condition, Mapping):
            value = metadata.get(key)
            if not all(_compare(value, op, operand) for op, operand in condition.items()):
                return False
        elif metadata.get(key) != condition:
            return False
    return True


@dataclass(frozen=True)
class _Compiled:
    """One immutable generation of the index; searches read it without locks."""

    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    row_of: dict[str, int]
    ptr: np.ndarray
    docs: np.ndarray
    weights: np.ndarray


_EMPTY = _Compiled(
    [], [], [], {}, np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32)
)


class LexicalIndex:
    """An in-memory BM25 index (Okapi, k1=1.2, b=0.75) stored column-wise in numpy arrays:
    a query costs one scatter-add per query term. Each chunk's term counts are cached by chunk
    id, so rebuilding after a change only tokenizes the new text, and compiling 100k chunks is
    a few numpy calls. Every rebuild publishes a new immutable generation, so searches never
    see a half-built index."""

    def __init__(self, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._vocab: dict[str, int] = {}
        self._terms: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._state = _EMPTY
        self._build_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._state.ids)

    @property
    def ids(self) -> list[str]:
        return self._state.ids

    @property
    def texts(self) -> list[str]:
        return self._state.texts

    @property
    def metadatas(self) -> list[dict[str, Any]]:
        return self._state.metadatas

    @property
    def row_of(self) -> dict[str, int]:
        return self._state.row_of

    def _term_arrays(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(tokenize(text))
        terms = np.fromiter(
            (self._vocab.setdefault(t, len(self._vocab)) for t in counts),
            dtype=np.int32,
            count=len(counts),
        )
        return terms, np.fromiter(counts.values(), dtype=np.float32, count=len(counts))

    def build(
        self,
        rows: Iterable[tuple[str, str, dict[str, Any]]],
        text_for_index: Callable[[str, dict[str, Any]], str],
    ) -> None:
        """Replace the whole index with `rows` (chunk id, text, metadata)."""
        with self._build_lock:
            ids, texts, metas = [], [], []
            for chunk_id, text, meta in rows:
                ids.append(chunk_id)
                texts.append(text)
                metas.append(meta)
                if chunk_id not in self._terms:
                    self._terms[chunk_id] = self._term_arrays(text_for_index(text, meta))
            self._publish(ids, texts, metas)

    def apply(
        self,
        *,
        upserts: Iterable[tuple[str, str, dict[str, Any]]] = (),
        deletes: Iterable[str] = (),
        text_for_index: Callable[[str, dict[str, Any]], str],
    ) -> None:
        """Patch the index with known changes instead of re-reading everything."""
        with self._build_lock:
            state = self._state
            gone = set(deletes)
            fresh = {chunk_id: (text, meta) for chunk_id, text, meta in upserts}
            for chunk_id in fresh:
                self._terms.pop(chunk_id, None)
            ids, texts, metas = [], [], []
            for chunk_id, text, meta in zip(state.ids, state.texts, state.metadatas, strict=True):
                if chunk_id not in gone and chunk_id not in fresh:
                    ids.append(chunk_id)
                    texts.append(text)
                    metas.append(meta)
            for chunk_id, (text, meta) in fresh.items():
                ids.append(chunk_id)
                texts.append(text)
                metas.append(meta)
                self._terms[chunk_id] = self._term_arrays(text_for_index(text, meta))
            self._publish(ids, texts, metas)

    def _publish(self, ids: list[str], texts: list[str], metas: list[dict[str, Any]]) -> None:
        self._terms = {chunk_id: self._terms[chunk_id] for chunk_id in ids}
        row_of = {chunk_id: row for row, chunk_id in enumerate(ids)}
        vocab_size = len(self._vocab)
        if not ids:
            self._state = _Compiled(
                ids,
                texts,
                metas,
                row_of,
                np.zeros(vocab_size + 1, np.int64),
                np.zeros(0, np.int32),
                np.zeros(0, np.float32),
            )
            return
        per_doc = [self._terms[chunk_id] for chunk_id in ids]
        lengths_terms = np.fromiter((len(t) for t, _ in per_doc), dtype=np.int64, count=len(ids))
        terms = np.concatenate([t for t, _ in per_doc])
        tf = np.concatenate([f for _, f in per_doc])
        docs = np.repeat(np.arange(len(ids), dtype=np.int32), lengths_terms)
        doc_len = np.bincount(docs, weights=tf, minlength=len(ids)).astype(np.float32)
        order = np.argsort(terms, kind="stable")
        terms, docs, tf = terms[order], docs[order], tf[order]
        df = np.bincount(terms, minlength=vocab_size).astype(np.float32)
        n = float(len(ids))
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        avgdl = float(doc_len.mean()) or 1.0
        norm = self.k1 * (1.0 - self.b + self.b * doc_len[docs] / avgdl)
        weights = (idf[terms] * tf * (self.k1 + 1.0) / (tf + norm)).astype(np.float32)
        ptr = np.concatenate([[0], np.cumsum(np.bincount(terms, minlength=vocab_size))])
        self._state = _Compiled(ids, texts, metas, row_of, ptr, docs, weights)

    def search(
        self, query: str, *, k: int, where: Mapping[str, Any] | None = None
    ) -> list[tuple[str, str, dict[str, Any], float]]:
        """Top-k (chunk id, text, metadata, score) among the chunks passing `where`."""
        state = self._state
        last_term = len(state.ptr) - 1
        term_ids = {
            tid
            for t in tokenize(query)
            if (tid := self._vocab.get(t)) is not None and tid < last_term
        }
        if not term_ids or not state.ids:
            return []
        scores = np.zeros(len(state.ids), dtype=np.float32)
        for term in term_ids:
            start, end = state.ptr[term], state.ptr[term + 1]
            scores[state.docs[start:end]] += state.weights[start:end]
        candidates = np.flatnonzero(scores)
        if not where and len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
        out: list[tuple[str, str, dict[str, Any], float]] = []
        for row in candidates:
            meta = state.metadatas[row]
            if where and not matches_where(where, meta):
                continue
            out.append((state.ids[row], state.texts[row], meta, float(scores[row])))
            if len(out) >= k:
                break
        return out

    def ids_mentioning(self, patterns: Sequence[re.Pattern[str]]) -> list[str]:
        """Chunks whose text or title matches one of the patterns."""
        state = self._state
        return [
            chunk_id
            for chunk_id, text, meta in zip(state.ids, state.texts, state.metadatas, strict=True)
            if any(p.search(text) or p.search(str(meta.get("title", ""))) for p in patterns)
        ]
