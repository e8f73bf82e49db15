"""The ``beluga`` command line: ``plugins``, ``run``, ``check``, ``guard``, plus plugin commands."""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import attrs

from beluga_core.chain import recording
from beluga_core.commands import CommandRegistry
from beluga_core.config import default_config_path, peek_beluga
from beluga_core.errors import BelugaError, ConfigError, PluginError
from beluga_core.kit import Kit
from beluga_core.registry import PluginManager
from beluga_core.types import HumanMessage, SystemMessage

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_BLOCKED = 0, 1, 2, 3


def _err(message: str) -> None:
    print(f"beluga: error: {message}", file=sys.stderr)


# -- beluga plugins ----------------------------------------------------------------------------


def _configure_plugins(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    p.add_argument("--config", "-c", help="config file whose [beluga] plugins sets the order (default: beluga.toml)")


def _cmd_plugins(args: argparse.Namespace) -> int:
    kit = Kit(default_config_path(args.config), plugin_manager=args.plugins)
    infos = [i.as_dict() for i in kit.plugins.infos(kit.order, kit.plugins.selection_for(kit.config.beluga))]
    if args.json:
        print(json.dumps(infos, indent=2))
        return EXIT_OK
    if not infos:
        print("no plugins installed (providers: echo, built in)")
        return EXIT_OK
    width = max(len(i["name"]) for i in infos)
    for i in infos:
        pos = f"{i['position'] + 1:>2}." if i["position"] is not None else " -."
        dist = f"{i['distribution'] or i['source']} {i['version'] or ''}".strip()
        status = f"ERROR: {i['error']}" if i["error"] else ", ".join(i["hooks"]) or "(no hooks)"
        if not i["error"] and i["position"] is None:
            status = "not loaded (deselected)"
        print(f"{pos} {i['name']:<{width}}  {dist:<32}  {status}")
    kinds = kit.provider_registry.kinds()
    listed = ", ".join(f"{kind} ({'built in' if plugin == 'echo' else plugin})" for kind, plugin in kinds.items())
    print(f"providers: {listed}")
    return EXIT_OK


# -- beluga run --------------------------------------------------------------------------------


def _configure_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="the user message to send through the chain")
    p.add_argument(
        "--config", "-c", help="config file (default: $BELUGA_CONFIG, then ./beluga.toml, then built-in defaults)"
    )
    p.add_argument("--provider", help="provider to use (default: [beluga] provider)")
    p.add_argument("--model", help="model to ask for")
    p.add_argument("--system", help="a system prompt")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="request metadata (repeatable)")
    p.add_argument("--stream", action="store_true", help="stream the answer")
    p.add_argument("--json", action="store_true", help="print the reply and the chain's report as JSON")
    p.add_argument(
        "--trace",
        action="store_true",
        help="print the span tree of the call instead (provided by a plugin, such as beluga-tracing)",
    )


