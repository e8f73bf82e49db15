"""The ``phonenumbers`` package as the PII guard's phone validator, against the guard's own rules.

    .venv/bin/pip install phonenumbers && .venv/bin/python benchmarks/bench_pii_phones.py

On the frozen PII evaluation set (tests/data/pii_eval.jsonl, dev and test splits) and on the
support-chat prose of bench_guards.py (2 KB messages), for each contender (the engine as installed:
PYTHONPATH=<older checkout>/plugins/guard-pii measures an older engine's rules):
- rules: the guard as it ships (NANP rules, '+' with a country code in use and 7-15 digits,
  national numbers after a context word by trunk prefix, '00' or area code in parentheses);
- + is_valid ('+'): every '+' candidate must also be ``phonenumbers.is_valid_number``;
- + is_possible ('+'): ... ``is_possible_number`` (lengths per country only);
- + is_valid ('+' and national): national candidates after a context word must be valid numbers
  of one of the set's 24 regions instead of the guard's shape rule;
- PhoneNumberMatcher (US) / (24 regions): phonenumbers finds the phones itself (``Leniency.VALID``),
  the guard the other entities; the way Presidio's PhoneRecognizer works.
Rows: PHONE precision, recall and F1, micro-F1 over all entities, raw PII left, false findings per
hard-negative text, and cost: MB/s on prose without PII, µs per 2 KB message (p50/p99) with one PII
item per 2 KB.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "data"))

import pii_eval_score as ev
from _util import header, table
from bench_guards import messages, prose

from beluga_guard_pii import PIIRedactor, detect

try:
    import phonenumbers as pn
except ImportError:  # pragma: no cover - measured only where installed
    pn = None

#: The regions of the evaluation set's phone numbers.
REGIONS = ("US", "GB", "DE", "FR", "AU", "IN", "JP", "BR", "MX", "ES", "IT", "NL", "SE", "CH", "CN", "SG", "ZA",
           "NG", "KR", "IE", "PL", "BE", "AT", "PT")


def _parse(value: str, region: str | None) -> Any:
    try:
        return pn.parse(value, region)
    except pn.NumberParseException:
        return None


def _plus_validator(check: Callable[[Any], bool]) -> Callable[..., Any]:
    rules = detect._phone_ok

    def phone_ok(text: str, s: int, e: int) -> tuple[int, int] | None:
        span = rules(text, s, e)
        if span is not None and text[span[0]] == "+":
            number = _parse(text[span[0] : span[1]], None)
            if number is None or not check(number):
                return None
        return span

    return phone_ok


def _national_by_phonenumbers(value: str, d: bytes) -> bool:
    for region in REGIONS:
        number = _parse(value, region)
        if number is not None and pn.is_valid_number(number):
            return True
    return False


@contextmanager
def patched(phone_ok: Callable[..., Any] | None = None, national: Callable[..., Any] | None = None) -> Iterator[None]:
    saved = detect._phone_ok, getattr(detect, "_national", None)
    try:
        if phone_ok is not None:
            detect._phone_ok = phone_ok  # type: ignore[assignment]
        if national is not None:
            detect._national = national  # type: ignore[assignment]
        yield
    finally:
        detect._phone_ok = saved[0]  # type: ignore[assignment]
        if saved[1] is not None:
            detect._national = saved[1]  # type: ignore[assignment]


def matcher_scan(redactor: PIIRedactor, regions: tuple[str, ...]) -> Callable[[str], list[ev.Finding]]:
    def scan(text: str) -> list[ev.Finding]:
        out = [(f.start, f.end, f.type) for f in redactor.find(text) if f.type != "PHONE"]
        phones: set[tuple[int, int]] = set()
        for region in regions:
            for m in pn.PhoneNumberMatcher(text, region, leniency=pn.Leniency.VALID):
                phones.add((m.start, m.end))
        taken = [(s, e) for s, e, _ in out]
        out += [(s, e, "PHONE") for s, e in sorted(phones) if all(e <= a or b <= s for a, b in taken)]
        return out

    return scan


def cost(scan: Callable[[str], Any]) -> tuple[float, float, float]:
    """MB/s on 1 MB of prose without PII; µs p50/p99 per 2 KB message with one PII item per 2 KB."""
    clean = messages(prose(size=1_000_000, pii_every=None))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for m in clean:
            scan(m)
        best = min(best, time.perf_counter() - t0)
    mbps = sum(len(m.encode()) for m in clean) / best / 1e6
    per: list[float] = []
    for m in messages(prose(size=1_000_000, pii_every=2_000)) * 2:
        t0 = time.perf_counter_ns()
        scan(m)
        per.append((time.perf_counter_ns() - t0) / 1000)
    per.sort()
    return mbps, per[len(per) // 2], per[int(len(per) * 0.99)]


def row(name: str, scan: Callable[[str], Any]) -> list[Any]:
    out: list[Any] = [name]
    for split in ("dev", "test"):
        r = ev.score(scan, ev.rows(split))
        tp, fp, fn = _phone_counts(scan, split)
        out += [f"{tp / (tp + fp):.3f}/{tp / (tp + fn):.3f}/{r['f1']['PHONE']:.3f}", f"{r['micro_f1']:.4f}",
                f"{100 * r['raw_left']:.2f}", f"{r['false_per_negative']:.4f}"]
    mbps, p50, p99 = cost(lambda t: scan(t))
    return [*out, f"{mbps:.0f}", f"{p50:.1f}", f"{p99:.1f}"]


def _phone_counts(scan: Callable[[str], Any], split: str) -> tuple[int, int, int]:
    only = lambda text: [f for f in scan(text) if f[2] == "PHONE"]  # noqa: E731
    rows = [dict(r, spans=[s for s in r["spans"] if s[2] == "PHONE"]) for r in ev.rows(split)]
    r = ev.score(only, rows)
    return r["tp"], r["fp"], r["fn"]


def main() -> None:
    header("PII guard: phonenumbers as the phone validator, against the guard's rules")
    if pn is None:
        print("phonenumbers is not installed: pip install phonenumbers")
        return
    redactor = PIIRedactor()
    scan = ev.redactor_scan(redactor)
    t0 = time.perf_counter()
    for region in REGIONS:  # phonenumbers loads each region's metadata on first use
        pn.is_valid_number(pn.parse(pn.format_number(pn.example_number(region), pn.PhoneNumberFormat.E164), None))
    warm = (time.perf_counter() - t0) * 1000
    print(f"phonenumbers {pn.__version__}; loading 24 regions' metadata: {warm:.0f} ms; "
          f"set sha256 {ev.sha256()[:16]}…\n")
    rows = [row("rules (as shipped)", scan)]
    with patched(phone_ok=_plus_validator(pn.is_valid_number)):
        rows.append(row("+ is_valid ('+')", scan))
    with patched(phone_ok=_plus_validator(pn.is_possible_number)):
        rows.append(row("+ is_possible ('+')", scan))
    if hasattr(detect, "_national"):  # an engine with national numbers after a context word
        with patched(phone_ok=_plus_validator(pn.is_valid_number), national=_national_by_phonenumbers):
            rows.append(row("+ is_valid ('+' and national)", scan))
    rows.append(row("PhoneNumberMatcher (US)", matcher_scan(redactor, ("US",))))
    rows.append(row("PhoneNumberMatcher (24 regions)", matcher_scan(redactor, REGIONS)))
    cols = ["contender"]
    for split in ("dev", "test"):
        cols += [f"{split} PHONE P/R/F1", f"{split} micro-F1", f"{split} raw left %", f"{split} false/neg"]
    print(table([*cols, "MB/s no PII", "µs p50 2 KB", "µs p99 2 KB"], rows))


if __name__ == "__main__":
    main()
