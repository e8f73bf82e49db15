"""Entities right after one whose reading took their first digits: an extension's digits that begin
the next phone or card, a card run's fifth group that begins the next number, a match whose last
digits begin a long e-mail, an e-mail whose top-level domain is an order word. Each entity is found
whole, and none stays in the clear."""

from __future__ import annotations

import pytest

from beluga_guard_pii import PIIRedactor

R = PIIRedactor()

#: A domain that ends more than a scan window (64 bytes) past the digits that begin its e-mail.
LONG_DOMAIN = ".".join(["abcdefghij"] * 8) + ".com"


def _found(text: str) -> list[tuple[str, str]]:
    return [(f.type, text[f.start : f.end]) for f in R.find(text)]


def _all_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert _found(text) == expected
    out = R.redact(text)
    for _, value in expected:
        assert value not in out


@pytest.mark.parametrize("text", [
    "200-000-0000 x 200-000-0000",
    "200-000-0000 x 200.000.0000",
    "200-000-0000 x 200 000 0000",
    "200-000-0000 x\t200-000-0000",
    "200-000-0000 X 200-000-0000",
    "500-000-0000 x 929-007-7228",
])
def test_an_extension_whose_digits_begin_another_phone_leaves_both_phones(text: str) -> None:
    first, second = text[:12], text[-12:]
    _all_found(text, [("PHONE", first), ("PHONE", second)])


@pytest.mark.parametrize("marker", [" ext. ", " ext.", " ext ", " extension ", " EXT. "])
@pytest.mark.parametrize("second", ["200-000-0000", "(415) 555-2671", "415.555.2671"])
def test_every_extension_spelling_before_another_phone_leaves_both_phones(marker: str, second: str) -> None:
    _all_found(f"415-555-2671{marker}{second}", [("PHONE", "415-555-2671"), ("PHONE", second)])


def test_an_international_phone_then_x_then_a_card_is_a_phone_and_a_card() -> None:
    _all_found("+44 7946 0958 x 4000 0000 0000 0002",
               [("PHONE", "+44 7946 0958"), ("CREDIT_CARD", "4000 0000 0000 0002")])


@pytest.mark.parametrize("text", [
    "415-555-2671 x 4111 1111 1111 1111",
    "415-555-2671 ext. 4111 1111 1111 1111",
    "415-555-2671 x 4111-1111-1111-1111",
    "+1 415 555 2671 x 6011 2900 7722 8956",
    "(415) 555-2671 x 3500 0000 0000 0009",
])
def test_a_phone_then_x_then_a_card_is_a_phone_and_a_card(text: str) -> None:
    phone, card = text[: text.index(" x") if " x" in text else text.index(" ext")], text[-19:]
    _all_found(text, [("PHONE", phone), ("CREDIT_CARD", card)])


@pytest.mark.parametrize(("after", "entity"), [
    ("123-45-6789", "SSN"), ("123 45 6789", "SSN"), ("10.0.0.1", "IP_ADDRESS"), ("2001:db8::1", "IP_ADDRESS"),
])
def test_an_extension_whose_digits_begin_an_ssn_or_an_address_leaves_both(after: str, entity: str) -> None:
    _all_found(f"415-555-2671 x {after}", [("PHONE", "415-555-2671"), (entity, after)])


@pytest.mark.parametrize(("after", "entity"), [
    ("001-01-0001", "SSN"), ("123-45-6789", "SSN"), ("415-555-2671", "PHONE"), ("123.45.67.89", "IP_ADDRESS"),
])
def test_a_card_whose_run_reads_the_next_numbers_first_digits_as_a_fifth_group_is_found(
    after: str, entity: str
) -> None:
    # '3500 0000 0000 0009 123' is a card and a fifth group; what follows '123' belongs to the next
    # number, not to the card, so the card is not "glued to more text" (a card prefix such as 3500,
    # which is no card network's own, counts only when the card stands alone).
    _all_found(f"3500 0000 0000 0009 {after}", [("CREDIT_CARD", "3500 0000 0000 0009"), (entity, after)])


@pytest.mark.parametrize("before", ["4111 1111 1111 1111 ", "200-000-0000 x ", "4111-1111-1111-1111 x "])
def test_a_long_email_whose_first_digits_a_previous_match_read_is_found_whole(before: str) -> None:
    email = f"1234@{LONG_DOMAIN}"
    found = _found(before + email)
    assert found[-1] == ("EMAIL", email)
    assert all(value not in R.redact(before + email) for _, value in found)


@pytest.mark.parametrize("number", ["+44 7946 0958", "415-555-2671", "123-45-6789"])
def test_an_email_whose_top_level_domain_is_an_order_word_leaves_the_number_after_it(number: str) -> None:
    entity = "SSN" if number.count("-") == 2 and len(number) == 11 else "PHONE"
    _all_found(f"0@0.po {number}", [("EMAIL", "0@0.po"), (entity, number)])
    assert _found(f"PO {number}") == []  # the word alone still makes the number an order number


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("::1 tel:0:0:0:1::", "0:0:0:1::"),
        ("ip:fe80::1", "fe80::1"),
        ("a tel:2001:db8::1 b", "2001:db8::1"),
        ("host: addr:2001:db8:0:0:0:0:0:1.", "2001:db8:0:0:0:0:0:1"),
    ],
)
def test_an_ipv6_address_after_a_label_and_its_colon_is_found(text: str, address: str) -> None:
    start = text.index(address)
    found = [(f.type, f.start, f.end) for f in PIIRedactor().find(text)]
    assert ("IP_ADDRESS", start, start + len(address)) in found