def _cmd_run(args: argparse.Namespace) -> int:
    if args.trace:
        registry: CommandRegistry | None = getattr(args, "_registry", None)
        traced = registry.provider_of("run", "--trace") if registry is not None else None
        if traced is None:
            _err("no installed plugin provides run --trace (pip install beluga-tracing)")
            return EXIT_USAGE
        return int(traced(args) or 0)

    metadata: dict[str, str] = {}
    for item in args.meta:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _err(f"--meta takes KEY=VALUE, got {item!r}")
            return EXIT_USAGE
        metadata[key] = value
    kit = Kit(default_config_path(args.config), plugin_manager=args.plugins)
    messages: list[Any] = ([SystemMessage(args.system)] if args.system else []) + [HumanMessage(args.text)]

    async def go() -> Any:
        with recording() as events:
            t0 = time.perf_counter()
            try:
                if args.stream:
                    parts = []
                    async for chunk in kit.astream(
                        messages, provider=args.provider, model=args.model, metadata=metadata
                    ):
                        if chunk.text:
                            parts.append(chunk.text)
                            if not args.json:
                                print(chunk.text, end="", flush=True)
                    if not args.json:
                        print()
                    result: Any = "".join(parts)
                else:
                    result = await kit.agenerate(messages, provider=args.provider, model=args.model, metadata=metadata)
            except BelugaError as exc:
                result = exc
            elapsed = time.perf_counter() - t0
        await kit.aclose()
        return result, events, elapsed

    result, events, elapsed = asyncio.run(go())
    report = {
        "order": list(kit.call_path),
        "events": [e.as_dict() for e in events],
        "elapsed_ms": round(elapsed * 1000, 3),
    }
    if isinstance(result, BelugaError):
        report["error"] = {"code": result.code.value, "message": result.message}
    elif not isinstance(result, str):
        report.update(
            reply=result.text,
            provider=result.provider,
            model=result.model,
            usage=attrs.asdict(result.usage),
            finish_reason=result.finish_reason,
            metadata=dict(result.metadata),
        )
    else:
        report["reply"] = result
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        if "error" in report:
            print(f"error [{report['error']['code']}]: {report['error']['message']}", flush=True)
        elif not args.stream:
            print(report["reply"])
        print(
            f"\n-- chain: {' → '.join(report['order']) or '(no plugins)'} → {kit.config.beluga.provider}",
            file=sys.stderr,
        )
        for e in events:
            print(f"   {e.describe()}", file=sys.stderr)
        if "usage" in report:
            u = report["usage"]
            print(
                f"   provider {report['provider']} model {report['model']}: "
                f"{u['input_tokens']} tokens in, {u['output_tokens']} out; {report['elapsed_ms']:.2f} ms",
                file=sys.stderr,
            )
    if "error" in report:
        return EXIT_BLOCKED if report["error"]["code"] == "guard_blocked" else EXIT_ERROR
    return EXIT_OK


# -- beluga check ------------------------------------------------------------------------------


def _configure_check(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="the config file to validate (TOML or JSON)")
    p.add_argument("--json", action="store_true", help="print the issues as JSON")


def _cmd_check(args: argparse.Namespace) -> int:
    try:
        kit = Kit(args.file)
    except ConfigError as exc:
        if args.json:
            print(
                json.dumps({"file": args.file, "valid": False, "issues": [i.as_dict() for i in exc.issues]}, indent=2)
            )
        else:
            for issue in exc.issues:
                print(str(issue), file=sys.stderr)
            print(f"{args.file}: {len(exc.issues)} problem{'s' if len(exc.issues) != 1 else ''}", file=sys.stderr)
        return EXIT_ERROR
    unchecked = kit.config.unchecked
    if args.json:
        report = {
            "file": args.file,
            "valid": True,
            "issues": [],
            "not_checked": [i.as_dict() for i in unchecked],
            "order": list(kit.order),
        }
        print(json.dumps(report, indent=2))
    else:
        note = f"; {len(unchecked)} section{'s' if len(unchecked) != 1 else ''} not checked" if unchecked else ""
        plugins = ", ".join(kit.order) or "none"
        print(f"{args.file}: ok (plugins: {plugins}; provider: {kit.config.beluga.provider}{note})")
        for issue in unchecked:
            print(str(issue))
    return EXIT_OK


# -- beluga guard ------------------------------------------------------------------------------


