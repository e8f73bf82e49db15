"""Throughput of the guard plugins on realistic prose with scattered PII, and hostile-input timing.

    .venv/bin/python benchmarks/bench_guards.py

Rows, all on the same deterministic text (4 MB of support-chat prose per density; about one sentence in
two carries an ordinary number that must not be redacted: dates, times, prices, quantities, versions,
order/ticket numbers shaped like phones or SSNs, UUIDs, commit hashes; PII scattered at 0, 1 per 10 KB,
1 per 2 KB and 1 per 1 KB), measured in one run:
- beluga PII guard (``PIIRedactor().validate``), the injection guard (``InjectionDetector``, if
  installed; its signals alone and with the learned stage) and each with the PII guard in one
  ``GuardPipeline`` input stage, on 2 KB messages and on the whole text;
- the same PII patterns and validation on Python's ``re`` (no RE2, no region prefilter);
- Microsoft Presidio's predefined pattern recognizers (Email, CreditCard, Phone, UsSsn, Ip) used
  directly, without the spaCy NLP engine, on a 256 KB slice (they are much slower).
Then 1 MB adversarial inputs through every default PII pattern (target < 100 ms each), with
Python's ``re`` on 8 KB and 16 KB of the same inputs to show how it grows, and 1 MB that is nothing
but valid PII (phones, emails): not hostile, just the most findings a megabyte can hold.
PII accuracy on the frozen evaluation set (tests/data/pii_eval.jsonl, dev and test splits; the engine
as installed, so running this at an older commit gives that engine's figures) and the PII guard's
latency: µs per 2 KB message, p50 and p99.
Targets: >= 100 MB/s per core for injection + PII together on prose; 1 MB adversarial < 100 ms;
PII micro-F1 >= 0.99, raw PII left <= 0.5 %, <= 0.005 false findings per hard-negative text.
"""

from __future__ import annotations

import logging
import random
import re
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "data"))

import pii_eval_score
from _util import header, real_texts, table

from beluga_core import GuardInput, GuardPipeline
from beluga_guard_pii import PIIRedactor
from beluga_guard_pii.detect import _PARTS, DEFAULT_PII_PATTERNS, Detector

try:
    from beluga_guard_injection import InjectionDetector
except ImportError:  # pragma: no cover - the injection plugin is optional here
    InjectionDetector = None

MB = 1_000_000
SIZE = 4 * MB
MESSAGE = 2_000

# -- the text ----------------------------------------------------------------------------------

_WORDS = (
    "the order shipped late and I would like to know when it arrives because the tracking page has not "
    "changed since Monday our team upgraded the app but the dashboard still shows an error after login "
    "please check the invoice and tell me whether the refund was processed we tried again with the new "
    "settings yet nothing happened could you escalate this to someone who can help thanks in advance"
).split()


def _pii(rng: random.Random) -> str:
    kind = rng.randrange(7)
    if kind == 0:
        user = rng.choice(["jane.doe", "bob", "m.smith", "support+eu"])
        return f"{user}{rng.randrange(100)}@example.{rng.choice(['com', 'org', 'io'])}"
    if kind == 1:
        return f"({rng.randrange(200, 999)}) {rng.randrange(200, 999)}-{rng.randrange(1000, 9999)}"
    if kind == 2:
        return f"+44 20 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}"
    if kind == 3:
        return f"{rng.randrange(100, 665)}-{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}"
    if kind == 4:
        return rng.choice(["4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005"])
    if kind == 5:
        return f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return f"2001:db8::{rng.randrange(1, 9999):x}"


