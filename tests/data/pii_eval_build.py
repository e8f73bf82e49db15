"""Builds ``pii_eval.jsonl``: a frozen PII evaluation set with span labels (deterministic, seeded).

    .venv/bin/python tests/data/pii_eval_build.py

Each line is one text: ``{"text", "kind", "class", "split", "spans": [[start, end, "ENTITY"], ...]}``.
``kind`` is ``positive`` (it holds PII; ``spans`` are every PII string in it, character offsets, end
exclusive) or ``hard_negative`` (ordinary work text full of PII look-alikes; ``spans`` is empty).
``class`` names the template family (for per-class error reports). ``split`` is ``dev`` or ``test``,
from the sha256 of the text (not from the order), so the split does not move when rows are added.

Entities are the built-in ones of the PII guard: EMAIL, PHONE, SSN, CREDIT_CARD, IP_ADDRESS. The
values are synthetic: NANP numbers in real area codes, phones in the national and international
formats of 24 countries within their numbering plans' ranges, SSNs within the SSA's rules, card
numbers with valid Luhn digits and network prefixes, IPv4/IPv6 addresses; none belongs to anyone
on purpose. The sentences are written for this set (support chat, tickets, logs, build notes).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path

SEED = 20261206
OUT = Path(__file__).with_name("pii_eval.jsonl")

Gen = Callable[[random.Random], str]


def _d(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


# -- values ----------------------------------------------------------------------------------------

_AREAS = (
    201,
    202,
    203,
    205,
    206,
    207,
    210,
    212,
    213,
    214,
    215,
    216,
    217,
    218,
    224,
    225,
    240,
    248,
    251,
    253,
    267,
    281,
    301,
    303,
    305,
    310,
    312,
    313,
    314,
    315,
    317,
    330,
    347,
    401,
    404,
    407,
    408,
    410,
    412,
    414,
    415,
    469,
    470,
    480,
    503,
    504,
    510,
    512,
    513,
    516,
    518,
    520,
    530,
    602,
    603,
    605,
    614,
    617,
    619,
    626,
    630,
    646,
    650,
    651,
    661,
    678,
    702,
    704,
    713,
    714,
    717,
    718,
    720,
    732,
    734,
    737,
    757,
    763,
    770,
    773,
    786,
    801,
    804,
    805,
    808,
    813,
    818,
    832,
    847,
    858,
    901,
    904,
    908,
    910,
    912,
    914,
    916,
    917,
    919,
    925,
    929,
    941,
    949,
    954,
    970,
    971,
    972,
    973,
)


def _nanp_parts(rng: random.Random) -> tuple[str, str, str]:
    area = str(rng.choice(_AREAS))
    while True:
        ex = f"{rng.randrange(2, 10)}{_d(rng, 2)}"
        if ex[1:] != "11":
            break
    line = f"01{_d(rng, 2)}" if ex == "555" else _d(rng, 4)
    return area, ex, line


def us_phone_formatted(rng: random.Random) -> str:
    a, x, n = _nanp_parts(rng)
    return rng.choice(
        [
            f"({a}) {x}-{n}",
            f"{a}-{x}-{n}",
            f"{a}.{x}.{n}",
            f"{a} {x} {n}",
            f"+1 {a} {x} {n}",
            f"1-{a}-{x}-{n}",
            f"+1 ({a}) {x}-{n}",
            f"+1-{a}-{x}-{n}",
            f"({a}){x}-{n}",
            f"+1.{a}.{x}.{n}",
        ]
    )


def us_phone_digits(rng: random.Random) -> str:
    a, x, n = _nanp_parts(rng)
    return rng.choice([f"{a}{x}{n}", f"{a}{x}{n}", f"1{a}{x}{n}"])


def _pick(*options: Callable[[random.Random], str]) -> Gen:
    return lambda rng: rng.choice(options)(rng)


# International numbers: (country code, national formatter producing (national form with trunk
# prefix, international form without the country code)).
def _uk(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        m = f"7{rng.choice('1234579')}{_d(rng, 2)} {_d(rng, 6)}"
        return "0" + m, m
    m = f"20 {rng.choice('378')}{_d(rng, 3)} {_d(rng, 4)}"
    return "0" + m, m


def _de(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        m = f"1{rng.choice(['51', '52', '57', '60', '62', '70', '71', '72', '76', '79'])} {_d(rng, 8)}"
        return "0" + m, m
    m = f"{rng.choice(['30', '40', '89', '69', '221'])} {rng.randrange(2, 10)}{_d(rng, 6)}"
    return "0" + m, m


def _fr(rng: random.Random) -> tuple[str, str]:
    first = rng.choice("1234567")
    pairs = " ".join(_d(rng, 2) for _ in range(4))
    return f"0{first} {pairs}", f"{first} {pairs}"


def _au(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        m = f"4{rng.randrange(0, 10)}{_d(rng, 1)} {_d(rng, 3)} {_d(rng, 3)}"
        return "0" + m, m
    m = f"{rng.choice('2378')} {rng.randrange(8, 10)}{_d(rng, 3)} {_d(rng, 4)}"
    return f"(0{m[0]}){m[1:]}" if rng.random() < 0.5 else "0" + m, m


def _in(rng: random.Random) -> tuple[str, str]:
    m = f"{rng.choice('6789')}{_d(rng, 4)} {_d(rng, 5)}"
    return (m if rng.random() < 0.5 else "0" + m), m


def _jp(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        m = f"{rng.choice(['90', '80', '70'])}-{rng.randrange(1, 10)}{_d(rng, 3)}-{_d(rng, 4)}"
    else:
        m = f"3-{rng.randrange(3, 7)}{_d(rng, 3)}-{_d(rng, 4)}"
    return "0" + m, m


def _br(rng: random.Random) -> tuple[str, str]:
    area = rng.choice(["11", "21", "31", "41", "51", "61", "71", "81"])
    m = f"9{rng.randrange(6, 10)}{_d(rng, 3)}-{_d(rng, 4)}"
    return f"({area}) {m}", f"{area} {m}"


def _mx(rng: random.Random) -> tuple[str, str]:
    m = f"{rng.choice(['55', '33', '81'])} {rng.randrange(1, 10)}{_d(rng, 3)} {_d(rng, 4)}"
    return m, m


def _es(rng: random.Random) -> tuple[str, str]:
    m = f"6{_d(rng, 2)} {_d(rng, 3)} {_d(rng, 3)}"
    return m, m


def _it(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        m = f"3{rng.choice('2345')}{_d(rng, 1)} {_d(rng, 3)} {_d(rng, 4)}"
    else:
        m = f"06 {rng.randrange(1, 10)}{_d(rng, 3)} {_d(rng, 4)}"
    return m, m


def _nl(rng: random.Random) -> tuple[str, str]:
    m = f"6 {rng.randrange(1, 7)}{_d(rng, 7)}"
    return "0" + m, m


def _se(rng: random.Random) -> tuple[str, str]:
    m = f"7{rng.choice('02369')} {_d(rng, 3)} {_d(rng, 2)} {_d(rng, 2)}"
    return "0" + m, m


def _ch(rng: random.Random) -> tuple[str, str]:
    area = rng.choice(["44", "76", "78", "79", "22", "31"])
    m = f"{area} {rng.randrange(2, 10)}{_d(rng, 2)} {_d(rng, 2)} {_d(rng, 2)}"
    return "0" + m, m


def _cn(rng: random.Random) -> tuple[str, str]:
    m = f"1{rng.choice(['38', '39', '50', '58', '86', '88'])} {_d(rng, 4)} {_d(rng, 4)}"
    return m, m


def _sg(rng: random.Random) -> tuple[str, str]:
    m = f"{rng.choice('689')}{_d(rng, 3)} {_d(rng, 4)}"
    return m, m


def _za(rng: random.Random) -> tuple[str, str]:
    m = f"{rng.choice(['21', '11', '82', '83', '72'])} {rng.randrange(2, 10)}{_d(rng, 2)} {_d(rng, 4)}"
    return "0" + m, m


def _ng(rng: random.Random) -> tuple[str, str]:
    m = f"{rng.choice(['803', '806', '813', '816', '703', '805'])} {_d(rng, 3)} {_d(rng, 4)}"
    return "0" + m, m


def _kr(rng: random.Random) -> tuple[str, str]:
    m = f"10-{rng.randrange(2, 10)}{_d(rng, 3)}-{_d(rng, 4)}"
    return "0" + m, m


def _ie(rng: random.Random) -> tuple[str, str]:
    m = f"8{rng.choice('3567')} {_d(rng, 3)} {_d(rng, 4)}"
    return "0" + m, m


def _pl(rng: random.Random) -> tuple[str, str]:
    m = f"{rng.choice(['51', '60', '66', '69', '72', '78', '88'])}{_d(rng, 1)} {_d(rng, 3)} {_d(rng, 3)}"
    return m, m


def _be(rng: random.Random) -> tuple[str, str]:
    m = f"4{rng.choice('7789')}{_d(rng, 1)} {_d(rng, 2)} {_d(rng, 2)} {_d(rng, 2)}"
    return "0" + m, m


def _at(rng: random.Random) -> tuple[str, str]:
    m = f"6{rng.choice(['64', '60', '76', '99'])} {_d(rng, 7)}"
    return "0" + m, m


def _pt(rng: random.Random) -> tuple[str, str]:
    m = f"9{rng.choice('1236')}{_d(rng, 1)} {_d(rng, 3)} {_d(rng, 3)}"
    return m, m


COUNTRIES: dict[str, tuple[str, Callable[[random.Random], tuple[str, str]]]] = {
    "GB": ("44", _uk),
    "DE": ("49", _de),
    "FR": ("33", _fr),
    "AU": ("61", _au),
    "IN": ("91", _in),
    "JP": ("81", _jp),
    "BR": ("55", _br),
    "MX": ("52", _mx),
    "ES": ("34", _es),
    "IT": ("39", _it),
    "NL": ("31", _nl),
    "SE": ("46", _se),
    "CH": ("41", _ch),
    "CN": ("86", _cn),
    "SG": ("65", _sg),
    "ZA": ("27", _za),
    "NG": ("234", _ng),
    "KR": ("82", _kr),
    "IE": ("353", _ie),
    "PL": ("48", _pl),
    "BE": ("32", _be),
    "AT": ("43", _at),
    "PT": ("351", _pt),
}


def intl_phone(rng: random.Random) -> str:
    """'+CC ...' in the country's own grouping, or its digits run together, or '00CC ...'."""
    cc, make = COUNTRIES[rng.choice(sorted(COUNTRIES))]
    national, intl = make(rng)
    r = rng.random()
    if r < 0.6:
        return f"+{cc} {intl}"
    if r < 0.75:
        return f"+{cc}{''.join(c for c in intl if c.isdigit())}"
    if r < 0.9:
        return f"+{cc}-{intl.replace(' ', '-')}"
    return f"+{cc} (0){intl}" if national.startswith("0") else f"+{cc} {intl}"  # '+44 (0)20 ...'


