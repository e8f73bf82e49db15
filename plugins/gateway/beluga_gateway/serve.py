"""``beluga serve``: run the gateway under uvicorn, or ``--demo``: start it, send one request, stop."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from beluga_core import Kit, default_config_path

WORKER_CONFIG_ENV = "BELUGA_GATEWAY_CONFIG"
#: Seconds an idle kept-alive client connection stays open (uvicorn's ``timeout_keep_alive``).
KEEP_ALIVE_TIMEOUT = 5
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", "-c", help="config file (default: $BELUGA_CONFIG, then ./beluga.toml, then built-in defaults)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes; share limits through Redis (default: 1)")
    p.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"),
                   help="uvicorn's log level (default: warning)")
    p.add_argument("--access-log", action="store_true", help="log every request (off by default: it costs latency)")
    p.add_argument("--no-reload", action="store_true", help="do not watch the config file for changes")
    p.add_argument("--demo", action="store_true",
                   help="start on a free loopback port, send one request with a one-time key, print it, stop")
    p.add_argument("--text", default=DEMO_TEXT, help="with --demo: the user message to send")




def _describe(kit: Kit, where: str) -> str:
    from beluga_gateway.keys import GatewayState

    state = GatewayState(kit.config)
    keys = f"{len(state.settings.keys)} API key(s)" if state.auth else "no API keys: any caller is project " + repr(
        state.settings.default_project
    )
    chain = " → ".join(kit.call_path) or "(no plugins)"
    listed = kit.config.beluga.plugins
    unlisted = [n for n in kit.call_path if n not in listed]
    if not listed and unlisted:
        how = "\n  (no [beluga] plugins list: every installed plugin joins, ordered by the rank it declares)"
    elif unlisted:
        how = (f"\n  ({', '.join(unlisted)}: installed but not listed in [beluga] plugins, so joined after the listed "
               "ones by rank; load_unlisted = false leaves such plugins out)")
    else:
        how = ""
    return f"beluga gateway on {where} — chain: {chain} → {kit.config.beluga.provider}; {keys}{how}"


def run(args: argparse.Namespace) -> int:
    if args.demo:
        return demo(args.config, args.text)
    import uvicorn

    from beluga_gateway.app import Gateway

    path = default_config_path(args.config)
    kit = Kit.from_config(path, plugin_manager=getattr(args, "plugins", None))  # validates before listening
    from beluga_gateway.keys import GatewayState

    state = GatewayState(kit.config)
    if args.host not in _LOOPBACK and not state.auth:
        print(f"beluga serve: warning: listening on {args.host} with no [plugins.gateway] keys: anyone who can "
              "reach it can use your providers", file=sys.stderr)
    drain = float(state.settings.drain_timeout)
    where = f"http://{args.host}:{args.port} ({args.workers} worker{'s' if args.workers != 1 else ''})"
    print(_describe(kit, where), file=sys.stderr, flush=True)
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "access_log": args.access_log,
        "timeout_graceful_shutdown": max(1, round(drain)),
        "lifespan": "on",
        "server_header": False,
        "timeout_keep_alive": KEEP_ALIVE_TIMEOUT,
    }
    if args.workers > 1:
        kit.close()
        os.environ[WORKER_CONFIG_ENV] = str(Path(path).resolve()) if path else ""
        if args.no_reload:
            os.environ["BELUGA_GATEWAY_NO_RELOAD"] = "1"
        made = None
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Counters of all workers added up on /metrics (prometheus-client's multiprocess mode).
            made = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="beluga-metrics-")
        try:
            # By name: each worker imports the protocol class, and worker_app hands it its gateway.
            uvicorn.run("beluga_gateway.serve:worker_app", factory=True, workers=args.workers,
                        http="beluga_gateway.connections:LimitedHTTPProtocol", **common)
        finally:
            if made:
                shutil.rmtree(made, ignore_errors=True)
        return 0
    from beluga_gateway.connections import protocol_for

    gateway = Gateway(kit, watch=not args.no_reload, freeze_gc=True)
    uvicorn.run(gateway, http=protocol_for(gateway), **common)
    return 0


def worker_app() -> Any:
    """The app of one ``--workers`` process (uvicorn imports this by name)."""
    from beluga_gateway.app import Gateway
    from beluga_gateway.connections import LimitedHTTPProtocol

    path = os.environ.get(WORKER_CONFIG_ENV) or None
    gateway = Gateway(Kit.from_config(path), watch=not os.environ.get("BELUGA_GATEWAY_NO_RELOAD"), freeze_gc=True)
    LimitedHTTPProtocol.gateway = gateway  # one gateway per worker process
    return gateway


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """A gateway served by uvicorn in a background thread on 127.0.0.1 (demos, tests, benchmarks)."""

    def __init__(self, app: Any, port: int | None = None, *, drain: float = 30.0, **options: Any) -> None:
        import uvicorn

        from beluga_gateway.app import Gateway

        if isinstance(app, Gateway) and "http" not in options:
            from beluga_gateway.connections import protocol_for

            options["http"] = protocol_for(app)  # the gateway's header timeout and connection cap
        options.setdefault("timeout_keep_alive", KEEP_ALIVE_TIMEOUT)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level=options.pop("log_level", "warning"), access_log=False,
            lifespan="on", timeout_graceful_shutdown=int(drain), **options,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="beluga-gateway", daemon=True)

    def start(self, timeout: float = 15.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful: stop listening, let requests and streams in flight finish, run shutdown."""
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


