"""Run every benchmark, one after another, printing each one's table (python3 dev.py bench).

    .venv/bin/python benchmarks/run_all.py [NAME ...]     # e.g. core retry guards

Each benchmark runs in its own interpreter so one's imports and threads cannot skew the next.
Results are printed, never asserted.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["core", "retry", "breaker", "ratelimit", "budget", "guards", "injection", "tracing", "providers", "workflow",
         "gateway", "sdk", "mcp"]


def main(argv: list[str]) -> int:
    names = argv or ORDER
    failed = []
    for name in names:
        script = HERE / f"bench_{name}.py"
        if not script.exists():
            print(f"no benchmark named {name!r} (have: {', '.join(ORDER)})", file=sys.stderr)
            return 2
        print(f"\n{'=' * 100}\n# bench_{name}.py\n{'=' * 100}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"\n(bench_{name}.py took {time.perf_counter() - t0:.0f}s, exit {code})", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
