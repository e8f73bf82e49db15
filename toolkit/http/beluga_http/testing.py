"""Testing provider plugins: a scripted HTTP server on loopback, and the provider contract.

``FakeServer(default, api_key)`` is a real HTTP/1.1 server on 127.0.0.1 (keep-alive, chunked SSE)
that answers every POST with ``default`` unless replies were queued with ``push``: ``json_reply``,
``raw_reply``, ``sse_reply``, ``slow``, or any function of the ``Handler``. Every request is kept in
``server.requests`` (path, headers, parsed body).

``check_provider(make, ok)`` runs the contract every provider owes the chain against such a server:
answers, the ``ErrorCode`` and ``Retry-After`` of failures, no resend, malformed replies, an
unreachable host, the deadline, streaming, and the API key never in an error.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from beluga_core import BudgetExhausted, ErrorCode, LLMRequest, LLMResponse, Provider, ProviderError, StreamChunk

Reply = Callable[["Handler"], None]

def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was just free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = {"path": self.path, "headers": headers, "body": body, "client": self.client_address}
        self.server.requests.append(record)
        reply = self.server.next_reply(self)
        try:
            reply(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # -- writing helpers used by the replies ---------------------------------------------------
    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, json.dumps(obj).encode(), "application/json", headers)

    def send_bytes(self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def start_chunked(self, status: int = 200, ctype: str = "text/event-stream") -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def cut(self) -> None:
        """Drop the connection now, mid-body."""
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, default: Callable[[Handler], None], api_key: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.default = default
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.script: list[Reply] = []
        self.cached_tokens = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out and hang up are part of the tests

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def next_reply(self, handler: Handler) -> Reply:
        with self._lock:
            if self.script:
                return self.script.pop(0)
        return self.default

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]


# -- scripted replies ----------------------------------------------------------------------------


def json_reply(status: int, obj: Any, headers: dict[str, str] | None = None, delay: float = 0.0) -> Reply:
    def reply(h: Handler) -> None:
        if delay:
            time.sleep(delay)
        h.send_json(status, obj, headers)

    return reply


def raw_reply(status: int, data: bytes, ctype: str = "application/json", headers: dict[str, str] | None = None,
              ) -> Reply:
    return lambda h: h.send_bytes(status, data, ctype, headers)


def sse_reply(pieces: list[bytes], *, delay: float = 0.0, cut: bool = False) -> Reply:
    """Send ``pieces`` as separate network writes (so events arrive split), then end or cut."""

    def reply(h: Handler) -> None:
        h.start_chunked()
        for p in pieces:
            h.chunk(p)
            if delay:
                time.sleep(delay)
        if cut:
            h.cut()
        else:
            h.end_chunked()

    return reply


def slow(seconds: float, then: Reply | None = None) -> Reply:
    def reply(h: Handler) -> None:
        time.sleep(seconds)
        (then or h.server.default)(h)

    return reply


def data(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def event(name: str, obj: Any) -> bytes:
    return f"event: {name}\n".encode() + data(obj)


# -- the provider contract -----------------------------------------------------------------------

#: The API key ``check_provider`` expects ``make`` to give the provider (it must never be echoed).
CONTRACT_KEY = "sk-contract-0123456789abcdefghij"


def check_provider(
    make: Callable[[str], Provider],
    ok: Reply,
    stream_ok: Reply | None = None,
    *,
    deadline_seconds: float = 0.3,
) -> list[str]:
    """Check what the chain relies on from a provider; returns the names of the checks passed and
    raises ``AssertionError`` naming the first that fails.

    ``make(base_url)`` builds the provider against that URL with ``CONTRACT_KEY`` as its API key;
    ``ok`` answers a request successfully in the provider's wire format, ``stream_ok`` (if the
    provider streams) answers a streamed one.
    """
    passed: list[str] = []

    def check(name: str, fn: Callable[[FakeServer], Any]) -> None:
        server = FakeServer(ok, CONTRACT_KEY).start()
        try:
            fn(server)
        except AssertionError as exc:
            raise AssertionError(f"provider contract, {name}: {exc}") from None
        finally:
            server.stop()
        passed.append(name)

    def call(url: str, request: LLMRequest) -> LLMResponse | ProviderError | BudgetExhausted | list[StreamChunk]:
        async def go() -> Any:
            provider = make(url)
            try:
                if request.stream:
                    return [c async for c in provider.astream(request)]
                return await provider.agenerate(request)
            except (ProviderError, BudgetExhausted) as exc:
                return exc
            finally:
                await provider.aclose()

        return asyncio.run(go())  # type: ignore[no-any-return]

    def failure(server: FakeServer, reply: Reply, code: ErrorCode) -> ProviderError:
        server.push(reply)
        out = call(server.url, LLMRequest("hello"))
        assert isinstance(out, ProviderError), f"expected ProviderError({code.value}), got {out!r}"
        assert out.code is code, f"expected code {code.value}, got {out.code.value}"
        assert CONTRACT_KEY not in str(out) and CONTRACT_KEY not in repr(out), "the API key is in the error"
        return out

    def answers(server: FakeServer) -> None:
        out = call(server.url, LLMRequest("hello"))
        assert isinstance(out, LLMResponse), f"expected an LLMResponse, got {out!r}"
        assert out.provider, "the response names no provider"
        assert len(server.requests) == 1, f"{len(server.requests)} requests for one call"

    def rate_limited(server: FakeServer) -> None:
        body = {"error": {"type": "rate_limit_error", "message": "slow down"}}
        err = failure(server, json_reply(429, body, {"retry-after": "7"}), ErrorCode.RATE_LIMIT)
        assert err.retry_after == 7.0, f"Retry-After: 7 read as {err.retry_after!r}"

    def unavailable_not_resent(server: FakeServer) -> None:
        body = {"error": {"type": "server_error", "message": "down"}}
        err = failure(server, json_reply(503, body), ErrorCode.PROVIDER_UNAVAILABLE)
        assert err.retryable, "a 503 must be retryable (by the retry plugin, not by the provider)"
        assert len(server.requests) == 1, f"the request was sent {len(server.requests)} times"

    def auth(server: FakeServer) -> None:
        body = {"error": {"type": "authentication_error", "message": f"bad key {CONTRACT_KEY}"}}
        err = failure(server, json_reply(401, body), ErrorCode.AUTH)
        assert not err.retryable, "an auth failure must not be retryable"

    def malformed(server: FakeServer) -> None:
        server.push(raw_reply(200, b"{this is not json"))
        out = call(server.url, LLMRequest("hello"))
        assert isinstance(out, ProviderError), f"a malformed reply must raise ProviderError, got {out!r}"

    def unreachable(server: FakeServer) -> None:
        out = call(closed_port_url(), LLMRequest("hello"))
        assert isinstance(out, ProviderError), f"expected ProviderError, got {out!r}"
        assert out.retryable, f"a refused connection must be retryable, got {out.code.value}"

    def deadline(server: FakeServer) -> None:
        server.push(slow(deadline_seconds * 8))
        t0 = time.monotonic()
        out = call(server.url, LLMRequest("hello", deadline=time.monotonic() + deadline_seconds))
        took = time.monotonic() - t0
        timed_out = isinstance(out, BudgetExhausted) or (
            isinstance(out, ProviderError) and out.code is ErrorCode.TIMEOUT
        )
        assert timed_out, f"expected the deadline to end the call, got {out!r}"
        assert took < deadline_seconds * 5, f"the call outlived its deadline: {took:.2f}s"

    def streams(server: FakeServer) -> None:
        assert stream_ok is not None
        server.push(stream_ok)
        out = call(server.url, LLMRequest("hello", stream=True))
        assert isinstance(out, list), f"expected chunks, got {out!r}"
        assert out and (out[-1].usage is not None or out[-1].finish_reason), "the last chunk has no end"

    check("answers", answers)
    check("rate limit with Retry-After", rate_limited)
    check("unavailable, not resent", unavailable_not_resent)
    check("auth, key not echoed", auth)
    check("malformed reply", malformed)
    check("unreachable host", unreachable)
    check("deadline", deadline)
    if stream_ok is not None:
        check("streams", streams)
    return passed


__all__ = [
    "CONTRACT_KEY",
    "FakeServer",
    "Handler",
    "Reply",
    "check_provider",
    "closed_port_url",
    "data",
    "event",
    "json_reply",
    "raw_reply",
    "slow",
    "sse_reply",
]
