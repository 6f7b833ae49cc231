"""Transcript files → segments (speaker, start, end, text).

Formats: WebVTT, SubRip, `Speaker: words` plain text and Markdown, JSON (a list of segments or
an object holding one under `segments`/`transcript`/`utterances`), Word (.docx). The content
decides the format, the file name is only a hint: exports arrive with wrong extensions.

WebVTT and SRT are parsed here by one cue reader rather than with webvtt-py or srt: the two
formats share their cue grammar, and real exports break both libraries' assumptions in the
same ways (a missing `WEBVTT` header, SRT without indexes or with dots for commas, hour-less
timestamps, `<v Speaker>` voice tags next to `Speaker:` prefixes, overlapping and repeated
rolling cues). The libraries raise on the first such cue (or drop it silently with
`ignore_errors`); this reader keeps every line of speech and reads the file line by line.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import date as _Date
from typing import Any, Literal

from channels.meetings.errors import IngestError, messages

__all__ = ["Segment", "Transcript", "Format", "decode", "detect_format", "parse_transcript"]

Format = Literal["vtt", "srt", "txt", "json", "docx"]


@dataclass(frozen=True, slots=True)
class Segment:
    speaker: str | None
    start: float | None
    end: float | None
    text: str


@dataclass(slots=True)
class Transcript:
    format: Format
    segments: list[Segment]
    title: str | None = None
    date_text: str | None = None  # the meeting date as the file states it (read by the service)
    started_at: datetime | None = None
    attendees: list[str] = field(default_factory=list)  # "Name <email>" or names, from headers

    @property
    def date(self) -> _Date | None:
        """The stated meeting date, numeric dates read day first (see `meeting_date`)."""
        return self.meeting_date()

    def meeting_date(self, *, day_first: bool = True) -> _Date | None:
        return parse_meeting_date(self.date_text, day_first=day_first)

    @property
    def duration_minutes(self) -> int | None:
        starts = [s.start for s in self.segments if s.start is not None]
        ends = [
            e for s in self.segments if (e := s.end if s.end is not None else s.start) is not None
        ]
        if not starts or not ends:
            return None
        return max(0, round((max(ends) - min(starts)) / 60))

    @property
    def speakers(self) -> list[str]:
        return list(dict.fromkeys(s.speaker for s in self.segments if s.speaker))

    def lines(self) -> list[str]:
        return [f"{s.speaker or 'Unknown'}: {s.text}" for s in self.segments]


# ---------------------------------------------------------------- decoding and sniffing

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode(data: bytes, name: str) -> str:
    """Bytes → text with LF line ends: BOMs honoured, then UTF-8, then GB18030 (Chinese
    Windows exports), which accepts nearly anything, so binary is refused before."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
                break
            except UnicodeDecodeError as exc:
                raise IngestError(messages.undecodable(name), filename=name) from exc
    else:
        if b"\x00" in data[:4096]:
            raise IngestError(messages.binary(name), filename=name, status=415)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError as exc:
                raise IngestError(messages.undecodable(name), filename=name) from exc
    if "\x00" in text:
        raise IngestError(messages.binary(name), filename=name, status=415)
    controls = sum(
        1 for ch in text[:4096] if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f"
    )
    if controls > 8:
        raise IngestError(messages.binary(name), filename=name, status=415)
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


_TIMING = re.compile(
    r"^\s*(?P<start>(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?)\s*-->\s*"
    r"(?P<end>(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?)"
)


def detect_format(data: bytes, name: str) -> Format:
    """What the content is, whatever the extension says."""
    if data[:4] == b"PK\x03\x04":
        if b"word/" in data[:65536] or name.lower().endswith(".docx"):
            return "docx"
        raise IngestError(messages.binary(name), filename=name, status=415)
    head = data[:65536].lstrip(b"\xef\xbb\xbf\xff\xfe\r\n\t ")
    if head[:1] in (b"[", b"{"):
        return "json"
    text = decode(data[:65536], name) if data[:65536] else ""
    stripped = text.lstrip()
    if stripped.startswith("WEBVTT"):
        return "vtt"
    timings = [m for m in (_TIMING.match(line) for line in text.splitlines()[:400]) if m]
    if timings:
        comma = sum("," in m.group("start") for m in timings)
        return "srt" if comma * 2 >= len(timings) else "vtt"
    return "txt"


# ---------------------------------------------------------------- cues (WebVTT and SRT)


