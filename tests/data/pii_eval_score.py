"""Scores a PII detector on ``pii_eval.jsonl`` (see ``pii_eval_build.py``); shared by the tests and
``benchmarks/bench_guards.py``.

    .venv/bin/python tests/data/pii_eval_score.py [--errors]

Metrics, per split:
- micro-F1 over entity spans: a finding is a true positive when it overlaps a labelled span of the
  same entity (one finding per span); every other finding is a false positive, every unmatched
  span a false negative. F1 is also given per entity.
- raw PII left: the share of labelled spans of which some letter or digit is covered by no finding
  (of any entity), i.e. would reach the model as written.
- false findings per hard-negative text: findings in the hard-negative texts / their number.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("pii_eval.jsonl")
ENTITIES = ("EMAIL", "PHONE", "SSN", "CREDIT_CARD", "IP_ADDRESS")

Finding = tuple[int, int, str]  # start, end, entity
Scan = Callable[[str], Sequence[Finding]]


def rows(split: str | None = None) -> list[dict[str, Any]]:
    """The set's rows (``split``: 'dev', 'test' or None for both)."""
    out = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    return [r for r in out if split is None or r["split"] == split]


def sha256() -> str:
    return hashlib.sha256(DATA.read_bytes()).hexdigest()


def redactor_scan(redactor: Any) -> Scan:
    """A ``Scan`` from a ``PIIRedactor`` (its ``find``)."""
    return lambda text: [(f.start, f.end, f.type) for f in redactor.find(text)]


def score(scan: Scan, data: Sequence[dict[str, Any]]) -> dict[str, Any]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    left = spans = neg_findings = negs = 0
    errors: list[tuple[str, str, str]] = []  # (kind of error, class, text)
    for r in data:
        text = r["text"]
        found = list(scan(text))
        gold = [tuple(s) for s in r["spans"]]
        if r["kind"] == "hard_negative":
            negs += 1
            neg_findings += len(found)
        used: set[int] = set()
        for gs, ge, ent in gold:
            spans += 1
            k = next(
                (i for i, (s, e, fe) in enumerate(found) if i not in used and fe == ent and s < ge and gs < e), None
            )
            if k is None:
                fn[ent] += 1
                errors.append(("missed", r["class"], text))
            else:
                used.add(k)
                tp[ent] += 1
            covered = [False] * (ge - gs)
            for s, e, _ in found:
                for i in range(max(s, gs), min(e, ge)):
                    covered[i - gs] = True
            if any(not c and text[gs + i].isalnum() for i, c in enumerate(covered)):
                left += 1
                if k is not None:
                    errors.append(("partly left", r["class"], text))
        for i, (_, _, ent) in enumerate(found):
            if i not in used:
                fp[ent] += 1
                errors.append(("false finding", r["class"], text))
    per = {e: _f1(tp[e], fp[e], fn[e]) for e in ENTITIES}
    t, p, n = sum(tp.values()), sum(fp.values()), sum(fn.values())
    return {
        "micro_f1": _f1(t, p, n),
        "f1": per,
        "tp": t,
        "fp": p,
        "fn": n,
        "raw_left": left / spans if spans else 0.0,
        "spans": spans,
        "false_per_negative": neg_findings / negs if negs else 0.0,
        "negatives": negs,
        "errors": errors,
    }


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def summary(result: dict[str, Any]) -> str:
    per = ", ".join(f"{e} {result['f1'][e]:.3f}" for e in ENTITIES)
    return (
        f"micro-F1 {result['micro_f1']:.4f} ({per}); raw PII left {100 * result['raw_left']:.2f} % "
        f"of {result['spans']}; false findings / hard negative {result['false_per_negative']:.4f} "
        f"({result['negatives']} texts)"
    )


def main() -> None:
    sys.path[:0] = [str(Path(__file__).resolve().parents[2] / "plugins" / "guard-pii")]
    from beluga_guard_pii import PIIRedactor

    scan = redactor_scan(PIIRedactor())
    print(f"{DATA.name} sha256 {sha256()}")
    for split in ("dev", "test"):
        result = score(scan, rows(split))
        print(f"{split}: {summary(result)}")
        if "--errors" in sys.argv and split == "dev":
            for kind, cls, text in sorted(result["errors"]):
                print(f"  {kind:13} {cls:20} {text}")


if __name__ == "__main__":
    main()
