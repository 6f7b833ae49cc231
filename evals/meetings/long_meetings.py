"""Real-length meetings (60 and 90 minutes, English and Chinese) for evals/meetings: about 150
spoken words (or 240 Chinese characters) a minute of talk that commits to nothing — with the
fillers, false starts and repetitions of speech ("um", "you know", "the — the", "嗯", "那个",
"就是说") — and a few labelled action items and deal changes spread over the hour.
Deterministic (seeded), so the files and their labels are rewritten identically by
make_transcripts.py.

They are generated, not recorded: they measure length (memory, chunk progress, seconds per
transcript minute, recall far from the start) rather than the variety of real conversation.
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["LONG_MEETINGS"]

_EN_TALK = [
    "so the rollout in the west region went mostly the way we planned it",
    "the team there has been using the dashboards every morning now",
    "we had a few questions about how the reports are grouped",
    "the training sessions were well attended, people liked the examples",
    "our operations lead mentioned the search got a lot faster",
    "there was some confusion about the old export format at first",
    "the help articles covered most of what people asked about",
    "we looked at the usage numbers for the last couple of months",
    "the mobile app is mostly used by the field people",
    "people in finance mostly look at the monthly summary view",
    "that matches what we see with other customers of your size",
    "the integration with the ticketing tool has been stable",
    "our admins are getting comfortable with the permission settings",
    "the single sign-on change was smooth from what I heard",
    "we talked about this a bit in the last steering meeting as well",
    "the feedback from the pilot group was mostly positive",
    "some people still keep their own spreadsheets on the side",
    "the data quality in the old system was not great, honestly",
    "the new fields for regions help the managers a lot",
    "I think the change management part is the hard bit here",
]
_EN_REPLY = [
    "right, that makes sense",
    "yeah, I hear that a lot",
    "okay, good to know",
    "interesting, thanks for sharing that",
    "sure, that's fair",
    "got it",
    "mm-hmm, yes",
]
_EN_FILLERS = ["um, ", "uh, ", "you know, ", "so, ", "well, ", "I mean, ", "like, ", ""]

_ZH_TALK = [
    "西区的上线基本上是按计划走的",
    "那边的团队现在每天早上都在看报表",
    "大家对报表的分组方式有一些疑问",
    "培训参加的人挺多的，大家觉得例子很实用",
    "运营那边说搜索快了很多",
    "一开始对旧的导出格式有点混乱",
    "帮助文档基本上覆盖了大家问的问题",
    "我们看了一下最近两个月的使用数据",
    "移动端主要是外勤的同事在用",
    "财务的同事主要看月度汇总",
    "这个跟其他同规模客户的情况差不多",
    "和工单系统的集成一直挺稳定的",
    "管理员对权限设置越来越熟悉了",
    "单点登录切换得挺顺利的",
    "上次指导委员会的会上也聊到过这个",
    "试点小组的反馈总体是正面的",
    "有些同事还是会自己维护表格",
    "说实话，旧系统的数据质量不太好",
    "新加的区域字段对经理们帮助很大",
    "我觉得变革管理这部分是最难的",
]
_ZH_REPLY = ["对，有道理", "嗯，这个我们经常听到", "好的，了解", "明白了，谢谢", "嗯嗯，是的", "好"]
_ZH_FILLERS = ["嗯，", "那个，", "就是说，", "然后，", "其实，", "怎么说呢，", ""]


def _en_line(rng: random.Random) -> str:
    text = rng.choice(_EN_TALK)
    if rng.random() < 0.3:  # a false start
        words = text.split()
        cut = rng.randint(1, min(3, len(words) - 1))
        text = " ".join(words[:cut]) + " — " + text
    text = rng.choice(_EN_FILLERS) + text
    for _ in range(rng.choice((0, 1, 1, 2))):  # run-on speech: one thought after another
        text += ", and " + rng.choice(_EN_TALK).split(",")[0]
    return text[0].upper() + text[1:] + "."


def _zh_line(rng: random.Random) -> str:
    text = rng.choice(_ZH_FILLERS) + rng.choice(_ZH_TALK)
    if rng.random() < 0.3:
        text = text[:2] + "……" + text
    for _ in range(rng.choice((0, 1, 1, 2))):
        text += "，" + rng.choice(_ZH_FILLERS) + rng.choice(_ZH_TALK)
    return text + "。"


def _meeting(
    *,
    file: str,
    fmt: str,
    date: str,
    title: str,
    minutes: int,
    zh: bool,
    speakers: list[str],
    planted: list[tuple[float, str, str]],
    gold: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Talk every ~15 s for `minutes`, with `planted` (share of the meeting, speaker, text)
    lines put in at their place."""
    rng = random.Random(seed)
    lines: list[tuple[int, str, str]] = []
    second = 2
    pending = sorted(planted)
    while second < minutes * 60:
        while pending and pending[0][0] * minutes * 60 <= second:
            _, speaker, text = pending.pop(0)
            lines.append((second, speaker, text))
            second += rng.randint(6, 14)
        speaker = rng.choice(speakers)
        if lines and rng.random() < 0.35:
            reply = rng.choice(_ZH_REPLY if zh else _EN_REPLY)
            text = reply + ("。" if zh else ".")
            text = text[0].upper() + text[1:]
        else:
            text = _zh_line(rng) if zh else _en_line(rng)
        lines.append((second, speaker, text))
        second += rng.randint(4, 9)
    for _, speaker, text in pending:
        lines.append((second, speaker, text))
        second += 10
    lines.append(
        (
            minutes * 60,
            speakers[0],
            "好，今天就到这里，谢谢大家。" if zh else "Okay, thanks everyone, talk soon.",
        )
    )
    return dict(file=file, fmt=fmt, date=date, title=title, lines=lines, gold=gold)


