from __future__ import annotations

import pytest

from memory.knowledge import KnowledgeBase
from memory.lexical import LexicalIndex, matches_where, tokenize
from memory.store import chroma_client

DOCS = [
    {
        "id": "sla",
        "title": "Support SLA policy",
        "source": "sla-policy.md",
        "text": "## Targets\n\nP1 incidents: first response in 1 hour, resolution in 8 hours.\n\n"
        "## Credits\n\nEvery SLA credit needs support-lead approval.",
    },
    {
        "id": "onboarding",
        "title": "Onboarding playbook",
        "source": "onboarding.md",
        "text": "## Timeline\n\nStandard go-live is 6-8 weeks after the kickoff call.",
    },
    {
        "id": "zh-sla",
        "title": "技术支持服务等级政策",
        "source": "zh-sla.md",
        "text": "## 响应时限\n\nP1 紧急工单首次响应 1 小时，解决时限 8 小时。\n\n"
        "## 服务积分\n\n所有 SLA 积分必须先经过支持主管审批。",
    },
    {
        "id": "zh-onboarding",
        "title": "实施与上线指南",
        "source": "zh-onboarding.md",
        "text": "## 标准上线周期\n\n标准上线时间为启动会后 6–8 周。",
    },
    {
        "id": "margins",
        "title": "Margin guidance",
        "source": "margins.md",
        "access": ["sales_manager"],
        "text": "## Floor prices\n\nAgainst Initech never go below USD 45 per seat on Growth.",
    },
    {
        "id": "globex",
        "title": "Battlecard — Globex",
        "source": "globex.md",
        "metadata": {"category": "competitive"},
        "text": "## Weaknesses\n\nGlobex implementations take 4-6 months.",
    },
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, embedder) -> KnowledgeBase:
    """Shared by the read-only tests of this module."""
    kb = KnowledgeBase(
        client=chroma_client(data_dir=tmp_path_factory.mktemp("kb")), embedder=embedder
    )
    assert len(kb.add_documents(DOCS).added) == len(DOCS)
    return kb


@pytest.fixture
def fresh(kb: KnowledgeBase) -> KnowledgeBase:
    """A private copy for tests that delete."""
    kb.add_documents(DOCS)
    return kb


@pytest.mark.parametrize("mode", ["hybrid", "vector", "lexical"])
@pytest.mark.parametrize(
    ("query", "source", "section"),
    [
        ("How fast must we answer a P1 incident?", "sla-policy.md", "Targets"),
        ("who approves SLA credits", "sla-policy.md", "Credits"),
        ("P1 工单多久必须首次响应", "zh-sla.md", "响应时限"),
        ("标准上线需要几周", "zh-onboarding.md", "标准上线周期"),
        ("SLA 积分谁来审批", "zh-sla.md", "服务积分"),
    ],
)
def test_english_and_chinese_queries(
    loaded: KnowledgeBase, mode: str, query: str, source: str, section: str
) -> None:
    hits = loaded.search(query, k=3, mode=mode)  # type: ignore[arg-type]
    assert (hits[0].source, hits[0].section) == (source, section)
    assert all(h.score > 0 for h in hits)


def test_cross_language_vector_retrieval(loaded: KnowledgeBase) -> None:
    sources = [h.source for h in loaded.search("上线周期", k=3, mode="vector")]
    assert "onboarding.md" in sources or "zh-onboarding.md" in sources


def test_hybrid_scores_are_fused_ranks(loaded: KnowledgeBase) -> None:
    hits = loaded.search("P1 response 1 hour", k=4)
    assert hits[0].score <= 1.0 and [h.score for h in hits] == sorted(
        (h.score for h in hits), reverse=True
    )


def test_metadata_filters(loaded: KnowledgeBase) -> None:
    for mode in ("hybrid", "vector", "lexical"):
        zh = loaded.search("P1 8 小时 hours", k=10, where={"language": "zh"}, mode=mode)
        assert zh and {h.language for h in zh} == {"zh"}
        one = loaded.search("P1", k=10, where={"source": "sla-policy.md"}, mode=mode)
        assert {h.source for h in one} == {"sla-policy.md"}
    both = loaded.search(
        "implementations", k=10, where={"category": "competitive", "language": "en"}
    )
    assert [h.source for h in both] == ["globex.md"]


