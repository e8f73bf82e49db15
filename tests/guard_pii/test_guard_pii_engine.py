"""The engine: linear time on hostile input, offsets on non-ASCII text, limits on user patterns."""

from __future__ import annotations

import time

import pytest

from beluga_core import ConfigError, GuardInput
from beluga_guard_pii import PIIPattern, PIIRedactor
from beluga_guard_pii.detect import MAX_USER_PATTERNS

MB = 1_000_000
HOSTILE = {
    "digit run": "1" * MB,
    "dashed digits": "1-" * (MB // 2),
    "dotted run": "1." * (MB // 2),
    "card groups": "1234 " * (MB // 5),
    "letters then @": "a" * (MB - 1) + "@",
    "dotted local part": "a." * (MB // 2 - 1) + "@x",
    "hex colons": "a:" * (MB // 2),
    "plus paren": "+1 (" * (MB // 4),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_one_megabyte_of_hostile_input_takes_well_under_a_second(name: str) -> None:
    redactor = PIIRedactor()
    text = HOSTILE[name]
    t0 = time.perf_counter()
    result = redactor.validate(GuardInput(text))
    elapsed = time.perf_counter() - t0
    assert result.allowed
    assert elapsed < 1.0, f"{name}: {elapsed:.3f}s"  # typically 2-50 ms; generous for a loaded CI machine


def test_a_megabyte_run_of_card_groups_is_read_in_linear_time() -> None:
    # Every group can start a card, so each is tried (a few microseconds each); quadratic work over
    # the run's 200,000 groups would take minutes, and 50,000 cards in one run are all found.
    redactor = PIIRedactor()
    t0 = time.perf_counter()
    redactor.validate(GuardInput("4111 " * (MB // 5)))
    cards = redactor.validate(GuardInput("4111 1111 1111 1111 " * (MB // 20)))
    assert time.perf_counter() - t0 < 10.0  # about 1.5 s together on a busy 2-core machine
    assert len(cards.findings) == MB // 20


def test_hostile_input_through_a_user_pattern_is_linear_too() -> None:
    redactor = PIIRedactor(PIIPattern("NESTED", r"(a+)+b"))  # catastrophic on a backtracking engine
    t0 = time.perf_counter()
    assert redactor.redact("a" * MB) == "a" * MB
    assert time.perf_counter() - t0 < 1.0


def test_offsets_are_character_offsets_on_non_ascii_text() -> None:
    text = "Zoë 🎉 日本語 mail jürgen@example.com, or call 555-123-4567 ☎"
    findings = PIIRedactor().find(text)
    assert [(f.type, text[f.start : f.end]) for f in findings] == [
        ("EMAIL", "jürgen@example.com"),
        ("PHONE", "555-123-4567"),
    ]
    assert PIIRedactor().redact(text) == "Zoë 🎉 日本語 mail [EMAIL], or call [PHONE] ☎"


def test_lone_surrogates_do_not_break_scanning() -> None:
    text = "\ud800 a@b.co \udfff 555-123-4567"
    assert PIIRedactor().redact(text) == "\ud800 [EMAIL] \udfff [PHONE]"


def test_user_patterns_match_non_ascii_text_by_characters() -> None:
    redactor = PIIRedactor(PIIPattern("NAME", r"Zoë \w+"))
    assert redactor.redact("hi Zoë Smith!") == "hi [NAME]!"


def test_too_many_user_patterns_are_refused() -> None:
    patterns = [PIIPattern(f"P{i}", f"x{i}y") for i in range(MAX_USER_PATTERNS + 1)]
    with pytest.raises(ConfigError, match="limit is 64"):
        PIIRedactor(*patterns)


def test_a_pattern_matching_the_empty_string_is_refused_with_its_name() -> None:
    with pytest.raises(ConfigError, match=r"'MAYBE'.*empty string"):
        PIIRedactor(PIIPattern("MAYBE", r"\d*"))


def test_a_bad_pattern_name_is_refused() -> None:
    with pytest.raises(ValueError, match="name"):
        PIIPattern("has space", r"x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Look-alikes the first pass drops, alone and next to real entities.
        ("Upgraded to version 1.2.3.4 yesterday.", "Upgraded to version 1.2.3.4 yesterday."),
        ("ticket 237-82-2033, invoice no. 337-782-2033", "ticket 237-82-2033, invoice no. 337-782-2033"),
        ("version 1.2.3.4 from 10.0.0.1", "version 1.2.3.4 from [IP_ADDRESS]"),
        ("ticket 237-82-2033 SSN 123-45-6789", "ticket 237-82-2033 SSN [SSN]"),
        ("Order #555-123-4567 or call 555-123-4568", "Order #555-123-4567 or call [PHONE]"),
        # Where the context does not reject the number, or the look-alike runs on, it is scanned as before.
        ("build: 1.2.3.4", "build: [IP_ADDRESS]"),
        ("éversion 1.2.3.4", "éversion [IP_ADDRESS]"),
        ("v.1.2.3.4@example.com", "[EMAIL]"),
        ("xversion 1.2.3.4", "xversion [IP_ADDRESS]"),
        ("orderno 555-123-4567", "orderno [PHONE]"),
        ("Order #: 555-123-4567", "Order #: [PHONE]"),  # four separators: beyond the order rule's reach
    ],
)
def test_context_rejected_look_alikes_are_dropped_in_the_first_pass_without_changing_results(
    text: str, expected: str
) -> None:
    assert PIIRedactor().redact(text) == expected


FILLER = " and then we talked about the weather, the train times and the menu for the weekend" * 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Matches far apart are scanned as separate windows, each closed before the next one opens.
        (f"Mail jane.doe@example.com{FILLER} or call 555-123-4568.",
         f"Mail [EMAIL]{FILLER} or call [PHONE]."),
        (f"Card 4111 1111 1111 1111{FILLER}, server 10.0.0.1{FILLER}, SSN 123-45-6789.",
         f"Card [CREDIT_CARD]{FILLER}, server [IP_ADDRESS]{FILLER}, SSN [SSN]."),
        # A window holding only a look-alike the first pass drops is left, and the next one is scanned.
        (f"Upgraded to version 1.2.3.4{FILLER} from 10.0.0.1",
         f"Upgraded to version 1.2.3.4{FILLER} from [IP_ADDRESS]"),
        (f"ticket 237-82-2033{FILLER}; SSN 123-45-6789", f"ticket 237-82-2033{FILLER}; SSN [SSN]"),
    ],
)
def test_entities_far_apart_in_one_text_are_each_found(text: str, expected: str) -> None:
    assert PIIRedactor().redact(text) == expected
