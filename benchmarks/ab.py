"""Run a benchmark in two checkouts, alternately, and print each table row side by side.

    .venv/bin/python benchmarks/ab.py --base ../beluga-before --rounds 5 bench_core.py bench_gateway.py

Each checkout runs its own ``benchmarks/<script>`` with its own ``.venv`` (set it up there with
``python3 dev.py setup``). Rounds alternate base and this checkout, so drift on a shared machine
falls on both. For every table row whose label both print, the median of each numeric column is
shown with the ratio this/base (for times, below 1 is faster here; for rates, above 1 is).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
_NUMBER = re.compile(r"^-?[\d,]+(?:\.\d+)?$")


def run(checkout: Path, script: str) -> str:
    python = checkout / ".venv" / "bin" / "python"
    out = subprocess.run(
        [str(python), str(checkout / "benchmarks" / script)], cwd=checkout, capture_output=True, text=True, timeout=1800
    )
    if out.returncode != 0:
        sys.exit(f"{script} failed in {checkout}:\n{out.stderr[-3000:]}")
    return out.stdout


def rows(output: str) -> dict[str, list[float]]:
    """Table rows (``label | a | b ...``) with their numeric cells, by section and label."""
    found: dict[str, list[float]] = {}
    section = ""
    for line in output.splitlines():
        if "|" not in line:
            if line.strip() and not set(line.strip()) <= set("-+"):
                section = line.strip()[:60]
            continue
        cells = [c.strip() for c in line.split("|")]
        numbers = [float(c.replace(",", "")) for c in cells[1:] if _NUMBER.match(c)]
        if numbers:
            found[f"{section} :: {cells[0]}"] = numbers
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, type=Path, help="the other checkout (with its own .venv)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("scripts", nargs="+", help="benchmark scripts under benchmarks/")
    args = parser.parse_args()
    base = args.base.resolve()
    print(f"command: python benchmarks/ab.py --base {args.base} --rounds {args.rounds} {' '.join(args.scripts)}")
    for script in args.scripts:
        runs: dict[str, list[dict[str, list[float]]]] = {"base": [], "this": []}
        for i in range(args.rounds):
            for name, checkout in (("base", base), ("this", HERE)) if i % 2 == 0 else (("this", HERE), ("base", base)):
                runs[name].append(rows(run(checkout, script)))
        print(f"\n## {script}: median of {args.rounds} alternating rounds (base = {base})\n")
        for key in runs["this"][0]:
            if not all(key in r for r in runs["base"] + runs["this"]):
                continue
            width = min(len(r[key]) for r in runs["base"] + runs["this"])
            med = {
                name: [statistics.median(r[key][c] for r in runs[name]) for c in range(width)] for name in runs
            }
            cells = "  ".join(
                f"{b:,.1f} → {t:,.1f} ({t / b:.2f}x)" if b else f"{b:,.1f} → {t:,.1f}"
                for b, t in zip(med["base"], med["this"], strict=True)
            )
            print(f"{key}\n    {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
