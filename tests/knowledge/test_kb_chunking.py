from __future__ import annotations

from memory.chunking import (
    MAX_TOKENS,
    chunk_markdown,
    detect_language,
    estimate_tokens,
    split_front_matter,
)


def test_sections_follow_headings_and_h1_is_the_title() -> None:
    text = "# Title\n\nIntro.\n\n## A\n\nAlpha.\n\n### A1\n\nDeep.\n\n## B\n\nBeta."
    chunks = chunk_markdown(text, title="Title")
    assert [(c.section, c.section_path) for c in chunks] == [
        (None, ""),
        ("A", "A"),
        ("A1", "A > A1"),
        ("B", "B"),
    ]
    assert chunks[2].embedding_text("Title").startswith("Title — A > A1\n")


def test_hash_in_code_fence_is_not_a_heading() -> None:
    text = "## Setup\n\n```\n# not a heading\n```\n"
    chunks = chunk_markdown(text, title="T")
    assert len(chunks) == 1 and "# not a heading" in chunks[0].text


def test_long_sections_split_with_overlap_and_bounded_size() -> None:
    sentences = [f"Sentence number {i} talks about renewal uplift rules." for i in range(80)]
    chunks = chunk_markdown("## Long\n\n" + " ".join(sentences), title="T")
    assert len(chunks) > 2
    assert all(estimate_tokens(c.text) <= MAX_TOKENS + 5 for c in chunks)
    assert all(c.section == "Long" for c in chunks)
    for previous, current in zip(chunks, chunks[1:], strict=False):
        last_sentence = previous.text.rsplit("Sentence number", 1)[-1]
        assert last_sentence in current.text  # the overlap carries the boundary sentence


def test_long_tables_repeat_their_header() -> None:
    rows = "\n".join(
        f"| Item {i} | {i * 10} USD per seat per month for this line |" for i in range(60)
    )
    chunks = chunk_markdown(f"## Prices\n\n| Item | Price |\n|---|---|\n{rows}", title="T")
    assert len(chunks) > 1
    assert all(c.text.startswith("| Item | Price |\n|---|---|") for c in chunks)


def test_chinese_text_is_chunked_and_detected() -> None:
    text = "## 审批\n\n" + "折扣超过百分之十五的报价必须先经销售经理审批。" * 40
    chunks = chunk_markdown(text, title="折扣政策")
    assert len(chunks) > 1 and {c.language for c in chunks} == {"zh"}
    assert all(estimate_tokens(c.text) <= MAX_TOKENS + 5 for c in chunks)


def test_language_detection() -> None:
    assert detect_language("P1 response within one hour") == "en"
    assert detect_language("Beacon Enterprise 版本支持 SCIM 用户同步和单点登录") == "zh"


def test_content_hash_depends_on_text_and_context() -> None:
    a = chunk_markdown("## A\n\nSame text.", title="T")[0]
    b = chunk_markdown("## B\n\nSame text.", title="T")[0]
    c = chunk_markdown("## A\n\nSame text.", title="T")[0]
    assert a.content_hash != b.content_hash and a.content_hash == c.content_hash


def test_front_matter_split() -> None:
    meta, body = split_front_matter("---\ntitle: X\naccess: [a]\n---\n# X\nbody")
    assert meta == {"title": "X", "access": ["a"]} and body.startswith("# X")
    assert split_front_matter("# no front matter") == ({}, "# no front matter")