def _seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    total = 0.0
    for part in parts:
        total = total * 60 + float(part)
    return total


_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|\{\\[^}]*\}")
_NUMBER_LINE = re.compile(r"^\d+$")
_SPEAKER_PREFIX = re.compile(
    r"^\s*(?:[-–>]+\s*)?(?:\[(?P<b>[^\]]{1,60})\]|(?P<n>[^:：\[\]<>{}]{1,60}?))\s*[:：]\s+(?P<t>.*)$"
)
_SPEAKER_PREFIX_CJK = re.compile(r"^\s*(?P<n>[^:：\s\[\]<>{}]{1,20})\s*[:：]\s*(?P<t>.+)$")


def _looks_like_name(name: str) -> bool:
    name = name.strip().strip("*_").strip()
    if not name or len(name) > 60 or name[0].isdigit():
        return False
    if re.search(r"https?|www\.|[?!.;,]$|\d{1,2}:\d{2}", name):
        return False
    words = name.split()
    return len(words) <= 5


def split_speaker(line: str) -> tuple[str | None, str]:
    """'Jane Doe: text' → ('Jane Doe', 'text'); lines without a plausible name keep it None."""
    for pattern in (_SPEAKER_PREFIX, _SPEAKER_PREFIX_CJK):
        match = pattern.match(line)
        if match:
            name = (match.groupdict().get("b") or match.group("n") or "").strip().strip("*_ ")
            if _looks_like_name(name):
                return name, match.group("t").strip().strip("*_ ").strip()
    return None, line.strip()


def _cue_blocks(lines: Iterable[str]) -> Iterator[list[str]]:
    block: list[str] = []
    for line in lines:
        if line.strip():
            block.append(line.rstrip())
        elif block:
            yield block
            block = []
    if block:
        yield block


def parse_cues(text: str) -> list[Segment]:
    """Cues of WebVTT or SRT, in time order, with rolling repeats and empty cues dropped."""
    segments: list[Segment] = []
    for block in _cue_blocks(text.split("\n")):
        timing_at = next((i for i, line in enumerate(block) if _TIMING.match(line)), None)
        if timing_at is None:
            continue  # WEBVTT header, NOTE/STYLE/REGION blocks, stray indexes
        match = _TIMING.match(block[timing_at])
        assert match is not None
        start, end = _seconds(match.group("start")), _seconds(match.group("end"))
        body = [ln for ln in block[timing_at + 1 :] if not _TIMING.match(ln)]
        speaker: str | None = None
        parts: list[str] = []
        for raw in body:
            voice = _VOICE.search(raw)
            if voice:
                speaker = voice.group(1).strip()
            line = _TAG.sub("", raw).strip()
            if not line or (_NUMBER_LINE.match(line) and not parts):
                continue
            named, rest = split_speaker(line)
            if named and not parts and speaker is None:
                speaker, line = named, rest
            if line:
                parts.append(line)
        words = " ".join(parts).strip()
        if not words:
            continue
        segments.append(Segment(speaker, start, max(end, start), _join_cjk(words)))
    segments.sort(key=lambda s: s.start or 0.0)
    return _drop_repeats(segments)


def _join_cjk(text: str) -> str:
    # Lines of a Chinese cue are split without meaning a space between them.
    return re.sub(r"(?<=[\u3000-\u9fff\uff00-\uffef]) (?=[\u3000-\u9fff\uff00-\uffef])", "", text)


def _drop_repeats(segments: list[Segment]) -> list[Segment]:
    kept: list[Segment] = []
    for segment in segments:
        previous = kept[-1] if kept else None
        if previous and previous.speaker == segment.speaker:
            if segment.text == previous.text:
                continue
            if (
                segment.text.startswith(previous.text)
                and previous.end is not None
                and (segment.start is not None and segment.start <= previous.end + 0.5)
            ):  # rolling caption: the cue grows; keep the longer one
                kept[-1] = Segment(segment.speaker, previous.start, segment.end, segment.text)
                continue
        kept.append(segment)
    return kept


# ---------------------------------------------------------------- plain text and Markdown

