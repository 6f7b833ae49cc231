"""An ingestion receipt (the same transcript ingested again) returns the earlier result only to
someone who may see it, masked for them (tools/visibility.receipt_for)."""

from __future__ import annotations

import json

import pytest

from channels.meetings.errors import IngestError
from tests.meetings.conftest import ACME_EXTRACTION


async def test_a_receipt_is_shown_only_to_who_may_see_it(make_service, acme_vtt) -> None:
    first = await make_service(ACME_EXTRACTION).ingest_bytes(
        filename="a.vtt", data=acme_vtt, actor_id="u-alice"
    )
    assert first.ingestion["status"] != "not_applied"
    assert "240000" in json.dumps(first.to_dict())

    # Another team's rep: not Alice's result, and a refusal that names no hidden record.
    with pytest.raises(IngestError) as refused:
        await make_service(ACME_EXTRACTION).ingest_bytes(
            filename="b.vtt", data=acme_vtt, actor_id="u-bob"
        )
    said = str(refused.value)
    assert "an account you cannot see" in said
    assert "Acme" not in said and "acc-acme" not in said and "a.vtt" not in said

    # Support sees the account, so the receipt, but not the deal money in it.
    sam = await make_service(ACME_EXTRACTION).ingest_bytes(
        filename="c.vtt", data=acme_vtt, actor_id="u-sam"
    )
    assert sam.ingestion["status"] == "already_ingested"
    assert "240000" not in json.dumps(sam.to_dict())

    # The team's sales manager sees it all.
    maria = await make_service(ACME_EXTRACTION).ingest_bytes(
        filename="d.vtt", data=acme_vtt, actor_id="u-maria"
    )
    assert maria.ingestion["status"] == "already_ingested"
    assert "240000" in json.dumps(maria.to_dict())