def national_phone(rng: random.Random) -> str:
    """A country's national form (trunk prefix '0' where it has one), separators or digits only."""
    country = rng.choice(sorted(c for c in COUNTRIES if c not in ("MX", "ES", "IT", "PL", "PT", "CN", "SG")))
    national, _ = COUNTRIES[country][1](rng)
    if rng.random() < 0.35 and national.startswith("0"):
        return "".join(c for c in national if c.isdigit())
    return national


def ssn_parts(rng: random.Random) -> tuple[str, str, str]:
    while True:
        area = rng.randrange(1, 900)
        if area != 666:
            break
    return f"{area:03d}", f"{rng.randrange(1, 100):02d}", f"{rng.randrange(1, 10000):04d}"


def ssn_formatted(rng: random.Random) -> str:
    a, g, s = ssn_parts(rng)
    return rng.choice([f"{a}-{g}-{s}", f"{a}-{g}-{s}", f"{a} {g} {s}"])


def ssn_digits(rng: random.Random) -> str:
    return "".join(ssn_parts(rng))


def _luhn_complete(body: str) -> str:
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    brand = rng.choice(["visa", "visa", "mc", "mc2", "amex", "disc", "jcb", "diners", "unionpay"])
    prefix, n = {
        "visa": ("4", 16),
        "mc": (str(rng.randrange(51, 56)), 16),
        "mc2": (str(rng.randrange(2221, 2721)), 16),
        "amex": (rng.choice(["34", "37"]), 15),
        "disc": ("6011", 16),
        "jcb": (str(rng.randrange(3528, 3590)), 16),
        "diners": ("36", 14),
        "unionpay": ("62", rng.choice([16, 19])),
    }[brand]
    digits = _luhn_complete(prefix + _d(rng, n - len(prefix) - 1))
    sep = rng.choice(["", " ", " ", "-"])
    if not sep:
        return digits
    if n == 15:
        return sep.join((digits[:4], digits[4:10], digits[10:]))
    if n == 14:
        return sep.join((digits[:4], digits[4:10], digits[10:]))
    return sep.join(digits[i : i + 4] for i in range(0, n, 4))


