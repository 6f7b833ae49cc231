"""Writes the labelled meeting transcripts and gold.yaml of evals/meetings from the scripts
below (one source of truth for the text and its labels). Re-run after editing:
    .venv/bin/python evals/meetings/make_transcripts.py
The meetings are about the demo company of tools/seed.py (seed 7)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

HERE = Path(__file__).parent
OUT = HERE / "transcripts"


def ts(seconds: float, comma: bool = False) -> str:
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    ms = int(round((seconds - int(seconds)) * 1000))
    sep = "," if comma else "."
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


# (name, format, date, title, lines[(second, speaker, text)], gold)
MEETINGS: list[dict] = [
    dict(
        file="acme-expansion-2026-11-20.vtt",
        fmt="vtt",
        date="2026-11-20",
        title="Acme expansion sync",
        lines=[
            (3, "Alice Wong", "Thanks for joining, Jane and Raj."),
            (
                9,
                "Jane Doe",
                "Quick update from our side: we are now looking at 200 seats instead of 100.",
            ),
            (20, "Alice Wong", "At 1,200 per seat that takes the deal to 240,000 dollars."),
            (31, "Raj Mehta", "Procurement needs a revised quote before anything else."),
            (600, "Alice Wong", "I will send the revised quote for 200 seats by next Friday."),
            (900, "Raj Mehta", "I will set up a security review with our IT team in two weeks."),
            (1320, "Jane Doe", "Sounds good, talk soon."),
        ],
        gold=dict(
            account_id="acc-acme",
            opportunity_id="opp-acme-1",
            attendees={"Alice Wong": "u-alice", "Jane Doe": "con-jane", "Raj Mehta": "con-raj"},
            action_items=[
                dict(
                    owner_id="u-alice",
                    owner_name="Alice Wong",
                    due_date="2026-11-27",
                    text="Send the revised quote for 200 seats",
                    evidence="I will send the revised quote for 200 seats by next Friday",
                ),
                dict(
                    owner_id=None,
                    owner_name="Raj Mehta",
                    due_date="2026-12-04",
                    text="Set up a security review with IT",
                    evidence="I will set up a security review with our IT team in two weeks",
                ),
            ],
            changes=[
                dict(
                    field="amount", value=240000, evidence="that takes the deal to 240,000 dollars"
                )
            ],
        ),
    ),
    dict(
        file="helix-golive-2026-11-18.srt",
        fmt="srt",
        date="2026-11-18",
        title=None,
        lines=[
            (5, "Bob Stone", "Emily, thanks for making time for the Helix rollout today."),
            (14, "Emily Green", "The login outage last week really hurt our clinicians."),
            (26, "Emily Green", "We cannot go live until that is fixed."),
            (1500, "Bob Stone", "Understood. I will send you the incident report by Friday."),
            (
                1800,
                "Emily Green",
                "I will confirm the go-live date with the clinicians by the end of the month.",
            ),
            (
                2050,
                "Emily Green",
                "Realistically we will sign at the end of next month, not this month.",
            ),
            (2100, "Bob Stone", "Thanks Emily."),
        ],
        gold=dict(
            account_id="acc-helix",
            opportunity_id="opp-helix-1",
            attendees={"Bob Stone": "u-bob", "Emily Green": "con-helix-1"},
            action_items=[
                dict(
                    owner_id="u-bob",
                    owner_name="Bob Stone",
                    due_date="2026-11-20",
                    text="Send the incident report",
                    evidence="I will send you the incident report by Friday",
                ),
                dict(
                    owner_id=None,
                    owner_name="Emily Green",
                    due_date="2026-11-30",
                    text="Confirm the go-live date with the clinicians",
                    evidence=(
                        "I will confirm the go-live date with the clinicians "
                        "by the end of the month"
                    ),
                ),
            ],
            changes=[
                dict(
                    field="close_date",
                    value="2026-12-31",
                    evidence="we will sign at the end of next month",
                )
            ],
        ),
    ),
    dict(
        file="pinecrest-migration-2026-11-16.txt",
        fmt="txt",
        date="2026-11-16",
        title="Pinecrest Bank: Migration from legacy BI",
        lines=[
            (10, "Ben Carter", "Kevin, Noah, thanks for the time on the migration project."),
            (40, "Kevin Walker", "Our budget for the migration is 300,000 dollars this year."),
            (95, "Noah Clark", "Procurement will need our vendor checklist filled in."),
            (400, "Ben Carter", "I will send the technical architecture document tomorrow."),
            (560, "Noah Clark", "I will share the procurement checklist next Wednesday."),
            (720, "Kevin Walker", "Good, let's talk after that."),
        ],
        gold=dict(
            account_id="acc-pinecrest",
            opportunity_id="opp-pinecrest-4",
            attendees={
                "Ben Carter": "u-ben",
                "Kevin Walker": "con-pinecrest-1",
                "Noah Clark": "con-pinecrest-4",
            },
            action_items=[
                dict(
                    owner_id="u-ben",
                    owner_name="Ben Carter",
                    due_date="2026-11-17",
                    text="Send the technical architecture document",
                    evidence="I will send the technical architecture document tomorrow",
                ),
                dict(
                    owner_id=None,
                    owner_name="Noah Clark",
                    due_date="2026-11-25",
                    text="Share the procurement checklist",
                    evidence="I will share the procurement checklist next Wednesday",
                ),
            ],
            changes=[
                dict(
                    field="amount",
                    value=300000,
                    evidence="Our budget for the migration is 300,000 dollars this year",
                )
            ],
        ),
    ),
    dict(
        file="nordlicht-negotiation-2026-11-19.json",
        fmt="json",
        date="2026-11-19",
        title="Nordlicht: Embedded analytics negotiation",
        attendees=[
            {"name": "Bob Stone", "email": "bob@warroom.example"},
            {"name": "Inès García", "email": "ines.garcia@nordlicht.example"},
            {"name": "Lukas Weber", "email": "lukas.weber@nordlicht.example"},
        ],
        lines=[
            (
                0,
                "Bob Stone",
                "Thanks both, let's go through the open points on the embedded analytics deal.",
            ),
            (
                60,
                "Inès García",
                "Finance is fine with the price, but I need our CFO to approve it.",
            ),
            (300, "Inès García", "I will get the CFO approval within 10 days."),
            (900, "Lukas Weber", "Technically we are happy, I'd say we are at 80 percent now."),
            (1500, "Bob Stone", "I will send the updated order form by Monday."),
            (1680, "Lukas Weber", "Perfect."),
        ],
        gold=dict(
            account_id="acc-nordlicht",
            opportunity_id="opp-nordlicht-1",
            attendees={
                "Bob Stone": "u-bob",
                "Inès García": "con-nordlicht-4",
                "Lukas Weber": "con-nordlicht-1",
            },
            action_items=[
                dict(
                    owner_id=None,
                    owner_name="Inès García",
                    due_date="2026-11-29",
                    text="Get the CFO approval",
                    evidence="I will get the CFO approval within 10 days",
                ),
                dict(
                    owner_id="u-bob",
                    owner_name="Bob Stone",
                    due_date="2026-11-23",
                    text="Send the updated order form",
                    evidence="I will send the updated order form by Monday",
                ),
            ],
            changes=[
                dict(field="probability", value=80, evidence="I'd say we are at 80 percent now")
            ],
        ),
    ),
    dict(
        file="acme-security-review.docx",
        fmt="docx",
        date="2026-11-19",
        title="Acme security review",
        lines=[
            (5, "Jane Doe", "Our security team signed off on the SOC 2 report."),
            (
                200,
                "Alice Wong",
                "Great, I will share the data processing agreement by end of month.",
            ),
            (420, "Raj Mehta", "Procurement will review it within 5 days of receiving it."),
            (540, "Jane Doe", "Thanks Alice."),
        ],
        gold=dict(
            account_id="acc-acme",
            opportunity_id="opp-acme-1",
            attendees={"Jane Doe": "con-jane", "Alice Wong": "u-alice", "Raj Mehta": "con-raj"},
            action_items=[
                dict(
                    owner_id="u-alice",
                    owner_name="Alice Wong",
                    due_date="2026-11-30",
                    text="Share the data processing agreement",
                    evidence="I will share the data processing agreement by end of month",
                ),
            ],
            changes=[],
        ),
    ),
    dict(
        file="globex-renewal-2026-11-17.md",
        fmt="md",
        date="2026-11-17",
        title="Globex Retail renewal call",
        lines=[
            (0, "Ben Carter", "Hannah, Olivia, thanks for joining the renewal call."),
            (120, "Hannah Lewis", "The team uses the dashboards every day, we want to renew."),
            (400, "Olivia Wright", "I will confirm the final seat count next week."),
            (700, "Ben Carter", "Then I will send the renewal quote this Thursday."),
            (900, "Olivia Wright", "Works for us."),
        ],
        gold=dict(
            account_id="acc-globex",
            opportunity_id=None,
            attendees={
                "Ben Carter": "u-ben",
                "Hannah Lewis": "con-globex-1",
                "Olivia Wright": "con-globex-2",
            },
            action_items=[
                dict(
                    owner_id=None,
                    owner_name="Olivia Wright",
                    due_date="2026-11-27",
                    text="Confirm the final seat count",
                    evidence="I will confirm the final seat count next week",
                ),
                dict(
                    owner_id="u-ben",
                    owner_name="Ben Carter",
                    due_date="2026-11-19",
                    text="Send the renewal quote",
                    evidence="I will send the renewal quote this Thursday",
                ),
            ],
            changes=[],
        ),
    ),
    dict(
        file="acme-stage-2026-11-23.srt",
        fmt="srt",
        date="2026-11-23",
        title=None,
        lines=[
            (2, "Alice Wong", "Morning Jane, a short follow-up on the Acme expansion."),
            (
                12,
                "Jane Doe",
                "Legal approved the order form, so we are ready to move to negotiation.",
            ),
            (200, "Alice Wong", "Great. I will book the kick-off call for tomorrow."),
            (330, "Jane Doe", "See you then."),
        ],
        gold=dict(
            account_id="acc-acme",
            opportunity_id="opp-acme-1",
            attendees={"Alice Wong": "u-alice", "Jane Doe": "con-jane"},
            action_items=[
                dict(
                    owner_id="u-alice",
                    owner_name="Alice Wong",
                    due_date="2026-11-24",
                    text="Book the kick-off call",
                    evidence="I will book the kick-off call for tomorrow",
                ),
            ],
            changes=[
                dict(
                    field="stage",
                    value="negotiation",
                    evidence="we are ready to move to negotiation",
                )
            ],
        ),
    ),
    dict(
        file="huaxing-renewal-2026-11-20.json",
        fmt="json",
        date="2026-11-20",
        title="华星科技 企业版采购沟通",
        attendees=[
            {"name": "陈伟", "email": "chen.wei@warroom.example"},
            {"name": "王芳", "email": "wang.fang@huaxing.example"},
            {"name": "赵晨", "email": "zhao.chen@huaxing.example"},
        ],
        lines=[
            (0, "陈伟", "王总您好，今天主要确认一下企业版的采购计划。"),
            (60, "王芳", "我们的预算已经批下来了，席位从三百个增加到四百个，总价三百三十六万。"),
            (300, "赵晨", "我三天内把IT安全问卷发给你们。"),
            (700, "陈伟", "好的，我下周五之前把新的中文报价发给您。"),
            (1260, "王芳", "我们希望月底前完成签约。"),
        ],
        gold=dict(
            account_id="acc-huaxing",
            opportunity_id="opp-huaxing-1",
            attendees={"陈伟": "u-chen", "王芳": "con-wang", "赵晨": "con-huaxing-5"},
            action_items=[
                dict(
                    owner_id=None,
                    owner_name="赵晨",
                    due_date="2026-11-23",
                    text="发送IT安全问卷",
                    evidence="我三天内把IT安全问卷发给你们",
                ),
                dict(
                    owner_id="u-chen",
                    owner_name="陈伟",
                    due_date="2026-11-27",
                    text="发送新的中文报价",
                    evidence="我下周五之前把新的中文报价发给您",
                ),
            ],
            changes=[
                dict(field="amount", value=3360000, evidence="总价三百三十六万"),
                dict(field="close_date", value="2026-11-30", evidence="我们希望月底前完成签约"),
            ],
        ),
    ),
    dict(
        file="dongfang-pilot-2026-11-18.vtt",
        fmt="vtt",
        date="2026-11-18",
        title="Dongfang Logistics Analytics pilot 试点沟通",
        lines=[
            (0, "陈伟", "周婷、黄佳怡，感谢参加试点沟通会。"),
            (90, "周婷", "我们想先在运输调度部门试用三个月。"),
            (300, "黄佳怡", "试点预算是二十万元。"),
            (600, "陈伟", "我明天把试点方案发给你们。"),
            (840, "黄佳怡", "我下周一确认一下采购流程。"),
            (1080, "周婷", "好的，谢谢。"),
        ],
        gold=dict(
            account_id="acc-dongfang",
            opportunity_id="opp-dongfang-3",
            attendees={"陈伟": "u-chen", "周婷": "con-dongfang-1", "黄佳怡": "con-dongfang-2"},
            action_items=[
                dict(
                    owner_id="u-chen",
                    owner_name="陈伟",
                    due_date="2026-11-19",
                    text="发送试点方案",
                    evidence="我明天把试点方案发给你们",
                ),
                dict(
                    owner_id=None,
                    owner_name="黄佳怡",
                    due_date="2026-11-23",
                    text="确认采购流程",
                    evidence="我下周一确认一下采购流程",
                ),
            ],
            changes=[dict(field="amount", value=200000, evidence="试点预算是二十万元")],
        ),
    ),
    dict(
        file="jinhai-legal-2026-11-19.txt",
        fmt="txt",
        date="2026-11-19",
        title="金海银行 合同法务沟通",
        lines=[
            (0, "陈伟", "马总、胡经理，我们今天过一下合同的法务问题。"),
            (300, "胡杰", "法务还在看数据出境的条款，我本周五把法务意见发过来。"),
            (900, "马洋", "技术上没有问题，我们计划下个月十五号签约。"),
            (1500, "陈伟", "明白，我两周内安排上线培训。"),
            (1980, "马洋", "好的。"),
        ],
        gold=dict(
            account_id="acc-jinhai",
            opportunity_id="opp-jinhai-2",
            attendees={"陈伟": "u-chen", "胡杰": "con-jinhai-6", "马洋": "con-jinhai-3"},
            action_items=[
                dict(
                    owner_id=None,
                    owner_name="胡杰",
                    due_date="2026-11-20",
                    text="发送法务意见",
                    evidence="我本周五把法务意见发过来",
                ),
                dict(
                    owner_id="u-chen",
                    owner_name="陈伟",
                    due_date="2026-12-03",
                    text="安排上线培训",
                    evidence="我两周内安排上线培训",
                ),
            ],
            changes=[
                dict(field="close_date", value="2026-12-15", evidence="我们计划下个月十五号签约")
            ],
        ),
    ),
    dict(
        file="huaxing-tech-2026-11-16.srt",
        fmt="srt",
        date="2026-11-16",
        title=None,
        encoding="gb18030",
        lines=[
            (0, "陈伟", "胡经理，华星科技的数据迁移我们今天对一下技术细节。"),
            (120, "胡思远", "我下周三提供数据源清单。"),
            (300, "陈伟", "好的，我月底交付数据迁移方案。"),
            (480, "胡思远", "下一步是完成数据迁移方案评审。"),
        ],
        gold=dict(
            account_id="acc-huaxing",
            opportunity_id="opp-huaxing-1",
            attendees={"陈伟": "u-chen", "胡思远": "con-huaxing-2"},
            action_items=[
                dict(
                    owner_id=None,
                    owner_name="胡思远",
                    due_date="2026-11-25",
                    text="提供数据源清单",
                    evidence="我下周三提供数据源清单",
                ),
                dict(
                    owner_id="u-chen",
                    owner_name="陈伟",
                    due_date="2026-11-30",
                    text="交付数据迁移方案",
                    evidence="我月底交付数据迁移方案",
                ),
            ],
            changes=[
                dict(
                    field="next_step",
                    value="完成数据迁移方案评审",
                    evidence="下一步是完成数据迁移方案评审",
                )
            ],
        ),
    ),
    dict(
        file="acme-qbr-2026-11-20.txt",
        fmt="txt",
        date="2026-11-20",
        title="Acme quarterly business review",
        lines=[
            (0, "Alice Wong", "Welcome everyone to the Acme quarterly business review."),
            (300, "Lucas Martinez", "Usage grew by forty percent in the data platform team."),
            (900, "Jane Doe", "We also looked at Umbrella Analytics, but we prefer to stay."),
            (1500, "Lucas Martinez", "I will send the usage report by December 4."),
            (1900, "Maria Lopez", "I will review the renewal terms by the end of next week."),
            (2300, "Jane Doe", "We want to sign by December 15."),
            (2400, "Alice Wong", "Thank you all."),
        ],
        gold=dict(
            account_id="acc-acme",
            opportunity_id="opp-acme-1",
            attendees={
                "Alice Wong": "u-alice",
                "Lucas Martinez": "con-acme-3",
                "Jane Doe": "con-jane",
                "Maria Lopez": "u-maria",
            },
            action_items=[
                dict(
                    owner_id=None,
                    owner_name="Lucas Martinez",
                    due_date="2026-12-04",
                    text="Send the usage report",
                    evidence="I will send the usage report by December 4",
                ),
                dict(
                    owner_id="u-maria",
                    owner_name="Maria Lopez",
                    due_date="2026-11-27",
                    text="Review the renewal terms",
                    evidence="I will review the renewal terms by the end of next week",
                ),
            ],
            changes=[
                dict(
                    field="close_date",
                    value="2026-12-15",
                    evidence="We want to sign by December 15",
                )
            ],
        ),
    ),
]


def write(meeting: dict) -> None:
    path = OUT / meeting["file"]
    fmt, lines = meeting["fmt"], meeting["lines"]
    ends = [
        (s, lines[i + 1][0] if i + 1 < len(lines) else s + 8) for i, (s, *_) in enumerate(lines)
    ]
    ends = [(s, min(e, s + 12)) for s, e in ends]
    header = [f"Title: {meeting['title']}"] if meeting.get("title") else []
    header.append(f"Date: {meeting['date']}")
    if fmt == "vtt":
        blocks = ["WEBVTT", "NOTE\n" + "\n".join(header)]
        blocks += [
            f"{ts(s)} --> {ts(e)}\n<v {sp}>{tx}</v>"
            for (s, e), (_, sp, tx) in zip(ends, lines, strict=False)
        ]
        path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    elif fmt == "srt":
        blocks = [
            f"{n}\n{ts(s, True)} --> {ts(e, True)}\n{sp}：{tx}"
            if meeting.get("encoding")
            else f"{n}\n{ts(s, True)} --> {ts(e, True)}\n{sp}: {tx}"
            for n, ((s, e), (_, sp, tx)) in enumerate(zip(ends, lines, strict=False), start=1)
        ]
        text = "\r\n\r\n".join(b.replace("\n", "\r\n") for b in blocks) + "\r\n"
        path.write_bytes(text.encode(meeting.get("encoding", "utf-8")))
    elif fmt in ("txt", "md"):
        body = [f"[{ts(s)[:8]}] {sp}: {tx}" for s, sp, tx in lines]
        if fmt == "md":
            body = [f"- **{sp}:** {tx}" for _, sp, tx in lines]
            body.insert(0, f"Date: {meeting['date']}\n")
            body.insert(0, f"# {meeting['title']}\n")
            body.append(f"\n_Recording: {lines[-1][0] // 60} minutes_")
            # The .md carries no timestamps; its length is in the gold.
            path.write_text("\n".join(body) + "\n", encoding="utf-8")
            return
        path.write_text("\n".join(header) + "\n\n" + "\n".join(body) + "\n", encoding="utf-8")
    elif fmt == "json":
        data = {
            "title": meeting["title"],
            "date": meeting["date"],
            "attendees": meeting.get("attendees", []),
            "segments": [
                {"speaker": sp, "start": s, "end": e, "text": tx}
                for (s, e), (_, sp, tx) in zip(ends, lines, strict=False)
            ],
        }
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    elif fmt == "docx":
        import docx

        document = docx.Document()
        document.add_heading(meeting["title"], level=1)
        document.add_paragraph(f"Date: {meeting['date']}")
        for s, sp, tx in lines:
            document.add_paragraph(f"[{ts(s)[:8]}] {sp}: {tx}")
        document.core_properties.title = meeting["title"]
        document.save(str(path))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    gold = []
    from long_meetings import LONG_MEETINGS  # beside this script

    for meeting in [*MEETINGS, *LONG_MEETINGS]:
        write(meeting)
        minutes = round(meeting["lines"][-1][0] / 60)
        gold.append(
            {
                "file": meeting["file"],
                "date": meeting["date"],
                "language": "zh"
                if any("\u4e00" <= ch <= "\u9fff" for ch in meeting["lines"][1][2])
                else "en",
                "minutes": minutes,
                **meeting["gold"],
            }
        )
    (HERE / "gold.yaml").write_text(
        "# Labels of evals/meetings/transcripts, written by make_transcripts.py.\n"
        + yaml.safe_dump(gold, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
