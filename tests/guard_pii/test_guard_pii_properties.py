"""Property-based tests: nothing valid survives redaction, offsets map back, pseudonyms round-trip."""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beluga_core import GuardInput
from beluga_guard_pii import PIIRedactor, luhn_valid
from beluga_guard_pii.detect import _FILE_TYPES

REDACTOR = PIIRedactor()
PSEUDO = PIIRedactor(action="pseudonymize")
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Filler words that are neither PII nor context words ('order', 'call', 'version', ...).
WORDS = st.sampled_from(
    ["the", "quick", "brown", "fox", "lorem", "ipsum", "data", "and", "is", "at", "café", "naïve", "日本語", "🎉",
     "ok", ",", ".", ";", "!", "(see)", "x", "Zoë"]
)
D = st.integers(0, 9).map(str)


def digits(n: int) -> st.SearchStrategy[str]:
    return st.lists(D, min_size=n, max_size=n).map("".join)


@st.composite
def emails(draw: st.DrawFn) -> str:
    local = draw(st.from_regex(r"[a-z0-9]{1,8}(\.[a-z0-9]{1,8})?(\+[a-z]{1,5})?", fullmatch=True))
    labels = draw(st.lists(st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True), min_size=1, max_size=3))
    # A top-level label that is a file type ('js', 'png') makes a file name, not an address: the
    # guard leaves 'icon@2x.png' alone on purpose.
    tld = draw(st.from_regex(r"[a-z]{2,6}", fullmatch=True).filter(lambda t: t not in _FILE_TYPES))
    return f"{local}@{'.'.join(labels)}.{tld}"


@st.composite
def us_phones(draw: st.DrawFn) -> str:
    area = draw(st.integers(2, 9).map(str)) + draw(digits(2))
    rest = draw(digits(7))
    d10 = area + rest
    if area[1:] == "11" or len(set(d10)) == 1:
        area = "415"
    ex, line = rest[:3], rest[3:]
    form = draw(st.sampled_from(["{a}-{e}-{l}", "({a}) {e}-{l}", "{a}.{e}.{l}", "{a} {e} {l}", "+1 {a} {e} {l}",
                                 "+1{a}{e}{l}", "1-{a}-{e}-{l}", "+1 ({a}) {e}-{l}"]))
    return form.format(a=area, e=ex, l=line)


@st.composite
def intl_phones(draw: st.DrawFn) -> str:
    cc = draw(st.sampled_from(["44", "33", "49", "91", "81", "61", "34", "39", "55", "86"]))
    groups = draw(st.lists(st.integers(1, 9).flatmap(lambda n: digits(n)), min_size=2, max_size=4))
    number = cc + "".join(groups)
    sep = draw(st.sampled_from([" ", "-", ".", ""]))
    # Written without separators, a '+' number needs 10 digits or more (shorter, it reads as a signed number).
    if not (10 if sep == "" else 8) <= len(number) <= 15:
        groups = ["7946", "0958"]
    return "+" + cc + sep + sep.join(groups)


@st.composite
def ssns(draw: st.DrawFn) -> str:
    area = draw(st.integers(1, 899).filter(lambda a: a != 666))
    return f"{area:03d}-{draw(st.integers(1, 99)):02d}-{draw(st.integers(1, 9999)):04d}"


#: Card brands: (prefix, length). Visa 13/16/19, Mastercard 51-55 and 2221-2720, Amex, Discover,
#: Diners (14 digits), JCB.
BRANDS = [("4", 16), ("4", 13), ("4", 19), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("34", 15),
          ("37", 15), ("6011", 16), ("65", 16), ("36", 14), ("35", 16)]


def _grouped(number: str, sep: str) -> str:
    if len(number) in (14, 15):  # Amex 4-6-5, Diners 4-6-4
        return sep.join([number[:4], number[4:10], number[10:]])
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


@st.composite
def cards(draw: st.DrawFn, sep: str | None = None) -> str:
    prefix, length = draw(st.sampled_from(BRANDS))
    body = prefix + draw(digits(length - len(prefix) - 1))
    check = next(str(c) for c in range(10) if luhn_valid(body + str(c)))
    number = body + check
    if len(set(number)) == 1:
        number = "4111111111111111"
    if sep is None:
        sep = draw(st.sampled_from(["", " ", "-"]))
    # Groupings are those docs/guard-pii.md lists; a 13-digit Visa is written without groups.
    return _grouped(number, sep) if sep and len(number) != 13 else number