_HEADER_KEYS = {
    "title": "title",
    "subject": "title",
    "meeting": "title",
    "标题": "title",
    "会议": "title",
    "主题": "title",
    "date": "date",
    "日期": "date",
    "时间": "date",
    "attendees": "attendees",
    "participants": "attendees",
    "参会人": "attendees",
    "参会人员": "attendees",
    "与会者": "attendees",
}
_STAMP = re.compile(
    r"^\s*[\[(]?(?P<ts>(?:\d{1,2}:)?\d{1,2}:\d{2})(?:[.,]\d+)?[\])]?\s*(?:[-–]\s*)?"
)
_TRAILING_STAMP = re.compile(r"\s*[\[(]?(?P<ts>(?:\d{1,2}:)?\d{1,2}:\d{2})[\])]?\s*$")


def parse_plain(text: str) -> Transcript:
    transcript = Transcript(format="txt", segments=[])
    current: tuple[str | None, float | None, list[str]] | None = None
    spoken = False

    def flush() -> None:
        if current and " ".join(current[2]).strip():
            transcript.segments.append(
                Segment(current[0], current[1], None, _join_cjk(" ".join(current[2]).strip()))
            )

    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line in ("---", "***"):
            continue
        if line.startswith("#"):
            if transcript.title is None and not spoken:
                transcript.title = line.lstrip("#").strip() or None
            continue
        line = re.sub(r"^(?:[-*+]|\d+[.)])\s+", "", line)  # list bullets
        line = line.replace("**", "").replace("__", "").strip()  # Markdown bold speaker names
        start: float | None = None
        stamp = _STAMP.match(line)
        if stamp and stamp.end() < len(line):
            start, line = _seconds(stamp.group("ts")), line[stamp.end() :].strip()
        speaker, words = split_speaker(line)
        if speaker:
            trailing = _TRAILING_STAMP.search(speaker)
            if trailing and trailing.start() > 0:  # "Jane Doe (00:01:02): ..."
                start = _seconds(trailing.group("ts"))
                speaker = speaker[: trailing.start()].strip()
            key = speaker.casefold()
            if not spoken and key in _HEADER_KEYS:
                _header(transcript, _HEADER_KEYS[key], words)
                continue
            flush()
            current = (speaker, start, [words] if words else [])
            spoken = True
        elif current is not None:
            current[2].append(words)
        else:
            current = (None, start, [words])
            spoken = True
    flush()
    return transcript


def _header(transcript: Transcript, key: str, value: str) -> None:
    if key == "title":
        transcript.title = transcript.title or value or None
    elif key == "date":
        transcript.date_text = transcript.date_text or value or None
    else:
        transcript.attendees.extend(p.strip() for p in re.split(r"[;,，、；]", value) if p.strip())


_MONTH_NAMES = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
_MONTH = r"(january|february|march|april|may|june|july|august|september|october|november|" \
    r"december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"  # fmt: skip
_YMD = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_D_MONTH_Y = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\s*,?\s+(\d{{4}})\b")
_MONTH_D_Y = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s+(\d{{4}})\b")
_NUMERIC = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b")


def parse_meeting_date(value: Any, *, day_first: bool = True) -> date | None:
    """The meeting date a header or file name states: ISO and "2026/3/3", Chinese "2026年3月3日",
    English "3 March 2026" / "March 3, 2026", and numeric "03/04/2026", read day first
    (3 April) unless `day_first` is False (4 March, the US order). None when no date is
    stated or the one stated does not exist."""
    if value is None:
        return None
    text = " ".join(str(value).casefold().split())
    found = _YMD.search(text)
    if found:
        year, month, day = (int(g) for g in found.groups())
    elif found := _D_MONTH_Y.search(text):
        day, month, year = int(found.group(1)), _MONTH_NAMES[found.group(2)], int(found.group(3))
    elif found := _MONTH_D_Y.search(text):
        month, day, year = _MONTH_NAMES[found.group(1)], int(found.group(2)), int(found.group(3))
    elif found := _NUMERIC.search(text):
        first, second, year = (int(g) for g in found.groups())
        day, month = (first, second) if day_first else (second, first)
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


# ---------------------------------------------------------------- JSON

_LIST_KEYS = ("segments", "transcript", "utterances", "results", "entries", "items")
_SPEAKER_KEYS = ("speaker", "speaker_name", "name", "participant", "author", "who")
_TEXT_KEYS = ("text", "content", "words", "transcript", "utterance", "sentence")


