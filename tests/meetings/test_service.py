"""MeetingService end to end with a scripted model: matching, grounding, gate, review,
idempotency, dry run, memory, folders."""

from __future__ import annotations

from typing import Any

import pytest

from agents.conversation import ConversationService
from channels.meetings import IngestError, MeetingService
from tools.models import Activity, Approval, AuditEvent, MeetingIngestion, Task, ToolExecution
from tools.service import CRMService

from .conftest import ACME_EXTRACTION, FIXTURES, extraction, scripted


def counts(crm: CRMService) -> dict[str, int]:
    with crm.db.read_session() as s:
        return {
            m.__tablename__: s.query(m).count()
            for m in (Activity, Task, Approval, AuditEvent, ToolExecution, MeetingIngestion)
        }


async def test_acme_transcript_end_to_end(make_service, meeting_crm, acme_vtt) -> None:
    svc = make_service(ACME_EXTRACTION)
    result = await svc.ingest_bytes(filename="calls/acme.vtt", data=acme_vtt, actor_id="u-alice")
    d = result.to_dict()
    assert d["source"]["format"] == "vtt" and len(d["source"]["sha256"]) == 64
    assert d["meeting"] == {"title": "Acme expansion sync", "date": "2026-11-20",
                            "duration_minutes": 21}  # fmt: skip
    assert (d["account_id"], d["opportunity_id"]) == ("acc-acme", "opp-acme-1")
    people = {a["name"]: (a["contact_id"], a["user_id"], a["side"]) for a in d["attendees"]}
    assert people == {
        "Alice Wong": (None, "u-alice", "internal"),
        "Jane Doe": ("con-jane", None, "customer"),
        "Raj Mehta": ("con-raj", None, "customer"),
    }
    # The fabricated action item (no such words in the transcript) is dropped and counted.
    assert [a["text"] for a in d["action_items"]] == [
        "Send revised quote for 200 seats",
        "Set up a security review",
    ]
    quote, review = d["action_items"]
    assert (quote["owner_id"], quote["owner_name"], quote["due_date"]) == (
        "u-alice", "Alice Wong", "2026-11-27")  # fmt: skip
    assert quote["evidence"] == "I'll send the revised quote for 200 seats by next Friday"
    # "I" is the speaker of the evidence: Raj, a customer contact, so no user id.
    assert (review["owner_id"], review["owner_name"], review["due_date"]) == (
        None, "Raj Mehta", "2026-12-04")  # fmt: skip
    assert d["competitors"] == ["Umbrella Analytics"]  # Globex was never said
    assert d["risks"] == ["Competing offer from Umbrella Analytics"]
    assert d["qualification"]["budget"] is None
    changes = {c["args"].get("amount") and "amount" or "next_step": c
               for c in d["proposed_changes"]}  # fmt: skip
    assert set(changes) == {"amount", "next_step"}  # the fabricated closed_won is dropped
    amount = changes["amount"]
    assert amount["args"] == {"opportunity_id": "opp-acme-1", "amount": 240000}
    assert (amount["risk"], amount["status"]) == ("high", "pending_approval")
    # The model quoted the seats; the amount is taken where the meeting says it (cue rules).
    assert amount["evidence"] == "At 1,200 per seat that takes the deal to 240,000 dollars"
    assert amount["reviewer_ids"] == ["u-maria"]
    assert (changes["next_step"]["risk"], changes["next_step"]["status"]) == ("low", "committed")
    assert d["ingestion"]["dropped"]["ungrounded"] >= 3  # item, stage change, Globex
    assert d["ingestion"]["status"] == "applied"
    with meeting_crm.db.read_session() as s:
        activity = s.get(Activity, d["ingestion"]["activity"]["record_id"])
        assert activity.kind == "meeting" and activity.account_id == "acc-acme"
        assert sorted(activity.contact_ids) == ["con-jane", "con-raj"]
        tasks = {t.subject: t for t in s.query(Task).filter(Task.account_id == "acc-acme")}
        assert tasks["Send revised quote for 200 seats"].owner_id == "u-alice"
        assert str(tasks["Send revised quote for 200 seats"].due_date) == "2026-11-27"
        follow = tasks["Follow up: Raj Mehta — Set up a security review"]
        assert follow.owner_id == "u-alice" and str(follow.due_date) == "2026-12-04"
        approval = s.get(Approval, amount["approval_id"])
        assert approval.status == "pending" and approval.arguments["amount"] == 240000
    opp = meeting_crm.read("get_opportunity", {"opportunity_id": "opp-acme-1"},
                           meeting_crm.actor("u-alice"))  # fmt: skip
    assert opp["amount"] in ("100000.00", 100000, "100000")  # held, not applied
    assert opp["next_step"] == "Send the revised quote for 200 seats"
    text = result.summary()
    assert "pending_approval" in text and "u-maria" in text and "Dropped:" in text


