"""Every transcript format, and the mess real exports come in."""

from __future__ import annotations

import json

import pytest

from channels.meetings import IngestError
from channels.meetings.parsers import detect_format, parse_transcript

from .conftest import FIXTURES


def parse(name: str):  # type: ignore[no-untyped-def]
    return parse_transcript((FIXTURES / name).read_bytes(), name)


def test_webvtt_with_bom_crlf_voice_tags_notes_and_empty_cues() -> None:
    t = parse("acme-2026-11-20.vtt")
    assert t.format == "vtt"
    assert (t.title, str(t.date)) == ("Acme expansion sync", "2026-11-20")
    assert t.speakers == ["Alice Wong", "Jane Doe", "Raj Mehta"]
    assert t.segments[1].text.startswith("Happy to. Quick update")
    assert "</v>" not in " ".join(s.text for s in t.segments)
    assert len(t.segments) == 7  # the empty cue is gone
    assert t.duration_minutes == 21
    assert t.segments[1].start == 7.0 and t.segments[1].end == 15.0  # overlapping cue kept


def test_srt_uppercase_names_repeats_and_missing_speaker() -> None:
    t = parse("acme-followup.srt")
    assert t.format == "srt"
    texts = [s.text for s in t.segments]
    assert (
        texts.count("Sure. Legal approved the order form, so we are ready to move to negotiation.")
        == 1
    )  # the repeated rolling cue appears once
    assert t.segments[2].speaker is None  # unknown stays unknown
    assert t.segments[0].speaker == "ALICE WONG"


def test_plain_text_headers_timestamps_and_continuation_lines() -> None:
    t = parse("helix-checkin.txt")
    assert t.format == "txt"
    assert t.title == "Helix rollout check-in" and str(t.date) == "2026-11-18"
    assert t.attendees == ["Bob Stone <bob@warroom.example>", "Hank Moody <hank@helix.example>"]
    assert t.segments[1].text.endswith("We cannot go live until that is fixed.")
    assert t.segments[2].start == 580.0


def test_markdown_bold_speakers_and_heading_title() -> None:
    t = parse("acme-notes.md")
    assert t.title == "Acme pricing call" and str(t.date) == "2026-11-16"
    assert [s.speaker for s in t.segments] == ["Jane Doe", "Alice Wong", "Jane Doe"]


def test_json_object_with_segments_in_chinese() -> None:
    t = parse("huaxing-zh.json")
    assert t.format == "json" and t.title == "华星科技 企业版续约沟通"
    assert t.speakers == ["陈伟", "王芳"]
    assert "wang.fang@huaxing.example" in t.attendees[0]
    assert t.duration_minutes == 21


def test_json_list_skips_segments_without_text_keeps_unknown_speaker() -> None:
    t = parse("acme-list.json")
    assert [s.speaker for s in t.segments] == ["Jane Doe", "Alice Wong", None]


def test_gb18030_srt_with_full_width_colons() -> None:
    t = parse("huaxing-gbk.srt")
    assert t.speakers == ["陈伟", "王芳"]
    assert (
        t.segments[1].text == "很好。我们需要先做安全评估，然后再推进合同。"
    )  # lines joined, no space


def test_docx_paragraphs_title_and_date() -> None:
    t = parse("acme-security.docx")
    assert t.format == "docx"
    assert t.title == "Acme security review" and str(t.date) == "2026-11-19"
    assert [s.speaker for s in t.segments] == ["Jane Doe", "Alice Wong", "Raj Mehta"]


def test_wrong_extension_is_sniffed() -> None:
    t = parse("acme-captions.txt")
    assert t.format == "vtt" and t.speakers == []
    assert detect_format(b'[{"speaker": "A", "text": "x"}]', "call.vtt") == "json"
    assert detect_format(b"1\n00:00:01,000 --> 00:00:02,000\nhi\n", "call.txt") == "srt"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("empty.vtt", "the file is empty"),
        ("header-only.vtt", "holds no spoken text"),
        ("broken.json", "JSON transcript cannot be read"),
        ("picture.txt", "not a transcript (binary content)"),
    ],
)
def test_bad_files_get_a_clear_error_naming_the_file(name: str, words: str) -> None:
    with pytest.raises(IngestError) as caught:
        parse(name)
    assert caught.value.message.startswith(name) and words in caught.value.message


def test_broken_docx_and_json_without_segments() -> None:
    with pytest.raises(IngestError, match="Word document cannot be opened"):
        parse_transcript(b"PK\x03\x04word/" + b"\x00" * 50, "x.docx")
    with pytest.raises(IngestError, match="expected a list of segments"):
        parse_transcript(json.dumps({"title": "x"}).encode(), "x.json")


def test_utf16_and_cr_only_line_ends() -> None:
    text = "Jane Doe: hello there\rAlice Wong: 你好\r"
    t = parse_transcript(text.encode("utf-16"), "x.txt")
    assert [(s.speaker, s.text) for s in t.segments] == [
        ("Jane Doe", "hello there"),
        ("Alice Wong", "你好"),
    ]


def test_huge_transcript_parses_every_cue() -> None:
    cues = [
        f"{i}\n00:{i // 60 % 60:02d}:{i % 60:02d},000 --> 00:{i // 60 % 60:02d}:{i % 60:02d},900\n"
        f"Speaker {i % 3}: line {i}\n"
        for i in range(3000)
    ]
    t = parse_transcript("\n".join(cues).encode(), "big.srt")
    assert len(t.segments) == 3000