def parse_json(text: str, name: str) -> Transcript:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(
            messages.bad_json(name, f"{exc.msg} at line {exc.lineno}"), filename=name
        ) from exc
    transcript = Transcript(format="json", segments=[])
    items: Any = data
    if isinstance(data, dict):
        transcript.title = _first_str(data, ("title", "topic", "subject", "name"))
        transcript.date_text = _first_str(data, ("date", "start_time", "started_at"))
        started = _first_str(data, ("start_time", "started_at", "datetime"))
        if started:
            try:
                parsed = datetime.fromisoformat(started.replace("Z", "+00:00"))
                transcript.started_at = parsed if parsed.tzinfo else None
            except ValueError:
                pass
        for entry in data.get("attendees") or data.get("participants") or []:
            if isinstance(entry, str):
                transcript.attendees.append(entry)
            elif isinstance(entry, dict):
                label = _first_str(entry, ("name", "display_name")) or ""
                email = _first_str(entry, ("email", "mail")) or ""
                transcript.attendees.append(f"{label} <{email}>" if email else label)
        items = next((data[k] for k in _LIST_KEYS if isinstance(data.get(k), list)), None)
        if items is None:
            raise IngestError(
                messages.bad_json(
                    name, "expected a list of segments, or one under 'segments' or 'transcript'"
                ),
                filename=name,
            )
    if not isinstance(items, list):
        raise IngestError(messages.bad_json(name, "expected a list of segments"), filename=name)
    for index, item in enumerate(items):
        if isinstance(item, str):
            speaker, words = split_speaker(item)
            if words:
                transcript.segments.append(Segment(speaker, None, None, words))
            continue
        if not isinstance(item, dict):
            raise IngestError(
                messages.bad_json(name, f"segment {index + 1} is a {type(item).__name__}"),
                filename=name,
            )
        said = _first_str(item, _TEXT_KEYS)
        if not said:
            continue
        speaker = _first_str(item, _SPEAKER_KEYS)
        if isinstance(item.get("speaker"), dict):
            speaker = _first_str(item["speaker"], ("name", "display_name"))
        transcript.segments.append(
            Segment(
                speaker.strip() if speaker else None,
                _time(item, ("start", "start_time", "begin", "from", "offset")),
                _time(item, ("end", "end_time", "to", "until")),
                " ".join(said.split()),
            )
        )
    return transcript


def _first_str(data: dict[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return " ".join(value)
    return None


def _time(data: dict[str, Any], keys: Iterable[str]) -> float | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            return float(value) / (1000 if key == "offset" or value > 10**6 else 1)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                if re.fullmatch(r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d+)?", value.strip()):
                    return _seconds(value.strip())
    return None


# ---------------------------------------------------------------- Word


def parse_docx(data: bytes, name: str) -> Transcript:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise IngestError(messages.bad_docx(name, str(exc) or type(exc).__name__)) from exc
    except Exception as exc:  # zipfile.BadZipFile, lxml errors: all mean a broken document
        raise IngestError(messages.bad_docx(name, type(exc).__name__), filename=name) from exc
    lines: list[str] = []
    title = (document.core_properties.title or "").strip() or None
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        lines.append(f"# {text}" if style.startswith(("Heading", "Title")) else text)
    for table in document.tables:  # transcripts exported as a (speaker, words) table
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells]
            if len(cells) >= 2 and cells[0] and cells[-1] and _looks_like_name(cells[0]):
                lines.append(f"{cells[0]}: {cells[-1]}")
    transcript = parse_plain("\n".join(lines))
    transcript.format = "docx"
    transcript.title = title or transcript.title
    return transcript


# ---------------------------------------------------------------- entry point


def parse_transcript(data: bytes, name: str) -> Transcript:
    """Parse any supported transcript; raises IngestError naming the file and the fault."""
    if not data or not data.strip(b"\xef\xbb\xbf\xff\xfe \t\r\n"):
        raise IngestError(messages.empty(name), filename=name)
    fmt = detect_format(data, name)
    if fmt == "docx":
        transcript = parse_docx(data, name)
    else:
        text = decode(data, name)
        if fmt == "json":
            transcript = parse_json(text, name)
        elif fmt in ("vtt", "srt"):
            transcript = Transcript(format=fmt, segments=parse_cues(text))
            for block in _cue_blocks(text.split("\n")):
                if block[0].startswith("NOTE"):
                    for line in [block[0][4:], *block[1:]]:
                        speaker, words = split_speaker(line.strip())
                        if speaker and speaker.casefold() in _HEADER_KEYS:
                            _header(transcript, _HEADER_KEYS[speaker.casefold()], words)
        else:
            transcript = parse_plain(text)
    if not transcript.segments:
        raise IngestError(messages.no_speech(name, transcript.format), filename=name)
    return transcript
