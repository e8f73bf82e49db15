"""The upstream recipe's examples, verbatim, and the recipe API (PIIRedactor, PIIPattern, defaults)."""

from __future__ import annotations

import pytest

from beluga_core import Finding, GuardInput, GuardPipeline
from beluga_guard_pii import DEFAULT_PII_PATTERNS, ENTITIES, PIIPattern, PIIRedactor

RECIPE_IN = "Contact john@example.com or call 555-123-4567. SSN: 123-45-6789"
RECIPE_OUT = "Contact [EMAIL] or call [PHONE]. SSN: [SSN]"


def test_recipe_sentence_comes_out_exactly_as_the_recipe_shows() -> None:
    result = PIIRedactor(*DEFAULT_PII_PATTERNS).validate(GuardInput(RECIPE_IN, "output"))
    assert result.allowed is True
    assert result.modified == RECIPE_OUT


def test_recipe_findings_name_each_entity_with_offsets_in_the_original_text() -> None:
    result = PIIRedactor().validate(GuardInput(RECIPE_IN))
    assert result.findings == (Finding("EMAIL", 8, 24), Finding("PHONE", 33, 45), Finding("SSN", 52, 63))
    assert [RECIPE_IN[f.start : f.end] for f in result.findings] == ["john@example.com", "555-123-4567", "123-45-6789"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Contact me at john@example.com for details.", "Contact me at [EMAIL] for details."),
        ("Send to user+tag@domain.org", "Send to [EMAIL]"),
        ("Email a@b.com or c@d.com", "Email [EMAIL] or [EMAIL]"),
        ("Call me at 555-123-4567.", "Call me at [PHONE]."),
        ("Phone: (555) 123-4567", "Phone: [PHONE]"),
        ("Dial +1-555-123-4567", "Dial [PHONE]"),
        ("SSN: 123-45-6789", "SSN: [SSN]"),
        ("Card: 4111 1111 1111 1111", "Card: [CREDIT_CARD]"),
        ("Card: 4111-1111-1111-1111", "Card: [CREDIT_CARD]"),
        ("Server at 192.168.1.100", "Server at [IP_ADDRESS]"),
        ("My card is 4111-1111-1111-1111", "My card is [CREDIT_CARD]"),
    ],
)
def test_upstream_examples_redact_to_their_placeholders(text: str, expected: str) -> None:
    assert PIIRedactor().redact(text) == expected


def test_several_entity_types_in_one_text_are_all_redacted_and_the_reason_counts_them() -> None:
    result = PIIRedactor().validate(GuardInput("Email: test@example.com, Phone: 555-123-4567, SSN: 123-45-6789"))
    assert result.modified == "Email: [EMAIL], Phone: [PHONE], SSN: [SSN]"
    assert result.reason == "PII: EMAIL×1, PHONE×1, SSN×1"


def test_text_without_pii_is_allowed_unchanged_with_no_findings() -> None:
    result = PIIRedactor().validate(GuardInput("This is a safe message with no PII."))
    assert (result.allowed, result.modified, result.reason, result.findings) == (True, None, None, ())


def test_empty_text_is_allowed() -> None:
    assert PIIRedactor().validate(GuardInput("")).modified is None


def test_redaction_never_blocks_by_default() -> None:
    assert PIIRedactor().validate(GuardInput("SSN: 111-22-3333")).allowed is True


def test_default_patterns_are_the_five_entities_with_the_recipe_placeholders() -> None:
    assert ENTITIES == ("EMAIL", "PHONE", "SSN", "CREDIT_CARD", "IP_ADDRESS")
    assert [p.placeholder for p in DEFAULT_PII_PATTERNS] == [
        "[EMAIL]", "[PHONE]", "[SSN]", "[CREDIT_CARD]", "[IP_ADDRESS]"
    ]


def test_no_arguments_means_the_default_patterns() -> None:
    assert PIIRedactor().patterns == DEFAULT_PII_PATTERNS


def test_a_custom_pattern_replaces_the_defaults_when_given_alone() -> None:
    redactor = PIIRedactor(PIIPattern("EMPLOYEE_ID", r"EMP-\d{5}"))
    assert redactor.redact("Employee EMP-12345 mailed a@b.com") == "Employee [EMPLOYEE_ID] mailed a@b.com"


def test_a_custom_pattern_with_its_own_placeholder_joins_the_defaults() -> None:
    redactor = PIIRedactor(*DEFAULT_PII_PATTERNS, PIIPattern("CUSTOM", r"foo@bar\.com", "[CUSTOM]"))
    # Same span, same length: the user's pattern wins the tie over the built-in EMAIL.
    assert redactor.redact("Contact: foo@bar.com, or a@b.com") == "Contact: [CUSTOM], or [EMAIL]"


def test_a_pattern_validator_can_reject_candidates() -> None:
    even = PIIPattern("EVEN_ID", r"ID-\d+", validator=lambda v: int(v[3:]) % 2 == 0)
    assert PIIRedactor(even).redact("ID-12 ID-13") == "[EVEN_ID] ID-13"


def test_the_guard_pipeline_recipe_redacts_model_output() -> None:
    pipeline = GuardPipeline(output_guards=[PIIRedactor(*DEFAULT_PII_PATTERNS)])
    result = pipeline.validate_output("The user's email is john@example.com and their account is active.")
    assert result.allowed
    assert result.modified == "The user's email is [EMAIL] and their account is active."