def ipv4(rng: random.Random) -> str:
    first = rng.choice([10, 172, 192, 203, 198, 8, 34, 52, 81, 91, 100, 185, 212, 66, 24])
    second = {10: rng.randrange(256), 172: rng.randrange(16, 32), 192: 168}.get(first, rng.randrange(256))
    return f"{first}.{second}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def ipv6(rng: random.Random) -> str:
    groups = [rng.choice(["2001", "2a00", "2a02", "2600", "2406", "fd12"])] + [
        f"{rng.getrandbits(16):x}" for _ in range(7)
    ]
    r = rng.random()
    if r < 0.4:
        return ":".join(groups)
    if r < 0.8:
        return ":".join(groups[:3]) + "::" + ":".join(groups[6:])
    return f"2001:db8::{rng.getrandbits(16):x}"


_FIRST = (
    "jane",
    "john",
    "maria",
    "li",
    "ahmed",
    "olga",
    "pierre",
    "sofia",
    "kenji",
    "fatima",
    "lucas",
    "emma",
    "noah",
    "priya",
    "chen",
    "anna",
    "tom",
    "zoe",
    "ivan",
    "lea",
)
_LAST = (
    "doe",
    "smith",
    "garcia",
    "wang",
    "khan",
    "ivanova",
    "martin",
    "rossi",
    "tanaka",
    "mueller",
    "silva",
    "brown",
    "nguyen",
    "patel",
    "kim",
    "schmidt",
    "dubois",
    "lopez",
    "novak",
    "obrien",
)
_DOMAINS = (
    "example.com",
    "gmail.com",
    "outlook.com",
    "acme-corp.com",
    "mail.example.org",
    "uni-bonn.de",
    "company.co.uk",
    "startup.io",
    "agency.fr",
    "kunde.ch",
    "shop.com.au",
    "research.ac.jp",
    "ventures.ai",
    "bank.example",
    "proton.me",
    "corp.example.net",
    "hospital.org",
    "city.gov",
    "sub.dept.example.edu",
)


