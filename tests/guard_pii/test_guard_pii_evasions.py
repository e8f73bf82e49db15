"""Spellings of PII that must be redacted like their plain forms: after a colon, with an extension,
with Unicode separators or digits, after an order word, in other card groupings, other e-mail forms."""

from __future__ import annotations

import pytest

from beluga_guard_pii import PIIRedactor

R = PIIRedactor()


def _only(text: str, entity: str, value: str) -> None:
    """``value`` (inside ``text``) is one finding of ``entity``, covering it exactly, and is gone."""
    start = text.index(value)
    assert [(f.type, f.start, f.end) for f in R.find(text)] == [(entity, start, start + len(value))]
    assert R.redact(text) == text.replace(value, f"[{entity}]")


@pytest.mark.parametrize(("text", "value"), [
    ("tel:+14155552671", "+14155552671"),
    ("phone:415-555-2671", "415-555-2671"),
    ("reach me at :415-555-2671", "415-555-2671"),
    ("Phone: (415) 555-2671", "(415) 555-2671"),
])
def test_a_phone_right_after_a_colon_is_redacted(text: str, value: str) -> None:
    _only(text, "PHONE", value)


@pytest.mark.parametrize("value", ["415-555-2671x123", "415-555-2671 ext. 123", "415-555-2671 ext 45",
                                   "+1 415 555 2671 extension 6789", "(415) 555-2671 x 9"])
def test_a_phone_with_an_extension_is_redacted_with_its_extension(value: str) -> None:
    _only(f"call {value} today", "PHONE", value)


def test_an_x_after_a_phone_that_is_no_extension_leaves_the_phone_found() -> None:
    _only("call 415-555-2671 x-ray", "PHONE", "415-555-2671")


UNICODE_SEPARATORS = {
    "nbsp": "\u00a0", "narrow nbsp": "\u202f", "thin space": "\u2009", "figure space": "\u2007",
    "ideographic space": "\u3000", "zero-width space": "\u200b", "zwnj": "\u200c", "zwj": "\u200d",
    "word joiner": "\u2060", "soft hyphen": "\u00ad", "hyphen": "\u2010", "non-breaking hyphen": "\u2011",
    "en dash": "\u2013", "em dash": "\u2014", "horizontal bar": "\u2015", "minus": "\u2212",
}


@pytest.mark.parametrize("sep", UNICODE_SEPARATORS.values(), ids=UNICODE_SEPARATORS.keys())
@pytest.mark.parametrize(("entity", "groups"), [
    ("CREDIT_CARD", ("4111", "1111", "1111", "1111")),
    ("PHONE", ("415", "555", "2671")),
    ("SSN", ("123", "45", "6789")),
])
def test_unicode_separators_inside_cards_phones_and_ssns_are_read_as_group_separators(
    sep: str, entity: str, groups: tuple[str, ...]
) -> None:
    value = sep.join(groups)
    _only(f"mine is {value}, thanks", entity, value)


def test_invisible_characters_anywhere_inside_a_card_do_not_hide_it() -> None:
    _only("pay with 41\u200b1111111\u00ad1111111 ok", "CREDIT_CARD", "41\u200b1111111\u00ad1111111")
    _only("card\u200b4111111111111111", "CREDIT_CARD", "4111111111111111")


DIGIT_ZEROS = {"full-width": 0xFF10, "arabic-indic": 0x0660, "extended arabic-indic": 0x06F0,
               "devanagari": 0x0966, "bengali": 0x09E6, "thai": 0x0E50, "mathematical bold": 0x1D7CE}


def _script(value: str, zero: int) -> str:
    return "".join(chr(zero + int(c)) if c.isdigit() else c for c in value)