DEMO_TEXT = "Hello Beluga! Please send the summary to jane.doe@example.com."


def demo(config: str | None = None, text: str = DEMO_TEXT) -> int:
    """Start the gateway on a free loopback port, send one chat completion through it, print both, stop."""
    import httpx

    from beluga_core import read_file
    from beluga_gateway.app import Gateway
    from beluga_gateway.keys import GatewayState

    key = "sk-beluga-demo-" + secrets.token_hex(12)
    path = default_config_path(config)
    data: dict[str, Any] = read_file(path)[0] if path else {}
    section = data.setdefault("plugins", {}).setdefault("gateway", {})
    section["keys"] = [*section.get("keys", []), {"key": key, "project": "demo", "name": "demo"}]
    section["reload_interval"] = 0
    t0 = time.perf_counter()
    kit = Kit(data)
    state = GatewayState(kit.config)
    names = state.model_names(state.anonymous)
    model = names[0][0] if names else kit.config.beluga.provider
    with ServerThread(Gateway(kit, watch=False), drain=5.0) as server:
        print(_describe(kit, server.url), flush=True)
        body = {"model": model, "messages": [{"role": "user", "content": text}]}
        shown = {"authorization": f"Bearer {key[:14]}…", "content-type": "application/json"}
        print(f"\n> POST {server.url}/v1/chat/completions")
        for k, v in shown.items():
            print(f"> {k}: {v}")
        print(json.dumps(body, indent=2))
        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            resp = client.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})
            metrics = client.get("/metrics").text
        print(f"\n< HTTP {resp.status_code}")
        for k in ("content-type", "x-request-id"):
            if k in resp.headers:
                print(f"< {k}: {resp.headers[k]}")
        try:
            print(json.dumps(resp.json(), indent=2, ensure_ascii=False))
        except ValueError:
            print(resp.text)
        counted = [ln for ln in metrics.splitlines() if ln.startswith("beluga_gateway_requests_total{")]
        print("\n/metrics: " + ("; ".join(counted) or "(no requests counted)"))
    print(f"\ngateway stopped after {time.perf_counter() - t0:.2f}s")
    return 0 if resp.status_code == 200 else 1


__all__ = ["ServerThread", "configure", "demo", "free_port", "run", "worker_app"]