ipv4s = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6s = st.integers(1, 2**128 - 1).map(lambda n: ipaddress.IPv6Address(n).compressed).filter(
    lambda s: any(c.isdigit() for c in s) and "." not in s
)
ENTITY = st.one_of(
    emails().map(lambda v: ("EMAIL", v)),
    us_phones().map(lambda v: ("PHONE", v)),
    intl_phones().map(lambda v: ("PHONE", v)),
    ssns().map(lambda v: ("SSN", v)),
    cards().map(lambda v: ("CREDIT_CARD", v)),
    ipv4s.map(lambda v: ("IP_ADDRESS", v)),
    ipv6s.map(lambda v: ("IP_ADDRESS", v)),
)


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[tuple[str, int, int]]]:
    """Prose with valid entities at known places: (text, [(type, start, end)])."""
    parts: list[str] = []
    spans: list[tuple[str, int, int]] = []
    pos = 0
    previous: str | None = None
    for item in draw(st.lists(st.one_of(WORDS.map(lambda w: (None, w)), ENTITY), max_size=12)):
        kind, value = item
        if parts:
            # Two entities with only a space between them are ambiguous ("415 555 0100 4111 ..." could
            # split anywhere; docs/guard-pii.md gives the rule), so generated prose puts a word there.
            sep = " and " if kind is not None and previous is not None else " "
            parts.append(sep)
            pos += len(sep)
        previous = kind
        if kind is not None:
            spans.append((kind, pos, pos + len(value)))
        parts.append(value)
        pos += len(value)
    return "".join(parts), spans


@SETTINGS
@given(documents())
def test_every_valid_entity_is_found_exactly_where_it_was_put(doc: tuple[str, list[tuple[str, int, int]]]) -> None:
    text, spans = doc
    assert [(f.type, f.start, f.end) for f in REDACTOR.find(text)] == spans


@SETTINGS
@given(documents())
def test_redaction_never_leaves_a_validated_entity_in_the_output(doc: tuple[str, list[tuple[str, int, int]]]) -> None:
    text, spans = doc
    out = REDACTOR.redact(text)
    for _, s, e in spans:
        assert text[s:e] not in out
    assert REDACTOR.find(out) == ()


NOISY = st.text(alphabet=st.sampled_from(list("0123456789 .-+()@:/#abcdefxyzé\n")) , max_size=80)


@SETTINGS
@given(st.one_of(st.text(max_size=200), NOISY))
def test_redacting_arbitrary_text_leaves_nothing_a_second_pass_would_find(text: str) -> None:
    assert REDACTOR.find(REDACTOR.redact(text)) == ()


@SETTINGS
@given(st.one_of(st.text(max_size=200), NOISY, documents().map(lambda d: d[0])))
def test_offsets_always_map_back_to_the_original_text(text: str) -> None:
    result = REDACTOR.validate(GuardInput(text))
    findings = result.findings
    rebuilt, last = [], 0
    for f in findings:
        assert 0 <= last <= f.start < f.end <= len(text)
        rebuilt += [text[last : f.start], f"[{f.type}]"]
        last = f.end
    rebuilt.append(text[last:])
    assert (result.modified or text) == "".join(rebuilt)


@SETTINGS
@given(st.one_of(st.text(max_size=200), NOISY, documents().map(lambda d: d[0])))
def test_pseudonymize_then_restore_round_trips(text: str) -> None:
    state: dict[str, object] = {}
    sent = PSEUDO.validate(GuardInput(text, "input", {"role": "user"}, state))
    out = sent.modified if sent.modified is not None else text
    assert PSEUDO.restore(out, state) == text
    back = PSEUDO.validate(GuardInput(out, "output", {}, state))
    assert (back.modified if back.modified is not None else out) == text


# Separators people put between entities in a list: whitespace of every kind, punctuation with and
# without a space, a word, and boundaries with no space at all. A single space, the hardest, comes up
# half the time.
SEPARATORS = st.just(" ") | st.sampled_from(
    [" ", "  ", "\t", "\n", "\r\n", ", ", ",", "; ", ";", " and ", "/", " / ", "|", " | ",
     "\u00a0", "\u3000", "\u2009", "\u202f", " tel:", ", phone:", ": "]
)

#: Group separators an attacker may use instead of ' ' or '-': Unicode spaces (Zs), invisible
#: characters and Unicode dashes.
UNICODE_SEPARATORS = ["\u00a0", "\u202f", "\u2009", "\u2007", "\u2002", "\u205f", "\u3000", "\u200b", "\u200c",
                      "\u200d", "\u2060", "\u00ad", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015",
                      "\u2212"]
#: The zero of some Unicode digit sets (category Nd): full-width, Arabic-Indic, extended Arabic-Indic,
#: Devanagari, Bengali, Thai, mathematical bold.
DIGIT_ZEROS = [0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0x1D7CE]


@st.composite
def disguised(draw: st.DrawFn, kind: st.SearchStrategy[tuple[str, str]]) -> tuple[str, str]:
    """An entity with its group separators swapped for a Unicode one and/or its digits for another
    script's (each form alone or both)."""
    name, value = draw(kind)
    if draw(st.booleans()):
        sep = draw(st.sampled_from(UNICODE_SEPARATORS))
        value = value.replace(" ", sep) if " " in value else value.replace("-", sep)
    if draw(st.booleans()) or value.isascii():
        zero = draw(st.sampled_from(DIGIT_ZEROS))
        value = "".join(chr(zero + int(c)) if c.isdigit() else c for c in value)
    return name, value