async def test_second_ingest_of_the_same_bytes_changes_nothing(make_service, meeting_crm,
                                                               acme_vtt) -> None:  # fmt: skip
    first = await make_service(ACME_EXTRACTION).ingest_bytes(
        filename="a.vtt", data=acme_vtt, actor_id="u-alice")  # fmt: skip
    before = counts(meeting_crm)
    # No model steps are scripted: a second extraction would fail the test.
    again = await make_service().ingest_bytes(filename="copy.vtt", data=acme_vtt,
                                              actor_id="u-alice")  # fmt: skip
    assert counts(meeting_crm) == before
    assert again.status == "already_ingested"
    assert again.ingestion["first_path"] == "a.vtt"
    assert "Already ingested" in again.summary() and "nothing was changed" in again.summary()
    assert again.to_dict()["action_items"] == first.to_dict()["action_items"]


async def test_dry_run_writes_nothing(make_service, meeting_crm, acme_vtt) -> None:
    before = counts(meeting_crm)
    result = await make_service(ACME_EXTRACTION).ingest_bytes(
        filename="a.vtt", data=acme_vtt, actor_id="u-alice", dry_run=True)  # fmt: skip
    assert counts(meeting_crm) == before
    statuses = {c["status"] for c in result.proposed_changes}
    assert statuses == {"would_commit", "would_need_approval"}
    assert result.ingestion["activity"]["status"] == "would_commit"
    assert {t["status"] for t in result.ingestion["tasks"]} == {"would_commit"}
    assert "Dry run: nothing was written." in result.summary()


async def test_dry_run_refusal_is_not_even_audited(make_service, meeting_crm, acme_vtt) -> None:
    before = counts(meeting_crm)
    with pytest.raises(IngestError, match="an account you cannot see"):  # Bob: another team
        await make_service(ACME_EXTRACTION).ingest_bytes(
            filename="a.vtt", data=acme_vtt, actor_id="u-bob", dry_run=True)  # fmt: skip
    assert counts(meeting_crm) == before


async def test_a_field_a_person_typed_goes_to_review(make_service, meeting_crm,
                                                     acme_vtt) -> None:  # fmt: skip
    alice = meeting_crm.actor("u-alice")
    typed = meeting_crm.call(
        "update_opportunity", {"opportunity_id": "opp-acme-1", "next_step": "Call Jane"}, alice
    )
    assert typed["ok"]
    result = await make_service(ACME_EXTRACTION).ingest_bytes(
        filename="a.vtt", data=acme_vtt, actor_id="u-alice")  # fmt: skip
    step = next(c for c in result.proposed_changes if "next_step" in c["args"])
    assert (step["risk"], step["status"]) == ("high", "pending_approval")
    assert any("last set by u-alice" in r for r in step["reasons"])


async def test_a_field_set_by_ingestion_follows_the_policy(make_service, meeting_crm) -> None:
    first = extraction(
        changes=[
            {
                "field": "next_step",
                "value": "Book the kick-off call",
                "evidence": "I will book the kick-off call for tomorrow",
            }
        ]
    )
    data = (FIXTURES / "acme-followup.srt").read_bytes()
    svc = make_service(first, account_id=None) if False else make_service(first)
    r1 = await svc.ingest_bytes(filename="f.srt", data=data, actor_id="u-alice",
                                account_id="acc-acme")  # fmt: skip
    assert r1.proposed_changes[0]["status"] == "committed"
    second = extraction(
        changes=[
            {
                "field": "next_step",
                "value": "Run the kick-off call",
                "evidence": "I will book the kick-off call for tomorrow",
            }
        ]
    )
    r2 = await make_service(second).ingest_bytes(
        filename="g.srt", data=data + b"\n", actor_id="u-alice", account_id="acc-acme"
    )
    assert r2.proposed_changes[0]["status"] == "committed"  # last set by ingestion: no review