def email(rng: random.Random) -> str:
    f, last = rng.choice(_FIRST), rng.choice(_LAST)
    local = rng.choice(
        [
            f"{f}.{last}",
            f"{f[0]}{last}",
            f"{f}_{last}",
            f"{f}+{rng.choice(['billing', 'news', 'test'])}",
            f"{f}.{last}{rng.randrange(1, 99)}",
            f"{last}.{f}",
            f"{f}-{last}",
            f"{f.upper()}.{last.capitalize()}",
        ]
    )
    return f"{local}@{rng.choice(_DOMAINS)}"


# -- positive templates: (class, entity, value maker, sentences with {v}) --------------------------------

POSITIVES: tuple[tuple[str, str, Gen, tuple[str, ...]], ...] = (
    (
        "phone_us_digits_ctx",
        "PHONE",
        us_phone_digits,
        (
            "call me at {v} after 5pm",
            "You can reach me on {v} tomorrow.",
            "my cell is {v}",
            "Phone: {v}",
            "please text {v} when the courier arrives",
            "mobile {v} (personal)",
            "Customer asked for a callback on {v}.",
            "tel {v}",
            "Contact number: {v}",
            "whatsapp {v}",
            "my phone number is {v}, thanks",
            "ph: {v}",
            "Call {v} to confirm the appointment.",
            "cell: {v} / office ext 204",
            "Best number to reach her: {v}",
            "sms {v} with the code",
            "my number is {v}",
            "Telephone {v}",
            "dial {v} and press 2",
            "phone no. {v}",
        ),
    ),
    (
        "phone_us_formatted",
        "PHONE",
        us_phone_formatted,
        (
            "Call {v} for support.",
            "The store's number is {v}.",
            "{v} is my cell",
            "ring {v} if the gate is locked",
            "Left a voicemail at {v} yesterday.",
            "fax {v}",
            "Emergency contact: {v}",
            "office line {v} (ask for Sam)",
            "I tried {v} twice but no answer",
            "Her new number {v} replaces the old one.",
        ),
    ),
    (
        "phone_intl",
        "PHONE",
        intl_phone,
        (
            "Call me on {v} when you land.",
            "Our Berlin office: {v}",
            "my mobile is {v}",
            "Contact: {v}",
            "He gave {v} as the delivery contact.",
            "WhatsApp {v} works best.",
            "tel. {v}",
            "Please phone {v} during business hours.",
            "reachable at {v} from 9 to 5",
            "{v} (mobile)",
            "Customer phone {v} verified.",
            "If urgent: {v}",
        ),
    ),
    (
        "phone_national_ctx",
        "PHONE",
        national_phone,
        (
            "call me at {v}",
            "my number is {v}",
            "mobile: {v}",
            "Tel. {v}",
            "Phone {v}",
            "my cell is {v}",
            "You can reach me on {v}.",
            "phone number: {v}",
            "ring me on {v} tonight",
            "whatsapp: {v}",
            "Contact number {v}",
            "text me at {v}",
        ),
    ),
    (
        "ssn_digits_ctx",
        "SSN",
        ssn_digits,
        (
            "SSN {v}",
            "SSN: {v}",
            "my SSN is {v}",
            "social security number {v}",
            "Social Security No. {v}",
            "ssn#{v}",
            "SS# {v}",
            "The applicant's SSN, {v}, is on the form.",
            "SSN - {v}",
            "social security: {v}",
            "Please verify SSN {v} before payroll runs.",
            "ssn {v} (employee)",
        ),
    ),
    (
        "ssn_formatted",
        "SSN",
        ssn_formatted,
        (
            "SSN {v}",
            "her social security number is {v}",
            "Employee SSN: {v} on file.",
            "{v} is the SSN we have",
            "taxpayer id {v}",
            "The W-2 shows {v}.",
            "ssn={v}",
            "Update record: SSN {v}, DOB 1984-03-12.",
        ),
    ),
    (
        "card",
        "CREDIT_CARD",
        card,
        (
            "card number {v}",
            "Charge it to {v}, exp 09/27.",
            "my visa is {v}",
            "CC: {v}",
            "Payment failed for card {v}.",
            "use {v} for the deposit",
            "The card ending in {v} was declined.",
            "pan={v}",
            "billing card {v} cvv 123",
            "Refund to {v} please.",
        ),
    ),
    (
        "ipv4",
        "IP_ADDRESS",
        ipv4,
        (
            "Login from {v} at 03:12 UTC",
            "client ip {v}",
            "blocked {v} after 5 failed attempts",
            "src={v} proto=tcp",
            "The VPN assigned {v}.",
            "ssh admin@{v} -p 2222",
            "request from {v} took 340 ms",
            "my home IP is {v}",
        ),
    ),
    (
        "ipv6",
        "IP_ADDRESS",
        ipv6,
        (
            "Login from {v}",
            "client address {v} was rate limited",
            "the server at {v} refused the connection",
            "src={v}",
            "IPv6: {v}",
        ),
    ),
    (
        "email",
        "EMAIL",
        email,
        (
            "Send the invoice to {v}.",
            "my email is {v}",
            "cc {v} on the thread",
            "Contact: {v}",
            "<{v}>",
            "Reply-To: {v}",
            '"email": "{v}"',
            "from {v} at 10:02",
            "{v} asked for a refund",
            "please add {v} to the distribution list",
        ),
    ),
)