#: Every validated kind, each its own strategy (SSNs also written with spaces).
KINDS = [
    emails().map(lambda v: ("EMAIL", v)),
    us_phones().map(lambda v: ("PHONE", v)),
    intl_phones().map(lambda v: ("PHONE", v)),
    ssns().map(lambda v: ("SSN", v)),
    ssns().map(lambda v: ("SSN", v.replace("-", " "))),
    *(cards(sep).map(lambda v: ("CREDIT_CARD", v)) for sep in ("", " ", "-")),
    ipv4s.map(lambda v: ("IP_ADDRESS", v)),
    ipv6s.map(lambda v: ("IP_ADDRESS", v)),
    # Evasions: Unicode separators and digits, extensions, full-width '@', quoted and IDN e-mails.
    disguised(us_phones().map(lambda v: ("PHONE", v))),
    disguised(intl_phones().map(lambda v: ("PHONE", v))),
    disguised(ssns().map(lambda v: ("SSN", v))),
    *(disguised(cards(sep).map(lambda v: ("CREDIT_CARD", v))) for sep in ("", " ", "-")),
    st.tuples(us_phones(), st.sampled_from(["x123", " x 9", " ext. 123", " ext 45", " extension 6789"])).map(
        lambda t: ("PHONE", t[0] + t[1])
    ),
    cards("-").map(lambda v: ("CREDIT_CARD", v.replace("-", ":"))),
    cards("-").filter(lambda v: v.count("-") == 3).map(lambda v: ("CREDIT_CARD", v + "-123")),
    emails().map(lambda v: ("EMAIL", v.replace("@", "\uff20"))),
    emails().map(lambda v: ("EMAIL", '"' + v.replace("@", ' x"@'))),
    emails().map(lambda v: ("EMAIL", v.split("@")[0] + "@例え.jp")),
]


@st.composite
def entity_lists(draw: st.DrawFn) -> tuple[str, list[tuple[str, int, int]]]:
    """Valid entities joined by separators alone (no words to tell them apart): either many of one
    kind and format with one separator (a list of cards), or any kinds and separators mixed."""
    same: str | None = None
    if draw(st.booleans()):
        items = draw(st.lists(st.sampled_from(KINDS).flatmap(lambda k: k), min_size=1, max_size=10))
    else:
        items = draw(st.sampled_from(KINDS).flatmap(lambda k: st.lists(k, min_size=1, max_size=10)))
        same = draw(SEPARATORS)
    parts: list[str] = []
    spans: list[tuple[str, int, int]] = []
    pos = 0
    for kind, value in items:
        if parts:
            sep = same if same is not None else draw(SEPARATORS)
            if sep.endswith(":") and value.startswith(":"):  # 'tel:::1' is no IPv6 address to anyone
                sep += " "
            parts.append(sep)
            pos += len(sep)
        spans.append((kind, pos, pos + len(value)))
        parts.append(value)
        pos += len(value)
    return "".join(parts), spans


@st.composite
def card_runs(draw: st.DrawFn) -> tuple[str, list[tuple[str, int, int]]]:
    """Many cards of one grouping (any brand) in a row, which read as one run of digit groups."""
    sep = draw(st.sampled_from([" ", "-", ""]))
    numbers = draw(st.lists(cards().map(lambda c: c.replace(" ", "").replace("-", "")), min_size=1, max_size=40))
    joiner = draw(st.sampled_from([" ", "\t", "\n", ", "]))
    text, spans, pos = "", [], 0
    for k, number in enumerate(numbers):
        value = _grouped(number, sep) if sep and len(number) != 13 else number
        if k:
            text += joiner
            pos += len(joiner)
        spans.append(("CREDIT_CARD", pos, pos + len(value)))
        text += value
        pos += len(value)
    return text, spans


def _assert_fully_redacted(text: str, spans: list[tuple[str, int, int]]) -> None:
    covered = [False] * len(text)
    for f in REDACTOR.find(text):
        covered[f.start : f.end] = [True] * (f.end - f.start)
    for kind, s, e in spans:
        left = "".join(c for i, c in zip(range(s, e), text[s:e], strict=True) if c.isalnum() and not covered[i])
        assert not left, f"{kind} at {s}..{e} keeps {len(left)} characters in the clear"
    out = REDACTOR.redact(text)
    for _, s, e in spans:
        assert text[s:e] not in out


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entity_lists())
def test_any_sequence_of_valid_entities_joined_by_any_separators_is_fully_redacted(
    doc: tuple[str, list[tuple[str, int, int]]],
) -> None:
    _assert_fully_redacted(*doc)


@SETTINGS
@given(card_runs())
def test_any_number_of_cards_in_a_row_is_fully_redacted(doc: tuple[str, list[tuple[str, int, int]]]) -> None:
    _assert_fully_redacted(*doc)