_NOISE: tuple[tuple[int, Callable[[random.Random], str]], ...] = (
    # Ordinary numbers of support chat, with a weight (how common); none is PII, none may be redacted.
    # The last five are look-alikes the regexes must propose and the context rules reject.
    (3, lambda r: f"on 2024-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}"),
    (3, lambda r: f"on {r.randrange(1, 13):02d}/{r.randrange(1, 29):02d}/20{r.randrange(10, 30)}"),
    (3, lambda r: f"since {r.randrange(1990, 2026)}"),
    (3, lambda r: f"at {r.randrange(24):02d}:{r.randrange(60):02d}"),
    (3, lambda r: f"for ${r.randrange(5, 500)}.{r.randrange(100):02d}"),
    (2, lambda r: f"for ${r.randrange(1, 99)},{r.randrange(1000):03d}.00"),
    (3, lambda r: f"{r.randrange(2, 40)} items"),
    (2, lambda r: f"{r.randrange(2, 90)}% of the time"),
    (3, lambda r: f"version {r.randrange(1, 9)}.{r.randrange(20)}.{r.randrange(50)}"),
    (1, lambda r: f"build {r.randrange(1, 11)}.0.{r.randrange(10000, 30000)}.{r.randrange(1000, 5000)}"),
    (3, lambda r: f"order #{r.randrange(10**7, 10**8)}"),
    (2, lambda r: f"order number {r.randrange(200, 999)}{r.randrange(10**6, 10**7)}"),  # 10 digits, like a phone
    (1, lambda r: f"request {uuid.UUID(int=r.getrandbits(128))}"),
    (1, lambda r: f"commit {r.getrandbits(160):040x}"),
    (2, lambda r: f"room {r.randrange(100, 999)}"),
    (1, lambda r: f"version {r.randrange(1, 9)}.{r.randrange(1, 9)}.{r.randrange(9)}.{r.randrange(9)}"),  # like an IPv4
    (1, lambda r: f"ticket {r.randrange(100, 899)}-{r.randrange(10, 99)}-{r.randrange(1000, 9999)}"),  # like an SSN
    (1, lambda r: f"invoice no. {r.randrange(200, 999)}-{r.randrange(200, 999)}-{r.randrange(1000, 9999)}"),
    (1, lambda r: f"timestamp {r.randrange(1_600_000_000_000, 1_800_000_000_000)}"),  # 13 digits, like a card
)
_NOISE_MAKERS = [make for weight, make in _NOISE for _ in range(weight)]


def _noise(rng: random.Random) -> str:
    return rng.choice(_NOISE_MAKERS)(rng)


def prose(size: int = SIZE, seed: int = 42, pii_every: int | None = 1000) -> str:
    """Deterministic support-chat prose with numeric noise and one PII item per ~``pii_every`` characters."""
    rng = random.Random(seed)
    out: list[str] = []
    n = 0
    next_pii = rng.randrange(pii_every) if pii_every else size
    while n < size:
        words = [rng.choice(_WORDS) for _ in range(rng.randrange(8, 22))]
        if rng.random() < 0.5:
            words.insert(rng.randrange(len(words)), _noise(rng))
        if pii_every is not None and n >= next_pii:
            words.insert(rng.randrange(len(words)), _pii(rng))
            next_pii += pii_every
        sentence = " ".join(words).capitalize() + rng.choice([". ", "? ", "! ", ".\n\n"])
        out.append(sentence)
        n += len(sentence)
    return "".join(out)[:size]


def messages(text: str, size: int = MESSAGE) -> list[str]:
    """Split at spaces into ~``size``-character messages."""
    out, i = [], 0
    while i < len(text):
        j = text.find(" ", i + size)
        j = len(text) if j < 0 else j
        out.append(text[i:j])
        i = j
    return out


def _noise_items(text: str) -> list[str]:
    """The ordinary numbers in ``text`` (digit runs with their separators), for the report."""
    return re.findall(r"\d[\d.,:/\-]*\d|\d", text)


# -- the contenders ----------------------------------------------------------------------------