async def test_chinese_transcript(make_service, meeting_crm) -> None:
    out = extraction(
        summary="华星科技预算已批，席位增加到四百个。",
        action_items=[{"text": "发送新的中文报价", "owner": "陈伟", "due": "下周五",
                       "evidence": "我下周五之前把新的中文报价发给您"}],
        competitors=["东方云"],
        changes=[
            {"field": "amount", "value": "3024000", "evidence": "席位从三百个增加到四百个"},
            {"field": "close_date", "value": "月底前",
             "evidence": "我们希望月底前完成签约"},
        ],
    )  # fmt: skip
    data = (FIXTURES / "huaxing-zh.json").read_bytes()
    result = await make_service(out).ingest_bytes(filename="hx.json", data=data,
                                                  actor_id="u-chen")  # fmt: skip
    d = result.to_dict()
    assert (d["account_id"], d["opportunity_id"]) == ("acc-huaxing", "opp-huaxing-1")
    people = {a["name"]: (a["contact_id"], a["user_id"]) for a in d["attendees"]}
    assert people == {"王芳": ("con-wang", None), "陈伟": (None, "u-chen")}
    item = d["action_items"][0]
    assert (item["owner_id"], item["due_date"]) == ("u-chen", "2026-11-27")
    assert d["competitors"] == ["东方云"]
    by_field = {next(k for k in c["args"] if k != "opportunity_id"): c
                for c in d["proposed_changes"]}  # fmt: skip
    # 3,024,000 is the model's arithmetic: no line says an amount, so none is proposed.
    assert "amount" not in by_field
    reasons = {x["item"]: x["reason"] for x in d["ingestion"]["dropped_items"]}
    assert reasons["amount"] == "line 2 does not state the amount"
    assert by_field["close_date"]["args"]["close_date"] == "2026-11-30"  # resolved in code
    assert by_field["close_date"]["status"] == "committed"


async def test_ambiguous_account_is_reported_and_nothing_applied(make_service,
                                                                 meeting_crm) -> None:  # fmt: skip
    data = b"Jane: Acme and Helix both want the new pricing.\nBob Stone: Noted.\n"
    before = counts(meeting_crm)
    result = await make_service(extraction()).ingest_bytes(filename="x.txt", data=data,
                                                           actor_id="u-alice")  # fmt: skip
    assert result.account_id is None and result.status == "not_applied"
    assert counts(meeting_crm) == before
    # Records of accounts Alice may not see (Helix, Initech) are not named.
    hidden = "a record you cannot see"
    assert any("account is ambiguous" in a and "acc-acme" in a and hidden in a
               for a in result.ingestion["ambiguities"])  # fmt: skip
    assert any("'Jane'" in a and "con-jane," in a and hidden in a
               for a in result.ingestion["ambiguities"])  # fmt: skip
    assert not any("helix" in a or "initech" in a for a in result.ingestion["ambiguities"])
    jane = next(a for a in result.attendees if a["name"] == "Jane")
    assert jane["contact_id"] is None  # never guessed
    assert "Ambiguous:" in result.summary()


async def test_first_name_resolves_inside_the_account_context(make_service) -> None:
    data = (b"Title: Acme weekly\nDate: 2026-11-20\nAttendees: jane@acme.example\n\n"
            b"Jane: We are fine with the plan.\nAlice: Great, talk soon.\n")  # fmt: skip
    result = await make_service(extraction()).ingest_bytes(filename="x.txt", data=data,
                                                           actor_id="u-alice")  # fmt: skip
    names = {a["name"]: (a["contact_id"], a["user_id"]) for a in result.attendees}
    assert names["Jane"] == ("con-jane", None) and names["Alice"] == (None, "u-alice")


async def test_size_limit_and_unknown_user(make_service, acme_vtt) -> None:
    svc = make_service(max_bytes=100)
    with pytest.raises(IngestError) as caught:
        await svc.ingest_bytes(filename="a.vtt", data=acme_vtt, actor_id="u-alice")
    assert caught.value.status == 413 and "limit is 100 bytes" in caught.value.message
    with pytest.raises(IngestError) as caught:
        await make_service().ingest_bytes(filename="a.vtt", data=acme_vtt, actor_id="u-ghost")
    assert caught.value.status == 403 and "u-ghost" in caught.value.message


async def test_without_a_model_the_meeting_is_still_logged(make_service, acme_vtt) -> None:
    result = await make_service().ingest_bytes(filename="a.vtt", data=acme_vtt,
                                               actor_id="u-alice")  # fmt: skip
    assert result.ingestion["activity"]["status"] == "committed"
    assert result.action_items == [] and result.proposed_changes == []
    assert any("No language model" in n for n in result.ingestion["notes"])


