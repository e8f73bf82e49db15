"""Numbers written without separators or in national formats after a context word, and the
look-alikes of ordinary work text (asset file names, ticket ids, versions, part numbers)."""

from __future__ import annotations

import pytest

from beluga_guard_pii import PIIRedactor

R = PIIRedactor()


def types(text: str) -> list[tuple[str, str]]:
    return [(f.type, text[f.start : f.end]) for f in R.find(text)]


# -- digits without separators after a context word ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("ph: 4155550123", "4155550123"),
        ("Customer asked for a callback on 16517040773.", "16517040773"),
        ("my number is 3108076758", "3108076758"),
        ("her number is 3108076758, thanks", "3108076758"),
        ("landline 2125550147", "2125550147"),
        ("mob 9176543210", "9176543210"),
        ("my number is 07700900123", "07700900123"),  # a UK mobile with its trunk prefix
        ("whatsapp: 0612417800", "0612417800"),
        ("SSN 123456789", "123456789"),
        ("ssn#809330220", "809330220"),
    ],
)
def test_digit_runs_after_a_context_word_are_found(text: str, value: str) -> None:
    assert [v for _, v in types(text)] == [value]


@pytest.mark.parametrize("text", ["account 3108076758", "see 07700900123", "batch 0612417800 done",
                                  "number 3108076758", "id 123456789"])
def test_the_same_runs_without_a_context_word_are_left_alone(text: str) -> None:
    assert types(text) == []


# -- national numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "07700 900123",  # GB mobile
        "020 7946 0958",  # GB London
        "030 12345678",  # DE Berlin
        "0151 23456789",  # DE mobile
        "06 12 34 56 78",  # FR
        "(02) 9579 4127",  # AU area code in parentheses
        "0412 345 678",  # AU mobile
        "090-1234-5678",  # JP mobile
        "03-4528-0850",  # JP Tokyo
        "(11) 91234-5678",  # BR area code in parentheses, no trunk prefix
        "010-3377-8361",  # KR
        "0044 20 7946 0958",  # the international prefix '00' and a country code
        "0049 30 1234567",
    ],
)
def test_national_numbers_after_a_phone_word_are_phones(number: str) -> None:
    assert types(f"call me at {number} tonight") == [("PHONE", number)]
    assert types(f"Tel. {number}") == [("PHONE", number)]


@pytest.mark.parametrize("number", ["07700 900123", "030 12345678", "(02) 9579 4127", "0044 20 7946 0958"])
def test_national_numbers_need_the_phone_word(number: str) -> None:
    assert types(f"see {number} below") == []


@pytest.mark.parametrize(
    "text",
    [
        "call on 2024-05-06 10:30",  # a date and a time
        "call 06.05.2024 12",
        "phone survey reached 12 345 678 households",  # a count
        "call 0 of 10 failed",
        "phone 0000000000",  # one digit repeated
        "contact 0012345678",  # '00' and too few digits for a country code and a number
        "call 0087 1234 5678",  # '00' and no country code in use (87)
        "phone order 0612417800",  # an order number
    ],
)
def test_ordinary_numbers_after_a_phone_word_are_not_phones(text: str) -> None:
    assert types(text) == []


# -- '+' numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["offset +3600000 ms", "growth +2500000 users", "+87 6543 2109", "+969 123 4567"])
def test_signed_numbers_and_unassigned_country_codes_are_not_phones(text: str) -> None:
    assert types(text) == []


@pytest.mark.parametrize("number", ["+6561234567", "+44 7946 0958", "+43 (0)699 3873402", "+354 123 4567"])
def test_short_international_numbers_are_phones_when_grouped_or_long_enough(number: str) -> None:
    assert types(f"call {number}") == [("PHONE", number)]


# -- look-alikes in ordinary work text -----------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["icon@2x.png", "logo@3x.webp", "splash@1.5x.bmp", "font@1.2.woff2", "Inter@400.ttf", "icons@2.0.otf",
             "hero_banner@3x.avif", "btn@2x.svg", "clip@2x.mp4"]
)
def test_asset_file_names_with_an_at_sign_are_no_emails(name: str) -> None:
    assert types(f"the build is missing assets/{name} again") == []


@pytest.mark.parametrize("address", ["jane@ventures.ai", "bob@example.md", "ops@files.zip", "me@host.mov"])
def test_addresses_at_top_level_domains_that_are_also_file_types_stay_emails(address: str) -> None:
    assert types(f"write to {address}") == [("EMAIL", address)]


@pytest.mark.parametrize(
    "text",
    ["See CASE-858-883-0773 for the history", "Closing TKT-404-772-1233.", "ref TKT_123-45-6789",
     "INC0012345678 was reassigned", "SR-4155550123 is open", "ticket 555-0134-22 is open"],
)
def test_case_and_ticket_numbers_in_phone_like_groups_are_not_pii(text: str) -> None:
    assert types(text) == []


@pytest.mark.parametrize(
    ("text", "found"),
    [("SSN-123-45-6789", ("SSN", "123-45-6789")), ("social-security-123-45-6789", ("SSN", "123-45-6789")),
     ("tel-415-555-0123", ("PHONE", "415-555-0123")), ("Mobile-415-555-0123", ("PHONE", "415-555-0123"))],
)
def test_numbers_glued_to_their_own_context_word_are_still_pii(text: str, found: tuple[str, str]) -> None:
    assert types(text) == [found]


@pytest.mark.parametrize(
    "text",
    ["firmware 2.1.0.12 fixes it", "Chrome 16.10.11.156 crashes", "the SDK 6.3.28.51 changelog",
     "driver 31.0.15.36 is required", "Upgraded to 15.5.10.95-hotfix", "ships 1.2.3.4+build.7",
     "pip install foo==6.7.24.17", "requires bar>=1.2.3.4", "v10.4.2.1", "1.2.3-rc.4", "lodash@4.17.21"],
)
def test_versions_are_not_ip_addresses(text: str) -> None:
    assert types(text) == []


@pytest.mark.parametrize("text", ["ip=10.0.0.1", "range 10.0.0.1-10.0.0.255", "from 203.0.113.9, then"])
def test_addresses_next_to_the_new_version_rules_are_still_found(text: str) -> None:
    assert [t for t, _ in types(text)][:1] == ["IP_ADDRESS"]


@pytest.mark.parametrize(
    "text",
    ["P/N PN 623-24-3901 is backordered", "model no. 750.264.1377 overheats", "P/N 205-608-6916 is backordered",
     "S/N 123-45-6789", "p/n 794.806.5402"],
)
def test_part_model_and_serial_numbers_are_not_pii(text: str) -> None:
    assert types(text) == []


def test_a_version_after_upgraded_to_is_no_address_but_one_after_moved_to_is() -> None:
    assert types("Upgraded to 10.12.10.17 last night") == []
    assert types("downgrading to 4.15.11.176") == []
    assert types("moved to 10.12.10.17 last night") == [("IP_ADDRESS", "10.12.10.17")]


def test_a_run_of_digits_starting_with_2_is_a_card_only_at_16_to_19_digits() -> None:
    assert types("created 20180718006386") == []  # a Luhn-valid timestamp (YYYYMMDDhhmmss)
    assert types("card 2223003122003222") == [("CREDIT_CARD", "2223003122003222")]  # Mastercard 2-series