# Two entities in one text.
PAIRS: tuple[tuple[str, tuple[tuple[str, Gen], tuple[str, Gen]], tuple[str, ...]], ...] = (
    (
        "pair_email_phone",
        (("EMAIL", email), ("PHONE", us_phone_formatted)),
        (
            "Reach Jane at {a} or {b}.",
            "Contact: {a} / {b}",
            "{a}, phone {b}",
        ),
    ),
    (
        "pair_email_intl",
        (("EMAIL", email), ("PHONE", intl_phone)),
        (
            "email {a}, mobile {b}",
            "Send it to {a} and call {b} when done.",
        ),
    ),
    (
        "pair_ssn_phone",
        (("SSN", ssn_formatted), ("PHONE", us_phone_digits)),
        (
            "SSN {a}, call {b} to verify",
            "Applicant SSN: {a}; phone {b}",
        ),
    ),
    (
        "pair_card_email",
        (("CREDIT_CARD", card), ("EMAIL", email)),
        (
            "Card {a} belongs to {b}.",
            "receipt for {a} sent to {b}",
        ),
    ),
    (
        "pair_ip_email",
        (("IP_ADDRESS", ipv4), ("EMAIL", email)),
        (
            "{b} logged in from {a}",
            "failed login for {b} from {a}",
        ),
    ),
)

# -- hard negatives: (class, maker of a look-alike, sentences with {v}) ----------------------------------


def asset_at(rng: random.Random) -> str:
    name = rng.choice(
        [
            "icon",
            "logo",
            "avatar",
            "btn-primary",
            "hero_banner",
            "splash",
            "sprite",
            "Default",
            "ic_launcher",
            "bg-header",
            "thumb",
            "app-icon-180",
        ]
    )
    scale = rng.choice(["2x", "3x", "1.5x", "2x", "4x"])
    ext = rng.choice(["png", "png", "jpg", "jpeg", "webp", "gif", "svg", "avif", "heic", "ico", "bmp", "tiff"])
    return f"{name}@{scale}.{ext}"


def font_at(rng: random.Random) -> str:
    name = rng.choice(["font", "Inter", "Roboto-Regular", "icons", "NotoSans-Bold"])
    return f"{name}@{rng.choice(['1.2', '2.0', '3.1', '400', '700'])}.{rng.choice(['woff2', 'woff', 'ttf', 'otf'])}"


def package_at(rng: random.Random) -> str:
    pkg = rng.choice(["lodash", "react", "@types/node", "typescript", "vite", "eslint", "left-pad", "@babel/core"])
    return f"{pkg}@{rng.randrange(0, 20)}.{rng.randrange(0, 30)}.{rng.randrange(0, 40)}"


def case_number(rng: random.Random) -> str:
    a, x, n = _nanp_parts(rng)
    return rng.choice(
        [
            f"CASE-{rng.randrange(2019, 2027)}-{x}-{n}",
            f"{x}-{n}-{_d(rng, 2)}",
            f"INC{_d(rng, 10)}",
            f"CASE-{a}-{x}-{n}",
            f"SR-{a}{x}{n}",
            f"RITM{_d(rng, 7)}",
            f"CHG{_d(rng, 7)}",
            f"TKT-{a}-{x}-{n}",
            f"#{a}-{x}-{n}-{_d(rng, 1)}",
            f"REQ{a}{x}{n}",
        ]
    )


def version(rng: random.Random) -> str:
    a, b, c, d = rng.randrange(1, 20), rng.randrange(0, 20), rng.randrange(0, 30), rng.randrange(0, 255)
    return rng.choice(
        [
            f"v{a}.{b}.{c}.{d}",
            f"{a}.{b}.{c}-rc.{rng.randrange(1, 9)}",
            f"{a}.{b}.{c}.{d}",
            f"v{a}.{b}.{c}",
            f"{a}.{b}.{c}-beta.{d}",
            f"{a}.{b}.{c}+build.{rng.randrange(100, 999)}",
            f"{a}.{b}.{c}.{d}-hotfix",
        ]
    )