def _item(owner_id: str | None, owner: str, due: str, text: str, evidence: str) -> dict[str, Any]:
    return dict(owner_id=owner_id, owner_name=owner, due_date=due, text=text, evidence=evidence)


LONG_MEETINGS: list[dict[str, Any]] = [
    _meeting(
        file="acme-steering-60min-2026-11-20.vtt",
        fmt="vtt",
        date="2026-11-20",
        title="Acme steering committee",
        minutes=60,
        zh=False,
        speakers=["Alice Wong", "Jane Doe", "Raj Mehta"],
        planted=[
            (0.12, "Jane Doe", "Um, one thing first: we are now planning for 250 seats, not 200."),
            (0.2, "Alice Wong", "Okay. I will send the updated order form by next Friday."),
            (0.41, "Raj Mehta", "I will share the security questionnaire with you tomorrow."),
            (0.55, "Jane Doe", "So, at 1,200 per seat the total comes to 300,000 dollars, right?"),
            (0.63, "Alice Wong", "Yes. I will book the admin training for your team in two weeks."),
            (
                0.78,
                "Jane Doe",
                "I will get the budget sign-off from our CFO by the end of the month.",
            ),
            (0.9, "Raj Mehta", "Uh, I will send the list of admin users by Wednesday."),
        ],
        gold=dict(
            account_id="acc-acme",
            opportunity_id="opp-acme-1",
            attendees={"Alice Wong": "u-alice", "Jane Doe": "con-jane", "Raj Mehta": "con-raj"},
            action_items=[
                _item(
                    "u-alice",
                    "Alice Wong",
                    "2026-11-27",
                    "Send the updated order form",
                    "I will send the updated order form by next Friday",
                ),
                _item(
                    None,
                    "Raj Mehta",
                    "2026-11-21",
                    "Share the security questionnaire",
                    "I will share the security questionnaire with you tomorrow",
                ),
                _item(
                    "u-alice",
                    "Alice Wong",
                    "2026-12-04",
                    "Book the admin training",
                    "I will book the admin training for your team in two weeks",
                ),
                _item(
                    None,
                    "Jane Doe",
                    "2026-11-30",
                    "Get the budget sign-off from the CFO",
                    "I will get the budget sign-off from our CFO by the end of the month",
                ),
                _item(
                    None,
                    "Raj Mehta",
                    "2026-11-25",
                    "Send the list of admin users",
                    "I will send the list of admin users by Wednesday",
                ),
            ],
            changes=[
                dict(
                    field="amount",
                    value=300000,
                    evidence="at 1,200 per seat the total comes to 300,000 dollars",
                ),
            ],
        ),
        seed=60,
    ),
    _meeting(
        file="huaxing-review-90min-2026-11-20.json",
        fmt="json",
        date="2026-11-20",
        title="华星科技 季度业务回顾",
        minutes=90,
        zh=True,
        speakers=["陈伟", "王芳", "赵晨"],
        planted=[
            (0.1, "王芳", "嗯，先说一下，我们这边账号数要加到四百个。"),
            (0.18, "陈伟", "好的，我来负责下周五之前把新的报价发给您。"),
            (0.35, "赵晨", "那个，我明天把安全评估的材料发给陈伟。"),
            (0.5, "王芳", "按这个数，总价就是三百六十万，对吧？"),
            (0.62, "陈伟", "对。培训的话，我两周内安排一次管理员培训。"),
            (0.75, "王芳", "我们希望月底前完成签约。"),
            (0.88, "赵晨", "我周三之前把管理员名单整理好发过来。"),
        ],
        gold=dict(
            account_id="acc-huaxing",
            opportunity_id="opp-huaxing-1",
            attendees={"陈伟": "u-chen", "王芳": "con-wang", "赵晨": "con-huaxing-5"},
            action_items=[
                _item(
                    "u-chen",
                    "陈伟",
                    "2026-11-27",
                    "把新的报价发给王芳",
                    "我来负责下周五之前把新的报价发给您",
                ),
                _item(
                    None,
                    "赵晨",
                    "2026-11-21",
                    "把安全评估的材料发给陈伟",
                    "我明天把安全评估的材料发给陈伟",
                ),
                _item(
                    "u-chen",
                    "陈伟",
                    "2026-12-04",
                    "安排一次管理员培训",
                    "我两周内安排一次管理员培训",
                ),
                _item(
                    None,
                    "赵晨",
                    "2026-11-25",
                    "整理管理员名单并发过来",
                    "我周三之前把管理员名单整理好发过来",
                ),
            ],
            changes=[
                dict(field="amount", value=3600000, evidence="总价就是三百六十万"),
                dict(field="close_date", value="2026-11-30", evidence="我们希望月底前完成签约"),
            ],
        ),
        seed=90,
    ),
]
