"""A lean HTTP/1.1 keep-alive client for provider calls: the hot path of every model call.

A provider call is one POST of a JSON body to one origin, answered by one JSON body or an SSE
stream, on a kept-alive connection. httpx + httpcore + h11 spend most of a gateway request's CPU on
that exchange (request/response models, pool locks, a pure-Python parser, a timer per read), so
provider calls use this instead: one ``transport.write`` of a request head built once per URL plus
the body, the answer parsed by httptools (llhttp, in C) as the bytes arrive, one future per wait and
one timer that re-arms itself only when it fires. Proxies and ``fast_backend = false`` keep httpx.

Failures raise httpx's exception types (``ConnectError``, ``ReadTimeout``, ``PoolTimeout``,
``RemoteProtocolError``, ...) so callers map them exactly as for httpx's client. A request is
written at most once: nothing here sends it again.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any, cast

import httptools
import httpx

_Timeouts = tuple[float | None, float | None, float | None]  # connect, read, pool
_HIGH_WATER = 256 * 1024  # unread stream bytes at which the socket stops being read
_LOW_WATER = 64 * 1024


class H1Reply:
    """A buffered response: what providers read of an ``httpx.Response``."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content


class H1Stream:
    """A streamed response: status and headers, then the body as it arrives (``aiter_raw``).

    The connection goes back to the pool when the body is complete, whether or not all of it was
    read yet; ``aclose()`` before that closes the connection (it cannot be reused halfway).
    """

    __slots__ = (
        "_chunks", "_conn", "_decoder", "_done", "_exc", "_paused", "_read", "_size", "_waiter",
        "headers", "status_code",
    )

    def __init__(self, conn: _Conn, read: float | None) -> None:
        self._conn = conn
        self._read = read
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._paused = False
        self._done = False
        self._exc: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._decoder: Any = None
        self.status_code = 0
        self.headers: dict[str, str] = {}

    # -- fed by the connection ------------------------------------------------------------------
    def _push(self, chunk: bytes) -> None:
        if self._decoder is not None:
            try:
                chunk = self._decoder.decompress(chunk)
            except zlib.error as exc:
                self._fail(httpx.DecodingError(f"cannot decode the response body: {exc}"))
                self._conn.abort()
                return
        if chunk:
            self._chunks.append(chunk)
            self._size += len(chunk)
            if self._size > _HIGH_WATER and not self._paused and self._conn.transport is not None:
                self._paused = True
                self._conn.transport.pause_reading()
            self._wake()

    def _finish(self) -> None:
        self._done = True
        self._wake()

    def _fail(self, exc: Exception) -> None:
        if not self._done and self._exc is None:
            self._exc = exc
            self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    # -- read by the caller ---------------------------------------------------------------------
    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive; raises ``ReadTimeout`` after ``read`` seconds without any."""
        loop = asyncio.get_running_loop()
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._size -= len(chunk)
                if self._paused and self._size < _LOW_WATER and self._conn.transport is not None:
                    self._paused = False
                    self._conn.transport.resume_reading()
                yield chunk
                continue
            if self._exc is not None:
                raise self._exc
            if self._done:
                return
            fut = self._waiter = loop.create_future()
            timer = None if self._read is None else loop.call_later(self._read, _expire, fut, self._read)
            try:
                await fut
            except BaseException:
                self._conn.abort()
                raise
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()

    async def aread(self) -> bytes:
        """The whole (rest of the) body."""
        return b"".join([chunk async for chunk in self.aiter_raw()])

    async def aclose(self) -> None:
        if not self._done:
            self._done = True
            self._conn.abort()


def _expire(fut: asyncio.Future[Any], read: float) -> None:
    if not fut.done():
        fut.set_exception(httpx.ReadTimeout(f"no response data for {read:g}s"))


class _Conn(asyncio.Protocol):
    """One connection with at most one exchange in flight; the parser's callbacks fill it in."""

    def __init__(self, pool: H1Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.busy = False
        self.waiter: asyncio.Future[Any] | None = None  # the reply (buffered) or the head (streamed)
        self.sink: H1Stream | None = None
        self.closed = False
        self.counted = False  # holds one of the pool's connection slots
        self.idle_since = 0.0
        self.last_data = 0.0
        self.got_data = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False

    def start(self, sink: H1Stream | None) -> asyncio.Future[Any]:
        self.headers, self.body, self.headers_done, self.got_data = [], [], False, False
        self.busy = True
        self.sink = sink
        self.waiter = fut = asyncio.get_running_loop().create_future()
        self.last_data = time.monotonic()
        return fut

    # -- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self.busy:  # bytes nobody asked for: the connection cannot be trusted
            self.abort()
            return
        self.last_data = time.monotonic()
        self.got_data = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(httpx.RemoteProtocolError(f"invalid HTTP response: {exc}"))
            self.abort()

    def eof_received(self) -> bool | None:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.busy:
            if self.headers_done and not self._framed():
                self.on_message_complete()  # a body delimited by the end of the connection
            elif exc is not None:
                self.fail(httpx.ReadError(str(exc) or type(exc).__name__))
            else:
                self.fail(httpx.RemoteProtocolError("the server closed the connection without a full response"))
        self.pool._lost(self)

    # -- httptools callbacks --------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        sink = self.sink
        if sink is None or self.parser.get_status_code() < 200:
            return
        sink.status_code = self.parser.get_status_code()
        sink.headers = _header_dict(self.headers)
        coding = sink.headers.get("content-encoding", "identity").strip().lower()
        if coding in ("gzip", "x-gzip"):
            sink._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            sink._decoder = zlib.decompressobj()
        elif coding not in ("identity", ""):
            self.fail(httpx.DecodingError(f"unsupported content-encoding {coding!r}"))
            self.abort()
            return
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(sink)

    def on_body(self, body: bytes) -> None:
        if self.sink is not None:
            self.sink._push(body)
        else:
            self.body.append(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # informational (100 Continue): the real answer follows
            self.headers, self.body, self.headers_done = [], [], False
            return
        keep = self.parser.should_keep_alive()
        sink = self.sink
        if sink is not None:  # streamed: the body is all in the sink; the connection is free
            sink._finish()
            self.busy, self.sink, self.waiter = False, None, None
            if keep:
                self.pool._release(self)
            else:
                self.pool._retire(self)
            return
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        headers = _header_dict(self.headers)
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        coding = headers.get("content-encoding", "identity").strip().lower()
        if coding not in ("identity", ""):
            try:
                body = _decode(body, coding)
            except (zlib.error, ValueError) as exc:
                waiter.set_exception(httpx.DecodingError(f"cannot decode a {coding!r} response body: {exc}"))
                self.abort()
                return
        if not keep:
            self.pool._retire(self)
        waiter.set_result(H1Reply(status, headers, body))

    # -- helpers --------------------------------------------------------------------------------
    def _framed(self) -> bool:
        names = {k.lower() for k, _ in self.headers}
        return b"content-length" in names or b"transfer-encoding" in names

    def fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        elif self.sink is not None:
            self.sink._fail(exc)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


def _header_dict(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for k, v in raw:
        name = k.decode("latin-1").lower()
        value = v.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _decode(body: bytes, coding: str) -> bytes:
    if coding in ("gzip", "x-gzip"):
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if coding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate, as some servers send it
    raise ValueError("unsupported content-encoding")


def _read_timer(conn: _Conn, fut: asyncio.Future[Any], read: float) -> None:
    """Fires ``read`` seconds after the last byte: fail the wait, or re-arm for the rest."""
    if fut.done():
        return
    idle = time.monotonic() - conn.last_data
    if idle < read:
        asyncio.get_running_loop().call_later(read - idle, _read_timer, conn, fut, read)
        return
    fut.set_exception(httpx.ReadTimeout(f"no response data for {read:g}s"))


class H1Pool:
    """Keep-alive HTTP/1.1 connections to one origin (``scheme://host:port``), for one event loop.

    Up to ``max_connections`` connections; idle ones are reused last-in first-out and dropped after
    ``keepalive_expiry`` seconds; callers beyond the limit wait up to the pool timeout.
    """

    def __init__(
        self, host: str, port: int, tls: ssl.SSLContext | None, *, max_connections: int, keepalive_expiry: float = 5.0
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self._idle: list[_Conn] = []
        self._open = 0  # connections open or opening
        self._waiters: collections.deque[asyncio.Future[_Conn | None]] = collections.deque()
        self._closed = False

    async def request(self, data: bytes, timeouts: _Timeouts) -> H1Reply:
        """Send ``data`` (a whole request: head and body) and return the buffered reply."""
        reply: H1Reply = await self._send(data, timeouts, streaming=False)
        return reply

    async def stream(self, data: bytes, timeouts: _Timeouts) -> H1Stream:
        """Send ``data`` and return once the status and headers are in; the body follows."""
        head: H1Stream = await self._send(data, timeouts, streaming=True)
        return head

    async def _send(self, data: bytes, timeouts: _Timeouts, *, streaming: bool) -> Any:
        """One exchange, on an idle kept-alive connection or a new one. The request is written once
        and never again: once written, the server may have read it (and a model call is not
        idempotent), so a connection that then fails raises. Idle connections that the server has
        closed (its FIN arrived while idle) or that sent bytes nobody asked for were dropped
        already; one closed just as the request goes out fails with ``RemoteProtocolError``."""
        connect, read, pool = timeouts
        conn = self._take()
        if conn is None:
            conn = await self._acquire(connect, pool)
        return await self._exchange(conn, data, read, streaming)

    async def _exchange(self, conn: _Conn, data: bytes, read: float | None, streaming: bool) -> Any:
        sink = H1Stream(conn, read) if streaming else None
        fut = conn.start(sink)
        assert conn.transport is not None
        conn.transport.write(data)
        timer = None if read is None else asyncio.get_running_loop().call_later(read, _read_timer, conn, fut, read)
        try:
            got = await fut
        except BaseException:
            conn.busy, conn.waiter, conn.sink = False, None, None
            conn.abort()  # mid-exchange (failed or cancelled): its state is unknown, never reuse it
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if sink is None:
            conn.busy, conn.waiter = False, None
            self._release(conn)
        return got

    def _take(self) -> _Conn | None:
        idle = self._idle
        while idle:
            conn = idle.pop()
            if conn.closed or conn.transport is None or conn.transport.is_closing():
                continue
            if time.monotonic() - conn.idle_since > self.keepalive_expiry:
                conn.abort()
                continue
            return conn
        return None

    async def _acquire(self, connect: float | None, pool: float | None) -> _Conn:
        while True:
            if self._closed:
                raise httpx.ConnectError("the connection pool is closed")
            if self._open < self.max_connections:
                return await self._connect(connect)
            fut: asyncio.Future[_Conn | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                async with asyncio.timeout(pool):
                    conn = await fut
            except BaseException as exc:
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    handed = fut.result()  # handed over just as we gave up: pass it on
                    if handed is not None:
                        self._release(handed)
                    else:
                        self._wake()
                else:
                    fut.cancel()
                if isinstance(exc, TimeoutError):
                    raise httpx.PoolTimeout(f"no free connection within {pool:g}s") from None
                raise
            if conn is not None:
                return conn
            # None: a connection closed, so there is room to open one; go round and open it

    async def _connect(self, timeout: float | None) -> _Conn:
        conn = _Conn(self)
        conn.counted = True  # it holds a slot until it is lost or fails to connect (_lost gives it back)
        self._open += 1
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(
                    lambda: conn, self.host, self.port,
                    ssl=self.tls, server_hostname=self.host if self.tls is not None else None,
                )
        except TimeoutError:
            self._lost(conn)
            raise httpx.ConnectTimeout(f"connecting to {self.host}:{self.port} timed out after {timeout:g}s") from None
        except (OSError, ssl.SSLError) as exc:
            self._lost(conn)
            raise httpx.ConnectError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        except BaseException:
            self._lost(conn)
            raise
        return conn

    def _release(self, conn: _Conn) -> None:
        if conn.closed:
            return
        if self._closed:
            conn.abort()
            return
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(conn)
                return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def _retire(self, conn: _Conn) -> None:
        """The server asked to close after this reply (``Connection: close``)."""
        conn.closed = True
        if conn.transport is not None:
            conn.transport.close()

    def _lost(self, conn: _Conn) -> None:
        if conn in self._idle:
            self._idle.remove(conn)
        if conn.counted:
            conn.counted = False
            self._open -= 1
            self._wake()

    def _wake(self) -> None:
        while self._waiters:  # room for one more connection: let the first waiter open it
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def close(self) -> None:
        """Close idle connections now and the others when their exchange ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.abort()
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_exception(httpx.ConnectError("the connection pool is closed"))

    def __repr__(self) -> str:
        return f"<H1Pool {self.host}:{self.port} open={self._open} idle={len(self._idle)}>"


def _check(k: str, v: str) -> None:
    if "\r" in k or "\n" in k or "\r" in v or "\n" in v:
        raise ValueError(f"header {k!r} contains a line break")


def request_head(method: str, target: str, host: str, headers: list[tuple[str, str]]) -> bytes:
    """The start line and fixed header lines of a request, up to the per-request ones."""
    lines = [f"{method} {target} HTTP/1.1", f"host: {host}"]
    for k, v in headers:
        _check(k, v)
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def header_lines(headers: dict[str, str] | None) -> bytes:
    """Per-request header lines (each ending in CRLF)."""
    if not headers:
        return b""
    for k, v in headers.items():
        _check(k, v)
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("latin-1")


__all__ = ["H1Pool", "H1Reply", "H1Stream", "header_lines", "request_head"]