@pytest.mark.parametrize("mode", ["hybrid", "vector", "lexical"])
def test_access_tags(loaded: KnowledgeBase, mode: str) -> None:
    query = "floor price against Initech"

    def sources(roles):
        return {h.source for h in loaded.search(query, k=10, roles=roles, mode=mode)}

    assert "margins.md" not in sources(["rep"])
    assert "margins.md" not in sources([])
    assert "margins.md" in sources(["rep", "sales_manager"])
    assert "margins.md" in sources(["admin"])
    assert "margins.md" in sources(None)  # system use: no filtering


def test_access_tags_combine_with_filters(loaded: KnowledgeBase) -> None:
    hits = loaded.search("floor price", k=10, roles=["rep"], where={"source": "margins.md"})
    assert hits == []


def test_delete_where_and_erase_mentions(fresh: KnowledgeBase) -> None:
    loaded = fresh
    assert loaded.delete_where({"source": "globex.md"}) == 1
    assert all(h.source != "globex.md" for h in loaded.search("Globex", k=10))
    with pytest.raises(ValueError):
        loaded.delete_where({})
    assert loaded.erase_text_mentions(["SUPPORT-LEAD"]) == 1
    assert loaded.erase_text_mentions(["支持主管"]) == 1
    assert loaded.erase_text_mentions(["lead"]) == 0  # whole words only
    assert all("support-lead" not in h.text for h in loaded.search("credit approval", k=10))


def test_empty_query_and_empty_store(kb: KnowledgeBase) -> None:
    assert kb.search("anything") == []
    assert kb.search("   ") == []
    with pytest.raises(ValueError):
        kb.search("x", mode="fuzzy")  # type: ignore[arg-type]


def test_tokenizer_handles_both_languages() -> None:
    tokens = tokenize("Discounts above 15% need 销售经理审批")
    assert "discount" in tokens and "15" in tokens and "销售" in tokens and "审批" in tokens
    assert "above" in tokens and "the" not in tokenize("the")


def test_where_evaluator_matches_chroma_semantics() -> None:
    meta = {"language": "zh", "updated_ts": 10, "access": ["sales_manager"], "restricted": True}
    assert matches_where({"$and": [{"language": "zh"}, {"updated_ts": {"$gte": 5}}]}, meta)
    allowed = {"$or": [{"restricted": False}, {"access": {"$contains": "sales_manager"}}]}
    assert matches_where(allowed, meta)
    assert not matches_where({"language": {"$in": ["en"]}}, meta)
    assert matches_where({"language": {"$nin": ["en"]}}, meta)
    assert not matches_where({"access": {"$contains": "rep"}}, meta)


def test_patched_bm25_index_equals_a_fresh_build() -> None:
    def text(body: str, _meta: dict) -> str:
        return body

    rows = [(f"c{i}", f"renewal uplift rule {i} 续约 涨价 {i % 3}", {"n": i}) for i in range(30)]
    patched = LexicalIndex()
    patched.build(rows[:20], text)
    patched.apply(
        upserts=rows[20:] + [("c3", "replaced text about discounts", {"n": 3})],
        deletes=["c5", "c6"],
        text_for_index=text,
    )
    expected = [r for r in rows if r[0] not in {"c3", "c5", "c6"}]
    expected.append(("c3", "replaced text about discounts", {"n": 3}))
    fresh = LexicalIndex()
    fresh.build(expected, text)
    for query in ("renewal uplift 7", "续约涨价", "discounts"):
        got = patched.search(query, k=10)
        want = fresh.search(query, k=10)
        assert [(cid, round(score, 4)) for cid, _, _, score in got] == [
            (cid, round(score, 4)) for cid, _, _, score in want
        ]
    assert patched.search("discounts", k=5)[0][0] == "c3"
    assert "c5" not in patched.row_of and len(patched) == 28
