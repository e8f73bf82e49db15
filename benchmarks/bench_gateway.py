"""The gateway's added latency and throughput, side by side with LiteLLM's proxy and Portkey's gateway.

Every server is a separate process in front of the same zero-latency OpenAI-compatible upstream on
loopback (a fixed answer, no work). Servers run pinned to CPU 1; the upstream and the load
generators share CPU 0, so the load never eats the server's core:

- latency: an open-loop generator (its own process on uvloop, raw keep-alive sockets) sends
  requests at a fixed rate (200/s, 10 s: 2,000 samples, so p99 is the 20th worst) and times each
  full response from the moment it was due (no coordinated omission); "added" is the server's
  percentile minus the same percentile straight to the upstream, measured (4 s) just before that
  server's run, so both see the same background load.
- throughput: ``wrk`` (C, from Debian's package) on keep-alive connections, closed loop, for the
  most requests/s the server answers (Python's loop is used when wrk is not installed).

Run: .venv/bin/python benchmarks/bench_gateway.py   (LITELLM_BIN=path/to/litellm to add that peer;
Portkey's gateway (npm ``@portkey-ai/gateway``, pinned in benchmarks/peers/package-lock.json) is
installed with ``npm ci`` into benchmarks/peers/node_modules on first use, its rows skipped with the
reason when node or npm is missing; BENCH_ONLY="full chain" runs only the matching rows (a peer's
name, e.g. "portkey", runs that peer's); BENCH_SECONDS=N changes the window; BENCH_BACKENDS="h1,httpx"
instead compares the full chain's max req/s per provider HTTP client, in turns)

The machine's load average is printed before and after: other work on the same two cores shows up
in every row (most in p99), so compare rows of one run, not figures across runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import header, table

MODEL = "gpt-4o-mini"
UPSTREAM_KEY = "sk-bench-upstream-0123456789"
GATEWAY_KEY = "sk-bench-gateway-0123456789"
#: BENCH_BACKENDS names: the [providers.openai.options] that select each HTTP client.
CLIENTS = {"h1": "fast_backend = true", "httpx": "fast_backend = false"}
BODY = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Hello, how are you today?"}],
                   "max_tokens": 16}).encode()
#: The same question as Anthropic's Messages API asks it (the /v1/messages rows).
MESSAGES_BODY = json.dumps({"model": MODEL, "max_tokens": 16,
                            "messages": [{"role": "user", "content": "Hello, how are you today?"}]}).encode()
#: The same question as OpenAI's Responses API asks it (the /v1/responses rows).
RESPONSES_BODY = json.dumps({"model": MODEL, "max_output_tokens": 16, "input": "Hello, how are you today?"}).encode()
RATE = 200
LATENCY_SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
BASELINE_SECONDS = 4.0
WRK_SECONDS = 5
ANSWER = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "I am fine, thank you."},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18},
}).encode()


# -- the upstream: a minimal OpenAI-compatible HTTP/1.1 server ------------------------------------


class _Upstream(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            i = head.find(b"content-length:")
            length = int(head[i + 15:head.find(b"\r\n", i) if head.find(b"\r\n", i) > 0 else None]) if i >= 0 else 0
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length:]
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                                 + str(len(ANSWER)).encode() + b"\r\n\r\n" + ANSWER)


def run_upstream(port: int) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(_Upstream, "127.0.0.1", port, backlog=1024))
    loop.run_until_complete(server.serve_forever())


# -- the open-loop latency generator ----------------------------------------------------------------


def body_for(path: str) -> bytes:
    if path.endswith("/messages"):
        return MESSAGES_BODY
    return RESPONSES_BODY if path.endswith("/responses") else BODY


def _request(port: int, path: str, auth: str | None, extra: dict[str, str] | None = None) -> bytes:
    body = body_for(path)
    lines = [f"POST {path} HTTP/1.1", f"host: 127.0.0.1:{port}", "content-type: application/json",
             f"content-length: {len(body)}"]
    if auth:
        lines.append(f"authorization: Bearer {auth}")
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    low = head.lower()
    i = low.find(b"content-length:")
    length = int(low[i + 15:low.find(b"\r\n", i)]) if i >= 0 else 0
    await reader.readexactly(length)
    return status


async def _open_loop(port: int, path: str, auth: str | None, rate: int, seconds: float,
                     extra: dict[str, str] | None = None) -> dict[str, Any]:
    raw = _request(port, path, auth, extra)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for _ in range(16):
        idle.append(await asyncio.open_connection("127.0.0.1", port))
    for r, w in idle[:4]:  # warm up: imports, caches, connection pools
        for _ in range(50):
            await _exchange(r, w, raw)
    latencies: list[float] = []
    errors = 0

    async def one(start: float) -> None:
        nonlocal errors
        conn = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", port)
        try:
            status = await _exchange(conn[0], conn[1], raw)
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
            return
        latencies.append(time.perf_counter() - start)
        if status != 200:
            errors += 1
        idle.append(conn)

    loop = asyncio.get_running_loop()
    n = int(rate * seconds)
    t0 = time.perf_counter() + 0.05
    tasks = []
    for i in range(n):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(due)))  # timed from when it was due: no coordinated omission
    await asyncio.gather(*tasks)
    for _, w in idle:
        w.close()
    latencies.sort()
    return {
        "n": len(latencies),
        "errors": errors,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def run_loadgen(port: int, path: str, auth: str, rate: int, seconds: float, extra: dict[str, str]) -> None:
    try:
        import uvloop  # the generator's own overhead (and jitter) is then smaller than the server's

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    print(json.dumps(runner(_open_loop(port, path, auth or None, rate, seconds, extra))))


async def _closed_loop(port: int, path: str, auth: str | None, conns: int, seconds: float,
                       extra: dict[str, str] | None = None) -> float:
    raw = _request(port, path, auth, extra)
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        r, w = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < stop:
            await _exchange(r, w, raw)
            done += 1
        w.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conns)))
    return done / (time.perf_counter() - t0)


# -- orchestration ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and (os.cpu_count() or 1) >= 2 else []


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port} after {timeout:.0f}s")


def _ready(port: int, path: str, auth: str | None, timeout: float, extra: dict[str, str] | None = None) -> None:
    """Wait until a real request succeeds (LiteLLM listens before it can answer)."""
    import httpx

    deadline = time.monotonic() + timeout
    headers = {**({"authorization": f"Bearer {auth}"} if auth else {}), **(extra or {})}
    while time.monotonic() < deadline:
        try:
            r = httpx.post(f"http://127.0.0.1:{port}{path}", content=body_for(path), headers={**headers,
                           "content-type": "application/json"}, timeout=5)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"no successful request to port {port} within {timeout:.0f}s")


def _latency(port: int, path: str, auth: str | None, seconds: float,
             extra: dict[str, str] | None = None) -> dict[str, Any]:
    cmd = [*_pin(0), sys.executable, __file__, "--loadgen", str(port), path, auth or "", str(RATE), str(seconds),
           json.dumps(extra or {})]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def measure(port: int, path: str, auth: str | None, base_port: int | None = None,
            extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Latency at RATE, then max req/s; with ``base_port``, first the upstream's own latency right
    before, so "added" subtracts a baseline taken under the same background load. ``extra``: headers
    sent with every request besides the key (Portkey's routing headers)."""
    base = _latency(base_port, "/v1/chat/completions", None, BASELINE_SECONDS) if base_port else None
    lat = _latency(port, path, auth, LATENCY_SECONDS, extra)
    if base is not None:
        lat["base_p50"], lat["base_p99"] = base["p50"], base["p99"]
    lat["rps"] = throughput(port, path, auth, extra=extra)
    return lat