def uid(rng: random.Random) -> str:
    return rng.choice(
        [
            f"{rng.getrandbits(128):032x}",
            f"usr_{_d(rng, 9)}",
            f"{rng.getrandbits(40):010x}",
            f"acct-{_d(rng, 10)}",
            f"{rng.getrandbits(64):016x}",
            f"id:{_d(rng, 9)}",
            f"{_d(rng, 10)}",
            f"cus_{rng.getrandbits(56):014x}",
            f"{_d(rng, 12)}",
            f"EMP{_d(rng, 6)}",
        ]
    )


def hash_like(rng: random.Random) -> str:
    return rng.choice(
        [
            f"{rng.getrandbits(160):040x}",
            f"{rng.getrandbits(28):07x}",
            f"sha256:{rng.getrandbits(256):064x}",
            f"{rng.getrandbits(128):032x}",
        ]
    )


def timestamp(rng: random.Random) -> str:
    y, mo, da = rng.randrange(2015, 2027), rng.randrange(1, 13), rng.randrange(1, 29)
    h, mi, se = rng.randrange(24), rng.randrange(60), rng.randrange(60)
    return rng.choice(
        [
            f"{rng.randrange(1_500_000_000, 1_800_000_000)}",
            f"{rng.randrange(1_500_000_000_000, 1_800_000_000_000)}",
            f"{y}-{mo:02d}-{da:02d}T{h:02d}:{mi:02d}:{se:02d}Z",
            f"{y}-{mo:02d}-{da:02d} {h:02d}:{mi:02d}:{se:02d},{_d(rng, 3)}",
            f"{y}{mo:02d}{da:02d}{h:02d}{mi:02d}{se:02d}",
            f"{h:02d}:{mi:02d}:{se:02d}.{_d(rng, 6)}",
            f"{rng.randrange(1_500_000_000_000_000, 1_800_000_000_000_000)}",
        ]
    )


def order_number(rng: random.Random) -> str:
    a, x, n = _nanp_parts(rng)
    s1, s2, s3 = ssn_parts(rng)
    return rng.choice(
        [
            f"{a}{x}{n}",
            f"{a}-{x}-{n}",
            f"{s1}-{s2}-{s3}",
            f"{_d(rng, 8)}",
            f"{a} {x} {n}",
            f"{s1}{s2}{s3}",
            f"1Z{_d(rng, 3)}AA{_d(rng, 10)}",
            f"94001{_d(rng, 17)}",
            f"{_d(rng, 4)} {_d(rng, 4)} {_d(rng, 4)}",
        ]
    )


def isbn(rng: random.Random) -> str:
    body = f"978{rng.randrange(0, 2)}{_d(rng, 8)}"
    total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body))
    full = body + str((10 - total % 10) % 10)
    return rng.choice(
        [
            full,
            f"{full[:3]}-{full[3]}-{full[4:7]}-{full[7:12]}-{full[12]}",
            f"{full[:3]}-{full[3:5]}-{full[5:9]}-{full[9:12]}-{full[12]}",
        ]
    )


def coordinate(rng: random.Random) -> str:
    lat, lon = rng.uniform(-60, 70), rng.uniform(-179, 179)
    return rng.choice(
        [
            f"{lat:.4f}, {lon:.4f}",
            f"{lat:.6f},{lon:.6f}",
            f"{abs(lat):.4f}° N, {abs(lon):.4f}° W",
            f"lat={lat:.5f}&lng={lon:.5f}",
        ]
    )


def part_number(rng: random.Random) -> str:
    a, x, n = _nanp_parts(rng)
    return rng.choice(
        [
            f"{rng.randrange(1, 9)}-{_d(rng, 4)}-{_d(rng, 3)}-{_d(rng, 2)}",
            f"{a}-{x}-{n}",
            f"PN {_d(rng, 3)}-{_d(rng, 2)}-{_d(rng, 4)}",
            f"{x}-{n}-{_d(rng, 2)}",
            f"RT-{_d(rng, 4)}-{_d(rng, 3)}",
            f"{_d(rng, 4)}-{_d(rng, 6)}-{_d(rng, 2)}",
            f"{_d(rng, 3)}.{_d(rng, 3)}.{_d(rng, 4)}",
        ]
    )


def measurement(rng: random.Random) -> str:
    return rng.choice(
        [
            f"{rng.randrange(640, 4000)}x{rng.randrange(480, 3000)}",
            f"{rng.uniform(1, 99):.1f} x {rng.uniform(1, 99):.1f} x {rng.uniform(1, 9):.1f} cm",
            f"{rng.randrange(1, 999):,}{rng.randrange(1000):03d}{rng.randrange(1000):03d} bytes",
            f"{rng.randrange(1, 999)} {_d(rng, 3)} {_d(rng, 3)} rows",
            f"{rng.randrange(1_000_000_000, 9_999_999_999)} bytes",
            f"{rng.uniform(0, 500):.2f} ms",
            f"{rng.randrange(2, 60)} {rng.randrange(100, 999)} {rng.randrange(100, 999)} km",
            f"+{rng.randrange(1_000_000, 99_000_000)} ms",
            f"{rng.randrange(100, 240)}-{rng.randrange(241, 260)} V",
        ]
    )


