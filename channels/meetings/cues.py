"""Cue rules: commitments and deal changes read off transcript lines in code, English and
Chinese, so that what a rep cares about does not depend on a small model noticing it.

    segments → sentences → commitment / request / deal-change rules → ExtractionOut

Each finding cites its line and carries the line's own words as evidence (verbatim by
construction); the ground step then resolves owners against the attendees and due dates against
the meeting date exactly as for the model's findings. The rules are deliberately narrow — a
first-person promise with a work verb or a date, a request someone says yes to, a total with a
currency, a signing with a date, a named stage, a stated likelihood, "the next step is" — and
stay away from hedges, hypotheticals, negations, the past and other vendors' prices.

`corroborated` is the other half: a deal change the model proposes is kept only when the line
it cites has the cue of that field, and an action item only when its line reads like a promise
or a request (the model's guesses on other lines were most of its wrong answers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date

from channels.meetings.extract import ChangeOut, CitedChangeOut, ExtractionOut, ItemOut
from channels.meetings.grounding import Grounder
from channels.meetings.parsers import Segment
from channels.meetings.values import en_numbers
from tools.dates import dates_in

__all__ = [
    "RuleFindings",
    "combine",
    "corroborated_change",
    "corroborated_item",
    "read_cues",
]

# ---------------------------------------------------------------- sentences

_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*")
_CLAUSE_END = re.compile(r"[，,。！？!?；;]")
_CJK = re.compile(r"[\u3400-\u9fff]")


def _sentences(text: str) -> list[str]:
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
    return [_TAG_QUESTION.sub(".", s) for s in sentences]


_SOFTENER = re.compile(r"\b(?:i(?:['’]d| would) (?:say|think|guess)|i think)\b,?", re.IGNORECASE)
# A recap repeats what was promised earlier in the meeting: its promises are not new ones.
_RECAP = re.compile(
    r"\b(?:recap|to summari[sz]e|to sum (?:it )?up|summing up|action items? (?:are|were)|"
    r"so just to confirm|so to confirm)\b|回顾一下|总结一下|确认一下今天|最后确认|今天的结论",
    re.IGNORECASE,
)


def _en_clauses(sentence: str) -> list[str]:
    return [c for c in re.split(r",\s|;\s|\s[—–-]+\s", sentence) if c.strip()]


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSE_END.split(text) if c.strip()]


# ---------------------------------------------------------------- English commitments

_EN_PROMISE = re.compile(
    r"\b(?P<subject>i|we)(?:['’]ll|\s+will|\s+can|\s+shall|['’]m going to|\s+am going to|"
    r"['’]re going to|\s+are going to|['’]m gonna|['’]re gonna)"
    r"(?P<adverbs>(?:\s+(?:also|definitely|just|quickly|then|certainly|personally|happily|"
    r"gladly|absolutely|totally|first|now|go ahead and|make sure to|try to|try and|"
    r"be sure to))*)"
    r"\s+(?P<verb>[a-z]+)",
    re.IGNORECASE,
)
_EN_OTHER = re.compile(
    r"\b(?P<name>[A-Z][a-zà-ÿ]+(?:\s[A-Z][a-zà-ÿ]+)?)(?:['’]ll|\s+will|\s+is going to)"
    r"\s+(?P<verb>[a-z]+)"
)
# Verbs of work: a promise with one of these is an action item even without a date.
_EN_WORK = frozenset(
    "send share email e-mail forward circulate schedule book set arrange organize organise "
    "prepare draft write update confirm review follow loop reach call ping invite introduce "
    "provide deliver submit compile pull run finalize finalise sync coordinate ask check dig "
    "put fix test escalate file raise order reserve validate verify investigate clarify "
    "document outline summarize summarise recap propose revise redo rerun export upload "
    "configure install enable deploy train host set-up chase nudge contact".split()
)
# Verbs of talk, thought and hedging: never an action item.
_EN_NOT_WORK = frozenset(
    "be say see tell admit need have think guess bet wait keep leave hold mention note stop "
    "repeat agree assume hand pass turn come hear imagine accept live take sign close go "
    "let start jump move give do try stay".split()
)
_EN_NOW = re.compile(
    r"\b(?:share|sharing) (?:my|the|your) screen\b|\bwalk (?:you|them|everyone) through\b|"
    r"\bget (?:to|back to) (?:it|that|this|those)\b|\bget (?:you|them|it) (?:down )?to\b|"
    r"\bupdate (?:it|that|this|the deal|the crm|salesforce) (?:on our side|in (?:the|our) "
    r"(?:crm|system))\b|"
    r"\bshow (?:you|everyone)\b|\bput (?:you|it) on (?:mute|hold)\b|\bfollow (?:that|you)\b|"
    r"\bcheck (?:that|it) (?:out|now)\b",
    re.IGNORECASE,
)
_EN_HEDGE = re.compile(
    r"\b(?:if|unless|would|might|maybe|perhaps|not sure|hopefully|hypothetically|could be|"
    r"in case|whether|once|offer|eventually)\b|"
    r"\b(?:i|we)(?:['’]ll|\s+will|\s+can|\s+shall)\s+not\b|\?$|[—–-]$",
    re.IGNORECASE,
)
_EN_REQUEST = re.compile(
    r"\b(?:can|could|would|will) you(?:\s+(?:please|also|just|guys|all))*\s+(?P<verb>[a-z]+)|"
    r"\bplease\s+(?P<verb2>[a-z]+)",
    re.IGNORECASE,
)
_EN_YES = re.compile(
    r"^\W*(?:sure|yes|yeah|yep|yup|of course|absolutely|definitely|will do|no problem|"
    r"can do|sounds good|okay|ok|totally|happy to|certainly)\b",
    re.IGNORECASE,
)
_EN_FILLER = re.compile(
    r"^(?:(?:um+|uh+|so|okay|ok|yeah|yes|sure|great|right|well|and|but|then|alright|"
    r"all right|perfect|cool|good|fine|absolutely|definitely|of course|no problem|sounds good|"
    r"from our side|on our side|for my part|and then)\b[\s,.—–-]*)+",
    re.IGNORECASE,
)

# ---------------------------------------------------------------- Chinese commitments

_ZH_SELF = re.compile(r"(?:我们|我)(?!的|们的)")
_ZH_WORK = re.compile(
    r"发|给|安排|准备|提供|确认|整理|交付|提交|跟进|联系|更新|约|组织|申请|拿到|同步|汇报|反馈|"
    r"对接|核实|梳理|落实|推进|协调|写|补|拉|评审|测试|修复|检查|配置|部署|培训|出一?[份个版]|"
    r"搞定|处理|预约|召集|起草|修改|调整|核对|提交|上传|导出|搭|开通|开好|建|走完|走|发过来|做完"
)
_ZH_PROMISE = re.compile(r"来|会|负责|把|去|马上|尽快|回头|争取|保证|之前|以前|内")
_ZH_NOT = re.compile(
    r"觉得|想|记得|理解|听说|希望|估计|感觉|知道|同意|明白|签约|签合同|签署|不|没|别|如果|假如|"
    r"要是|已经|过了|了$|吗|呢|是不是|能不能|可能|应该|也许|或许|之后|以后|会有|会是|说一下|"
    r"聊一下|讲一下|介绍一下|可以"
)
# A promise on a condition or as a counterfactual is not one yet.
_ZH_CONDITION = re.compile(r"如果|假如|要是|不然|否则|前提是|等.{1,8}之后|收到.{0,6}之后")
_ZH_REQUEST = re.compile(
    r"麻烦(?:你|您)|你(?:们)?能不能|您能不能|请(?:你|您)|能不能请|帮(?:我们|我)"
)
_ZH_YES = re.compile(r"^\W*(?:好的|好|没问题|可以|行|当然|OK|ok|嗯好|收到|明白)")

# ---------------------------------------------------------------- deal changes

_CURRENCY_AMOUNT = re.compile(
    r"[$€£¥]\s?\d[\d,.]*(?:\s?(?:k|m|million|thousand|bn|billion)\b)?|"
    r"\b\d[\d,.]*(?:\s?(?:k|m|million|thousand))?\s?(?:dollars|euros|usd|eur|pounds|gbp|"
    r"yuan|rmb|cny|bucks)\b|"
    r"\b\d[\d,.]*\s?(?:k|million)\b",
    re.IGNORECASE,
)
_BIG_NUMBER = re.compile(r"\b\d{1,3}(?:,\d{3})+\b|\b\d{4,}\b")
_EN_TOTAL = re.compile(
    r"\b(?:total|totals|totaling|totalling|comes? to|came to|takes? (?:the deal|it|us|that) to|"
    r"brings? (?:the deal|it|us|that) to|deal (?:size|value)|contract value|all[- ]in|"
    r"overall|budget|arr|annual (?:value|contract)|altogether|in total|new amount|final number|"
    r"final price|lands? at|land at|for the year|per year|a year|annually)\b",
    re.IGNORECASE,
)
_PER_UNIT = re.compile(
    r"^\s*(?:per|a|an|each|every)\s+(?:seat|user|licen[cs]e|month|head|year|unit|person|"
    r"month|node)\b|^\s*/\s*(?:seat|user|month|year)",
    re.IGNORECASE,
)
_EN_HYPOTHETICAL = re.compile(
    r"\b(?:if|would|could|might|hypothetically|suppose|say we)\b|\?$", re.IGNORECASE
)
_EN_NOT_AMOUNT = re.compile(
    r"\b(?:was|were|used to|originally|previously|last year|instead of|their|competitor\w*|"
    r"discount|off)\b",
    re.IGNORECASE,
)
_ZH_AMOUNT = re.compile(
    r"(?:\d[\d,.]*|[零〇一二两三四五六七八九十百千]+)\s?(?:万|亿)(?:元|块|人民币|美元)?|"
    r"\d[\d,.]*\s?(?:元|块|美元|人民币)"
)
_ZH_TOTAL = re.compile(
    r"总价|总共|合计|一共|总额|合同金额|预算|整体|打包价|总金额|总计|最终价格|落到"
)
_ZH_PAST = re.compile(
    r"如果|假如|要是|比如|原来|之前是|之前的|之前那|上周|上次|那一版|去年|以前|对方|竞品|他们家|吗"
)
_ZH_NOT_AMOUNT = re.compile(r"每|单价|折扣|优惠")

_EN_SIGN = re.compile(
    r"\bsign(?:ed|ing)?\b(?![- ]?(?:off|up|in|on)\b)|\bsignature\b|"
    r"\bclose (?:the deal|it|this|by|before|on|in)\b|\bclosing (?:date|by|on|in)\b|"
    r"\bpurchase order\b|\bPO\b",
    re.IGNORECASE,
)
_EN_NOT_SIGN = re.compile(
    r"\b(?:if|would|could|might|unless|hypothetically|nda|already|last)\b|\?$", re.IGNORECASE
)
_EN_NEGATION = re.compile(r"\b(?:not|never|no)\b|n['’]t\b", re.IGNORECASE)
# "…, right?" asks to confirm what was just said; it is not a question about it.
_TAG_QUESTION = re.compile(
    r"[,，]?\s*(?:right|correct|yes|yeah|no|ok|okay|agreed|对吧|是吧|对不对|没错吧|好吧)\s*[?？]$",
    re.IGNORECASE,
)
_ZH_SIGN = re.compile(r"签约|签合同|签署|签字|合同签|下单|落单|成交")
_ZH_NOT_SIGN = re.compile(r"如果|假如|要是|不能|没法|不会|不了|已经|吗|保密协议|NDA")

_EN_STAGE = re.compile(
    r"\b(?:move|moving|go|going|ready to go|ready to move|advance|advancing|progress)\s+"
    r"(?:(?:this|it|the deal|the opportunity|us)\s+)?(?:in)?to\s+(?:the\s+)?"
    r"(?P<stage>prospecting|qualification|proposal|negotiation|negotiations|contract)\b|"
    r"\b(?:we(?:['’]re| are)|now|officially)\s+in\s+(?:the\s+)?(?P<stage2>proposal|negotiation|"
    r"negotiations)\s+(?:stage|phase)\b|"
    r"\b(?P<won>closed[ _-]won|closed[ _-]lost)\b",
    re.IGNORECASE,
)
_ZH_STAGE = re.compile(
    r"(?:进入|推进到|推进至|到了|转入|进到)(?:了)?(?P<stage>[\u4e00-\u9fff]{2,4}?)阶段"
)
_STAGE_WORDS = {
    "contract": "negotiation",
    "negotiations": "negotiation",
}

_EN_PROBABILITY = re.compile(
    r"(?P<n>\d{1,3})\s?(?:%|percent|per cent)",
    re.IGNORECASE,
)
_EN_LIKELY = re.compile(
    r"\b(?:chance|chances|likely|likelihood|confident|confidence|probability|odds|"
    r"we(?:['’]re| are) at|(?:i|we)(?:['’]d| would) (?:say|put (?:it|us|this) at))\b",
    re.IGNORECASE,
)
_EN_NOT_LIKELY = re.compile(
    r"\b(?:discount|off|increase|growth|adoption|utili[sz]ation|uptime|usage|cheaper|"
    r"reduction|fewer|more|tax|margin|if|would we)\b",
    re.IGNORECASE,
)
_ZH_PROBABILITY = re.compile(
    r"(?:(?P<n>\d{1,3})\s?[%％]|百分之(?P<zh>[零一二两三四五六七八九十]+)|(?P<cheng>[一二三四五六七八九])成)"
)
_ZH_LIKELY = re.compile(r"把握|可能性|概率|几率|胜算|赢面")

_EN_NEXT_STEP = re.compile(
    r"\bnext steps? (?:is|are|will be|would be|then is)(?: to)?\s*[:,]?\s*(?P<what>[^?]{6,})$",
    re.IGNORECASE,
)
_ZH_NEXT_STEP = re.compile(r"下一步(?:就是|是|我们就|我们)[:：]?(?P<what>[^？?]{4,})$")

_ZH_NUMERALS = "一二三四五六七八九"


class RuleFindings(ExtractionOut):
    """What the rules found (an extraction like the model's, every item citing its line)."""


def read_cues(segments: Sequence[Segment], day: date) -> RuleFindings:
    out = RuleFindings()
    speakers = {s.speaker for s in segments if s.speaker}
    first_names = {name.split()[0]: name for name in speakers if name.split()}
    taken_lines: set[int] = set()
    for index, segment in enumerate(segments):
        line = index + 1
        text = segment.text
        for item in _promises(text, first_names):
            item.line = line
            item.due = _due_in(item.evidence, day) or _due_nearby(segments, index, day)
            out.action_items.append(item)
            taken_lines.add(line)
        out.changes.extend(_changes(text, line, day))
    out.action_items = _without_repeats(out.action_items, segments)
    # Requests someone says yes to, when the yes line did not already promise it.
    for index, segment in enumerate(segments):
        request = _request(segment.text)
        if request is None:
            continue
        for reply_index in range(index + 1, min(index + 3, len(segments))):
            reply = segments[reply_index]
            if reply.speaker == segment.speaker or reply_index + 1 in taken_lines:
                continue
            if _EN_YES.search(reply.text) or _ZH_YES.search(reply.text):
                due = _due_in(segment.text, day) or _due_in(reply.text, day)
                out.action_items.append(
                    ItemOut(
                        text=request,
                        owner=reply.speaker or "",
                        due=due,
                        evidence=segment.text,
                        line=index + 1,
                    )
                )
            break
    return out


# ---------------------------------------------------------------- items

HANDOVER_LINES = 15  # a like promise by someone else this soon after takes the work over
_FILLER_WORDS = frozenset(
    "um uh like so yeah okay just the a an to of for and or with on in by your our my you we i "
    "it that this those them over up out".split()
)


def _content(text: str) -> set[str]:
    if _CJK.search(text):
        chars = "".join(_CJK.findall(text))
        return {chars[i : i + 2] for i in range(len(chars) - 1)}
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {_stem(w) for w in words if w not in _FILLER_WORDS and len(w) > 1}


def _stem(word: str) -> str:
    """'updated', 'updates', 'update' → 'updat'; 'sending', 'send' → 'send'."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def _alike(a: str, b: str) -> bool:
    left, right = _content(a), _content(b)
    if not left or not right:
        return False
    return len(left & right) / min(len(left), len(right)) >= 0.6


def _without_repeats(items: list[ItemOut], segments: Sequence[Segment]) -> list[ItemOut]:
    """A promise said again (a recap, "as I said") is the first one; the same work promised
    soon after by someone else ("don't worry, I'll send it") is theirs instead."""
    kept: list[ItemOut] = []
    for item in items:
        earlier = next((k for k in kept if _alike(k.text, item.text)), None)
        if earlier is None:
            kept.append(item)
            continue
        other = segments[item.line - 1].speaker != segments[earlier.line - 1].speaker
        if other and item.line - earlier.line <= HANDOVER_LINES and item.owner == "I":
            kept[kept.index(earlier)] = item
    return kept


def _promises(text: str, first_names: dict[str, str], *, any_verb: bool = False) -> list[ItemOut]:
    """The first promise of a line (one line, one item: a second one in the same breath is
    usually the same work said again, or its detail). `any_verb`: a promise of any verb but
    those of talk and thought counts (to corroborate the model's reading)."""
    if _RECAP.search(text):
        return []
    for sentence in _sentences(text):
        if _CJK.search(sentence):
            zh = _zh_promises(sentence, any_verb=any_verb)
            if zh:
                zh[0].evidence = sentence
                return zh[:1]
            continue
        plain = _SOFTENER.sub("", sentence)
        if _EN_HEDGE.search(plain) or _EN_NOW.search(sentence):
            continue
        match = _EN_PROMISE.search(sentence)
        owner = "I"
        if match is None:
            other = _EN_OTHER.search(sentence)
            if other is None or other.group("name").split()[0] not in first_names:
                continue
            match, owner = other, first_names[other.group("name").split()[0]]
        verb = match.group("verb").lower()
        has_date = bool(_EN_DATE_WORDS.search(sentence))
        offer = re.search(r"\bcan\b", match.group(0), re.IGNORECASE) is not None
        if verb in _EN_NOT_WORK:
            continue
        if not (any_verb or (verb in _EN_WORK and not offer) or has_date):
            continue
        what = sentence[match.start("verb") :]
        return [ItemOut(text=_imperative(what), owner=owner, due="", evidence=sentence)]
    return []


def _zh_promises(sentence: str, *, any_verb: bool = False) -> list[ItemOut]:
    found: list[ItemOut] = []
    if _ZH_CONDITION.search(sentence):
        return found
    for clause in _clauses(sentence):
        head = _ZH_SELF.search(clause)
        if head is None:
            continue
        rest = clause[head.end() :]
        if _ZH_NOT.search(clause) or not (any_verb or _ZH_WORK.search(rest)):
            continue
        dated = _ZH_DATE_WORDS.search(rest) is not None
        # "我们会…" is as often how things work as a promise: the plural promises with a date.
        if not (dated or (_ZH_PROMISE.search(rest) and not head.group(0).startswith("我们"))):
            continue
        what = _ZH_LEAD.sub("", clause).strip()
        found.append(ItemOut(text=what[:120] or clause, owner="I", due="", evidence=""))
    return found


_ZH_LEAD = re.compile(r"^(?:(?:好的?|那|嗯+|对|行|可以|没问题|OK|ok|然后|这样)[，,、\s]*)+")


def _request(text: str) -> str | None:
    """The thing asked for, when a line asks someone to do work."""
    for sentence in _sentences(text):
        if _CJK.search(sentence):
            zh = _ZH_REQUEST.search(sentence)
            if zh and _ZH_WORK.search(sentence[zh.end() :]):
                return sentence[zh.end() :].strip("？?。， ")[:200]
            continue
        match = _EN_REQUEST.search(sentence)
        if match is None:
            continue
        verb = (match.group("verb") or match.group("verb2") or "").lower()
        if verb in _EN_WORK and not _EN_NOW.search(sentence):
            start = match.start("verb") if match.group("verb") else match.start("verb2")
            return _imperative(sentence[start:].rstrip("?"))
    return None


_EN_DATE_WORDS = re.compile(
    r"\b(?:today|tonight|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"next week|this week|end of (?:the )?(?:day|week|month|quarter|year)|eod|eow|"
    r"in (?:a|one|two|three|four|\d+) (?:days?|weeks?|months?)|within \w+ (?:days?|weeks?)|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}\b)",
    re.IGNORECASE,
)
_ZH_DATE_WORDS = re.compile(
    r"今天|明天|后天|下周|本周|这周|周[一二三四五六日末]|星期|月底|月初|年底|季度|[\d一二两三四五六七八九十]+(?:天|周|个月)(?:内|之内|以内|后)|"
    r"[\d一二三四五六七八九十]+月[\d一二三四五六七八九十]+[日号]|[\d一二三四五六七八九十]+[日号]"
)


def _due_in(text: str, day: date) -> str:
    found = dates_in(text, day)
    return found[0][0] if found else ""


def _due_nearby(segments: Sequence[Segment], index: int, day: date) -> str:
    """A promise without a date may get one in the next short line or two ("By when?" —
    "Friday.")."""
    for other in segments[index + 1 : index + 3]:
        if len(other.text.split()) <= 10 or (_CJK.search(other.text) and len(other.text) <= 20):
            words = _due_in(other.text, day)
            if words:
                return words
    return ""


_EN_CLAUSE_BREAK = re.compile(
    r",\s+(?:and|so|but|because|which|then)\b|\s[—–]\s|;\s|,\s+(?:um|uh)\b"
)


def _imperative(words: str) -> str:
    """The work as a short imperative: from the verb to the end of its clause, fillers out,
    at most about a dozen words."""
    words = _EN_FILLER.sub("", words.strip())
    cut = _EN_CLAUSE_BREAK.search(words)
    if cut is not None and len(words[: cut.start()].split()) >= 3:
        words = words[: cut.start()]
    words = re.sub(r"\s+", " ", words).strip(" ,.;—–-")
    if len(words.split()) > 14:
        words = " ".join(words.split()[:14]) + " …"
    return words[:1].upper() + words[1:] if words else ""


# ---------------------------------------------------------------- changes


def _changes(text: str, line: int, day: date) -> list[CitedChangeOut]:
    found: list[CitedChangeOut] = []

    for sentence in _sentences(text):

        def add(field: str, value: str, said: str = sentence) -> None:
            # The evidence is the sentence that says it (a verbatim part of the line).
            found.append(CitedChangeOut(field=field, value=value, evidence=said, line=line))  # type: ignore[arg-type]

        zh = bool(_CJK.search(sentence))
        amount = _zh_amount(sentence) if zh else _en_amount(sentence)
        if amount:
            add("amount", amount)
        signed = _zh_close(sentence, day) if zh else _en_close(sentence, day)
        if signed:
            add("close_date", signed)
        stage = _stage(sentence)
        if stage:
            add("stage", stage)
        likely = _probability(sentence, zh)
        if likely:
            add("probability", likely)
        step = (_ZH_NEXT_STEP if zh else _EN_NEXT_STEP).search(sentence)
        if step:
            add("next_step", step.group("what").strip(" 。.，,"))
    return found


def _en_amount(sentence: str, *, need_total: bool = True) -> str | None:
    """The deal amount a sentence states: after a total cue ("the total comes to", "takes
    the deal to", "budget") — or, to corroborate the model's reading, any amount with a
    currency — never a per-unit price, the past, a hypothesis or another vendor's."""
    if _EN_HYPOTHETICAL.search(sentence):
        return None
    said = None
    for clause in _en_clauses(sentence):
        total = _EN_TOTAL.search(clause)
        if (total is None and need_total) or _EN_NOT_AMOUNT.search(clause):
            continue
        spans = [(m.start(), m.end()) for m in _CURRENCY_AMOUNT.finditer(clause)]
        if total is not None:
            spans += [(a, b) for a, b, value in en_numbers(clause) if value >= 1000]
            spans += [(m.start(), m.end()) for m in _BIG_NUMBER.finditer(clause)
                      if m.start() >= total.end()]  # fmt: skip
        spans = sorted({span for span in spans if not _PER_UNIT.match(clause[span[1] :])})
        after = [span for span in spans if total is not None and span[0] >= total.start()]
        if after or spans:
            start, end = (after or spans)[-1]  # a correction comes last
            said = clause[start:end]
    return said


def _zh_amount(sentence: str, *, need_total: bool = True) -> str | None:
    """The last amount said after a total cue ("总价就是两百三十——不好意思，两百三十四万" →
    两百三十四万), unless the sentence speaks of the past, a hypothesis or another vendor."""
    total = _ZH_TOTAL.search(sentence)
    if (total is None and need_total) or _ZH_PAST.search(sentence):
        return None
    said = None
    for match in _ZH_AMOUNT.finditer(sentence, total.start() if total else 0):
        if not _ZH_NOT_AMOUNT.search(sentence[max(0, match.start() - 4) : match.start()]):
            said = match.group(0)
    return said


def _en_close(sentence: str, day: date) -> str | None:
    sentence = _SOFTENER.sub("", sentence)
    if _EN_NOT_SIGN.search(sentence):
        return None
    for clause in _en_clauses(sentence):
        if not _EN_SIGN.search(clause) or _EN_NEGATION.search(clause):
            continue
        found = [words for words, when in dates_in(clause, day) if when > day]
        if found:
            return found[0]
    return None


def _zh_close(sentence: str, day: date) -> str | None:
    for clause in _clauses(sentence):
        if not _ZH_SIGN.search(clause) or _ZH_NOT_SIGN.search(clause):
            continue
        found = [words for words, when in dates_in(clause, day) if when > day]
        if found:
            return found[0]
    return None


def _stage(sentence: str) -> str | None:
    match = _EN_STAGE.search(sentence)
    if match and not _EN_HEDGE.search(sentence):
        word = (match.group("stage") or match.group("stage2") or match.group("won")).lower()
        return _STAGE_WORDS.get(word, word)
    zh = _ZH_STAGE.search(sentence)
    if zh and not re.search(r"如果|假如|要是|还没|不", sentence):
        return zh.group("stage")
    return None


def _probability(sentence: str, zh: bool) -> str | None:
    if zh:
        if not _ZH_LIKELY.search(sentence):
            return None
        match = _ZH_PROBABILITY.search(sentence)
        if match is None:
            return None
        if match.group("cheng"):
            return f"{(_ZH_NUMERALS.index(match.group('cheng')) + 1) * 10}%"
        return match.group(0)
    match = _EN_PROBABILITY.search(sentence)
    if match is None or not _EN_LIKELY.search(sentence) or _EN_NOT_LIKELY.search(sentence):
        return None
    return match.group(0)


# ---------------------------------------------------------------- the model's findings


def corroborated_change(field: str, line_text: str, day: date) -> bool:
    """A change the model proposes stands only where the line has that field's cue."""
    for sentence in _sentences(line_text):
        zh = bool(_CJK.search(sentence))
        if field == "amount" and (
            _zh_amount(sentence, need_total=False) if zh else _en_amount(sentence, need_total=False)
        ):
            return True
        if field == "close_date" and (_zh_close(sentence, day) if zh else _en_close(sentence, day)):
            return True
        if field == "stage" and _stage(sentence):
            return True
        if field == "probability" and _probability(sentence, zh):
            return True
        if field == "next_step" and (_ZH_NEXT_STEP if zh else _EN_NEXT_STEP).search(sentence):
            return True
    # A next step may be a promise made in the meeting ("I'll send the revised quote").
    return field == "next_step" and corroborated_item(line_text)


def corroborated_item(line_text: str) -> bool:
    """An action item the model proposes stands only on a line that promises (with any verb
    but those of talk and thought, outside hedges and recaps) or asks for work."""
    return bool(_promises(line_text, {}, any_verb=True) or _request(line_text))


def _short(text: str) -> bool:
    """The model's wording of an item is taken when it reads like one: short, no speaker."""
    text = text.strip()
    if not text or ":" in text or "：" in text:
        return False
    return len(text) <= 30 if _CJK.search(text) else len(text.split()) <= 12


def combine(
    model: ExtractionOut,
    rules: RuleFindings,
    grounder: Grounder,
    day: date,
    drop: Callable[[str, str], None],
) -> tuple[ExtractionOut, dict[str, int]]:
    """The model's extraction with the rules' findings: every rule item, the model's items on
    other lines that read like a promise or a request, and per deal field the rules' change
    or else a corroborated one of the model's. The summary, decisions, risks, competitors and
    qualification stay the model's. Also returns what came from where (for the receipt);
    what the model proposed on a line without the cue is told to `drop(what, why)`."""
    counts = {"rule_items": 0, "model_items": 0, "rule_changes": 0, "model_changes": 0,
              "model_uncorroborated": 0}  # fmt: skip
    combined = model.model_copy(deep=True)

    def line_of(evidence: str, line: int) -> int | None:
        span = grounder.locate(evidence, line)
        return span.segment_index + 1 if span is not None else None

    rule_lines = {item.line for item in rules.action_items}
    items: list[ItemOut] = [item.model_copy() for item in rules.action_items]
    counts["rule_items"] = len(items)
    for item in model.action_items:
        line = line_of(item.evidence, item.line)
        if line is None:
            items.append(item)  # the ground step drops it with its reason
            continue
        if line in rule_lines:
            # The same promise: the rule's line and owner, the model's wording and its
            # words for when (the ground step keeps them only if the transcript says them).
            same = next(i for i in items if i.line == line)
            if _short(item.text):
                same.text = item.text.strip()
            same.due = item.due.strip() or same.due
            quoted = grounder.find(item.evidence)
            if quoted is not None and quoted.segment_index + 1 == line:
                same.evidence = quoted.text  # the model's exact quote: the tighter span
            continue
        if any(abs(r.line - line) <= 3 and _alike(r.text, item.text) for r in rules.action_items):
            drop(item.text, f"the same as the promise read on a line near {line}")
            continue
        if not corroborated_item(grounder.segments[line - 1].text):
            counts["model_uncorroborated"] += 1
            drop(item.text, f"line {line} neither promises nor asks for it")
            continue
        items.append(item)
        counts["model_items"] += 1
    combined.action_items = items
    # Per deal field the rules read, their last reading (later in a meeting overrides
    # earlier); the model's changes of other fields where the cited line has the cue.
    ruled: dict[str, ChangeOut] = {}
    for change in rules.changes:
        ruled.pop(change.field, None)
        ruled[change.field] = change
    changes: list[ChangeOut] = list(ruled.values())
    counts["rule_changes"] = len(changes)
    for change in model.changes:
        # Deal money is not repeated in what was dropped (a receipt may reach support).
        label = f"{change.field} → {change.value}" if change.field != "amount" else "amount"
        if change.field in ruled:
            line = ruled[change.field].line
            drop(label, f"the {change.field} said on line {line} is taken instead")
            continue
        line = line_of(change.evidence, change.line)
        if line is None:
            changes.append(change)  # the ground step drops it with its reason
            continue
        if not corroborated_change(change.field, grounder.segments[line - 1].text, day):
            counts["model_uncorroborated"] += 1
            drop(label, f"line {line} does not state the {change.field}")
            continue
        changes.append(change)
        counts["model_changes"] += 1
    combined.changes = changes
    return combined, counts
