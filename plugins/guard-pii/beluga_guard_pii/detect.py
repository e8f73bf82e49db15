"""Finding PII: the built-in entity rules, user patterns, candidate validation and overlap resolution.

Every pattern runs on RE2 over the UTF-8 bytes of the text (linear time, whatever the input).
A regex only proposes candidates; each built-in entity then validates its candidate (Luhn, SSN
area rules, IP octets, NANP area codes, context words), so numbers that merely look like PII
(order numbers, versions, dates, UUIDs, hashes) are left alone.

Overlaps are resolved by one documented rule: the longest match wins; on equal length, user
patterns (in the order given) win over built-ins, and built-ins rank
EMAIL > CREDIT_CARD > SSN > PHONE > IP_ADDRESS. A built-in that loses never leaves text that
validated in the clear: what no winner covers stays its finding.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import re2

from beluga_core import ConfigError, ConfigIssue, compile_pattern, raw_match, re2_anchor

#: A span-aware check: gets the whole text and a candidate's span (character offsets, end
#: exclusive); returns the span to keep (possibly narrowed) or None to drop the candidate.
SpanCheck = Callable[[str, int, int], "tuple[int, int] | None"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
#: Most user patterns one redactor accepts (each is one more linear pass over the text).
MAX_USER_PATTERNS = 64


def _default_placeholder(self: PIIPattern) -> str:
    return f"[{self.name}]"


def _check_name(_: Any, __: Any, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"PII pattern name {name!r} must be a letter followed by letters, digits or '_' (max 64)")


@attrs.frozen
class PIIPattern:
    """A named PII pattern and the placeholder that replaces what it matches.

    ``pattern`` is an RE2 regular expression (case-sensitive unless ``case_sensitive=False`` or
    ``(?i)``). ``validator(value) -> bool`` may reject a candidate; ``check(text, start, end)``
    is the span-aware form the built-ins use for context rules.
    """

    name: str = attrs.field(validator=_check_name)
    pattern: str
    placeholder: str = attrs.field(default=attrs.Factory(_default_placeholder, takes_self=True))
    validator: Callable[[str], bool] | None = attrs.field(default=None, kw_only=True, eq=False, repr=False)
    check: SpanCheck | None = attrs.field(default=None, kw_only=True, eq=False, repr=False)
    case_sensitive: bool = attrs.field(default=True, kw_only=True)


# -- context rules -----------------------------------------------------------------------------

# Context words are matched on the (at most 40) characters before a candidate, reversed, with
# ``match`` anchored at the candidate: cheap, and bounded whatever the text.
_ORDER_WORDS = (
    "order", "invoice", "inv", "ticket", "tracking", "confirmation", "conf", "reference", "ref", "booking",
    "reservation", "shipment", "sku", "part", "pn", "model", "serial", "transaction", "txn", "receipt", "isbn",
    "po",
)
_PHONE_WORDS = (
    "phone", "tel", "telephone", "call", "callback", "mobile", "mob", "cell", "cellphone", "ph", "fax", "text",
    "sms", "whatsapp", "contact", "dial", "reach", "ring", "landline", "my number", "your number", "his number",
    "her number", "our number", "their number",
)
# A dotted quad right after one of these is a version ('firmware 2.1.0.12', 'Chrome 16.10.11.156').
_VERSION_WORDS = (
    "version", "ver", "v", "release", "rel", "build", "rev", "revision", "firmware", "fw", "driver", "sdk",
    "patch", "kernel", "chrome", "firefox", "safari", "ios", "android", "macos", "windows", "deployed", "tagged",
    "bumped",
)
_NUMBER_WORDS = ("number", "num", "no", "nr", "id", "code")  # between an order word and its number


def _rev(words: Sequence[str]) -> str:
    return "|".join(sorted((w[::-1] for w in words), key=len, reverse=True))


_ORDER_CTX = re.compile(
    rf"\W{{0,3}}(?:(?:{_rev(_NUMBER_WORDS)})\b\W{{0,3}})?(?:{_rev(_ORDER_WORDS)})\b",
    re.IGNORECASE,
)
_PHONE_CTX = re.compile(rf"[^\d\n]{{0,24}}?\b(?:{_rev(_PHONE_WORDS)})\b", re.IGNORECASE)
_SSN_CTX = re.compile(r"[^\d\n]{0,24}?(?:\bs?nss\b|#ss\b|\bytiruces[ -]laicos\b)", re.IGNORECASE)
_VERSION_CTX = re.compile(rf"\s*\.?(?:{_rev(_VERSION_WORDS)})\b", re.IGNORECASE)
_CTX = 40
# The same order and version rules as word lookups (hot path): the word(s) right before a
# candidate, reversed; the regexes above decide only for non-ASCII words, where IGNORECASE
# also folds letters such as 'ſ' and 'K' that ``lower`` does not.
_REV_ORDER = frozenset(w[::-1] for w in _ORDER_WORDS)
_REV_NUMBER = frozenset(w[::-1] for w in _NUMBER_WORDS)
_REV_VERSION = frozenset(w[::-1] for w in _VERSION_WORDS)
_NEXT_WORD = re.compile(r"\W{0,3}(\w+)")
_ONE_WORD = re.compile(r"\s*\.?(\w+)")


def _before(text: str, s: int) -> str:
    """The text before ``s`` (at most 40 characters), reversed, for the context patterns."""
    return text[s - _CTX if s > _CTX else 0 : s][::-1]


def _letter_near(text: str, s: int) -> bool:
    """True when one of the 4 characters before ``s`` is a letter; ``_ORDER_CTX`` needs one."""
    for c in text[max(0, s - 4) : s]:
        if c.isalpha():
            return True
    return False


def _order_ctx(before: str) -> bool:
    """True when an order-number word ('order #', 'invoice no.', 'ref:') ends ``before`` (reversed).
    A word that ends an e-mail address ('bob@shop.po 415-555-2671': a top-level domain) is none."""
    m = _NEXT_WORD.match(before)
    for _ in range(2):  # the word itself, then for 'order no. 123' the word before 'no'
        if m is None:
            return False
        w = m.group(1)
        if not w.isascii():
            return _ORDER_CTX.match(before) is not None
        w = w.lower()
        if w in _REV_ORDER:
            return not _top_level_domain(before, m.end())
        if w == "n" and before[m.end() : m.end() + 2].lower() in ("/p", "/s") \
                and not before[m.end() + 2 : m.end() + 3].isalnum():
            return True  # 'P/N', 'S/N': a part or serial number
        if w not in _REV_NUMBER:
            return False
        m = _NEXT_WORD.match(before, m.end())
    return False


def _top_level_domain(before: str, k: int) -> bool:
    """True when the word that ends at ``k`` of ``before`` (reversed) follows a '.' in a token holding
    an '@': the top-level domain of an e-mail address (at most 40 characters are looked at)."""
    if before[k : k + 1] != ".":
        return False
    token = before[k:].split(None, 1)
    return bool(token) and "@" in token[0]


def _version_ctx(before: str) -> bool:
    """True when a version word ('version', 'v', 'build') ends ``before`` (reversed)."""
    m = _ONE_WORD.match(before)
    if m is None:
        return False
    w = m.group(1)
    if not w.isascii():
        return _VERSION_CTX.match(before) is not None
    w = w.lower()
    if w == "ot":  # 'upgraded to 10.12.10.17'
        m = _ONE_WORD.match(before, m.end())
        return m is not None and m.group(1).lower() in _REV_UPGRADE
    return w in _REV_VERSION


_REV_UPGRADE = frozenset(
    w[::-1] for w in ("upgrade", "upgraded", "upgrading", "downgrade", "downgraded", "downgrading")
)


def _glued(text: str, s: int, e: int) -> bool:
    """True when the span is glued to more digits by '-' or '.' ('1.2.3.4.5', '123-45-6789-1') or runs
    on into a word ('0958+a@x.io', '123-45-6789.txt')."""
    if s >= 2 and text[s - 1] in "-." and text[s - 2].isdigit():
        return True
    if e < len(text):
        nxt = text[e]
        if nxt in "+%@_" or (nxt in ".-" and e + 1 < len(text) and text[e + 1].isalnum()):
            return True
    return False


def _ascii_digits(value: str, seps: bytes) -> bytes:
    """The digits of a candidate the digit parts matched (ASCII digits and ``seps`` only)."""
    return value.encode("utf-8", "surrogatepass").translate(None, seps)


_LUHN_DOUBLE = bytes.maketrans(b"0123456789", b"0246813579")  # 2d, minus 9 when over 9 (as ASCII digits)


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum that every payment card number satisfies (``digits``: ASCII digits)."""
    if not digits.isascii():
        return False
    b = digits.encode("ascii")
    return (sum(b[-1::-2]) + sum(b[-2::-2].translate(_LUHN_DOUBLE)) - 48 * len(b)) % 10 == 0


