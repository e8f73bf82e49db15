"""Actions per entity: redact, mask, hash, pseudonymize (and restore), block, report."""

from __future__ import annotations

import re

import pytest

from beluga_core import GuardInput, GuardPipeline
from beluga_guard_pii import PIIRedactor, mask
from beluga_guard_pii.redactor import STATE_KEY, PseudonymMap

TEXT = "Mail jane@example.com, call (555) 123-4567, card 4111 1111 1111 1111, SSN 123-45-6789"


def test_mask_keeps_the_last_four_letters_or_digits_and_the_punctuation() -> None:
    r = PIIRedactor(actions={"CREDIT_CARD": "mask", "PHONE": "mask", "SSN": "mask", "EMAIL": "mask"})
    assert r.redact(TEXT) == "Mail ****@******e.com, call (***) ***-4567, card **** **** **** 1111, SSN ***-**-6789"


def test_mask_of_a_short_value_keeps_it_whole() -> None:
    assert mask("a@b") == "a@b"


def test_unlisted_entities_take_the_default_action() -> None:
    r = PIIRedactor(action="mask", actions={"EMAIL": "redact"})
    assert r.redact("a@b.co 555-123-4567") == "[EMAIL] ***-***-4567"


def test_hash_with_a_key_is_stable_across_requests_and_spellings() -> None:
    r = PIIRedactor(action="hash", hash_key="k1")
    a = r.redact("call 555-123-4567")
    b = r.redact("call (555) 123.4567")
    assert a == b
    assert re.fullmatch(r"call \[PHONE:[0-9a-f]{12}\]", a)
    assert PIIRedactor(action="hash", hash_key="k2").redact("call 555-123-4567") != a


def test_hash_without_a_key_is_stable_within_a_request_only() -> None:
    r = PIIRedactor(action="hash")
    state: dict[str, object] = {}
    first = r.validate(GuardInput("a@b.co", "input", {}, state)).modified
    second = r.validate(GuardInput("A@B.CO", "input", {}, state)).modified
    other_request = r.validate(GuardInput("a@b.co", "input", {}, {})).modified
    assert first == second
    assert first != other_request


def test_hash_key_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BELUGA_PII_HASH_KEY", "from-env")
    from_env = PIIRedactor(action="hash").redact("a@b.co")
    assert from_env == PIIRedactor(action="hash", hash_key="from-env").redact("a@b.co")


def test_pseudonyms_are_numbered_per_entity_and_reused_for_the_same_value() -> None:
    r = PIIRedactor(action="pseudonymize")
    state: dict[str, object] = {}
    out = r.validate(GuardInput("a@x.io, b@x.io, a@x.io, A@X.IO and 555-123-4567", "input", {}, state)).modified
    # One token per distinct spelling, so the caller gets back exactly what was written.
    assert out == "[EMAIL_1], [EMAIL_2], [EMAIL_1], [EMAIL_3] and [PHONE_1]"
    nxt = r.validate(GuardInput("again b@x.io", "input", {"role": "user"}, state)).modified
    assert nxt == "again [EMAIL_2]"


def test_the_model_output_gets_the_values_back_through_the_shared_state() -> None:
    r = PIIRedactor(actions={"EMAIL": "pseudonymize", "PHONE": "pseudonymize"})
    state: dict[str, object] = {}
    sent = r.validate(GuardInput("I am jane@example.com, call 555-123-4567", "input", {"role": "user"}, state))
    assert sent.modified == "I am [EMAIL_1], call [PHONE_1]"
    answer = r.validate(GuardInput("Sure [EMAIL_1], I will call [PHONE_1].", "output", {}, state))
    assert answer.modified == "Sure jane@example.com, I will call 555-123-4567."
    assert answer.findings == ()