def _configure_guard(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", nargs="?", help="text to check (default: read stdin)")
    p.add_argument("--config", "-c", help="config file (default: $BELUGA_CONFIG, then ./beluga.toml)")
    p.add_argument("--stage", choices=("input", "output", "tool"), default="input", help="guard stage (default: input)")
    p.add_argument(
        "--jsonl", action="store_true", help='read {"id", "text"} lines on stdin; write one verdict per line'
    )


def _cmd_guard(args: argparse.Namespace) -> int:
    kit = Kit(default_config_path(args.config), plugin_manager=args.plugins)
    if args.jsonl:
        return _guard_jsonl(kit, args.stage)
    text = args.text if args.text is not None else sys.stdin.read()
    result = kit.guard(text, args.stage)
    verdict = "ALLOWED" if result.allowed else f"BLOCKED by {result.guard}: {result.reason}"
    print(verdict)
    if result.modified is not None:
        print(f"modified: {result.modified}")
    for f in result.findings:
        print(f"finding: {f.type} [{f.start}:{f.end}]")
    return EXIT_OK if result.allowed else EXIT_BLOCKED


def _guard_jsonl(kit: Any, stage: Any) -> int:
    failures = 0
    for n, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text = item["text"]
            if not isinstance(text, str):
                raise TypeError("'text' must be a string")
        except (ValueError, KeyError, TypeError) as exc:
            failures += 1
            print(json.dumps({"id": None, "line": n, "error": f"bad input line {n}: {exc}"}), flush=True)
            continue
        result = kit.guard(text, stage)
        out = {
            "id": item.get("id"),
            "allowed": result.allowed,
            "reason": None if result.allowed else f"{result.guard}: {result.reason}",
            "modified": result.modified if result.modified is not None else text,
            "findings": [f.as_dict() for f in result.findings],
        }
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return EXIT_ERROR if failures else EXIT_OK


# -- entry point -------------------------------------------------------------------------------


def _builtin() -> CommandRegistry:
    reg = CommandRegistry()
    reg.add("plugins", "list installed plugins and the effective order", _configure_plugins, _cmd_plugins)
    reg.add("run", "send TEXT through the configured chain and show what each plugin did", _configure_run, _cmd_run)
    reg.add("check", "validate a config file, reporting every problem", _configure_check, _cmd_check)
    reg.add("guard", "run the configured guards over text (or JSON lines with --jsonl)", _configure_guard, _cmd_guard)
    return reg


def load_plugins(argv: Sequence[str]) -> PluginManager:
    """The CLI's plugins, loaded once: those the environment and the config's ``[beluga]`` select
    (the config named by ``--config``/``-c``, else $BELUGA_CONFIG, else ./beluga.toml)."""
    path: str | None = None
    for i, arg in enumerate(argv):
        if arg == "--":  # what follows belongs to another program (beluga mcp-proxy -- COMMAND ...)
            break
        if arg in ("--config", "-c") and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--config="):
            path = arg.partition("=")[2]
    pm = PluginManager(entry_points=False)
    pm.scan()
    pm.load_selected(pm.selection_for(peek_beluga(default_config_path(path))))
    return pm


def _plugin_commands(reg: CommandRegistry, pm: PluginManager) -> None:
    for name, fn in pm.hookimpls("register_commands", pm.loaded):
        reg._plugin = name
        try:
            fn(commands=reg)
        except Exception as exc:  # noqa: BLE001 - one plugin's CLI must not break the CLI
            _err(f"plugin {name!r} failed to register its commands: {type(exc).__name__}: {exc}")
    reg._plugin = "beluga-core"


def build_parser(reg: CommandRegistry | None = None) -> argparse.ArgumentParser:
    reg = reg or _builtin()
    parser = argparse.ArgumentParser(
        prog="beluga",
        description="Beluga: production middleware for LLM and agent applications, composed from plugins.",
        epilog="Environment: BELUGA_CONFIG (config file), BELUGA_LOAD_PLUGINS / BELUGA_DISABLE_PLUGINS "
        "(comma-separated plugin names), BELUGA_STRICT_PLUGINS=1 (a broken plugin is fatal), "
        "BELUGA__SECTION__KEY=value (config overrides).",
    )
    parser.add_argument("--version", action="version", version=f"beluga {importlib.metadata.version('beluga-core')}")
    parser.set_defaults(_registry=reg)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in reg.commands.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None, *, plugins: PluginManager | None = None) -> int:
    """The ``beluga`` command. ``plugins``: a plugin manager to use instead of loading the installed
    plugins (for tests and embedding)."""
    logging.basicConfig(
        level=os.environ.get("BELUGA_LOG_LEVEL", "WARNING").upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    reg = _builtin()
    try:
        pm = plugins if plugins is not None else load_plugins(argv)
        _plugin_commands(reg, pm)
    except PluginError as exc:
        _err(str(exc))
        return EXIT_ERROR
    parser = build_parser(reg)
    args = parser.parse_args(argv)
    args.plugins = pm
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        code = args._run(args)
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_ERROR
    except BelugaError as exc:
        _err(f"[{exc.code.value}] {exc.message}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