def _nanp(d10: bytes) -> bool:
    """A North American number: area code 2-9XX and not N11, and not one digit repeated."""
    return d10[0] >= 50 and d10[1:3] != b"11" and d10.count(d10[:1]) != len(d10)


def _words_rx(words: Sequence[str]) -> str:
    """RE2 text for any of ``words`` as a whole word, case-insensitively as Python's IGNORECASE has it.

    Python also folds 'ı' and 'İ' to 'i' ('ſ' to 's' and 'K' to 'k', which RE2 folds too); RE2's ``\\b``
    is ASCII-only, so there is no ``\\b`` next to a letter that may be spelled outside ASCII.
    """
    out = []
    for w in sorted(words, key=len, reverse=True):
        head = "" if w[0] in "iks" else r"\b"
        tail = "" if w[-1] in "iks" or not w[-1].isalnum() else r"\b"
        out.append(head + w.replace("i", "[iıİ]") + tail)
    return "(?i:" + "|".join(out) + ")"


# -- the built-in entities ---------------------------------------------------------------------

#: An optional phone extension ('x123', ' ext. 123', ' extension 123'), redacted with its number.
_EXT = r"(?:[ \t]?(?i:x|ext\.?|extension)[ \t]?\d{1,6})?"
_EXT_TAIL = re.compile(r"[ \t]?(?:x|ext\.?|extension)[ \t]?[0-9]{1,6}$", re.IGNORECASE)
_EXT_WORD = re.compile(r"x|ext\.?|extension", re.IGNORECASE)
_EXT_MARK = re.compile(r"[ \t]?(?:x|ext\.?|extension)[ \t]?$", re.IGNORECASE)

# Each built-in is a few regex parts, scanned separately so that one part's rejected candidate
# never hides another's; the byte a part cannot match without lets a window skip it cheaply.
_PARTS: dict[str, tuple[tuple[str, bytes | None], ...]] = {
    # Local part plain or quoted ('"bob smith"@'); domain labels in any script ('例え.jp', 'xn--...').
    "EMAIL": ((r'(?:"[^"\\\n]{1,64}"|[\pL\pN\pM._%+\-]+)@[\pL\pN\pM\-]+(?:\.[\pL\pN\pM\-]+)*'
               r"\.(?:xn--[A-Za-z0-9\-]+\b|[A-Za-z]{2,}\b|[\pL\pM]{2,})", b"@"),),
    "PHONE": (
        (rf"\+[1-9](?:[ .\-()]{{0,2}}\d){{6,14}}{_EXT}\b", b"+"),  # international, E.164 with or without separators
        (rf"(?:\+1|\b1)[ .\-]?(?:\(\d{{3}}\)[ .\-]?|\d{{3}}[ .\-])\d{{3}}[ .\-]?\d{{4}}{_EXT}\b", None),  # US with code
        (rf"(?:\(\d{{3}}\)[ .\-]?|\b\d{{3}}[ .\-])\d{{3}}[ .\-]?\d{{4}}{_EXT}\b", None),  # US formatted
        (rf"\b1?[2-9]\d{{9}}{_EXT}\b", None),  # US digits only: needs a context word such as 'call' or 'phone'
        # Any country's national form after a context word, the word included ('my number is 07700 900123',
        # 'Tel. (02) 9579 4127'): 9-17 digits; ``check_phone`` narrows the span to the number.
        (rf"{_words_rx(_PHONE_WORDS)}[^\d\n+]{{0,24}}?(?:\(\d{{2,4}}\)[ .\-]?\d(?:[ .\-]?\d){{5,10}}"
         rf"|\b\d(?:[ .\-]?\d){{8,16}}){_EXT}\b", None),
    ),
    "SSN": (
        (r"\b\d{3}-\d{2}-\d{4}\b", b"-"),
        (r"\b\d{3} \d{2} \d{4}\b", b" "),
        (r"\b\d{9}\b", None),  # digits only: needs a context word such as 'SSN'
    ),
    "CREDIT_CARD": (
        (r"\b\d{13,19}\b", None),
        # Grouped: a card needs at least three groups (4-4-4-1 .. 4-6-5), so a two-group run is never one.
        (r"\b\d{4}(?: \d{3,6}){2,}\b", b" "),
        (r"\b\d{4}(?:-\d{3,6}){2,}\b", b"-"),
        (r"\b\d{4}(?::\d{3,6}){2,}\b", b":"),
    ),
    "IP_ADDRESS": (
        (r"\b\d{1,3}(?:\.\d{1,3}){3,}\b", b"."),  # dotted runs; exactly four parts are an IPv4
        (r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,}(?:\.\d{1,3}){0,3}", b":"),  # hex:colon runs; ipaddress decides
    ),
}
EMAIL_PATTERN, PHONE_PATTERN, SSN_PATTERN, CREDIT_CARD_PATTERN, IP_ADDRESS_PATTERN = (
    "|".join(rx for rx, _ in _PARTS[name]) for name in ("EMAIL", "PHONE", "SSN", "CREDIT_CARD", "IP_ADDRESS")
)


# In the union pass (which finds regions of interest), the digits-only parts take their required
# context word with them, so an ordinary 9- or 10-digit number (an order, an account) is no region at
# all: the rule of _PHONE_CTX / _SSN_CTX read forwards. A union alternative may be looser than the
# rule it stands for (no \b next to 'ſ', 'ı': RE2's \b is ASCII-only), never stricter. The candidate
# is the match's trailing run of 9-11 digits.
_SSN_WORDS = ("ssn", "ssns", "social security", "social-security", "ss#")
_UNION_ALTERNATIVES = {
    rf"\b1?[2-9]\d{{9}}{_EXT}\b": rf"{_words_rx(_PHONE_WORDS)}[^\d\n]{{0,24}}?\b1?[2-9]\d{{9}}{_EXT}\b",
    r"\b\d{9}\b": rf"{_words_rx(_SSN_WORDS)}[^\d\n]{{0,24}}?\b\d{{9}}\b",
    # An ungrouped card starts with a network digit (2-6): a 13-digit millisecond timestamp is no region.
    r"\b\d{13,19}\b": r"\b[2-6]\d{12,18}\b",
}
_DIGITS = b"0123456789"
_NUMBER_START = frozenset(b"0123456789+(")