@pytest.mark.parametrize("zero", DIGIT_ZEROS.values(), ids=DIGIT_ZEROS.keys())
@pytest.mark.parametrize(("entity", "value"), [
    ("CREDIT_CARD", "4111111111111111"), ("CREDIT_CARD", "5500 0000 0000 0004"), ("PHONE", "415-555-2671"),
    ("PHONE", "+44 7946 0958"), ("SSN", "123-45-6789"), ("IP_ADDRESS", "192.168.1.20"),
])
def test_digits_of_any_script_are_read_by_their_value_and_redacted_in_place(
    zero: int, entity: str, value: str
) -> None:
    disguised = _script(value, zero)
    _only(f"über {disguised} ok", entity, disguised)


def test_a_number_in_other_digits_that_fails_its_checksum_is_not_a_card() -> None:
    text = "ref " + _script("4111111111111112", 0xFF10)
    assert R.find(text) == ()


def test_offsets_of_a_finding_after_dropped_invisible_characters_map_to_the_original_text() -> None:
    text = "a\u200b\u200bb ４１１１\u200b１１１１\u200d\u200d１１１１\u2060１１１１ c\u00ad d 123\u200b-45-6789"
    found = R.find(text)
    assert [(f.type, text[f.start : f.end]) for f in found] == [
        ("CREDIT_CARD", "４１１１\u200b１１１１\u200d\u200d１１１１\u2060１１１１"), ("SSN", "123\u200b-45-6789")]
    assert R.redact(text) == "a\u200b\u200bb [CREDIT_CARD] c\u00ad d [SSN]"


@pytest.mark.parametrize(("text", "value"), [
    ("order: 4111111111111111", "4111111111111111"),
    ("Order 4111 1111 1111 1111 was paid with a gift card", "4111 1111 1111 1111"),
    ("invoice no. 5500-0000-0000-0004", "5500-0000-0000-0004"),
    ("ref 378282246310005", "378282246310005"),
])
def test_a_brand_valid_card_after_an_order_word_is_still_a_card(text: str, value: str) -> None:
    _only(text, "CREDIT_CARD", value)


def test_a_luhn_valid_order_number_without_a_card_brand_prefix_stays() -> None:
    assert R.redact("order number 2900123456789012 confirmed") == "order number 2900123456789012 confirmed"


def test_a_card_with_a_dashed_fifth_group_is_redacted_whole() -> None:
    _only("card 4111-1111-1111-1111-123 ok", "CREDIT_CARD", "4111-1111-1111-1111-123")


def test_two_cards_joined_by_a_dot_are_both_redacted() -> None:
    assert R.redact("4111-1111-1111-1111.5500-0000-0000-0004") == "[CREDIT_CARD].[CREDIT_CARD]"


def test_a_card_grouped_by_colons_is_redacted() -> None:
    _only("card 4111:1111:1111:1111 ok", "CREDIT_CARD", "4111:1111:1111:1111")
    _only("card 3782:822463:10005 ok", "CREDIT_CARD", "3782:822463:10005")


def test_colon_groups_that_are_an_ipv6_address_stay_an_ip_address() -> None:
    _only("host 2001:4111:1111:1111::1 up", "IP_ADDRESS", "2001:4111:1111:1111::1")


@pytest.mark.parametrize("value", [
    "bob\uff20example.com",
    "\uff42\uff4f\uff42\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d",
    "bob\ufe6bexample.com", "user@例え.jp", "user@bücher.de", "उपयोग@उदाहरण.भारत", "user@xn--r8jz45g.xn--p1ai",
    '"bob smith"@example.com',
])
def test_full_width_at_international_domains_and_quoted_local_parts_are_emails(value: str) -> None:
    _only(f"write to {value} today", "EMAIL", value)


def test_a_hashed_number_in_other_digits_hashes_like_its_ascii_spelling() -> None:
    hashed = PIIRedactor(action="hash", hash_key="k")
    assert hashed.redact("card ４１１１ １１１１ １１１１ １１１１") == hashed.redact("card 4111-1111-1111-1111")


def test_an_extension_that_runs_on_into_an_email_leaves_the_phone_and_the_email() -> None:
    text = "200-000-0000 x 0@0.aa"
    assert [(f.type, text[f.start : f.end]) for f in R.find(text)] == [("PHONE", "200-000-0000"), ("EMAIL", "0@0.aa")]
