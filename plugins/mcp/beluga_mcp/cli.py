"""``beluga mcp-proxy [--config F] [--http PORT] (-- COMMAND [ARGS...] | --upstream URL)``."""

from __future__ import annotations

import argparse
import sys

import anyio

from beluga_core import Kit, default_config_path
from beluga_mcp.plugin import MCPSettings
from beluga_mcp.proxy import serve_http, serve_stdio, upstream_error


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", "-c", help="config file (default: $BELUGA_CONFIG, then ./beluga.toml, then built-in defaults)"
    )
    p.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP on http://HOST:PORT/mcp "
                   "instead of stdio")
    p.add_argument("--host", default="127.0.0.1", help="with --http: the address to listen on (default: 127.0.0.1)")
    p.add_argument("--upstream", metavar="URL", help="the MCP server's streamable HTTP URL, instead of a command")
    p.add_argument("--no-reload", action="store_true", help="do not watch the config file for changes")
    p.add_argument("upstream_command", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]",
                   help="the command that starts the MCP server (spoken to over its stdin/stdout)")


def run(args: argparse.Namespace) -> int:
    command = list(args.upstream_command)
    if command and command[0] == "--":
        command = command[1:]
    if bool(command) == bool(args.upstream):
        print("beluga mcp-proxy: give the MCP server either as a command after -- or as --upstream URL",
              file=sys.stderr)
        return 2
    if args.upstream and not args.upstream.startswith(("http://", "https://")):
        print(f"beluga mcp-proxy: --upstream must be an http:// or https:// URL, got {args.upstream!r}",
              file=sys.stderr)
        return 2
    if args.http is not None and not 0 < args.http < 65536:
        print(f"beluga mcp-proxy: --http must be a port from 1 to 65535, got {args.http}", file=sys.stderr)
        return 2
    path = default_config_path(args.config)
    kit = Kit.from_config(path, plugin_manager=getattr(args, "plugins", None))
    settings = kit.config.plugin_settings("mcp")
    interval = float(settings.reload_interval) if isinstance(settings, MCPSettings) else 1.0
    if path is not None and interval > 0 and not args.no_reload:
        kit.watch_config(interval)  # allowlists, keys, guards and limits follow the file
    upstream = args.upstream or command
    try:
        if args.http is not None:
            print(f"beluga mcp-proxy on http://{args.host}:{args.http}/mcp", file=sys.stderr, flush=True)
            anyio.run(lambda: serve_http(kit, upstream, host=args.host, port=args.http))
        else:
            anyio.run(lambda: serve_stdio(kit, upstream))
    except BaseException as exc:
        found = upstream_error(exc)
        if found is None:
            raise
        print(f"beluga mcp-proxy: {found}", file=sys.stderr)
        return 1
    finally:
        kit.close()
    return 0