# Look-alikes rejected in the first pass. Each "skip" alternative is a context word and the shape of
# a candidate that the context makes its validator reject whatever the digits ('version 1.2.3.4',
# 'ticket 237-82-2033', 'invoice no. 337-782-2033'); it comes last in the union, so at any position
# every real alternative wins over it. Each is stricter than the Python rule it stands for (ASCII
# letters and separators only, at most 3 separators), and ``Detector.scan`` only drops such a match
# when nothing else can be near it (``_skip_start``, ``_quiet``); otherwise it scans as before.
def _ci(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


def _ci_words(words: Sequence[str]) -> str:
    return "(?:" + "|".join(_ci(w) for w in sorted(words, key=len, reverse=True)) + ")"


_SEP = r"[ \t#.\-]"
#: At most three separators (Python's ``\W{0,3}``), with at most one ':' (two could start an IPv6 run).
_SEP0 = rf"(?:{_SEP}{{0,3}}|:{_SEP}{{0,2}}|{_SEP}:{_SEP}?|{_SEP}{{2}}:)"
_SEP1 = rf"(?:{_SEP}{{1,3}}|:{_SEP}{{0,2}}|{_SEP}:{_SEP}?|{_SEP}{{2}}:)"
_ORDER_LEAD = rf"\b{_ci_words(_ORDER_WORDS)}(?:{_SEP1}{_ci_words(_NUMBER_WORDS)})?{_SEP0}\b"
_SKIP_ALTERNATIVES = {
    "IP_ADDRESS": (rf"\b{_ci_words(_VERSION_WORDS)}\.?[\t\n\f\r ]{{0,16}}\b\d{{1,3}}(?:\.\d{{1,3}}){{3,}}\b",),
    "SSN": (rf"{_ORDER_LEAD}\d{{3}}-\d{{2}}-\d{{4}}\b", rf"{_ORDER_LEAD}\d{{3}} \d{{2}} \d{{4}}\b"),
    "PHONE": (rf"{_ORDER_LEAD}\d{{3}}[ .\-]\d{{3}}[ .\-]\d{{4}}\b",),
}
_ASCII_LETTERS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
#: What may come right before a skip match's word (so the word is whole to Python's ``\w`` too).
_SKIP_BEFORE = frozenset(b" \t\n\r\f(\"',;")
#: What may come right after a skip match ('.' only when the sentence ends there).
_SKIP_AFTER = frozenset(b" \t\n\r\f,;!?)\"'")
_SPACE = frozenset(b" \t\n\r\f")
#: Bytes every candidate needs one of (digits, '@', ':'): none near a skip match, nothing else to find.
_TRIGGERS = b"0123456789@:"
_SEP_DIGITS = b"0123456789."
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")


def _letter_or_mark(c: str) -> bool:
    return c.isalnum() or (not c.isascii() and unicodedata.category(c)[0] == "M")


def check_email(text: str, s: int, e: int) -> tuple[int, int] | None:
    """Local part 1-64 characters (Unicode letters allowed) without '..' or edge dots, or quoted;
    domain labels 1-63 characters (any script), alphabetic or 'xn--' TLD."""
    quoted = text[s] == '"'
    while not quoted and s > 0 and (text[s - 1] in _EMAIL_LOCAL or _letter_or_mark(text[s - 1])):
        s -= 1  # a window may start inside the local part
    value = text[s:e]
    at = value.rfind("@")
    local, domain = value[:at], value[at + 1 :]
    lead = 0 if quoted else len(local) - len(local.lstrip("."))
    local = local[lead:]
    if quoted:
        if not 2 < len(local) <= 66:
            return None
    elif not local or len(local) > 64 or local.endswith(".") or ".." in local:
        return None
    if len(domain) > 253:
        return None
    labels = domain.split(".")
    if any(not lb or len(lb) > 63 or lb[0] == "-" or lb[-1] == "-" for lb in labels):
        return None
    tld = labels[-1]
    if not (tld.isalpha() or tld.startswith("xn--") or (tld[0].isalpha() and all(map(_letter_or_mark, tld)))):
        return None
    k = e  # the top-level label may stop before the digits that end a file type ('mp' of 'clip@2x.mp4')
    while k < len(text) and k - e < 4 and text[k].isascii() and text[k].isalnum():
        k += 1
    if (tld + text[e:k]).lower() in _FILE_TYPES:  # 'icon@2x.png', 'font@1.2.woff2': a file name
        return None
    return s + lead, e


#: File name extensions that are no top-level domain: what follows an '@' and ends in one of these is
#: a file name ('icon@2x.png', 'logo@3x.webp'). Extensions that are also top-level domains ('.ai',
#: '.md', '.zip', '.mov') are not here: those stay e-mail addresses.
_FILE_TYPES = frozenset(
    "png jpg jpeg gif webp svg svgz ico bmp tif tiff avif heic heif jxl apng psd woff woff2 ttf otf eot mp3 mp4 "
    "m4a m4v wav ogg oga ogv webm flac css scss js mjs cjs jsx tsx json yaml yml xml csv tsv txt pdf htm html "
    "map lottie gltf glb".split()
)


def check_phone(text: str, s: int, e: int) -> tuple[int, int] | None:
    """US (NANP) numbers, formatted or after a context word, '+' international numbers, and national
    numbers of any country after a context word.

    A '+' number that swallowed a following space-separated group (another number) is cut back
    group by group until it validates. A span that starts with its context word (the national part)
    is narrowed to the number.
    """
    if text[s].isalpha():
        s = _number_start(text, s, e)
        if s >= e:
            return None
    if text[s] != "+":
        return _phone_ok(text, s, e)
    while True:
        span = _phone_ok(text, s, e)
        if span is not None:
            return span
        cut = text.rfind(" ", s, e)
        while cut > s and text[cut - 1] in " .-(":
            cut -= 1
        if cut <= s:
            return None
        e = cut


def _number_start(text: str, s: int, e: int) -> int:
    """Where the number at the end of ``text[s:e]`` starts: after its last character that no number
    holds, and after the separators that follow it ('0' of 'Tel. 030 1234567', '(' of 'cell (02) ...')."""
    ext = _EXT_TAIL.search(text, s, e)
    k = s + len(text[s : ext.start() if ext is not None and ext.start() > s else e].rstrip(_NUMBER_CHARS))
    while k < e and text[k] in " .-)":
        k += 1
    return k


_NUMBER_CHARS = "0123456789 .-()"


def _identifier_head(text: str, s: int, words: frozenset[str]) -> bool:
    """True when the number at ``s`` is glued by '-' or '_' to a word ('CASE-415-555-0134',
    'TKT_123-45-6789'): an identifier, not PII, unless the word is one of ``words`` ('SSN-...',
    'tel-...'; at most 16 letters are looked at)."""
    if not (s > 1 and text[s - 1] in "-_" and text[s - 2].isalpha()):
        return False
    k = s - 2
    while k > 0 and s - k < 17 and text[k - 1].isalpha():
        k -= 1
    return text[k : s - 1].lower() not in words


_PHONE_HEADS = frozenset(w for w in _PHONE_WORDS if " " not in w)
_SSN_HEADS = frozenset(("ssn", "ssns", "ss", "social", "security"))


def _phone_ok(text: str, s: int, e: int) -> tuple[int, int] | None:
    if s > 0:  # 'tel:+1...', 'phone:415-...' are phones; '10:415-...' runs on from another number
        c = text[s - 1]
        if c.isalnum() or c in "_+@" or (c == ":" and s > 1 and text[s - 2].isdigit()) \
                or _identifier_head(text, s, _PHONE_HEADS):
            return None
    value = text[s:e]
    if "x" in value or "X" in value:  # an extension: the number before it decides
        ext = _EXT_TAIL.search(value)
        if ext is not None:
            if not ext.start():
                return None
            value = value[: ext.start()]
            if _glued(text, s, e):  # what looked like an extension runs on ('x 0@0.io'): the number alone
                e = s + ext.start()
        else:
            # A marker without digits: a span cut back before the entity that the extension's digits
            # began ('+44 7946 0958 x' of '... x 4000 0000 0000 0002'); the number alone.
            mark = _EXT_MARK.search(value)
            if mark is None or not mark.start():
                return None
            value = value[: mark.start()]
            e = s + mark.start()
    if _glued(text, s, e):
        return None
    opens = value.count("(")
    if opens > 1 or opens != value.count(")"):
        return None
    # Every rule below only rejects, so the cheap digit rules run before the context rules.
    d = _ascii_digits(value, b" .-()+")
    if not d.isdigit():
        return None
    national = False
    if value[0] != "+" and _DATE_HEAD.match(value):  # 'call on 2024-05-06 10:30'
        return None
    if value[0] == "+":
        if not 7 <= len(d) <= 15 or not _country_code(d):
            return None
        if len(d) < 10 and value[1:].isdigit():  # '+3600000 ms': a signed number; a phone this short is grouped
            return None
        if d[0] == 49 and (len(d) != 11 or not _nanp(d[1:])):
            return None
    elif not ((len(d) == 10 or (len(d) == 11 and d[0] == 49)) and _nanp(d[-10:])):
        if not _national(value, d):
            return None
        national = True
    needs_word = national or (value[0] != "+" and value.isdigit())
    if not needs_word and not _letter_near(text, s):
        return s, e  # no word right before it, so no order-number context either
    before = _before(text, s)
    if _order_ctx(before):
        return None
    if needs_word and not _PHONE_CTX.match(before):
        return None
    return s, e


#: E.164 country codes in use. No code is the start of another, so a number's code is the one of its
#: first 1, 2 or 3 digits that is in the set.
_COUNTRY_CODES = frozenset(
    b"1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 "
    b"82 84 86 90 91 92 93 94 95 98 211 212 213 216 218 220 221 222 223 224 225 226 227 228 229 230 231 232 233 "
    b"234 235 236 237 238 239 240 241 242 243 244 245 246 247 248 249 250 251 252 253 254 255 256 257 258 260 261 "
    b"262 263 264 265 266 267 268 269 290 291 297 298 299 350 351 352 353 354 355 356 357 358 359 370 371 372 373 "
    b"374 375 376 377 378 380 381 382 383 385 386 387 389 420 421 423 500 501 502 503 504 505 506 507 508 509 590 "
    b"591 592 593 594 595 596 597 598 599 670 672 673 674 675 676 677 678 679 680 681 682 683 685 686 687 688 689 "
    b"690 691 692 800 808 850 852 853 855 856 870 878 880 881 882 883 886 888 960 961 962 963 964 965 966 967 968 "
    b"970 971 972 973 974 975 976 977 979 992 993 994 995 996 998".split()
)


def _country_code(d: bytes) -> bool:
    """Whether the digits ``d`` start with a country code in use ('+87 ...' and '+969...' do not)."""
    return d[:1] in _COUNTRY_CODES or d[:2] in _COUNTRY_CODES or d[:3] in _COUNTRY_CODES


#: A date or time at the start of a number ('2024-05-06 10', '06.05.2024 ...'), never a phone.
_DATE_HEAD = re.compile(r"(?:19|20)\d\d[-./]\d\d?[-./]\d\d?(?!\d)|\d\d?[-./]\d\d?[-./](?:19|20)\d\d(?!\d)")


def _national(value: str, d: bytes) -> bool:
    """A national number as written in its country (it still needs a context word): a trunk prefix '0'
    and 9-12 digits ('07700 900123', '030 12345678', '(02) 9579 4127'), the international prefix '00'
    and a country code in use (11-17 digits), or a two- to four-digit area code in parentheses (10-11
    digits: '(11) 91234-5678'). Never one digit repeated."""
    n = len(d)
    if d.count(d[-1:]) >= n - 1:
        return False
    if d[:2] == b"00":
        return 11 <= n <= 17 and _country_code(d[2:])
    if d[0] == 48:
        return 9 <= n <= 12
    return value[0] == "(" and 10 <= n <= 11


def check_ssn(text: str, s: int, e: int) -> tuple[int, int] | None:
    """US SSN rules: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    if _glued(text, s, e) or _identifier_head(text, s, _SSN_HEADS):
        return None
    value = text[s:e]
    d = _ascii_digits(value, b" -")
    if len(d) != 9 or not d.isdigit():  # a piece of a longer span the overlap rule checks again
        return None
    area, group, serial = d[:3], d[3:5], d[5:]
    if area in (b"000", b"666") or area[0] == 57 or group == b"00" or serial == b"0000":
        return None
    if not value.isdigit() and not _letter_near(text, s):
        return s, e
    before = _before(text, s)
    if _order_ctx(before):
        return None
    if value.isdigit() and not _SSN_CTX.match(before):
        return None
    return s, e


def _card_groups_ok(value: str) -> bool:
    """Card groupings: 4-6-5 or 4-6-4 (Amex, Diners), else groups of 4 and a last group of 1-4."""
    sep = " " if " " in value else "-" if "-" in value else ":" if ":" in value else ""
    if not sep:
        return True
    cut = value.rfind(sep)
    last = len(value) - cut - 1
    head = value[:cut]
    k = head.count(sep)  # the head holds k + 1 groups
    if k == 1 and cut == 11 and head[4] == sep and last in (4, 5):
        return True
    return 1 <= last <= 4 and len(head) == 5 * k + 4 and head[4::5] == sep * k


def check_credit_card(text: str, s: int, e: int) -> tuple[int, int] | None:
    """13-19 digits in card groupings, a card-network first digit (2-6), brand lengths and Luhn.

    A run of digit groups (any length: cards separated only by spaces) is read from the left: the
    first group that starts a card gives the longest card starting there, so a card next to another
    number ('555-123-0000 4111 1111 1111 1111 2025') is still found, and the caller checks the rest
    of the run for more. Where another card reading starts inside that card and runs on past it, the
    span grows to cover it too: digits that read as a card are never left in the clear.
    """
    if e - s <= _CARD_CHARS and _card_ok(text, s, e):
        return s, e
    sep = next((c for c in " -:" if text.find(c, s, e) >= 0), "")
    if not sep:
        return None
    return _card_in_run(text, s, e, sep)


def _card_in_run(text: str, s: int, e: int, sep: str) -> tuple[int, int] | None:
    """The first card in the run ``text[s:e]`` of digit groups joined by ``sep``, grown over the card
    readings that start inside it and run on past it; None when no group starts a card."""
    shape = _CARD_SHAPE[sep]
    m = shape.search(text, s, e)
    while m is not None:
        a = m.start()
        b = _card_end(text, m, 0)
        if b:
            return a, _card_reach(text, shape, sep, a, b, e)
        m = shape.search(text, a + 5, e)
    return None


def _card_reach(text: str, shape: re.Pattern[str], sep: str, a: int, b: int, e: int) -> int:
    """Where the card ``text[a:b]`` must end so that it covers every card reading (``shape``) that
    starts after one of its separators and ends past it, up to ``e``."""
    k = text.find(sep, a, b)
    while 0 <= k < b:
        m = shape.match(text, k + 1, e)
        if m is not None:
            b = _card_end(text, m, b + 1) or b
        k = text.find(sep, k + 1, b)
    return b


#: The longest card as written: 19 digits in five groups.
_CARD_CHARS = 23
#: A card's groups from where it may start in a run: four digits, the first 2-6, then 4-4-1..4 with an
#: optional fifth group of 1-3 (13-19 digits), or 6-4 / 6-5 (Amex, Diners). Group 1 is the optional fifth.
_CARD_SHAPE = {
    sep: re.compile(
        r"(?<![0-9])[2-6][0-9]{{3}}(?:S[0-9]{{4}}S[0-9]{{4}}S[0-9]{{1,4}}(S[0-9]{{1,3}})?|S[0-9]{{6}}S[0-9]{{4,5}})(?![0-9])"
        .replace("S", re.escape(sep)).format()
    )
    for sep in " -:"
}


def _card_end(text: str, m: re.Match[str], least: int) -> int:
    """The end of the longest card a ``_CARD_SHAPE`` match holds (all of it, or without its fifth
    group) that ends at ``least`` or later; 0 when there is none."""
    a, b = m.span()
    if b >= least and _card_ok(text, a, b, True):
        return b
    five = m.start(1)
    if five < least or five <= 0:
        return 0
    # A fifth group joined by '-' or ':' is part of the same token ('4111-1111-1111-1111-123'); one
    # after a space may be the head of the next number ('... 0009 123-45-6789'), so what follows it
    # does not glue the card to more text.
    joined = text[five] in "-:"
    if _card_ok(text, a, five, True, b if joined else 0):
        return b if joined else five
    return 0


def _card_ok(text: str, s: int, e: int, shaped: bool = False, token_end: int = 0) -> bool:
    """``shaped``: the caller already knows the groups are a card grouping (``_CARD_SHAPE``);
    ``token_end``: where the grouped token ends when the card leaves out its last group."""
    value = text[s:e]
    d = _ascii_digits(value, b" -:")
    n = len(d)
    if not 13 <= n <= 19 or not 50 <= d[0] <= 54 or d.count(d[:1]) == n:
        return False
    if d[:2] in (b"34", b"37") and n != 15:
        return False
    if d[0] == 50 and n < 16:  # the networks starting with 2 (Mastercard 2221-2720, Mir) issue 16-19 digits
        return False
    if d[0] == 52 and n not in (13, 16, 19):
        return False
    if not shaped and (" " in value or "-" in value or ":" in value) and not _card_groups_ok(value):
        return False
    if (sum(d[-1::-2]) + sum(d[-2::-2].translate(_LUHN_DOUBLE)) - 48 * n) % 10:  # Luhn
        return False
    # Glued to more text or after an order word, only a card network's own prefix and length count:
    # fail closed on those ('4111-1111-1111-1111.5500-...', 'order: 4111111111111111').
    if _glued(text, s, token_end or e) or (_letter_near(text, s) and _order_ctx(_before(text, s))):
        return _brand(d)
    return True


def _brand(d: bytes) -> bool:
    """A card network's issuer prefix and length (``d``: the ASCII digits; Visa and Amex lengths are
    checked by the caller): Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Mir."""
    n = len(d)
    if d[0] == 52 or d[:2] in (b"34", b"37"):
        return True
    if b"51" <= d[:2] <= b"55" or b"2221" <= d[:4] <= b"2720":
        return n == 16
    if d[:4] == b"6011" or d[:2] in (b"65", b"62") or b"644" <= d[:3] <= b"649" or b"3528" <= d[:4] <= b"3589" \
            or b"2200" <= d[:4] <= b"2204":
        return n >= 16
    return (d[:2] in (b"36", b"38", b"39") or b"300" <= d[:3] <= b"305") and n >= 14


def check_ip_address(text: str, s: int, e: int) -> tuple[int, int] | None:
    """IPv4: exactly four octets 0-255 without leading zeros, not a version; IPv6: ipaddress-valid."""
    value = text[s:e]
    if ":" in value:
        return _check_ipv6(text, s, e)
    parts = value.split(".")
    if len(parts) != 4:
        return None
    for part in parts:  # 1-3 ASCII digits each (the dotted part matches only those)
        k = len(part)
        if not 0 < k <= 3 or (k > 1 and part[0] == "0") or (k == 3 and part > "255") or not part.isdigit():
            return None
    if s >= 2 and text[s - 1] == "." and text[s - 2].isalnum():
        return None
    nxt = text[e : e + 2]
    if len(nxt) == 2 and ((nxt[0] == "." and nxt[1].isalnum()) or (nxt[0] in "-+" and nxt[1].isalpha())):
        return None  # runs on: '1.2.3.4.b', or a version's suffix ('9.0.5.33-hotfix', '1.2.3.4+build')
    if s > 1 and text[s - 1] == "=" and text[s - 2] in "=<>~!":  # a version pin: 'foo==6.7.24.17'
        return None
    if _version_ctx(_before(text, s)):
        return None
    return s, e


def _check_ipv6(text: str, s: int, e: int) -> tuple[int, int] | None:
    if text.startswith(":", s) and not text.startswith("::", s) and _label_colon(text, s):
        s += 1  # 'tel:2001:db8::1': the run began at the label's colon; the address follows it
    if s > 0 and (text[s - 1].isalnum() or text[s - 1] in "_."):
        return None
    if s > 0 and text[s - 1] == ":" and not _label_colon(text, s - 1):
        return None
    value = text[s:e].rstrip(".")
    if value.endswith(":") and not value.endswith("::"):
        value = value[:-1]
    end = s + len(value)
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        return None
    if len(value) > 45 or value.count(":") < 2 or not any(c.isdigit() for c in value):
        return None
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return None
    return s, end


_HEX = frozenset("0123456789abcdefABCDEF")


def _label_colon(text: str, colon: int) -> bool:
    """Whether the ':' at ``colon`` ends a label such as 'tel:' or 'ip:' (a word with a letter that
    is no hex digit), not a piece of a longer address ('fe80:'). Reads back at most 16 characters."""
    k = colon
    while k > 0 and colon - k < 16 and text[k - 1].isalnum():
        k -= 1
    word = text[k:colon]
    return bool(word) and any(c not in _HEX for c in word)


EMAIL = PIIPattern("EMAIL", EMAIL_PATTERN, "[EMAIL]", check=check_email)
PHONE = PIIPattern("PHONE", PHONE_PATTERN, "[PHONE]", check=check_phone)
SSN = PIIPattern("SSN", SSN_PATTERN, "[SSN]", check=check_ssn)
CREDIT_CARD = PIIPattern("CREDIT_CARD", CREDIT_CARD_PATTERN, "[CREDIT_CARD]", check=check_credit_card)
IP_ADDRESS = PIIPattern("IP_ADDRESS", IP_ADDRESS_PATTERN, "[IP_ADDRESS]", check=check_ip_address)

#: The built-in entities, each validated beyond its regex.
DEFAULT_PII_PATTERNS: tuple[PIIPattern, ...] = (EMAIL, PHONE, SSN, CREDIT_CARD, IP_ADDRESS)
#: Names of the built-in entities.
ENTITIES: tuple[str, ...] = tuple(p.name for p in DEFAULT_PII_PATTERNS)
#: Tie-break among equally long overlapping built-in matches (first wins).
BUILTIN_PRIORITY: tuple[str, ...] = ("EMAIL", "CREDIT_CARD", "SSN", "PHONE", "IP_ADDRESS")
_BUILTIN_KEYS = {(p.pattern, p.check): p.name for p in DEFAULT_PII_PATTERNS}

# -- the engine --------------------------------------------------------------------------------

#: How far past a region of interest the built-in parts are re-run.
_WINDOW = 64


def _options(**kw: Any) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 32 << 20
    for k, v in kw.items():
        setattr(options, k, v)
    return options


def compile_user_pattern(p: PIIPattern, key: str = "patterns") -> Callable[..., Any]:
    """Compile a user pattern with RE2, or raise ``ConfigError`` naming it and the reason."""
    compiled = compile_pattern(p.name, p.pattern, key=key, case_sensitive=p.case_sensitive)
    match = raw_match(compiled)
    anchor = re2_anchor()
    for probe in (b"", b"a", b" ", b"0", b"a b", b"\n"):
        s, e = match(anchor, probe, 0, len(probe))[0]
        if s >= 0 and s == e:
            raise ConfigError(
                [ConfigIssue(f"{key}.{p.name}", f"pattern {p.name!r} = {p.pattern!r} matches the empty string; "
                             "it must match at least one character")]
            )
    return match


def _spans(
    match: Callable[..., Any], anchor: Any, buf: bytes, pos: int, end: int, resume: bool = False
) -> Iterator[tuple[int, int]]:
    """Match spans in ``buf[pos:end]``. With ``resume``, the next search starts at an extension's
    digits (``_ext_digits``), else after the last space inside a match, so a greedy read that
    swallowed the head of the next entity hides nothing."""
    while pos <= end:
        s, e = match(anchor, buf, pos, end)[0]
        if s < 0:
            return
        if e == s:  # empty matches carry nothing to redact
            pos = e + 1
            continue
        yield s, e
        if resume:
            g = _ext_digits(buf, s, e)
            pos = g if g > s else buf.rfind(b" ", s + 1, e) + 1 or e
        else:
            pos = e


#: The ASCII bytes of an e-mail's local part, and those after a match that an e-mail may go on with.
_LOCAL_BYTES = "".join(sorted(_EMAIL_LOCAL)).encode("ascii")
_LOCAL_ON = frozenset(b"@.%+-")


def _ext_digits(buf: bytes, s: int, e: int) -> int:
    """Where the digits at the end of the match ``buf[s:e]`` start when it holds an extension's marker
    ('200' of '200-000-0000 x 200'), else -1: they may be the head of the next entity."""
    if 48 <= buf[e - 1] <= 57 and (buf.find(b"x", s, e) >= 0 or buf.find(b"X", s, e) >= 0):
        return s + len(buf[s:e].rstrip(_DIGITS))
    return -1


def _next_search(buf: bytes, s: int, e: int, n: int) -> int:
    """Where the region search goes on after its match ``buf[s:e]``: at the match's end, or where the
    next entity may already have begun inside it, so that entity is a region of its own however far it
    runs past the match: an extension's digits ('... x 200-000-0000', '... x 4000 0000 0000 0002'), or
    the e-mail local-part bytes a number ends with when an e-mail may go on from them ('... 1111
    1234@example.com'). Still linear: that tail holds only digits (or local-part bytes), so a match
    found in it either lies wholly inside it (and the search goes on from its end) or runs on past
    ``e``; each byte is searched at most twice."""
    g = _ext_digits(buf, s, e)
    if g < 0 and e < n and buf[e] in _LOCAL_ON and 48 <= buf[e - 1] <= 57:
        g = s + len(buf[s:e].rstrip(_LOCAL_BYTES))
    return g if g > s else e


# -- Unicode look-alikes ----------------------------------------------------------------------

#: Invisible characters (zero-width space, joiners, word joiner, soft hyphen, direction marks, BOM).
_INVISIBLE = "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"


def _reading_table() -> dict[int, str]:
    """Each look-alike's ASCII reading: any non-ASCII decimal digit (Unicode category Nd) its value,
    Unicode spaces a space, line separators a newline, dashes '-', the full-width forms of letters and
    '+-.:@' (not other full-width punctuation, common in CJK prose, which changes no finding) and
    small '@' their ASCII form. Invisible characters are read by ``_ascii_reading``."""
    every = "".join(map(chr, range(128, 0x20000)))  # every Nd character lies below U+20000
    table = {ord(m[0]): str(unicodedata.decimal(m[0])) for m in re.finditer(r"\d", every)}
    table.update({c: " " for c in (0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)})
    table.update({c: "\n" for c in (0x85, 0x2028, 0x2029)})
    table.update({c: "-" for c in (*range(0x2010, 0x2016), 0x2212, 0xFE58, 0xFE63)})
    wide = (0xFF0B, 0xFF0D, 0xFF0E, 0xFF1A, *range(0xFF20, 0xFF3B), *range(0xFF41, 0xFF5B))
    table.update({c: chr(c - 0xFEE0) for c in wide})
    table[0xFE6B] = "@"
    return table


_READING = _reading_table()


def _ranges(codes: Sequence[int]) -> str:
    out: list[list[int]] = []
    for c in sorted(codes):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" if b > a else f"\\x{{{a:x}}}" for a, b in out)


#: Look-alikes, found with RE2 on the UTF-8 bytes (Python's ``re`` takes ~100 ns a character
#: for a class this large; RE2's DFA a few ns a byte).
_ODD_RUNS = raw_match(re2.compile(f"[{_ranges([*_READING, *map(ord, _INVISIBLE)])}]+", _options(never_capture=True)))


_ODD_CHARS = frozenset([*map(chr, _READING), *_INVISIBLE])
_INVISIBLE_RUNS = re.compile(f"[{_INVISIBLE}]+")


def _ascii_reading(text: str, joins: bool) -> tuple[str, list[int], bool]:
    """``text`` with each look-alike read as ASCII, one character for one, except invisible ones.

    An invisible character is dropped, or with ``joins`` a run of them next to a digit is read as one
    space ('4111\u200b1111...' is grouped, 'card\u200b4111...' is a word and a number). Returns the
    reading, where in it each dropped character was (sorted) and whether any run was read as a space.
    """
    read, invisible = _read_lookalikes(text)
    if not invisible:
        return read, [], False
    return _drop_invisible(read, joins)


def _read_lookalikes(text: str) -> tuple[str, bool]:
    """``text`` with each look-alike that has a reading (``_READING``) replaced by it, and whether it
    holds invisible characters (left in place)."""
    read = text
    invisible = False
    for c in _ODD_CHARS.intersection(text):  # one C pass; then one str.replace per distinct look-alike
        r = _READING.get(ord(c))
        if r is None:
            invisible = True
        else:
            read = read.replace(c, r)
    return read, invisible


def _drop_invisible(read: str, joins: bool) -> tuple[str, list[int], bool]:
    """``read`` without its invisible characters (with ``joins``, a run of them next to a digit read as
    one space), where in the result each dropped one was, and whether any run was read as a space."""
    pieces: list[str] = []
    dropped: list[int] = []
    joined = False
    last = shift = 0
    for m in _INVISIBLE_RUNS.finditer(read):
        i, j = m.span()
        pieces.append(read[last:i])
        last = j
        if joins and ((i and read[i - 1].isdigit()) or (j < len(read) and read[j].isdigit())):
            pieces.append(" ")
            joined = True
            i += 1
        dropped.extend([i - shift] * (j - i))
        shift += j - i
    pieces.append(read[last:])
    return "".join(pieces), dropped, joined


def _map_back(hits: list[Hit], dropped: list[int]) -> list[Hit]:
    """Offsets in an ASCII reading mapped to the text it was read from."""
    if not dropped:
        return hits
    right = bisect.bisect_right
    return [(s + right(dropped, s), e + right(dropped, e - 1), i) for s, e, i in hits]


def _union(first: list[Hit], second: list[Hit]) -> list[Hit]:
    """Two readings' hits as one list: overlapping hits become one span covering them all, of the
    longest one's entity (fail closed: what either reading found stays covered)."""
    out: list[Hit] = []
    for h in sorted(set(first) | set(second)):
        if out and h[0] < out[-1][1]:
            s, e, i = out[-1]
            entity = h[2] if h[1] - h[0] > e - s else i
            out[-1] = (s, max(e, h[1]), entity)
        else:
            out.append(h)
    return out


def _char_offsets(buf: bytes, offsets: Sequence[int]) -> dict[int, int]:
    """Map UTF-8 byte offsets to str offsets in one pass (offsets inside a character round down)."""
    out: dict[int, int] = {}
    last_b = last_c = 0
    for off in sorted(set(offsets)):
        b = off
        while 0 < b < len(buf) and (buf[b] & 0xC0) == 0x80:
            b -= 1
        if b > last_b:
            last_c += len(buf[last_b:b].decode("utf-8", "surrogatepass"))
            last_b = b
        out[off] = last_c
    return out


def _skip_start(buf: bytes, s: int, e: int, n: int) -> int:
    """Where the number of a skip match (``_SKIP_ALTERNATIVES``) starts, or -1 when the bytes around
    it could join it to something else (then it is scanned like any other match)."""
    if s and buf[s - 1] not in _SKIP_BEFORE:
        return -1
    if e < n:
        f = buf[e]
        if f not in _SKIP_AFTER and not (f == 46 and (e + 1 == n or buf[e + 1] in _SPACE)):
            return -1
    if buf[e - 4 : e].isdigit():  # 'ddd-dd-dddd' or 'ddd-ddd-dddd' (a dotted run has groups of 1-3)
        return e - 12 if 48 <= buf[e - 8] <= 57 else e - 11
    d0 = s + len(buf[s:e].rstrip(_SEP_DIGITS))
    return d0 + 1 if buf[d0] == 46 else d0


def _quiet(buf: bytes, ws: int, we: int, sv: int, ce: int) -> bool:
    """True when a window holding only a skip match (word at ``sv``, number ending at ``ce``) has no
    byte any candidate needs outside it: the parts would find the look-alike alone, and reject it."""
    head, tail = buf[ws - 1 if ws else 0 : sv], buf[ce : we + 1]
    return len(head.translate(None, _TRIGGERS)) == len(head) and len(tail.translate(None, _TRIGGERS)) == len(tail)


Hit = tuple[int, int, int]  # start, end (str offsets, end exclusive), pattern index

#: A phone context word at a union match's start (``_AT_START``): the national part's match, no skip match.
_PHONE_LEAD = raw_match(re2.compile(_words_rx(_PHONE_WORDS), _options(never_capture=True)))
_AT_START = re2_anchor(start=True)


class Detector:
    """Scans text for a fixed set of patterns; built-ins share one region-finding pass."""

    def __init__(self, patterns: Sequence[PIIPattern], *, key: str = "patterns") -> None:
        self.patterns = tuple(patterns)
        self._anchor = re2_anchor()
        builtin: list[tuple[int, Callable[..., Any], str]] = []
        user: list[tuple[int, Callable[..., Any]]] = []
        ranks: list[tuple[int, int]] = []
        n_user = sum(1 for p in self.patterns if (p.pattern, p.check) not in _BUILTIN_KEYS)
        if n_user > MAX_USER_PATTERNS:
            raise ConfigError([ConfigIssue(key, f"{n_user} patterns; the limit is {MAX_USER_PATTERNS}")])
        for i, p in enumerate(self.patterns):
            name = _BUILTIN_KEYS.get((p.pattern, p.check))
            if name is not None:
                for rx, _ in _PARTS[name]:
                    builtin.append((i, raw_match(compile_pattern(name, rx, key=key, case_sensitive=True)), rx))
                ranks.append((1, BUILTIN_PRIORITY.index(name)))
            else:
                user.append((i, compile_user_pattern(p, key)))
                ranks.append((0, i))
        self._builtin = tuple(builtin)
        self._user = tuple(user)
        self._rank = tuple(ranks)
        self._union: Callable[..., Any] | None = None
        self._plain: Callable[..., Any] | None = None
        self._skips = False
        self._parts: Any = None
        if builtin:
            # Which parts can match in a window, in one pass; only those are then scanned.
            parts = re2.Set.SearchSet(_options(never_capture=True))
            for _, _, rx in builtin:
                parts.Add(rx)
            parts.Compile()
            self._parts = parts._set.Match
            names = [_BUILTIN_KEYS[(self.patterns[i].pattern, self.patterns[i].check)]
                     for i in sorted({i for i, _, _ in builtin})]
            union = "|".join(_UNION_ALTERNATIVES.get(rx, f"(?:{rx})") for name in names for rx, _ in _PARTS[name])
            self._plain = self._union = raw_match(re2.compile(union, _options(never_capture=True)))
            skips = [f"(?:{rx})" for name in names for rx in _SKIP_ALTERNATIVES.get(name, ())]
            if skips:
                self._union = raw_match(re2.compile("|".join([union, *skips]), _options(never_capture=True)))
            self._skips = bool(skips)

    def scan(self, text: str) -> list[Hit]:
        """Validated, non-overlapping hits in ``text``, sorted by start.

        Text with Unicode look-alikes (``_READING``, ``_INVISIBLE``: other scripts' digits, Unicode
        spaces and dashes, full-width forms, invisible characters) is scanned in its ASCII reading;
        the hits' offsets are those of ``text``.
        """
        if text.isascii():
            return self._scan(text)
        buf = text.encode("utf-8", "surrogatepass")
        if _ODD_RUNS(self._anchor, buf, 0, len(buf))[0][0] < 0:
            return self._scan(text)
        hits, joined = self._scan_reading(text, True)
        if joined:  # invisible characters next to digits: also read them as nothing at all
            hits = _union(hits, self._scan_reading(text, False)[0])
        return hits

    def _scan_reading(self, text: str, joins: bool) -> tuple[list[Hit], bool]:
        """Hits in ``text``'s ASCII reading (``_ascii_reading``) in ``text``'s offsets, and whether a run
        of invisible characters was read as a space."""
        read, dropped, joined = _ascii_reading(text, joins)
        return _map_back(self._scan(read), dropped), joined

    def _scan(self, text: str) -> list[Hit]:
        """Validated, non-overlapping hits in ``text`` as it is (no look-alikes read)."""
        if not text:
            return []
        buf = text.encode("utf-8", "surrogatepass")
        n = len(buf)
        raw: list[Hit] = []
        if self._union is not None:
            self._builtin_candidates(self._union, buf, n, raw)
        for i, match in self._user:
            raw.extend((s, e, i) for s, e in _spans(match, self._anchor, buf, 0, n))
        if not raw:
            return []
        if len(raw) == 1 and n == len(text):  # one candidate in ASCII text: the common case of prose
            lone = self._lone_candidate(text, raw[0])
            if lone is not None:
                return lone
        if n != len(text):
            offs = _char_offsets(buf, [x for s, e, _ in raw for x in (s, e)])
            raw = [(offs[s], offs[e], i) for s, e, i in raw]
        return self._resolve(text, self._validate(text, raw))

    def _builtin_candidates(self, union: Callable[..., Any], buf: bytes, n: int, raw: list[Hit]) -> None:
        """Add the built-in parts' matches in ``buf`` (``n`` bytes) to ``raw`` (byte offsets, not yet
        validated). ``union`` finds where any part may match (``self._union``).

        Union matches within reach of each other form one window; each window is then handed to
        ``_window`` (hot path: no generator, no per-match lists)."""
        anchor = self._anchor
        find, local_on = buf.find, _LOCAL_ON
        pos = ws = we = cs = ce = count = 0
        sv = -1  # where the window's one match starts, if it is a look-alike the first pass rejects
        while pos < n:
            s, e = union(anchor, buf, pos, n)[0]
            if s < 0:
                break
            vs, fs = -1, s  # vs: where a skip match's word starts; fs: where the window's numbers start
            if buf[s] not in _NUMBER_START:  # an email, an IPv6 address, a context word and its number, or a skip
                vs, s, e, fs = self._word_match(buf, s, e)
                if s < 0:
                    break
            if e == s:  # empty matches carry nothing to redact
                pos = e + 1
                continue
            pos = e
            # The next entity may have begun inside this match (``_next_search``): only when the match
            # ends in a digit and holds an extension's marker or runs on into an e-mail's local part.
            if 48 <= buf[e - 1] <= 57 and (
                (e < n and buf[e] in local_on) or find(b"x", s, e) >= 0 or find(b"X", s, e) >= 0
            ):
                pos = _next_search(buf, s, e, n)
            a = s - 16 if s > 16 else 0
            if count and a <= we:  # within reach: the window grows
                count += 1
                b = e + _WINDOW
                if b > we:
                    we = b if b < n else n
                continue
            if count:
                self._window(buf, ws, we, cs, ce, count, raw, sv)
            b = e + _WINDOW
            ws, we, cs, ce, count, sv = a, (b if b < n else n), fs, e, 1, vs
        if count:
            self._window(buf, ws, we, cs, ce, count, raw, sv)

    def _word_match(self, buf: bytes, s: int, e: int) -> tuple[int, int, int, int]:
        """A union match ``buf[s:e]`` that starts with no digit, as the window loop takes it: (where a
        skip match's word starts or -1, start, end, where its number starts). A skip match whose bytes
        could join it to something else gives way to what the first pass without skips finds from
        there (start -1: nothing)."""
        if self._skips and buf[s] in _ASCII_LETTERS and 48 <= buf[e - 1] <= 57 and not buf[e - 9 : e].isdigit() \
                and buf.count(b":", s, e) < 2 and _PHONE_LEAD(_AT_START, buf, s, e)[0][0] < 0:
            # emails end in a letter, IPv6 has 2+ ':', a national number starts with its phone word
            d0 = _skip_start(buf, s, e, len(buf))
            if d0 >= 0:
                return s, d0, e, d0  # the window sees the look-alike's number, as before
            # The first pass without skips, from here, is what it would have found.
            s, e = self._plain(self._anchor, buf, s, len(buf))[0]  # type: ignore[misc]
            if s < 0 or buf[s] in _NUMBER_START:
                return -1, s, e, s
        run = e - s - len(buf[s:e].rstrip(_DIGITS))
        return -1, s, e, (e - run if run >= 9 else s)  # emails end in letters, IPv6 groups have at most 4 digits

    def _lone_candidate(self, text: str, hit: Hit) -> list[Hit] | None:
        """The one candidate of an ASCII text, when its check alone decides: [] rejected, [hit] kept
        whole; None when the general path must (no check, a validator, or only a part kept)."""
        s, e, i = hit
        p = self.patterns[i]
        if p.check is None or p.validator is not None:
            return None
        span = p.check(text, s, e)
        if span is None:
            return []
        return [hit] if span[0] == s and span[1] == e else None

    def _window(self, buf: bytes, ws: int, we: int, s: int, e: int, count: int, raw: list[Hit], sv: int
                ) -> None:
        """Scan one window of union matches with the built-in parts the ``Set`` says can match there;
        a window holding only a skip match (word at ``sv``) that nothing else needs is left (``_quiet``)."""
        if count == 1 and sv >= 0 and _quiet(buf, ws, we, sv, ce=e):
            return
        # One byte of context each side keeps \b right at the window's edges.
        found: Sequence[int] = self._parts(buf[ws - 1 if ws else 0 : we + 1]) or ()
        builtin = self._builtin
        if count == 1 and len(found) == 1:
            # One match and one part that can match here: the union's match is that part's.
            raw.append((s, e, builtin[found[0]][0]))
            return
        anchor = self._anchor
        for k in found:
            i, match, _ = builtin[k]
            raw.extend((a, b, i) for a, b in _spans(match, anchor, buf, ws, we, True))

    def _validate(self, text: str, raw: list[Hit]) -> list[Hit]:
        out: list[Hit] = []
        seen: set[Hit] = set()
        patterns = self.patterns
        for s, e, i in raw:
            p = patterns[i]
            check, validator = p.check, p.validator
            if check is None:
                spans: list[tuple[int, int]] = [(s, e)]
            else:
                span = check(text, s, e)
                if span is None:
                    continue
                if validator is None and span[0] == s and span[1] == e:  # the common case: kept whole
                    hit = (s, e, i)
                    if hit not in seen:
                        seen.add(hit)
                        out.append(hit)
                    continue
                spans = _checked(check, text, s, e, span)
            for a, b in spans:
                if b <= a or (p.validator is not None and not p.validator(text[a:b])):
                    continue
                hit = (a, b, i)
                if hit not in seen:
                    seen.add(hit)
                    out.append(hit)
        return out

    def _resolve(self, text: str, hits: list[Hit]) -> list[Hit]:
        """Longest match wins; ties go to the better rank (user patterns, then built-in priority).

        A built-in match that loses keeps the part before (or after) the winner when that part
        still validates on its own ('+44 7946 0958' next to a longer card number); whatever of it
        no winner covers is kept as its entity anyway (``_cover``).
        """
        if len(hits) < 2:
            return hits
        hits.sort()
        out: list[Hit] = []
        cluster: list[Hit] = [hits[0]]
        end = hits[0][1]
        for h in hits[1:]:
            if h[0] < end:
                cluster.append(h)
                end = max(end, h[1])
                continue
            out.extend(self._pick(text, cluster))
            cluster, end = [h], h[1]
        out.extend(self._pick(text, cluster))
        return out

    def _pick(self, text: str, cluster: list[Hit]) -> list[Hit]:
        if len(cluster) == 1:
            return cluster
        rank = self._rank
        chosen: list[Hit] = []  # kept sorted by start; never overlapping
        for h in sorted(cluster, key=lambda h: (h[0] - h[1], rank[h[2]], h[0])):
            if _free(chosen, h):
                bisect.insort(chosen, h)
                continue
            check = self.patterns[h[2]].check
            if check is None:
                continue
            placed = False
            for a, b in _remainders(text, chosen, h):
                span = check(text, a, b)
                if span is not None and a <= span[0] < span[1] <= b and _free(chosen, (span[0], span[1], h[2])):
                    bisect.insort(chosen, (span[0], span[1], h[2]))
                    placed = True
            if not placed:
                self._cut_winner(text, chosen, h)
            _cover(text, chosen, h)
        return chosen

    def _cut_winner(self, text: str, chosen: list[Hit], h: Hit) -> None:
        """If the one winner overlapping ``h`` still validates when cut back to end before ``h``,
        and ``h`` reaches at least as far as the winner did, keep both."""
        inside = [c for c in chosen if c[0] < h[1] and h[0] < c[1]]
        if len(inside) != 1:
            return
        c = inside[0]
        check = self.patterns[c[2]].check
        if check is None or c[0] >= h[0]:
            return
        b = h[0]
        while b > c[0] and text[b - 1] in _SEPS:
            b -= 1
        span = check(text, c[0], b) if b > c[0] else None
        if span is None or not (c[0] <= span[0] < span[1] <= b):
            return
        if h[1] < c[1]:  # the two together must reach at least as far as the winner did
            return
        chosen.remove(c)
        bisect.insort(chosen, (span[0], span[1], c[2]))
        if _free(chosen, h):
            bisect.insort(chosen, h)


_SEPS = " .-/:,()"


def _checked(
    check: SpanCheck, text: str, s: int, e: int, first: tuple[int, int] | None = None
) -> list[tuple[int, int]]:
    """Run a check; when it keeps only part of a candidate, check what is left before and after
    (a run of digit groups may hold two entities). ``first`` is the check's result for (s, e)
    when the caller already has it."""
    out: list[tuple[int, int]] = []
    pending = [(s, e)]
    while pending:  # each found span leaves at most two shorter, disjoint pieces of (s, e)
        a, b = pending.pop()
        span = first if first is not None and (a, b) == (s, e) and not out else check(text, a, b)
        if span is None:
            continue
        x, y = span
        out.append(span)
        while y < b and text[y] in _SEPS:
            y += 1
        if y < b:
            pending.append((y, b))
        while x > a and text[x - 1] in _SEPS:
            x -= 1
        if x > a:
            pending.append((a, x))
    return out


def _cover(text: str, chosen: list[Hit], h: Hit) -> None:
    """Fail closed: the parts of a validated loser ``h`` that no winner covers are kept as ``h``'s
    entity even when they no longer validate alone ('123 45' of '123 45 6789' when a card reading
    took '6789'), so text that validated as an entity never stays in the clear."""
    pos = h[0]
    for c in [c for c in chosen if c[0] < h[1] and h[0] < c[1]] + [(h[1], h[1], -1)]:
        a, b = pos, min(c[0], h[1])
        while a < b and text[a] in _SEPS:
            a += 1
        while b > a and text[b - 1] in _SEPS:
            b -= 1
        if b > a and not (b - a < 10 and _EXT_WORD.fullmatch(text, a, b)):  # an extension's marker alone is no PII
            bisect.insort(chosen, (a, b, h[2]))
        pos = max(pos, c[1])
        if pos >= h[1]:
            break


def _free(chosen: list[Hit], h: Hit) -> bool:
    k = bisect.bisect_left(chosen, h)
    if k > 0 and chosen[k - 1][1] > h[0]:
        return False
    return not (k < len(chosen) and chosen[k][0] < h[1])


def _remainders(text: str, chosen: list[Hit], h: Hit) -> list[tuple[int, int]]:
    """The parts of ``h`` before the first and after the last overlapping winner, trimmed."""
    inside = [c for c in chosen if c[0] < h[1] and h[0] < c[1]]
    out = []
    a, b = h[0], min(c[0] for c in inside)
    while b > a and text[b - 1] in " .-(/:,":
        b -= 1
    if b > a:
        out.append((a, b))
    a, b = max(c[1] for c in inside), h[1]
    while a < b and text[a] in " .-)/:,":
        a += 1
    if b > a:
        out.append((a, b))
    return out


__all__ = [
    "BUILTIN_PRIORITY",
    "CREDIT_CARD",
    "DEFAULT_PII_PATTERNS",
    "EMAIL",
    "ENTITIES",
    "IP_ADDRESS",
    "MAX_USER_PATTERNS",
    "PHONE",
    "SSN",
    "Detector",
    "PIIPattern",
    "SpanCheck",
    "check_credit_card",
    "check_email",
    "check_ip_address",
    "check_phone",
    "check_ssn",
    "compile_user_pattern",
    "luhn_valid",
]
