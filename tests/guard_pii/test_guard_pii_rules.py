"""Precision rules: each entity is validated beyond its regex, and look-alikes are left alone."""

from __future__ import annotations

import pytest

from beluga_guard_pii import PIIPattern, PIIRedactor, luhn_valid

R = PIIRedactor()


def types(text: str) -> list[tuple[str, str]]:
    return [(f.type, text[f.start : f.end]) for f in R.find(text)]


# -- credit cards ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "card",
    [
        "4111111111111111",  # Visa 16
        "4222222222222",  # Visa 13
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5555555555554444",  # Mastercard
        "2223003122003222",  # Mastercard 2-series
        "378282246310005",  # Amex 15
        "3782 822463 10005",  # Amex grouping 4-6-5
        "6011111111111117",  # Discover
        "3530111333300000",  # JCB
        "30569309025904",  # Diners 14
        "6011 0009 9013 9424",
        "4111111111111111110",  # 19 digits, Luhn-valid
    ],
)
def test_luhn_valid_cards_of_13_to_19_digits_are_found(card: str) -> None:
    assert types(f"card {card} thanks") == [("CREDIT_CARD", card)]


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111112",  # Luhn fails
        "4111 1111 1111 1112",
        "1234567812345678",  # first digit is no card network
        "37828224631000",  # Amex prefix but 14 digits
        "0000000000000000",
        "4111 11 1111 1111 111",  # not a card grouping
        "12345678901234567890123",  # too long
    ],
)
def test_numbers_failing_card_rules_are_not_cards(number: str) -> None:
    assert [t for t, _ in types(f"value {number} here")] == []


def test_luhn_checksum() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


def test_a_card_followed_by_an_expiry_date_is_still_found() -> None:
    assert types("4111 1111 1111 1111 12/25") == [("CREDIT_CARD", "4111 1111 1111 1111")]


FIVE_CARDS = ["4111 1111 1111 1111", "5500 0000 0000 0004", "3782 822463 10005", "6011 1111 1111 1117",
              "4012 8888 8888 1881"]


@pytest.mark.parametrize("n", [1, 4, 5, 6, 17, 40])
def test_any_number_of_cards_separated_by_single_spaces_are_all_found(n: int) -> None:
    text = "cards: " + " ".join(["4111 1111 1111 1111"] * n) + " thanks"
    assert PIIRedactor().redact(text) == "cards: " + " ".join(["[CREDIT_CARD]"] * n) + " thanks"


@pytest.mark.parametrize("sep", [" ", "-"])
def test_five_different_cards_in_one_sentence_are_all_found(sep: str) -> None:
    cards = [c.replace(" ", sep) for c in FIVE_CARDS]
    assert types("my cards are " + " ".join(cards) + " thanks") == [("CREDIT_CARD", c) for c in cards]


def test_an_overlapping_card_reading_never_leaves_the_other_entity_in_the_clear() -> None:
    # '2002 4111 1111 1111' is Luhn-valid too: the card covers both readings, and the phone before it
    # keeps what the card did not take, though '+44 12' alone is no longer a phone.
    assert luhn_valid("2002411111111111")
    assert types("+44 12 2002 4111 1111 1111 1111") == [("PHONE", "+44 12"),
                                                         ("CREDIT_CARD", "2002 4111 1111 1111 1111")]
    assert types("exp 2002 4111 1111 1111 1111") == [("CREDIT_CARD", "2002 4111 1111 1111 1111")]


# -- SSN -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("ssn", ["123-45-6789", "001-01-0001", "899-99-9999", "665-12-3456", "123 45 6789"])
def test_valid_ssns_are_found(ssn: str) -> None:
    assert types(f"id {ssn} ok") == [("SSN", ssn)]


@pytest.mark.parametrize(
    "ssn",
    ["000-12-3456", "666-12-3456", "900-12-3456", "999-99-9999", "123-00-4567", "123-45-0000"],
)
def test_ssns_with_impossible_area_group_or_serial_are_not_found(ssn: str) -> None:
    assert types(f"id {ssn} ok") == []


def test_nine_bare_digits_are_an_ssn_only_after_an_ssn_context_word() -> None:
    assert types("my SSN is 123456789") == [("SSN", "123456789")]
    assert types("tracking 123456789 shipped") == []
    assert types("batch 123456789") == []


# -- phones --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "555-123-4567",
        "(555) 123-4567",
        "(555)123-4567",
        "555.123.4567",
        "555 123 4567",
        "1-555-123-4567",
        "+1-555-123-4567",
        "+1 (415) 555-2671",
        "+14155552671",  # E.164, no separators
        "+44 20 7946 0958",
        "+442079460958",
        "+33 1 23 45 67 89",
        "+49-30-1234567",
        "+91 98765 43210",
        "+81 3-1234-5678",
    ],
)
def test_us_and_international_phone_numbers_are_found(phone: str) -> None:
    assert types(f"reach {phone} today") == [("PHONE", phone)]


def test_ten_bare_digits_are_a_phone_only_after_a_phone_context_word() -> None:
    assert types("call 4155552671 now") == [("PHONE", "4155552671")]
    assert types("mobile: 14155552671") == [("PHONE", "14155552671")]
    assert types("account 4155552671") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("SMS 4155552671", "4155552671"),
        ("\u017fms 4155552671", "4155552671"),  # 'ſ' folds to 's', as Python's IGNORECASE has it
        ("D\u0131AL 4155552671", "4155552671"),  # so does 'ı' to 'i' (RE2's (?i) does not)
        ("Phone, please use: 14155552671", "14155552671"),
    ],
)
def test_context_words_for_bare_digits_match_in_any_case(text: str, value: str) -> None:
    assert types(text) == [("PHONE", value)]