def test_the_mapping_lives_only_in_the_request_state() -> None:
    r = PIIRedactor(action="pseudonymize")
    state: dict[str, object] = {}
    r.validate(GuardInput("jane@example.com", "input", {}, state))
    assert isinstance(state[STATE_KEY], PseudonymMap)
    assert r.validate(GuardInput("[EMAIL_1]", "output", {}, {})).modified is None  # another request: nothing to restore
    assert not any(isinstance(v, PseudonymMap) for v in vars(r).values())


def test_new_pii_in_the_output_is_redacted_even_when_its_entity_is_pseudonymized() -> None:
    r = PIIRedactor(action="pseudonymize")
    state: dict[str, object] = {}
    r.validate(GuardInput("me: jane@example.com", "input", {}, state))
    out = r.validate(GuardInput("[EMAIL_1], also try admin@corp.example", "output", {}, state))
    assert out.modified == "jane@example.com, also try [EMAIL]"
    assert [f.type for f in out.findings] == ["EMAIL"]


def test_values_from_the_system_prompt_are_pseudonymized_but_never_restored_to_the_caller() -> None:
    r = PIIRedactor(action="pseudonymize")
    state: dict[str, object] = {}
    system = r.validate(GuardInput("Escalate to admin@corp.example", "input", {"role": "system"}, state))
    user = r.validate(GuardInput("I am jane@example.com", "input", {"role": "user"}, state))
    assert (system.modified, user.modified) == ("Escalate to [EMAIL_1]", "I am [EMAIL_2]")
    out = r.validate(GuardInput("Ask [EMAIL_1] about [EMAIL_2]", "output", {}, state))
    assert out.modified == "Ask [EMAIL_1] about jane@example.com"


def test_a_token_like_string_the_user_typed_is_never_reused_as_a_pseudonym() -> None:
    r = PIIRedactor(action="pseudonymize")
    state: dict[str, object] = {}
    out = r.validate(GuardInput("literal [EMAIL_1] and a@b.co", "input", {}, state)).modified
    assert out == "literal [EMAIL_1] and [EMAIL_2]"
    assert r.restore(out or "", state) == "literal [EMAIL_1] and a@b.co"


def test_restore_can_be_switched_off() -> None:
    r = PIIRedactor(action="pseudonymize", restore=False)
    state: dict[str, object] = {}
    r.validate(GuardInput("a@b.co", "input", {}, state))
    assert r.validate(GuardInput("[EMAIL_1]", "output", {}, state)).modified is None


def test_block_refuses_the_text_and_names_the_entity() -> None:
    r = PIIRedactor(actions={"SSN": "block"})
    result = r.validate(GuardInput("my ssn 123-45-6789 and a@b.co"))
    assert not result.allowed
    assert result.reason == "PII not allowed: SSN"
    assert [f.type for f in result.findings] == ["SSN", "EMAIL"]


def test_report_keeps_the_text_and_returns_findings_for_audit() -> None:
    result = PIIRedactor(action="report").validate(GuardInput("a@b.co"))
    assert result.allowed and result.modified is None
    assert result.reason == "PII: EMAIL×1"
    assert [(f.type, f.start, f.end) for f in result.findings] == [("EMAIL", 0, 6)]


def test_unknown_actions_and_entities_are_rejected_with_the_names() -> None:
    with pytest.raises(ValueError, match="'obliterate'"):
        PIIRedactor(actions={"EMAIL": "obliterate"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="NOPE"):
        PIIRedactor(actions={"NOPE": "redact"})


def test_a_guard_pipeline_restores_pseudonyms_when_both_stages_share_the_state() -> None:
    redactor = PIIRedactor(action="pseudonymize")
    pipeline = GuardPipeline(input_guards=[redactor], output_guards=[redactor])
    state: dict[str, object] = {}
    sent = pipeline.validate_input(GuardInput("I'm jane@example.com", state=state))
    assert sent.modified == "I'm [EMAIL_1]"
    back = pipeline.validate_output(GuardInput("Hello [EMAIL_1]!", state=state))
    assert back.modified == "Hello jane@example.com!"
