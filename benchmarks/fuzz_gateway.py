"""A longer Schemathesis run against a real gateway than the test suite's: random (not derandomized)
cases from the gateway's own ``/openapi.json`` (every check: answers match the description, invalid
input is refused) and from OpenAI's published description (no 5xx), then through an OpenAI
upstream stand-in (the upstream only ever receives JSON it can parse, without NaN or Infinity).
Prints the answers counted by operation, mode and status, and every failure found.

Run: .venv/bin/python benchmarks/fuzz_gateway.py --requests 1000
     (per operation and mode; OpenAI's description is read from ../shared/reference beside the
     repository, or from $BELUGA_OPENAI_SPEC)

Exit status 1 if anything failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "gateway"))
from fuzz_support import OPENAI_SPEC, Counts, fuzz, gateway_schema, openai_schema
from gateway_support import ALPHA, OPENAI_KEY, config_text, finite, make_kit, openai_server, serving


def _report(title: str, counts: Counts, failures: list[str], seconds: float) -> None:
    print(f"\n== {title}: {sum(counts.values())} answers in {seconds:.0f} s, {len(failures)} failure(s)")
    for (label, mode, status), n in sorted(counts.items()):
        print(f"  {label:32} {mode:9} {status}  {n}")
    for f in failures[:20]:
        print("  FAILED", f.splitlines()[0] if f else f, "\n    " + "\n    ".join(f.splitlines()[1:12]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=500, help="generated requests per operation and mode")
    args = p.parse_args()
    n = args.requests
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        echo = Path(tmp) / "echo.toml"
        echo.write_text(config_text())
        with serving(make_kit(echo)) as server:
            failures: list[str] = []
            t0 = time.perf_counter()
            counts = fuzz(gateway_schema(server.url, ALPHA), server.url, n, derandomize=False, failures=failures)
            _report("gateway's description, echo provider, all checks", counts, failures, time.perf_counter() - t0)
            failed += len(failures)
            if OPENAI_SPEC.is_file():
                failures = []
                t0 = time.perf_counter()
                counts = fuzz(openai_schema(ALPHA), server.url + "/v1", n, checks="no_5xx", derandomize=False,
                              failures=failures)
                _report("OpenAI's description, echo provider, no 5xx", counts, failures, time.perf_counter() - t0)
                failed += len(failures)
            else:
                print(f"\n== OpenAI's description: not found at {OPENAI_SPEC}; skipped")

        upstream = openai_server(OPENAI_KEY)
        try:
            path = Path(tmp) / "openai.toml"
            path.write_text(config_text(
                f'[providers.openai]\napi_key = "{OPENAI_KEY}"\nbase_url = "{upstream.url}"\n'
            ).replace('provider = "echo"', 'provider = "openai"'))
            with serving(make_kit(path)) as server:
                t0 = time.perf_counter()
                counts = fuzz(gateway_schema(server.url, ALPHA), server.url, n, checks="none", derandomize=False)
            failures = [f"gateway answered {status} to {label} ({mode})"
                        for (label, mode, status), _ in counts.items() if status >= 500 and status != 502]
            failures += [f"the upstream received a body it could not parse or with NaN/Infinity: {r['path']}"
                         for r in upstream.requests if r["body"] is None or not finite(r["body"])]
            _report(f"gateway's description through an OpenAI stand-in ({len(upstream.requests)} upstream "
                    "calls; 502 is the stand-in failing on odd input)", counts, failures, time.perf_counter() - t0)
            failed += len(failures)
        finally:
            upstream.stop()
    print(f"\n{'FAILED' if failed else 'ok'}: {failed} failure(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