@pytest.mark.parametrize(
    "text",
    ["tell me about 4155552671", "hotel 4155552671", "order number 4155552671 or 123456789", "ts 1700000000000"],
)
def test_bare_numbers_without_a_context_word_are_left_alone(text: str) -> None:
    assert R.redact(text) == text


@pytest.mark.parametrize("text", ["SS# 123456789", "social security number: 123456789", "SSNs 123456789"])
def test_ssn_context_words_in_their_spellings(text: str) -> None:
    assert types(text) == [("SSN", "123456789")]


@pytest.mark.parametrize(
    "text",
    [
        "123-456-7890 is no NANP number",  # area code cannot start with 1
        "see 055-123-4567",  # nor with 0 (after a phone word it is a national number: see below)
        "call 911-555-1234",  # N11 is a service code, not an area code
        "+1 123 456 7890",  # +1 with an invalid area code
        "+12345",  # too short
        "+1234567890123456789",  # more than 15 digits
        "x+44 20 7946 0958",  # glued to a word
        "2+4155552671",  # arithmetic
    ],
)
def test_phone_look_alikes_are_not_phones(text: str) -> None:
    assert [t for t, _ in types(text)] == []


# -- IP addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ip", ["192.168.1.100", "10.0.0.1", "8.8.8.8", "255.255.255.255", "0.0.0.0", "2001:db8::1",
           "fe80::1ff:fe23:4567:890a", "::1", "::ffff:192.0.2.1", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"]
)
def test_ipv4_and_ipv6_addresses_are_found(ip: str) -> None:
    assert types(f"host {ip} is up") == [("IP_ADDRESS", ip)]


def test_an_address_at_the_end_of_a_sentence_keeps_its_full_stop() -> None:
    assert R.redact("Server at 2001:db8::1. Then 10.0.0.1.") == "Server at [IP_ADDRESS]. Then [IP_ADDRESS]."


@pytest.mark.parametrize(
    "text",
    [
        "256.1.1.1",
        "192.168.1.300",
        "192.168.01.1",  # leading zero
        "1.2.3",
        "version 1.2.3.4.5",
        "1.2.3.4.5",
        "release v1.2.3.4",
        "version 1.2.3.4",
        "at 10:30:00",
        "std::vector<int>",
        "MAC 00:1A:2B:3C:4D:5E",
        "ratio 2:1:1",
    ],
)
def test_versions_times_and_invalid_octets_are_not_ip_addresses(text: str) -> None:
    assert types(text) == []


# -- email ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    ["john.doe@example.com", "a@b.co", "user+tag@sub.domain.org", "First_Last@EXAMPLE.IO", "x-y%z@mail-host.example"],
)
def test_emails_are_found(email: str) -> None:
    assert types(f"write to {email}, please") == [("EMAIL", email)]


@pytest.mark.parametrize(
    "text", ["user@localhost", "a@b.c", "john..doe@example.com", "@example.com", "user@-bad.com", "me@host.c0m"]
)
def test_malformed_emails_are_not_found(text: str) -> None:
    assert types(text) == []


# -- look-alikes that are never PII --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Order #5551234567 has shipped",
        "order number 2900123456789012 confirmed",
        "Invoice no. 555-123-4567",
        "tracking 1Z999AA10123456784",
        "ref: 123-45-6789",
        "upgrade to 1.2.3.4.5 then 10.2.3",
        "on 2024-01-15, 01/15/2024, 15.01.2024 and 2024.01.15",
        "at 2024-01-15T10:30:00Z",
        "request 123e4567-e89b-12d3-a456-426614174000 failed",
        "id 550e8400-e29b-41d4-a716-446655440000",
        "md5 5d41402abc4b2a76b9719d911017c592",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b",
        "timestamp 1700000000000 ms",
        "pi is 3.14159265358979",
        "population 7,900,000,000",
        "ISBN 978-3-16-148410-0",
    ],
)
def test_order_numbers_versions_dates_uuids_and_hashes_are_never_redacted(text: str) -> None:
    assert R.redact(text) == text


# -- overlaps ------------------------------------------------------------------------------------


def test_overlaps_go_to_the_longest_match_whatever_the_pattern_order() -> None:
    short_first = PIIRedactor(PIIPattern("SHORT", r"ab"), PIIPattern("LONG", r"abcd"))
    long_first = PIIRedactor(PIIPattern("LONG", r"abcd"), PIIPattern("SHORT", r"ab"))
    assert short_first.redact("xabcdx") == long_first.redact("xabcdx") == "x[LONG]x"


def test_equal_length_overlaps_go_to_the_first_user_pattern() -> None:
    r = PIIRedactor(PIIPattern("A", r"k\d\d"), PIIPattern("B", r"\d\dz"))
    assert [f.type for f in r.find("k12z")] == ["A"]


def test_an_email_wins_over_a_phone_number_in_its_local_part() -> None:
    assert types("mail 555-123-4567@example.com") == [("EMAIL", "555-123-4567@example.com")]


def test_non_overlapping_matches_of_different_patterns_are_all_kept() -> None:
    r = PIIRedactor(PIIPattern("A", r"aa"), PIIPattern("B", r"bb"))
    assert r.redact("aabbaa") == "[A][B][A]"
