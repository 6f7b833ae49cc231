"""Deal values as people say them → the CRM's typed values (amounts, stages, percentages).

Nothing is guessed: a value that does not parse is dropped by the caller and counted."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = [
    "amounts_in",
    "en_numbers",
    "parse_amount",
    "parse_probability",
    "parse_stage",
    "stages_in",
    "zh_numeral",
]

_ZH_DIGIT = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_ZH_UNIT = {"十": 10, "百": 100, "千": 1000}
_ZH_BIG = {"万": 10_000, "亿": 100_000_000}


def zh_numeral(text: str) -> int | None:
    """'三百万' → 3000000, '十二' → 12, '一千五百' → 1500; None if not a Chinese numeral."""
    if not text or any(
        ch not in _ZH_DIGIT and ch not in _ZH_UNIT and ch not in _ZH_BIG for ch in text
    ):
        return None
    total, section, number = 0, 0, 0
    for ch in text:
        if ch in _ZH_DIGIT:
            number = _ZH_DIGIT[ch]
        elif ch in _ZH_UNIT:
            section += (number or 1) * _ZH_UNIT[ch]
            number = 0
        else:
            total += (section + number) * _ZH_BIG[ch]
            section, number = 0, 0
    return total + section + number


_MULTIPLIERS = [
    (re.compile(r"^(billion|bn|b)\b"), Decimal(1_000_000_000)),
    (re.compile(r"^(million|mio|mm|m)\b"), Decimal(1_000_000)),
    (re.compile(r"^(thousand|k)\b"), Decimal(1000)),
    (re.compile(r"^亿"), Decimal(100_000_000)),
    (re.compile(r"^百万"), Decimal(1_000_000)),
    (re.compile(r"^千万"), Decimal(10_000_000)),
    (re.compile(r"^万"), Decimal(10_000)),
    (re.compile(r"^千"), Decimal(1000)),
]
_NUMBER = re.compile(r"(\d+(?:[.,]\d{3})*(?:\.\d+)?)\s*")
_ZH_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千万亿]+")


def parse_amount(text: str) -> Decimal | None:
    """'$240,000' → 240000, '240k' → 240000, '1.2 million' → 1200000, '三百万' → 3000000,
    '250万' → 2500000; None when no amount is named."""
    lowered = text.lower().replace("，", ",")
    match = _NUMBER.search(lowered)
    if match:
        raw = match.group(1)
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw):
            raw = raw.replace(",", "")
        elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+", raw):  # 240.000 written European-style
            raw = raw.replace(".", "")
        else:
            raw = raw.replace(",", ".")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            return None
        rest = lowered[match.end() :]
        for pattern, factor in _MULTIPLIERS:
            if pattern.match(rest):
                value *= factor
                break
        return value.quantize(Decimal("0.01")) if value > 0 else None
    zh = _ZH_NUMBER.search(text)
    if zh:
        value_int = zh_numeral(zh.group(0))
        if value_int:
            return Decimal(value_int).quantize(Decimal("0.01"))
    said = en_numbers(text)
    if said and said[0][2] > 0:
        return said[0][2].quantize(Decimal("0.01"))
    return None


_EN_SMALL = {
    word: n
    for n, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_EN_TENS = {
    word: 10 * n
    for n, word in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)
}
_EN_SCALES = {"thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
_EN_WORD = re.compile(r"[a-z]+", re.IGNORECASE)


def en_numbers(text: str) -> list[tuple[int, int, Decimal]]:
    """Numbers said in English words, as (start, end, value): 'a hundred and seventy-one
    thousand' → 171000, 'twenty-seven thousand' → 27000, 'one point two million' → 1200000.
    'a'/'an' counts only before hundred/thousand/million, 'and' only inside a number."""
    words = [(m.start(), m.end(), m.group(0).lower()) for m in _EN_WORD.finditer(text)]
    found: list[tuple[int, int, Decimal]] = []
    i = 0
    while i < len(words):
        start = i
        total, current, fraction, digits = Decimal(0), Decimal(0), "", False
        seen_number = after_point = False
        j = i
        while j < len(words):
            word = words[j][2]
            gap = text[words[j - 1][1] : words[j][0]] if j > i else ""
            if j > i and gap.strip(" -") != "":
                break  # a comma or a dash between words ends the number
            nxt = words[j + 1][2] if j + 1 < len(words) else ""
            if after_point and word in _EN_SMALL and _EN_SMALL[word] < 10:
                fraction += str(_EN_SMALL[word])
            elif word in ("a", "an") and not seen_number and nxt in ("hundred", *_EN_SCALES):
                current = Decimal(1)
            elif word in _EN_SMALL:
                current += _EN_SMALL[word]
            elif word in _EN_TENS:
                # "eleven forty" is 1,140 (a price said the short way), "twenty" after
                # nothing is 20.
                small = 0 < current < 100 and words[j - 1][2] in _EN_SMALL and j > i
                current = current * 100 + _EN_TENS[word] if small else current + _EN_TENS[word]
            elif word == "hundred" and (seen_number or current):
                current = (current or Decimal(1)) * 100
            elif word in _EN_SCALES and (seen_number or current):
                value = current + (Decimal("0." + fraction) if fraction else Decimal(0))
                total += (value or 1) * _EN_SCALES[word]
                current, fraction, after_point = Decimal(0), "", False
            elif word == "and" and seen_number and nxt in (*_EN_SMALL, *_EN_TENS):
                pass
            elif word == "point" and seen_number and nxt in _EN_SMALL:
                after_point = True
            else:
                break
            seen_number = seen_number or word not in ("a", "an", "and")
            digits = True
            j += 1
        if digits and seen_number:
            value = total + current + (Decimal("0." + fraction) if fraction else Decimal(0))
            found.append((words[start][0], words[j - 1][1], value))
            i = j
        else:
            i += 1
    return found


_STAGES = {
    "prospecting": "prospecting",
    "prospect": "prospecting",
    "qualification": "qualification",
    "qualified": "qualification",
    "qualifying": "qualification",
    "proposal": "proposal",
    "quote": "proposal",
    "negotiation": "negotiation",
    "negotiating": "negotiation",
    "closed_won": "closed_won",
    "closed won": "closed_won",
    "won": "closed_won",
    "signed": "closed_won",
    "closed_lost": "closed_lost",
    "closed lost": "closed_lost",
    "lost": "closed_lost",
    "潜在": "prospecting",
    "初步接触": "prospecting",
    "需求确认": "qualification",
    "资格确认": "qualification",
    "方案": "proposal",
    "报价": "proposal",
    "提案": "proposal",
    "谈判": "negotiation",
    "商务谈判": "negotiation",
    "赢单": "closed_won",
    "成交": "closed_won",
    "签约": "closed_won",
    "丢单": "closed_lost",
    "输单": "closed_lost",
}


def stages_in(text: str) -> set[str]:
    """Every stage a text names ('move this into negotiation, past the proposal stage' →
    {negotiation, proposal})."""
    key = " ".join(text.lower().replace("-", " ").split())
    return {
        stage
        for word, stage in _STAGES.items()
        if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", key)
    }


def parse_stage(text: str) -> str | None:
    key = " ".join(text.strip().lower().replace("-", " ").split())
    if key in _STAGES:
        return _STAGES[key]
    if key.replace(" ", "_") in _STAGES:
        return _STAGES[key.replace(" ", "_")]
    hits = {stage for word, stage in _STAGES.items() if word in key}
    return hits.pop() if len(hits) == 1 else None


_NUMBER_START = re.compile(r"(?<![\d.,])\d")


def amounts_in(text: str) -> set[Decimal]:
    """Every amount a text names ('200 seats at $1,200' → {200, 1200}; '三百万' → {3000000})."""
    found = {parse_amount(text[m.start() :]) for m in _NUMBER_START.finditer(text)}
    found |= {parse_amount(m.group(0)) for m in _ZH_NUMBER.finditer(text)}
    found |= {value.quantize(Decimal("0.01")) for _, _, value in en_numbers(text)}
    return {amount for amount in found if amount is not None}


def parse_probability(text: str) -> int | None:
    match = re.search(r"(\d{1,3})\s*(?:%|percent|per cent|％)?", text)
    if match:
        value = int(match.group(1))
    else:
        zh = re.search(r"百分之([零一二两三四五六七八九十百]+)", text)
        value = zh_numeral(zh.group(1)) if zh else None  # type: ignore[assignment]
    if value is None or not 0 <= value <= 100:
        return None
    return value