async def test_long_transcripts_are_chunked_and_merged(make_service, acme_vtt) -> None:
    part1 = extraction(summary="Jane is now looking at 200 seats.",
                       competitors=["Umbrella Analytics"],
                       changes=[{"field": "amount", "value": "200000",
                                 "evidence": "we're now looking at 200 seats"}])  # fmt: skip
    part2 = extraction(
        summary="Raj will set up a security review in two weeks.",
        competitors=["umbrella analytics"],
        changes=[
            {
                "field": "amount",
                "value": "240k",
                "evidence": "we're now looking at 200 seats instead of 100",
            }
        ],
    )
    svc = make_service(part1, part2, chunk_tokens=80)
    result = await svc.ingest_bytes(filename="a.vtt", data=acme_vtt, actor_id="u-alice",
                                    dry_run=True)  # fmt: skip
    assert result.ingestion["chunks"] == 2
    assert result.summary_text == (
        "Jane is now looking at 200 seats. Raj will set up a security review in two weeks."
    )
    assert result.competitors == ["Umbrella Analytics"]
    assert [c["args"]["amount"] for c in result.proposed_changes] == [240000]  # last said wins
    assert svc.model.remaining == 0  # type: ignore[union-attr]


async def test_review_thread_opened_and_memory_remembered(meeting_crm, acme_vtt) -> None:
    remembered: list[dict[str, Any]] = []

    class Memory:
        def remember(self, account_id: str, text: str, **kw: Any) -> None:
            remembered.append({"account_id": account_id, "text": text, **kw})

    convo = ConversationService(crm=meeting_crm, model=None)
    opened: list[str] = []

    async def listener(row: dict[str, Any]) -> None:
        opened.append(row["id"])

    convo.subscribe(review_opened=listener)
    svc = MeetingService(crm=meeting_crm, model=scripted(ACME_EXTRACTION), convo=convo,
                         memory=Memory())  # fmt: skip
    result = await svc.ingest_bytes(filename="a.vtt", data=acme_vtt, actor_id="u-alice",
                                    thread_id="slack:C1:171")  # fmt: skip
    assert opened == [c["approval_id"] for c in result.pending]
    assert meeting_crm.reviews(approval_id=opened[0])[0]["thread_id"] == "slack:C1:171"
    sha = result.source["sha256"]
    assert remembered and all(
        r["source_kind"] == "meeting" and sha in r["source_ref"] and r["account_id"] == "acc-acme"
        for r in remembered
    )
    assert any("Umbrella Analytics" in r["text"] for r in remembered)
    assert result.ingestion["memory_facts"] == len(remembered)


async def test_folder_ingest_reports_bad_files_and_goes_on(meeting_crm) -> None:
    svc = MeetingService(crm=meeting_crm, model=None, max_bytes=1_000_000)
    batch = await svc.ingest_path(FIXTURES, actor_id="u-admin", dry_run=True)
    failed = {f.path.rsplit("/", 1)[-1]: f.reason for f in batch.failures}
    assert set(failed) == {"empty.vtt", "header-only.vtt", "broken.json", "picture.txt"}
    assert all(reason.startswith(str(FIXTURES)) for reason in failed.values())
    read = {r.source["path"].rsplit("/", 1)[-1] for r in batch.results}
    assert {"acme-2026-11-20.vtt", "huaxing-zh.json", "acme-security.docx"} <= read
    listed = batch.to_list()
    assert len(listed) == len(batch.results) + len(batch.failures)
    assert "13 file(s): 9 ingested, 4 refused." in batch.summary()
    missing = await svc.ingest_path(FIXTURES / "nope.vtt", actor_id="u-admin")
    assert "no such file" in missing.failures[0].reason


async def test_a_refused_ingest_leaves_no_receipt(make_service, meeting_crm, acme_vtt) -> None:
    with pytest.raises(IngestError, match="an account you cannot see"):
        await make_service(ACME_EXTRACTION).ingest_bytes(
            filename="a.vtt", data=acme_vtt, actor_id="u-bob"
        )
    applied = await make_service(ACME_EXTRACTION).ingest_bytes(
        filename="a.vtt", data=acme_vtt, actor_id="u-alice"
    )
    assert applied.status == "applied"