def misc_number(rng: random.Random) -> str:
    return rng.choice(
        [
            f"0x{rng.getrandbits(32):08X}",
            f"port {rng.randrange(1024, 65535)}",
            f"PID {rng.randrange(1000, 4_000_000)}",
            f"{rng.getrandbits(48):012x}".upper(),
            ":".join(f"{rng.getrandbits(8):02x}" for _ in range(6)),
            f"{rng.randrange(0, 24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}",
            f"UTC+{rng.randrange(1, 12):02d}:00",
            f"+{rng.randrange(2, 90)}%",
            f"${rng.randrange(1, 99)},{_d(rng, 3)},{_d(rng, 3)}.00",
            f"{rng.randrange(1, 28):02d}/{rng.randrange(1, 13):02d}/{rng.randrange(2000, 2030)}",
        ]
    )


def near_context_word(rng: random.Random) -> str:
    """Ordinary numbers right after a phone or SSN context word: dates, times, counts, sizes, ids."""
    y, mo, da = rng.randrange(2015, 2027), rng.randrange(1, 13), rng.randrange(1, 29)
    return rng.choice(
        [
            f"call on {y}-{mo:02d}-{da:02d} at {rng.randrange(8, 18)}:{rng.choice(['00', '15', '30', '45'])}",
            f"phone survey reached {rng.randrange(1, 99)} {_d(rng, 3)} {_d(rng, 3)} households",
            f"API call took {rng.randrange(100, 99999)} ms",
            f"call volume {rng.randrange(1, 999):,} per hour",
            f"mobile app build {rng.randrange(1000, 99999)}",
            f"phone storage 128 GB, {rng.randrange(10, 99)} % used",
            f"SMS batch {_d(rng, 8)} queued",
            f"contact form id {_d(rng, 6)}",
            f"text field maxlength {rng.randrange(9, 400)}",
            f"ssn column added in migration {y}{mo:02d}{da:02d}{_d(rng, 6)}",
            f"SSN field is {rng.choice([9, 11])} characters",
            f"call center handled {rng.randrange(10, 99)},{_d(rng, 3)},{_d(rng, 3)} calls",
            f"cell A{rng.randrange(1, 9999)} holds the total",
            f"phone model SM-G{rng.randrange(100, 999)}B",
            f"reach {rng.randrange(1, 99)} {_d(rng, 3)} {_d(rng, 3)} users",
            f"call {rng.randrange(1, 9)} of {rng.randrange(10, 30)} failed",
        ]
    )


NEGATIVES: tuple[tuple[str, Gen, tuple[str, ...]], ...] = (
    (
        "asset_at",
        asset_at,
        (
            "Replace {v} in the iOS bundle.",
            "the build is missing {v}",
            "Added {v} and the @3x variant.",
            '<img src="/static/{v}">',
            "Asset {v} looks blurry on retina.",
            "url('../img/{v}')",
            "git add assets/{v}",
            "{v} is 2 KB too big",
        ),
    ),
    (
        "font_at",
        font_at,
        ("@font-face {{ src: url(fonts/{v}); }}", "preload {v} in the head", "the CDN returned 404 for {v}"),
    ),
    ("package_at", package_at, ("npm install {v}", "pin {v} in package.json", "upgrade to {v} fixed it")),
    (
        "case_number",
        case_number,
        (
            "See {v} for the full history.",
            "Escalated as {v}.",
            "ticket {v} is still open",
            "Ref: {v}",
            "Closing {v}, duplicate of an older one.",
            "{v} was reassigned to the network team",
            "Please quote {v} in every reply.",
            "linked to {v}",
        ),
    ),
    (
        "version",
        version,
        (
            "Upgraded to {v} last night.",
            "Bug reproduces on {v}.",
            "release {v} is tagged",
            "Chrome {v} crashes",
            "firmware {v} fixes the Wi-Fi drop",
            "pip install foo=={v}",
            "deployed {v} to staging",
            "Version {v}",
            "the SDK {v} changelog",
            "driver {v} is required",
        ),
    ),
    (
        "id",
        uid,
        (
            "user id {v} reported the bug",
            "account {v} was suspended",
            "customer {v} has 3 open tickets",
            "trace_id={v}",
            "Request {v} failed with 502.",
            "The job {v} ran for 4 minutes.",
            "object key {v}",
            "{v} appears twice in the export",
        ),
    ),
    ("hash", hash_like, ("commit {v} broke the build", "checksum {v}", "image digest {v}", "revert {v} please")),
    (
        "timestamp",
        timestamp,
        (
            "The error started at {v}.",
            "ts={v}",
            "last_seen: {v}",
            "[{v}] WARN retrying",
            "created {v}",
            "expires_at {v}",
        ),
    ),
    (
        "order_number",
        order_number,
        (
            "order #{v} shipped today",
            "Order number {v} is delayed.",
            "invoice {v} is overdue",
            "tracking {v} shows delivered",
            "PO {v} approved",
            "reference {v}",
            "Your booking {v} is confirmed.",
            "receipt no. {v}",
            "confirmation {v}",
            "transaction {v} settled",
        ),
    ),
    ("isbn", isbn, ("ISBN {v}", "the book ({v}) is out of print", "isbn: {v}", "{v} second edition")),
    ("coordinate", coordinate, ("Meet at {v}.", "GPS {v}", "the sensor at {v} went offline", "pin dropped at {v}")),
    (
        "part_number",
        part_number,
        (
            "part no. {v}",
            "P/N {v} is backordered",
            "SKU {v}",
            "serial {v}",
            "model no. {v} overheats",
            "order spare part {v}",
            "replace filter part {v}",
        ),
    ),
    (
        "measurement",
        measurement,
        (
            "The export is {v}.",
            "resolution {v}",
            "the table has {v}",
            "latency {v}",
            "box size {v}",
            "we moved {v} last quarter",
            "offset {v}",
            "input {v}",
        ),
    ),
    ("near_context_word", near_context_word, ("{v}", "Note: {v}.", "{v}, see the dashboard")),
    (
        "misc_number",
        misc_number,
        (
            "error {v} on startup",
            "listening on {v}",
            "MAC {v}",
            "the meeting is at {v}",
            "timezone {v}",
            "growth {v} year over year",
            "budget {v}",
            "due {v}",
            "code {v}",
        ),
    ),
)

