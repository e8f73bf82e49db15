"""How many of the chat-completion requests generated from OpenAI's published OpenAPI description
the gateway accepts: schema-valid ``CreateChatCompletionRequest`` bodies (Schemathesis, positive
mode) posted to a gateway on loopback in front of an OpenAI-compatible stand-in that answers any
body. Prints the acceptance rate and the refusals by the field their error names.

Each request names a model the gateway serves (``--generated-models`` keeps the generated names, which
are often empty or hold control characters: refused on purpose).

Run: .venv/bin/python benchmarks/spec_acceptance.py --requests 500 [--random]
     (OpenAI's description is read from ../shared/reference beside the repository, or $BELUGA_OPENAI_SPEC)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "gateway"))
from fuzz_support import OPENAI_SPEC, any_chat_upstream, by_kept_rules, chat_acceptance, openai_schema
from gateway_support import ALPHA, OPENAI_KEY, FakeServer, config_text, make_kit, serving


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=500, help="generated requests")
    p.add_argument("--random", action="store_true", help="random cases (default: derandomized, the same each run)")
    p.add_argument("--generated-models", action="store_true",
                   help="keep the generated model names (default: each request names gpt-4o-mini)")
    p.add_argument("--gateway", default="", help="extra [plugins.gateway] settings (TOML lines)")
    args = p.parse_args()
    if not OPENAI_SPEC.is_file():
        print(f"OpenAI's description is not at {OPENAI_SPEC}")
        return 2
    upstream = FakeServer(any_chat_upstream, OPENAI_KEY).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "beluga.toml"
            path.write_text(config_text(
                f'[providers.openai]\napi_key = "{OPENAI_KEY}"\nbase_url = "{upstream.url}"\n', gw=args.gateway,
            ).replace('provider = "echo"', 'provider = "openai"'))
            with serving(make_kit(path)) as server:
                t0 = time.perf_counter()
                accepted, refused = chat_acceptance(openai_schema(ALPHA), server.url + "/v1", args.requests,
                                                    model=None if args.generated_models else "gpt-4o-mini",
                                                    derandomize=not args.random)
                seconds = time.perf_counter() - t0
    finally:
        upstream.stop()
    total = accepted + sum(refused.values())
    kept = by_kept_rules(refused)
    print(f"{accepted}/{total} accepted ({accepted / max(total, 1):.1%}) in {seconds:.0f} s; "
          f"{len(upstream.requests)} reached the upstream")
    print(f"{accepted}/{total - kept} ({accepted / max(total - kept, 1):.1%}) of those no kept rule refuses "
          f"({kept} refused by the name and body-wide rules, in brackets below)")
    for field, n in refused.most_common():
        print(f"  refused {n:4}  {field}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