async def test_paraphrased_quotes_are_grounded_by_their_cited_lines(
    make_service, meeting_crm, acme_vtt
) -> None:
    """A small model rewords what it quotes; the line it cites becomes the evidence, in the
    transcript's words — unless the line does not state the figure the change is about."""
    svc = make_service(extraction(
        action_items=[
            {"text": "Send revised quote", "owner": "Alice Wong", "due": "next Friday",
             "evidence": "Alice to send the revised quote for 200 seats next Friday", "line": 4},
        ],
        changes=[
            {"field": "amount", "value": "240000", "line": 2,
             "evidence": "Jane says they now want 200 seats instead of 100"},
            {"field": "next_step", "value": "Send the revised quote for 200 seats", "line": 4,
             "evidence": "Alice will send the revised quote for 200 seats"},
            {"field": "amount", "value": "300 seats", "line": 2,
             "evidence": "Jane says they are now looking at 300 seats"},
            {"field": "stage", "value": "negotiation", "line": 4,
             "evidence": "Alice Wong says we&#39;re now looking at 200 seats instead of 100."},
            {"field": "close_date", "value": "next Friday", "line": 5,
             "evidence": "Jane says they can sign before the end of the year"},
            {"field": "next_step", "value": "none", "line": 4,
             "evidence": "Alice will send the revised quote for 200 seats"},
        ],
    ))  # fmt: skip
    result = await svc.ingest_bytes(filename="acme.vtt", data=acme_vtt, actor_id="u-alice",
                                    dry_run=True)  # fmt: skip
    d = result.to_dict()
    line_4 = "Understood. I'll send the revised quote for 200 seats by next Friday."
    # The cue rules found Alice's promise on line 4 (the model's wording and due words are
    # kept, the evidence is the promise's own sentence) and Raj's on line 6.
    alice, raj = d["action_items"]
    assert alice["text"] == "Send revised quote"
    assert alice["evidence"] in line_4 and alice["evidence"].startswith("I'll send the revised")
    assert (alice["owner_id"], alice["due_date"]) == ("u-alice", "2026-11-27")
    assert (raj["owner_name"], raj["due_date"]) == ("Raj Mehta", "2026-12-04")
    changes = {next(k for k in c["args"] if k != "opportunity_id"): c
               for c in d["proposed_changes"]}  # fmt: skip
    assert changes["next_step"]["args"]["next_step"] == "Send the revised quote for 200 seats"
    assert changes["next_step"]["evidence"] == line_4  # the cited line: a paraphrased quote
    assert changes["amount"]["args"]["amount"] == 240000  # said on line 7, found by the rules
    reasons = {x["item"]: x["reason"] for x in d["ingestion"]["dropped_items"]}
    # The model's amounts (240000 on line 2, which says seats; 300 seats) give way to the
    # amount the meeting states.
    assert reasons["amount"] == "the amount said on line 7 is taken instead"
    # Line 2 (found although line 4 was cited) names no stage; line 5 signs only "if".
    assert reasons["stage → negotiation"] == "line 2 does not state the stage"
    assert reasons["close_date → next Friday"] == "line 5 does not state the close_date"
    assert reasons["next_step → none"] == "'none' is not a next_step"


async def test_summary_sentences_rest_on_transcript_lines(make_service, acme_vtt) -> None:
    """Every kept summary sentence names the lines it rests on; what only the CRM context
    said (an industry, the deal's old amount) is dropped, not reported as said."""
    summary = (
        "Jane says Acme is now looking at 200 seats instead of 100. "
        "Acme Corp is a company in the User Interface industry. "
        "The deal is worth $120,000 and includes budgeting, authority, need and timeline. "
        "Alice will send the revised quote by next Friday."
    )
    result = await make_service(extraction(summary=summary)).ingest_bytes(
        filename="a.vtt", data=acme_vtt, actor_id="u-alice", dry_run=True
    )
    assert result.summary_text == (
        "Jane says Acme is now looking at 200 seats instead of 100. "
        "Alice will send the revised quote by next Friday."
    )
    support = result.ingestion["summary_support"]
    assert [s["lines"] for s in support] == [[2], [4]]
    dropped = [d["item"] for d in result.ingestion["dropped_items"]]
    assert any("User Interface" in d for d in dropped) and any("120,000" in d for d in dropped)


async def test_a_meeting_not_about_the_given_account_is_reported(make_service, acme_vtt) -> None:
    with pytest.raises(IngestError, match="the meeting is not about 'acc-helix'"):
        await make_service(extraction()).ingest_bytes(
            filename="a.vtt", data=acme_vtt, actor_id="u-admin", account_id="acc-helix"
        )
    vague = b"Alice Wong: Thanks all, let's pick this up next week.\n"
    result = await make_service(extraction()).ingest_bytes(
        filename="n.txt", data=vague, actor_id="u-alice", account_id="acc-acme", dry_run=True
    )
    assert result.account_id == "acc-acme"
    assert any("Nothing in the transcript names Acme" in p for p in result.ingestion["problems"])