def mbps(fn: Callable[[], Any], nbytes: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return nbytes / best / MB


def python_re_scanner() -> Callable[[str], list[Any]]:
    """The built-in PII patterns on Python's ``re`` (every part over the whole text), with the same
    validation and overlap rule as beluga's RE2 engine."""
    det = Detector(DEFAULT_PII_PATTERNS)
    def py(rx: str) -> re.Pattern[str]:
        # Python's re has no \pL / \pN / \pM classes: \w (Unicode letters and digits) stands in for each
        # run of them inside a character class.
        return re.compile(re.sub(r"(?:\\p[LNM])+", lambda _: r"\w", rx))

    parts = [(i, py(rx)) for i, p in enumerate(DEFAULT_PII_PATTERNS) for rx, _ in _PARTS[p.name]]

    def scan(text: str) -> list[Any]:
        raw = [(m.start(), m.end(), i) for i, rx in parts for m in rx.finditer(text)]
        return det._resolve(text, det._validate(text, raw))

    return scan


def presidio_scanner() -> Callable[[str], list[Any]] | None:
    try:
        logging.getLogger("tldextract").setLevel(logging.CRITICAL)
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            EmailRecognizer,
            IpRecognizer,
            PhoneRecognizer,
            UsSsnRecognizer,
        )
    except ImportError:
        return None
    recognizers = [EmailRecognizer(), CreditCardRecognizer(), PhoneRecognizer(), UsSsnRecognizer(), IpRecognizer()]
    for r in recognizers:  # warm-up: tldextract's suffix list, phonenumbers metadata
        r.analyze("warm up a@b.co 555-123-4567", r.supported_entities, None)

    def scan(text: str) -> list[Any]:
        return [x for r in recognizers for x in r.analyze(text, r.supported_entities, None)]

    return scan


DENSITIES: dict[str, int | None] = {
    "no PII": None, "1 PII / 10 KB": 10_000, "1 PII / 2 KB": 2_000, "1 PII / 1 KB": 1_000
}


def injection_contenders(pii: PIIRedactor) -> list[tuple[str, Callable[[str], Any]]]:
    """The injection guard with its signals alone, with the learned stage on signalled text (the
    plugin's default) and on all text, each alone and in one pipeline stage with the PII guard."""
    if InjectionDetector is None:
        return []
    out: list[tuple[str, Callable[[str], Any]]] = []
    for mode, kwargs in (("signals only", {}), ("learned on signalled text", {"learned": True}),
                         ("learned on all text", {"learned": True, "learned_scope": "all"})):
        inj = InjectionDetector(**kwargs)
        both = GuardPipeline(input_guards=[inj, pii])
        out.append((f"beluga injection guard, {mode}", lambda t, inj=inj: inj.validate(GuardInput(t))))
        out.append((f"beluga injection ({mode}) + PII, one stage", both.validate_input))
    return out


def throughput_rows() -> tuple[list[list[Any]], dict[str, str]]:
    """MB/s per contender on 2 KB messages at each PII density, plus the whole 4 MB text at 1 / 10 KB."""
    texts = {name: prose(pii_every=every) for name, every in DENSITIES.items()}
    pii = PIIRedactor()
    contenders: list[tuple[str, Callable[[str], Any], int]] = [
        ("beluga PII guard (RE2)", lambda t: pii.validate(GuardInput(t)), 3)
    ]
    contenders += [(name, fn, 3) for name, fn in injection_contenders(pii)]
    scan_re = python_re_scanner()
    contenders.append(("same PII patterns + validation on Python re", scan_re, 1))
    presidio = presidio_scanner()
    rows: list[list[Any]] = []
    for name, fn, repeat in contenders:
        row: list[Any] = [name]
        for text in texts.values():
            msgs = messages(text)
            row.append(mbps(lambda fn=fn, msgs=msgs: [fn(m) for m in msgs], len(text.encode()), repeat))
        doc = texts["1 PII / 10 KB"]
        row.append(mbps(lambda fn=fn, doc=doc: fn(doc), len(doc.encode()), repeat))
        rows.append(row)
    notes = {"findings": ", ".join(f"{k}: {len(pii.find(t))}" for k, t in texts.items())}
    # The noise alone must give no finding: every number in the "no PII" text is a look-alike.
    notes["look-alikes"] = str(sum(1 for _ in _noise_items(texts["no PII"])))
    if presidio is None:
        rows.append(["Presidio pattern recognizers", "not installed", *[""] * len(DENSITIES)])
    else:
        row = ["Presidio pattern recognizers (256 KB slices)"]
        for text in texts.values():
            part = text[:256_000]
            msgs = messages(part)
            row.append(mbps(lambda msgs=msgs: [presidio(m) for m in msgs], len(part.encode()), 1))
        part = texts["1 PII / 10 KB"][:256_000]
        row.append(mbps(lambda part=part: presidio(part), len(part.encode()), 1))
        rows.append(row)
    return rows, notes


