"""Meeting-ingestion benchmark on the labelled set evals/meetings (gold.yaml).

    .venv/bin/python -m benchmarks.bench_meetings --llm scripted
    flock /tmp/warroom-local-llm.lock .venv/bin/python -m benchmarks.bench_meetings --llm local \
        [--limit N | --files a.vtt,b.json]

Each transcript is ingested as a dry run against the demo company (tools/seed.py, seed 7,
today 2026-11-20), so the transcripts do not affect each other. Reported:
- field-level precision/recall/F1: account, opportunity, attendees (name → CRM id), action items
  (matched to gold by evidence overlap; owner and due date scored on the matched pairs),
  proposed changes (field and value);
- evidence: the share of kept action items and changes whose evidence is a verbatim span of the
  transcript (the grounding filter makes it 100 %), and the share of what the model proposed
  that survived the filter;
- speed: seconds per transcript minute (the model's run), transcripts per second (scripted).

`--llm scripted` answers with the gold labels (a check of the pipeline: F1 must be 1.0) and
measures the pipeline's own throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from agents.llm import ScriptedChatModel
from channels.meetings import MeetingService
from channels.meetings.grounding import normalise
from channels.meetings.lines import candidate_lines
from channels.meetings.parsers import Transcript, parse_transcript
from tools.context import FixedClock
from tools.db import Database
from tools.policy import Policy
from tools.seed import seed_demo
from tools.service import CRMService
from warroom.settings import DEFAULT_POLICY_PATH

SET = Path(__file__).resolve().parent.parent / "evals" / "meetings"
TODAY = date(2026, 11, 20)


class Score:
    def __init__(self) -> None:
        self.tp = self.fp = self.fn = 0

    def add(self, tp: int, fp: int, fn: int) -> None:
        self.tp, self.fp, self.fn = self.tp + tp, self.fp + fp, self.fn + fn

    def report(self) -> dict[str, float | int]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {
            "precision": round(p, 3),
            "recall": round(r, 3),
            "f1": round(f, 3),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def gold_extraction(gold: dict[str, Any]) -> dict[str, Any]:
    """What a perfect model would answer for one transcript."""
    return {
        "title": "",
        "summary": "Gold summary.",
        "decisions": [],
        "action_items": [
            {
                "text": a["text"],
                "owner": a["owner_name"] or "",
                "due": "",
                "evidence": a["evidence"],
            }
            for a in gold["action_items"]
        ],
        "risks": [],
        "competitors": [],
        "qualification": {"budget": "", "authority": "", "need": "", "timeline": ""},
        "changes": [
            {"field": c["field"], "value": str(c["value"]), "evidence": c["evidence"]}
            for c in gold["changes"]
        ],
    }


def gold_lines(gold: dict[str, Any], data: bytes) -> dict[str, Any]:
    """What a perfect model would answer under the line strategy: the gold items and changes
    at the numbers of the lines that hold their evidence (the whole transcript in one window)."""
    segments = parse_transcript(data, gold["file"]).segments

    def line_of(evidence: str) -> int:
        needle = normalise(evidence)
        return next((i + 1 for i, s in enumerate(segments) if needle in normalise(s.text)), 0)

    return {
        "action_items": [
            {"line": line_of(a["evidence"]), "text": a["text"], "owner": a["owner_name"] or "",
             "due": ""}
            for a in gold["action_items"]
        ],
        "changes": [
            {"line": line_of(c["evidence"]), "field": c["field"], "value": str(c["value"])}
            for c in gold["changes"]
        ],
        "summary": [],
    }  # fmt: skip


def _same_value(field: str, got: Any, want: Any) -> bool:
    if field in ("amount", "probability"):
        try:
            return float(got) == float(want)
        except (TypeError, ValueError):
            return False
    if field == "next_step":
        return normalise(str(got)) == normalise(str(want))
    return str(got) == str(want)


def score_one(result: dict[str, Any], gold: dict[str, Any], scores: dict[str, Score]) -> None:
    for key in ("account_id", "opportunity_id"):
        got, want = result[key], gold[key]
        scores[key].add(
            int(got is not None and got == want),
            int(got is not None and got != want),
            int(want is not None and got != want),
        )
    got_people = {a["name"]: a["user_id"] or a["contact_id"] for a in result["attendees"]}
    got_people = {k: v for k, v in got_people.items() if v}
    want_people = {n: i for n, i in gold["attendees"].items() if i}
    tp = sum(1 for n, i in got_people.items() if want_people.get(n) == i)
    scores["attendees"].add(tp, len(got_people) - tp, len(want_people) - tp)
    matched = []
    unmatched_gold = list(gold["action_items"])
    for item in result["action_items"]:
        hit = next(
            (
                g
                for g in unmatched_gold
                if normalise(g["evidence"]) in normalise(item["evidence"])
                or normalise(item["evidence"]) in normalise(g["evidence"])
            ),
            None,
        )
        if hit is not None:
            unmatched_gold.remove(hit)
            matched.append((item, hit))
    n_items = len(result["action_items"])
    scores["action_items"].add(len(matched), n_items - len(matched), len(unmatched_gold))
    for item, want in matched:
        ok_owner = item["owner_id"] == want["owner_id"] and (
            want["owner_id"] is not None or item["owner_name"] == want["owner_name"]
        )
        scores["action_item_owner"].add(int(ok_owner), int(not ok_owner), int(not ok_owner))
        ok_due = item["due_date"] == want["due_date"]
        scores["action_item_due_date"].add(int(ok_due), int(not ok_due), int(not ok_due))
    got_changes = [
        (field, value)
        for c in result["proposed_changes"]
        for field, value in c["args"].items()
        if field != "opportunity_id"
    ]
    want_changes = [(c["field"], c["value"]) for c in gold["changes"]]
    tp = 0
    for field, value in got_changes:
        hit = next(
            (w for w in want_changes if w[0] == field and _same_value(field, value, w[1])), None
        )
        if hit is not None:
            want_changes.remove(hit)
            tp += 1
    scores["changes"].add(tp, len(got_changes) - tp, len(want_changes))


def fresh_crm(workdir: Path) -> CRMService:
    db = Database(f"sqlite:///{workdir / 'crm.sqlite3'}")
    seed_demo(db, seed=7, anchor=TODAY)
    return CRMService(
        db, policy=Policy.load(DEFAULT_POLICY_PATH), clock=FixedClock.on(TODAY, hour=15)
    )


def _words(transcript: Transcript) -> float:
    """Words said (a Chinese word ≈ 1.6 characters): a real-length meeting has the words of
    its minutes, not just timestamps spread over them."""
    text = " ".join(s.text for s in transcript.segments)
    cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff")
    return len(re.findall(r"[A-Za-z0-9]+", text)) + cjk / 1.6


def acting_user(gold: dict[str, Any]) -> str:
    users = [i for i in gold["attendees"].values() if i and i.startswith("u-") and i != "u-maria"]
    return users[0] if users else "u-admin"


async def run(
    llm: str, entries: list[dict[str, Any]], repeat: int, strategy: str = "chunks"
) -> dict[str, Any]:
    model: Any = None
    if llm != "scripted":
        from evals.suite import build_real_model

        model = build_real_model(llm)  # type: ignore[arg-type]
    scores = {
        k: Score()
        for k in (
            "account_id",
            "opportunity_id",
            "attendees",
            "action_items",
            "action_item_owner",
            "action_item_due_date",
            "changes",
        )
    }
    evidence_total = evidence_verbatim = proposed = dropped = 0
    summary_kept = summary_dropped = summary_lines_ok = 0
    found_by = {"quote": 0, "line": 0}
    seconds = minutes = 0.0
    real_seconds = real_minutes = 0.0  # transcripts whose own timestamps span ≥ 30 minutes
    per_file = []
    with tempfile.TemporaryDirectory() as tmp:
        crm = fresh_crm(Path(tmp))
        try:
            for _ in range(repeat):
                for gold in entries:
                    path = SET / "transcripts" / gold["file"]
                    data = path.read_bytes()
                    transcript = parse_transcript(data, gold["file"])
                    if llm == "scripted":
                        answer = (
                            gold_lines(gold, data) if strategy == "lines" else gold_extraction(gold)
                        )
                        windows = 1
                        if strategy == "lines":  # the same answer for every window
                            picked = candidate_lines(transcript.segments)
                            windows = max(1, len(picked))
                        the_model: Any = ScriptedChatModel(
                            [{"agent": "meetings", "output": answer}] * windows
                        )
                    else:
                        the_model = model
                    service = MeetingService(
                        crm=crm,
                        model=the_model,
                        chunk_tokens=100_000,
                        strategy="lines" if strategy == "lines" else "chunks",
                    )
                    started = time.perf_counter()
                    result = await service.ingest_bytes(
                        filename=gold["file"], data=data, actor_id=acting_user(gold), dry_run=True
                    )
                    took = time.perf_counter() - started
                    seconds += took
                    minutes += gold["minutes"]
                    spoken = transcript.duration_minutes or 0
                    if spoken >= 30 and _words(transcript) >= 60 * spoken:
                        real_seconds += took
                        real_minutes += spoken
                    d = result.to_dict()
                    score_one(d, gold, scores)
                    text = normalise(" ".join(s.text for s in transcript.segments))
                    kept = d["action_items"] + d["proposed_changes"]
                    evidence_total += len(kept)
                    evidence_verbatim += sum(normalise(k["evidence"]) in text for k in kept)
                    for way, n in d["ingestion"].get("evidence_from", {}).items():
                        found_by[way] += n
                    support = d["ingestion"].get("summary_support", [])
                    summary_kept += len(support)
                    summary_lines_ok += sum(1 for s in support if s["lines"])
                    summary_dropped += sum(
                        1 for x in d["ingestion"]["dropped_items"] if "summary" in x["reason"]
                    )
                    lost = d["ingestion"]["dropped"]
                    gone = sum(
                        1 for x in d["ingestion"]["dropped_items"] if "evidence" in x["reason"]
                    )
                    proposed += len(kept) + gone
                    dropped += gone
                    per_file.append(
                        {
                            "file": gold["file"],
                            "seconds": round(took, 2),
                            "minutes": gold["minutes"],
                            "spoken_minutes": spoken,
                            "found_by": d["ingestion"].get("found_by"),
                            "dropped": lost,
                            "action_items": len(d["action_items"]),
                            "changes": len(d["proposed_changes"]),
                            "evidence_from": d["ingestion"].get("evidence_from"),
                            # What was kept and dropped, to read the failures.
                            "kept": [
                                {"text": a["text"], "evidence": a["evidence"]}
                                for a in d["action_items"]
                            ]
                            + [
                                {"args": c["args"], "evidence": c["evidence"]}
                                for c in d["proposed_changes"]
                            ],
                            "dropped_items": d["ingestion"]["dropped_items"],
                        }
                    )
                    print(
                        f"{gold['file']}: {took:.1f}s, {len(d['action_items'])} items, "
                        f"{len(d['proposed_changes'])} changes, dropped {lost}",
                        flush=True,
                    )
        finally:
            if model is not None:
                await model.aclose()
            crm.db.dispose()
    n = len(entries) * repeat
    return {
        "llm": llm,
        "transcripts": n,
        "scores": {k: v.report() for k, v in scores.items()},
        "evidence_verbatim_share": round(evidence_verbatim / evidence_total, 3)
        if evidence_total
        else None,
        # Summary sentences shown (each with the transcript lines it rests on) and dropped.
        "summary_sentences": {
            "kept": summary_kept,
            "kept_with_cited_lines": summary_lines_ok,
            "dropped_unsupported": summary_dropped,
        },
        "model_quotes_kept_share": round((proposed - dropped) / proposed, 3) if proposed else None,
        # Of the kept items' evidence: the model's quote as it stood, or the line it cited.
        "evidence_found_by": found_by,
        "seconds": round(seconds, 2),
        "seconds_per_transcript_minute": round(seconds / minutes, 3) if minutes else None,
        # Over the real-length transcripts only: timestamps spanning ≥ 30 minutes and at least
        # 60 words a minute (the short labelled files spread a few lines over their minutes).
        "real_length_minutes": round(real_minutes, 1),
        "real_length_seconds_per_minute": round(real_seconds / real_minutes, 3)
        if real_minutes
        else None,
        "transcripts_per_second": round(n / seconds, 2) if seconds else None,
        "per_file": per_file,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", choices=("scripted", "local", "openai"), default="scripted")
    parser.add_argument("--limit", type=int, help="Only the first N transcripts.")
    parser.add_argument("--files", help="Comma-separated transcript file names.")
    parser.add_argument("--repeat", type=int, default=1, help="Passes over the set (scripted).")
    parser.add_argument("--out", type=Path, help="Write the JSON report here.")
    parser.add_argument(
        "--strategy",
        choices=("chunks", "lines"),
        default="chunks",
        help="chunks: the whole transcript, the model quoting; lines: rule-picked lines in "
        "windows, the model citing line numbers.",
    )
    parser.add_argument(
        "--gold",
        action="append",
        help="Label files of evals/meetings to read (default: gold.yaml and gold_natural.yaml).",
    )
    args = parser.parse_args()
    entries = [
        entry
        for name in args.gold or ("gold.yaml", "gold_natural.yaml")
        for entry in yaml.safe_load((SET / name).read_text(encoding="utf-8"))
    ]
    if args.files:
        wanted = set(args.files.split(","))
        entries = [e for e in entries if e["file"] in wanted]
    if args.limit:
        entries = entries[: args.limit]
    report = asyncio.run(run(args.llm, entries, args.repeat, args.strategy))
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