N_POSITIVE = {
    "phone_us_digits_ctx": 110,
    "phone_us_formatted": 70,
    "phone_intl": 130,
    "phone_national_ctx": 100,
    "ssn_digits_ctx": 90,
    "ssn_formatted": 50,
    "card": 80,
    "ipv4": 50,
    "ipv6": 30,
    "email": 70,
}
N_PAIR = 24
N_NEGATIVE = {
    "asset_at": 70,
    "font_at": 20,
    "package_at": 20,
    "case_number": 80,
    "version": 70,
    "id": 70,
    "hash": 30,
    "timestamp": 50,
    "order_number": 80,
    "isbn": 30,
    "coordinate": 30,
    "part_number": 60,
    "measurement": 60,
    "misc_number": 60,
    "near_context_word": 60,
}


def split_of(text: str) -> str:
    """'dev' or 'test' from the text's sha256: stable whatever the order or number of rows."""
    return "dev" if hashlib.sha256(text.encode("utf-8")).digest()[0] < 128 else "test"


def build() -> list[dict[str, object]]:
    rng = random.Random(SEED)
    rows: list[dict[str, object]] = []
    seen: set[str] = set()

    def add(text: str, kind: str, cls: str, spans: list[list[object]]) -> None:
        if text in seen:
            return
        seen.add(text)
        rows.append({"text": text, "kind": kind, "class": cls, "split": split_of(text), "spans": spans})

    for cls, entity, make, sentences in POSITIVES:
        for _ in range(N_POSITIVE[cls]):
            sentence, value = rng.choice(sentences), make(rng)
            head, tail = sentence.split("{v}")
            add(head + value + tail, "positive", cls, [[len(head), len(head) + len(value), entity]])
    for cls, ((ea, ma), (eb, mb)), sentences in PAIRS:
        for _ in range(N_PAIR):
            sentence, a, b = rng.choice(sentences), ma(rng), mb(rng)
            values = {"a": (a, ea), "b": (b, eb)}
            text, spans, rest = "", [], sentence
            while "{" in rest:
                k = rest.index("{")
                text += rest[:k]
                value, entity = values[rest[k + 1]]
                spans.append([len(text), len(text) + len(value), entity])
                text += value
                rest = rest[k + 3 :]
            add(text + rest, "positive", cls, spans)
    for cls, make, sentences in NEGATIVES:
        for _ in range(N_NEGATIVE[cls]):
            sentence = rng.choice(sentences)
            add(sentence.replace("{{", "{").replace("}}", "}").replace("{v}", make(rng)), "hard_negative", cls, [])
    return rows


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    data = OUT.read_bytes()
    kinds = {
        (k, s): sum(1 for r in rows if r["kind"] == k and r["split"] == s)
        for k in ("positive", "hard_negative")
        for s in ("dev", "test")
    }
    spans = sum(len(r["spans"]) for r in rows)  # type: ignore[arg-type]
    print(f"{OUT.name}: {len(rows)} rows, {spans} PII spans, sha256 {hashlib.sha256(data).hexdigest()}")
    print("  " + ", ".join(f"{k} {s}: {n}" for (k, s), n in kinds.items()))


if __name__ == "__main__":
    main()
