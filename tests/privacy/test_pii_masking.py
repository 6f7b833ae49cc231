"""PII masking round trips: nothing personal leaves in a request; users and tools get it back."""

from __future__ import annotations

import json

import pytest

from agents.llm import ScriptedChatModel, ScriptStep, build_chat_model
from agents.llm_types import ToolCall
from agents.pii import PIIMaskingChatModel, PIIVault, luhn_valid, valid_cn_resident_id
from warroom.settings import Settings

CN_ID = "11010519491231002X"  # the GB 11643 example: valid checksum
CARD = "4111 1111 1111 1111"  # Luhn-valid test card
TEXT = (
    "Jane Doe <jane.doe@acme.example>, +1 555 010 0199, SSN 123-45-6789, card " + CARD + "; "
    "李娜 手机 138 0013 8000，座机 010-12345678，身份证 " + CN_ID + "，邮箱 li.na@huaxing.example。"
    " Deal opp-acme-1 worth 120000 USD closes 2026-12-31."
)
SECRETS = [
    "jane.doe@acme.example",
    "555 010 0199",
    "123-45-6789",
    CARD,
    "138 0013 8000",
    "010-12345678",
    CN_ID,
    "li.na@huaxing.example",
]


def test_every_kind_is_masked_and_restored_exactly() -> None:
    vault = PIIVault()
    masked = vault.mask(TEXT)
    for secret in SECRETS:
        assert secret not in masked, secret
    for kept in ("opp-acme-1", "120000", "2026-12-31", "Jane Doe", "李娜"):
        assert kept in masked  # names, ids, amounts and dates are not masked
    assert vault.unmask(masked) == TEXT


def test_placeholders_are_stable_and_tolerate_reformatting() -> None:
    vault = PIIVault()
    first = vault.mask("mail jane@acme.example")
    second = vault.mask("again: JANE@acme.example and jane@acme.example")
    assert first == "mail [EMAIL_1]"
    assert second.count("[EMAIL_1]") == 2
    assert vault.unmask("send to <EMAIL_1> or EMAIL_1") == (
        "send to jane@acme.example or jane@acme.example"
    )


def test_checksums_decide_what_counts_as_an_id_or_card() -> None:
    assert valid_cn_resident_id(CN_ID[:17], CN_ID[17])
    assert not valid_cn_resident_id("11010519491231002", "1")
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    vault = PIIVault()
    assert vault.mask("id 110105194912310021, card 4111 1111 1111 1112") == (
        "id 110105194912310021, card 4111 1111 1111 1112"
    )


async def test_the_model_sees_placeholders_and_tools_get_real_values() -> None:
    scripted = ScriptedChatModel(
        [
            ScriptStep(
                agent="sales",
                tool_calls=[
                    ToolCall(
                        "c1",
                        "send_email",
                        {
                            "contact_id": "con-li",
                            "subject": "跟进",
                            "body": "已记录 [PHONE_1] 与 [EMAIL_1]",
                        },
                    )
                ],
            ),
            ScriptStep(agent="sales", reply="好的，已给 [EMAIL_1] 发邮件（电话 [PHONE_1]）。"),
        ]
    )
    model = PIIMaskingChatModel(scripted)
    history = [
        {"role": "system", "content": "sales agent"},
        {"role": "user", "content": "给 li.na@huaxing.example 发邮件，电话 13800138000"},
    ]
    first = await model.chat(agent="sales", messages=history, tools=[])
    assert first.tool_calls[0].arguments["body"] == "已记录 13800138000 与 li.na@huaxing.example"
    history += [
        first.assistant_message(),
        {
            "role": "tool",
            "tool_call_id": "c1",
            "content": '<data source="send_email">{"to": "li.na@huaxing.example"}</data>',
        },
    ]
    second = await model.for_turn().chat(agent="sales", messages=history, tools=[])
    assert second.text == "好的，已给 li.na@huaxing.example 发邮件（电话 13800138000）。"
    sent = json.dumps(scripted.requests, ensure_ascii=False)  # everything that left
    assert "li.na@huaxing.example" not in sent and "13800138000" not in sent
    assert "[EMAIL_1]" in sent and "[PHONE_1]" in sent


def test_masking_is_on_for_external_endpoints_and_off_for_the_local_model(monkeypatch) -> None:
    external = build_chat_model(Settings(llm_base_url="http://127.0.0.1:1/v1", llm_api_key="k"))
    assert isinstance(external, PIIMaskingChatModel)
    unmasked = build_chat_model(
        Settings(llm_base_url="http://127.0.0.1:1/v1", llm_api_key="k", mask_pii=False)
    )
    assert not isinstance(unmasked, PIIMaskingChatModel)
    monkeypatch.setattr("agents.llm._build_unmasked", lambda settings: ScriptedChatModel([]))
    assert not isinstance(build_chat_model(Settings()), PIIMaskingChatModel)
    assert isinstance(build_chat_model(Settings(mask_pii=True)), PIIMaskingChatModel)


@pytest.mark.parametrize("text", ["2026-12-31", "120000", "opp-acme-1", "1,200,000 USD"])
def test_ordinary_business_values_pass_untouched(text: str) -> None:
    assert PIIVault().mask(text) == text