# -- hostile input -----------------------------------------------------------------------------

ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "digits '1111…'": lambda n: "1" * n,
    "'1-' repeated": lambda n: "1-" * (n // 2),
    "'1.' repeated (dotted run)": lambda n: "1." * (n // 2),
    "'1234 ' repeated (card groups)": lambda n: "1234 " * (n // 5),
    "'555-' repeated": lambda n: "555-" * (n // 4),
    "'+1 (' repeated": lambda n: "+1 (" * (n // 4),
    "'a' * n then '@'": lambda n: "a" * (n - 1) + "@",
    "'a.' repeated then '@x'": lambda n: "a." * (n // 2 - 1) + "@x",
    "'a@' repeated": lambda n: "a@" * (n // 2),
    "'a:' repeated (hex/colon run)": lambda n: "a:" * (n // 2),
    "'1:' repeated": lambda n: "1:" * (n // 2),
    "'::' repeated": lambda n: ":" * n,
    "'call 0' repeated": lambda n: "call 0" * (n // 6),
    "'phone ' then '0 ' repeated": lambda n: "phone " + "0 " * (n // 2 - 3),
    "'call (01) 2-' repeated": lambda n: "call (01) 2-" * (n // 12),
}

#: 1 MB that is nothing but valid PII: the worst case for per-finding work (not hostile, just dense).
DENSE: dict[str, Callable[[int], str]] = {
    "phones '555-123-4567 '": lambda n: "555-123-4567 " * (n // 13),
    "phones '+44 20 7946 0958, '": lambda n: "+44 20 7946 0958, " * (n // 18),
    "emails 'jane.doe@example.com '": lambda n: "jane.doe@example.com " * (n // 21),
    "cards '4111 1111 1111 1111, '": lambda n: "4111 1111 1111 1111, " * (n // 21),
    "national phones 'call 07700 900123, '": lambda n: "call 07700 900123, " * (n // 19),
}


def dense_rows() -> list[list[Any]]:
    pii = PIIRedactor()
    rows = []
    for name, make in DENSE.items():
        text = make(MB)
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            result = pii.validate(GuardInput(text))
            best = min(best, time.perf_counter() - t0)
        n = len(result.findings)
        rows.append([name, n, best * 1000, best / n * 1e6, len(text) / best / MB])
    return rows


def adversarial_rows() -> list[list[Any]]:
    pii = PIIRedactor()
    scan_re = python_re_scanner()
    rows = []
    for name, make in ADVERSARIAL.items():
        text = make(MB)
        t0 = time.perf_counter()
        pii.validate(GuardInput(text))
        beluga_ms = (time.perf_counter() - t0) * 1000
        re_ms = []
        for size in (8_000, 16_000):
            small = make(size)
            t0 = time.perf_counter()
            scan_re(small)
            re_ms.append((time.perf_counter() - t0) * 1000)
        growth = re_ms[1] / re_ms[0] if re_ms[0] > 0.5 else float("nan")
        rows.append([name, beluga_ms, "yes" if beluga_ms < 100 else "NO", re_ms[0], re_ms[1], growth])
    return rows


def real_rows() -> list[list[Any]]:
    """MB/s of each guard and of both on real text cut into 2 KB messages (a large vocabulary, which the
    generated prose above lacks), and on the whole text."""
    pii = PIIRedactor()
    contenders: list[tuple[str, Callable[[str], Any]]] = [("beluga PII guard", lambda t: pii.validate(GuardInput(t)))]
    contenders += injection_contenders(pii)
    texts = real_texts()
    rows: list[list[Any]] = []
    for name, fn in contenders:
        row: list[Any] = [name]
        for text in texts.values():
            msgs = messages(text)
            [fn(m) for m in msgs]  # warm, as a long-lived guard is
            row.append(mbps(lambda fn=fn, msgs=msgs: [fn(m) for m in msgs], len(text.encode())))
            row.append(mbps(lambda fn=fn, text=text: fn(text), len(text.encode())))
        rows.append(row)
    return rows


def pii_accuracy_rows() -> list[list[Any]]:
    """The PII guard's accuracy on the frozen evaluation set, per split."""
    scan = pii_eval_score.redactor_scan(PIIRedactor())
    rows = []
    for split in ("dev", "test"):
        r = pii_eval_score.score(scan, pii_eval_score.rows(split))
        rows.append([split, f"{r['micro_f1']:.4f}", *(f"{r['f1'][e]:.3f}" for e in pii_eval_score.ENTITIES),
                     f"{100 * r['raw_left']:.2f}", f"{r['false_per_negative']:.4f}", r["spans"], r["negatives"]])
    return rows


def pii_latency_rows() -> list[list[Any]]:
    """The PII guard on 2 KB messages of prose: MB/s (best of three passes), and µs per message at p50
    and p99 (over the three passes)."""
    pii = PIIRedactor()
    rows = []
    for name, every in DENSITIES.items():
        msgs = messages(prose(size=MB, pii_every=every))
        per: list[int] = []
        best = float("inf")
        for _ in range(3):
            start = len(per)
            for m in msgs:
                t0 = time.perf_counter_ns()
                pii.validate(GuardInput(m))
                per.append(time.perf_counter_ns() - t0)
            best = min(best, sum(per[start:]))
        per.sort()
        nbytes = sum(len(m.encode()) for m in msgs)
        rows.append([name, nbytes / best * 1000, per[len(per) // 2] / 1000, per[int(len(per) * 0.99)] / 1000])
    return rows


def main() -> None:
    header("guards: throughput on prose with scattered PII, and hostile input")
    rows, notes = throughput_rows()
    print(f"text: {SIZE // MB} MB of support-chat prose per density, split into ~{MESSAGE}-character messages; "
          f"{notes['look-alikes']} ordinary numbers (dates, prices, versions, order numbers, ...) per text; "
          f"PII findings per text: {notes['findings']} (the 'no PII' text must give 0)\n")
    cols = ["contender (MB/s, 1 core)", *(f"{k}, 2 KB msgs" for k in DENSITIES), "1 PII / 10 KB, whole 4 MB"]
    print(table(cols, rows))
    names = list(DENSITIES)
    pii = rows[0]
    for row in rows[1:]:
        if row[0].startswith(("same PII", "Presidio")) and isinstance(row[2], float):
            print(f"beluga PII guard vs {row[0].split(' (')[0]}: "
                  + ", ".join(f"{pii[k + 1] / row[k + 1]:.0f}x at {n}" for k, n in enumerate(names)))
    for both in (r for r in rows if r[0].startswith("beluga injection (")):
        print(f"{both[0].removeprefix('beluga ')} on 2 KB messages: "
              + ", ".join(f"{both[k + 1]:.0f} MB/s at {n}" for k, n in enumerate(names))
              + " (target: >= 100 MB/s per core)")
    print("\nreal text, MB/s (1 core): Python's documentation (pydoc topics, prose with code) and source, 1 MB each\n")
    print(table(["contender", *(f"{n.split(' (')[0]}, {how}" for n in real_texts(0) for how in ("2 KB msgs", "whole"))],
                real_rows()))
    print("\n1 MB adversarial inputs through every default PII pattern (target < 100 ms); "
          "Python re on 8 KB / 16 KB of the same\n")
    print(table(["input", "beluga ms (1 MB)", "< 100 ms", "re ms (8 KB)", "re ms (16 KB)", "re growth ×2 size"],
                adversarial_rows()))
    print("\n1 MB of nothing but valid PII (the most findings a megabyte holds; cost is per finding)\n")
    print(table(["input", "findings", "beluga ms (1 MB)", "µs / finding", "MB/s"], dense_rows()))
    print(f"\nPII accuracy on {pii_eval_score.DATA.name} (sha256 {pii_eval_score.sha256()[:16]}…; goals: micro-F1 "
          ">= 0.99, raw PII left <= 0.5 %, <= 0.005 false findings per hard-negative text)\n")
    print(table(["split", "micro-F1", *(f"F1 {e}" for e in pii_eval_score.ENTITIES), "raw PII left %",
                 "false / hard negative", "PII spans", "hard negatives"], pii_accuracy_rows()))
    print("\nPII guard alone on 2 KB messages of the prose above (1 MB per density, 3 passes, 1 core)\n")
    print(table(["PII density", "MB/s", "µs p50 / 2 KB msg", "µs p99 / 2 KB msg"],
                pii_latency_rows()))


if __name__ == "__main__":
    main()
