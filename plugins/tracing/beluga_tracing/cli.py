"""``beluga trace TEXT``: run TEXT through the chain and print the span tree it produced."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from beluga_core import default_config_path

HELP = "send TEXT through the configured chain and print its OpenTelemetry span tree"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="the user message to send through the chain")
    p.add_argument("--config", "-c", help="config file (default: $BELUGA_CONFIG, then ./beluga.toml, else defaults)")
    p.add_argument("--provider", help="provider to use (default: [beluga] provider)")
    p.add_argument("--model", help="model to ask for")
    p.add_argument("--system", help="a system prompt")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="request metadata (repeatable)")
    p.add_argument("--stream", action="store_true", help="stream the answer")
    p.add_argument("--json", action="store_true", help="print the spans as JSON")




def run(args: argparse.Namespace) -> int:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from beluga_core import BelugaError, HumanMessage, Kit, SystemMessage
    from beluga_tracing._runtime import make_resource, use_tracer_provider
    from beluga_tracing.tree import format_tree, span_dict

    metadata: dict[str, str] = {}
    for item in args.meta:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"beluga: error: --meta takes KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
        metadata[key] = value
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=make_resource(None, os.environ))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    use_tracer_provider(provider)
    try:
        kit = Kit(default_config_path(args.config), plugin_manager=getattr(args, "plugins", None))
        messages: list[Any] = ([SystemMessage(args.system)] if args.system else []) + [HumanMessage(args.text)]

        async def go() -> Any:
            try:
                if args.stream:
                    stream = kit.astream(messages, provider=args.provider, model=args.model, metadata=metadata)
                    return "".join([c.text async for c in stream])
                response = await kit.agenerate(messages, provider=args.provider, model=args.model, metadata=metadata)
                return response.text
            except BelugaError as exc:
                return exc
            finally:
                await kit.aclose()

        result = asyncio.run(go())
    finally:
        use_tracer_provider(None)
    spans = exporter.get_finished_spans()
    if args.json:
        out: dict[str, Any] = {"spans": [span_dict(s) for s in spans]}
        if isinstance(result, BelugaError):
            out["error"] = {"code": result.code.value, "message": result.message}
        else:
            out["reply"] = result
        print(json.dumps(out, indent=2, default=str))
    else:
        if isinstance(result, BelugaError):
            print(f"error [{result.code.value}]: {result.message}")
        else:
            print(result)
        print()
        if "tracing" not in kit.order:
            print("(the tracing plugin is not in this chain: it is disabled or deselected)", file=sys.stderr)
        print(format_tree(spans) or "(no spans)")
    if isinstance(result, BelugaError):
        return 3 if result.code.value == "guard_blocked" else 1
    return 0
