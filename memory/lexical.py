"""BM25 over the knowledge-base chunks, for Chinese and English alike, plus an evaluator of
Chroma-style `where` filters so lexical hits obey the same filters as vector hits."""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
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


class LexicalIndex:
    """An in-memory BM25 index (Okapi, k1=1.2, b=0.75) stored column-wise in numpy arrays:
    a query costs one scatter-add per query term, so 100k chunks answer in about a millisecond.
    Token counts are cached per chunk id, so a rebuild after a change only tokenizes new text."""

    def __init__(self, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.metadatas: list[dict[str, Any]] = []
        self.row_of: dict[str, int] = {}
        self._counts: dict[str, Counter[str]] = {}
        self._vocab: dict[str, int] = {}
        self._ptr = np.zeros(1, dtype=np.int64)
        self._docs = np.zeros(0, dtype=np.int32)
        self._weights = np.zeros(0, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def build(self, rows: Iterable[tuple[str, str, dict[str, Any]]],
              text_for_index: Callable[[str, dict[str, Any]], str]) -> None:
        ids, texts, metas = [], [], []
        counts: dict[str, Counter[str]] = {}
        for chunk_id, text, meta in rows:
            ids.append(chunk_id)
            texts.append(text)
            metas.append(meta)
            cached = self._counts.get(chunk_id)
            counts[chunk_id] = (
                cached if cached is not None else Counter(tokenize(text_for_index(text, meta)))
            )
        self.ids, self.texts, self.metadatas, self._counts = ids, texts, metas, counts
        self.row_of = {chunk_id: row for row, chunk_id in enumerate(ids)}
        self._compile()

    def _compile(self) -> None:
        vocab: dict[str, int] = {}
        doc_col: list[int] = []
        term_col: list[int] = []
        tf_col: list[int] = []
        lengths = np.zeros(len(self.ids), dtype=np.float32)
        for doc, chunk_id in enumerate(self.ids):
            counter = self._counts[chunk_id]
            lengths[doc] = sum(counter.values())
            for term, tf in counter.items():
                doc_col.append(doc)
                term_col.append(vocab.setdefault(term, len(vocab)))
                tf_col.append(tf)
        self._vocab = vocab
        if not doc_col:
            self._ptr = np.zeros(1, dtype=np.int64)
            self._docs = np.zeros(0, dtype=np.int32)
            self._weights = np.zeros(0, dtype=np.float32)
            return
        terms = np.asarray(term_col, dtype=np.int32)
        order = np.argsort(terms, kind="stable")
        docs = np.asarray(doc_col, dtype=np.int32)[order]
        tf = np.asarray(tf_col, dtype=np.float32)[order]
        df = np.bincount(terms, minlength=len(vocab)).astype(np.float32)
        n = float(len(self.ids))
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        avgdl = float(lengths.mean()) or 1.0
        norm = self.k1 * (1.0 - self.b + self.b * lengths[docs] / avgdl)
        sorted_terms = terms[order]
        self._weights = (idf[sorted_terms] * tf * (self.k1 + 1.0) / (tf + norm)).astype(np.float32)
        self._docs = docs
        self._ptr = np.concatenate([[0], np.cumsum(np.bincount(terms, minlength=len(vocab)))])

    def search(self, query: str, *, k: int,
               where: Mapping[str, Any] | None = None) -> list[tuple[int, float]]:
        """Top-k (row, score) pairs among the chunks passing `where`."""
        term_ids = {self._vocab[t] for t in tokenize(query) if t in self._vocab}
        if not term_ids or not self.ids:
            return []
        scores = np.zeros(len(self.ids), dtype=np.float32)
        for term in term_ids:
            start, end = self._ptr[term], self._ptr[term + 1]
            scores[self._docs[start:end]] += self._weights[start:end]
        candidates = np.flatnonzero(scores)
        if not where and len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
        out: list[tuple[int, float]] = []
        for row in candidates:
            if where and not matches_where(where, self.metadatas[row]):
                continue
            out.append((int(row), float(scores[row])))
            if len(out) >= k:
                break
        return out

    def rows_mentioning(self, patterns: Sequence[re.Pattern[str]]) -> list[int]:
        return [
            row for row, text in enumerate(self.texts)
            if any(p.search(text) for p in patterns)
        ]