def throughput(port: int, path: str, auth: str | None, seconds: int = WRK_SECONDS,
               extra: dict[str, str] | None = None) -> float:
    wrk = shutil.which("wrk")
    if wrk is None:
        return asyncio.run(_closed_loop(port, path, auth, 16, seconds, extra))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        headers = 'wrk.headers["content-type"] = "application/json"\n'
        if auth:
            headers += f'wrk.headers["authorization"] = "Bearer {auth}"\n'
        for k, v in (extra or {}).items():
            headers += f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n"
        f.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body_for(path).decode())}\n{headers}')
        script = f.name
    try:
        out = subprocess.run([*_pin(0), wrk, "-t1", "-c16", f"-d{seconds}s", "-s", script,
                              f"http://127.0.0.1:{port}{path}"], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(script)
    non2xx = [ln for ln in out.splitlines() if "Non-2xx" in ln]
    if non2xx:
        print(f"  warning: {non2xx[0].strip()}")
    return float(next(ln for ln in out.splitlines() if ln.startswith("Requests/sec")).split()[1])


BELUGA_MINIMAL = """
[beluga]
plugins = ["gateway", "openai"]
load_unlisted = false
provider = "openai"

[providers.openai]
api_key = "{key}"
base_url = "http://127.0.0.1:{up}"

[plugins.gateway]
reload_interval = 0
keys = [{{ key = "{gw}", project = "bench" }}]
models = {{ "{model}" = "openai:{model}" }}
"""

BELUGA_FULL = BELUGA_MINIMAL.replace(
    'plugins = ["gateway", "openai"]',
    'plugins = ["tracing", "ratelimit", "guard-injection", "guard-pii", "retry", "breaker", "gateway", "openai"]',
) + """
[plugins.ratelimit]
requests_per_minute = 100000000
tokens_per_minute = 1000000000
"""

# The same chain answering with the in-process echo provider: what the gateway itself adds, without
# the provider's HTTP client (the upstream hop is replaced by a function call).
BELUGA_ECHO = BELUGA_FULL.replace('provider = "openai"', 'provider = "echo"').replace('"openai:{model}"', '"echo"')

LITELLM = """
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{model}
      api_base: http://127.0.0.1:{up}/v1
      api_key: {key}
litellm_settings:
  telemetry: false
  drop_params: true
  # /v1/messages: translated to chat completions, as Beluga does (LiteLLM's default for openai/ models
  # is its Responses API, which this upstream does not speak)
  use_chat_completions_url_for_anthropic_messages: true
general_settings:
  master_key: {master}
"""


def litellm_bin() -> str | None:
    for candidate in (os.environ.get("LITELLM_BIN"), shutil.which("litellm"), "/work/litellm-venv/bin/litellm"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


#: Peers that ship on npm: package.json pins them, package-lock.json makes ``npm ci`` reproducible.
PEERS = Path(__file__).resolve().parent / "peers"
PORTKEY_ENTRY = PEERS / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"


def portkey_server() -> tuple[list[str] | None, str]:
    """The command that starts Portkey's gateway, installing the pinned package on first use
    (``npm ci`` in benchmarks/peers); or None and the reason it cannot run here."""
    node = shutil.which("node")
    if node is None:
        return None, "node is not installed"
    if not PORTKEY_ENTRY.exists():
        npm = shutil.which("npm")
        if npm is None:
            return None, "npm is not installed (needed once, to install it from benchmarks/peers/package-lock.json)"
        print("installing Portkey's gateway: npm ci in benchmarks/peers", flush=True)
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=PEERS,
                              capture_output=True, text=True)
        if done.returncode != 0 or not PORTKEY_ENTRY.exists():
            why = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return None, f"npm ci in benchmarks/peers failed ({why})"
    return [node, str(PORTKEY_ENTRY), "--headless"], ""


def start(cmd: list[str], port: int, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([*_pin(1), *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)
    _wait_port(port, proc, timeout)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def compare_backends(backends: list[str]) -> None:
    """The full chain once per provider HTTP client (``options.backend``), all servers up at once and
    measured in turns (max req/s, ``BENCH_ROUNDS`` rounds of wrk for 2 s each, the order rotating every
    round), so load from other work on the machine falls on every client alike; medians reported."""
    header("bench_gateway: the full chain's max req/s per provider HTTP client, measured in turns")
    rounds = int(os.environ.get("BENCH_ROUNDS", "7"))
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    up = free_port()
    upstream = subprocess.Popen([*_pin(0), sys.executable, __file__, "--upstream", str(up)], start_new_session=True)
    _wait_port(up, upstream, 10)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BELUGA_", "OTEL_"))}
    beluga = str(Path(sys.executable).with_name("beluga"))
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    samples: dict[str, list[float]] = {b: [] for b in backends}
    try:
        for backend in backends:
            cfg = tmp / f"{backend}.toml"
            cfg.write_text(BELUGA_FULL.format(key=UPSTREAM_KEY, up=up, gw=GATEWAY_KEY, model=MODEL)
                           + f"\n[providers.openai.options]\n{CLIENTS[backend]}\n")
            port = free_port()
            servers[backend] = (start([beluga, "serve", "--config", str(cfg), "--port", str(port)], port, env), port)
            _ready(port, "/v1/chat/completions", GATEWAY_KEY, 15)
        for backend in backends:  # warm up
            throughput(servers[backend][1], "/v1/chat/completions", GATEWAY_KEY, 1)
        for r in range(rounds):
            for backend in backends[r % len(backends):] + backends[:r % len(backends)]:
                samples[backend].append(throughput(servers[backend][1], "/v1/chat/completions", GATEWAY_KEY, 2))
    finally:
        for proc, _ in servers.values():
            stop(proc)
        stop(upstream)
        shutil.rmtree(tmp, ignore_errors=True)
    first = samples[backends[0]]
    rows = [[b, statistics.median(xs), min(xs), max(xs),
             # each round's ratio to the first client's sample of the same round, then their median:
             # samples seconds apart share the machine's load, so this is steadier than the medians' ratio
             f"{statistics.median(x / f for x, f in zip(xs, first, strict=True)) - 1:+.1%}",
             " ".join(f"{x:.0f}" for x in xs)] for b, xs in samples.items()]
    print(table(["provider client", "median req/s", "min", "max", f"vs {backends[0]} (per round)",
                 "samples (in turn)"], rows))
    print(f"\nwrk -t1 -c16 -d2s per sample (CPU 0), {rounds} rounds; each gateway: 1 process pinned to CPU 1; "
          "full chain = tracing, ratelimit, guard-injection, guard-pii, retry, breaker, key auth, openai.")
    print(f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


def main() -> None:
    backends = [b for b in os.environ.get("BENCH_BACKENDS", "").split(",") if b]
    if backends:  # BENCH_BACKENDS="h1,httpx": compare provider HTTP clients under the full chain
        compare_backends(backends)
        return
    header("bench_gateway: added latency at 200 req/s and max req/s, same loopback upstream")
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    up = free_port()
    upstream = subprocess.Popen([*_pin(0), sys.executable, __file__, "--upstream", str(up)], start_new_session=True)
    _wait_port(up, upstream, 10)
    rows: list[list[Any]] = []
    results: dict[str, dict[str, Any]] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BELUGA_", "OTEL_"))}
    beluga = str(Path(sys.executable).with_name("beluga"))
    try:
        results["upstream direct"] = measure(up, "/v1/chat/completions", None)
        configs = (
            ("beluga gateway, no plugins", BELUGA_MINIMAL),
            ("beluga gateway, full chain", BELUGA_FULL),
            ("beluga full chain, echo (no hop)", BELUGA_ECHO),
        )
        only = os.environ.get("BENCH_ONLY")  # e.g. BENCH_ONLY="full chain" while profiling
        for name, template in configs:
            if only and only not in name:
                continue
            cfg = tmp / f"{len(results)}.toml"
            cfg.write_text(template.format(key=UPSTREAM_KEY, up=up, gw=GATEWAY_KEY, model=MODEL))
            port = free_port()
            proc = start([beluga, "serve", "--config", str(cfg), "--port", str(port)], port, env)
            try:
                _ready(port, "/v1/chat/completions", GATEWAY_KEY, 15)
                results[name] = measure(port, "/v1/chat/completions", GATEWAY_KEY, base_port=up)
                if template is BELUGA_FULL:  # the Messages and Responses APIs on the same server, chain, upstream
                    for path in ("/v1/messages", "/v1/responses"):
                        _ready(port, path, GATEWAY_KEY, 15)
                        results[f"{name}, {path}"] = measure(port, path, GATEWAY_KEY, base_port=up)
            finally:
                stop(proc)
        litellm = litellm_bin() if not only or only in "litellm proxy" else None
        if only and only not in "litellm proxy":
            pass
        elif litellm is None:
            print("LiteLLM's proxy is not installed (pip install 'litellm[proxy]' in a venv; LITELLM_BIN=...): skipped")
        else:
            cfg = tmp / "litellm.yaml"
            master = "sk-" + os.urandom(32).hex()  # LiteLLM refuses to start without a strong master key
            cfg.write_text(LITELLM.format(key=UPSTREAM_KEY, up=up, model=MODEL, master=master))
            port = free_port()
            lenv = {**env, "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False", "DISABLE_SCHEMA_UPDATE": "true"}
            proc = start([litellm, "--config", str(cfg), "--port", str(port), "--host", "127.0.0.1",
                          "--num_workers", "1"], port, lenv, timeout=90)
            try:
                _ready(port, "/v1/chat/completions", master, 60)
                results["litellm proxy"] = measure(port, "/v1/chat/completions", master, base_port=up)
                try:  # LiteLLM's unified Messages endpoint, translated to chat completions for an openai/ model
                    _ready(port, "/v1/messages", master, 30)
                    results["litellm proxy, /v1/messages"] = measure(port, "/v1/messages", master, base_port=up)
                except RuntimeError as exc:
                    print(f"LiteLLM's proxy on /v1/messages: skipped, {exc}")
            finally:
                stop(proc)
        if not only or only in "portkey gateway":
            portkey, why = portkey_server()
            if portkey is None:
                print(f"Portkey's gateway: skipped, {why}")
            else:
                port = free_port()
                # Each request names the provider and the upstream (Portkey's headers); the key goes on to it.
                # /v1/messages is left out: Portkey serves it only for providers that speak it natively
                # ("messages is not supported by openai").
                routing = {"x-portkey-provider": "openai", "x-portkey-custom-host": f"http://127.0.0.1:{up}/v1"}
                penv = {**env, "NODE_ENV": "production"}  # as deployed: no log UI
                proc = start([*portkey, f"--port={port}"], port, penv)
                try:
                    _ready(port, "/v1/chat/completions", UPSTREAM_KEY, 30, routing)
                    results["portkey gateway"] = measure(port, "/v1/chat/completions", UPSTREAM_KEY, base_port=up,
                                                         extra=routing)
                finally:
                    stop(proc)
    finally:
        stop(upstream)
        shutil.rmtree(tmp, ignore_errors=True)
    base = results["upstream direct"]
    for name, r in results.items():
        r["added50"] = r["p50"] - r.get("base_p50", base["p50"]) if name != "upstream direct" else 0.0
        r["added99"] = r["p99"] - r.get("base_p99", base["p99"]) if name != "upstream direct" else 0.0
        rows.append([name, r["n"], r["errors"], r["p50"], r["p99"], r["added50"], r["added99"], r["rps"]])
    print(table(["server", "requests", "errors", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms",
                 "max req/s"], rows))
    pairs = [(ours, peer) for ours, peer in (
        ("beluga gateway, full chain", "portkey gateway"),
        ("beluga gateway, full chain", "litellm proxy"),
        ("beluga gateway, full chain, /v1/messages", "litellm proxy, /v1/messages"),
    ) if ours in results and peer in results]
    if pairs:
        print("\nBeluga's full chain against each peer on the same route (max req/s: Beluga / peer; "
              "added p50: peer / Beluga):")
        for ours, peer in pairs:
            a, b = results[ours], results[peer]
            if b["rps"] < RATE:  # the peer cannot keep up with the open loop: its latency is the queue's
                lower = f"the peer answers fewer than {RATE} req/s, so its latency is queueing"
            else:
                lower = f"{b['added50'] / a['added50']:.1f}x lower" if a["added50"] > 0 else "n/a"
            print(f"  {ours} vs {peer}: {a['rps'] / b['rps']:.2f}x req/s ({a['rps']:,.0f} vs {b['rps']:,.0f}); "
                  f"added p50 {a['added50']:,.2f} vs {b['added50']:,.2f} ms ({lower})")
    print(f"\nlatency: open loop at {RATE} req/s for {LATENCY_SECONDS:g}s per server (separate process, CPU 0), "
          f"added = minus the upstream's own percentile measured ({BASELINE_SECONDS:g}s) just before; "
          f"max req/s: {'wrk -t1 -c16' if shutil.which('wrk') else 'Python closed loop, 16 connections'} "
          f"for {WRK_SECONDS}s (CPU 0); each server: 1 process pinned to CPU 1; upstream on CPU 0.")
    print("', /v1/messages' and ', /v1/responses' = the same server answering Anthropic's Messages API and "
          "OpenAI's Responses API (same question, same upstream).")
    print("full chain = tracing, ratelimit (memory), guard-injection, guard-pii, retry, breaker, key auth, openai "
          "provider;\n'echo (no hop)' = the same chain on the in-process echo provider: the gateway's own share;\n"
          "LiteLLM: model_list with the same upstream, master key auth, no database, no callbacks;\n"
          "Portkey: @portkey-ai/gateway (benchmarks/peers/package-lock.json) on node, --headless, "
          "NODE_ENV=production, x-portkey-provider: openai and x-portkey-custom-host naming the upstream.")
    print(f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--upstream":
        run_upstream(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--loadgen":
        run_loadgen(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6]),
                    json.loads(sys.argv[7]) if len(sys.argv) > 7 else {})
    else:
        main()
