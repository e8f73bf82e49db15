"""HTTP plumbing for provider plugins: pooled clients, SSE parsing, error mapping, key scrubbing.

Needs httpx (``pip install beluga-core[http]``); only provider plugins import this module, so the
core itself stays free of it.
"""

from __future__ import annotations

import asyncio
import email.utils
import importlib
import json
import ssl
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any, cast

import httpcore
import httpx

from beluga_core.errors import ErrorCode, ProviderError
from beluga_core.llm import ProviderConfig
from beluga_core.masking import get_logger, mask_text

log = get_logger("beluga.providers")

#: Error ``type``/``code`` strings used by OpenAI-compatible servers and Anthropic, by meaning.
_ERROR_TYPES: dict[str, ErrorCode] = {
    "rate_limit_error": ErrorCode.RATE_LIMIT,
    "rate_limit_exceeded": ErrorCode.RATE_LIMIT,
    "insufficient_quota": ErrorCode.RATE_LIMIT,
    "overloaded_error": ErrorCode.PROVIDER_UNAVAILABLE,
    "api_error": ErrorCode.PROVIDER_UNAVAILABLE,
    "server_error": ErrorCode.PROVIDER_UNAVAILABLE,
    "timeout_error": ErrorCode.TIMEOUT,
    "authentication_error": ErrorCode.AUTH,
    "permission_error": ErrorCode.AUTH,
    "invalid_api_key": ErrorCode.AUTH,
    "invalid_request_error": ErrorCode.INVALID_INPUT,
    "request_too_large": ErrorCode.INVALID_INPUT,
    "not_found_error": ErrorCode.NOT_FOUND,
    "model_not_found": ErrorCode.NOT_FOUND,
}

_MAX_QUOTED = 300  # characters of an upstream error message kept in ours

InjectHeaders = Callable[[dict[str, str]], Any]
_inject: InjectHeaders | bool | None = False  # False: not looked up yet


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON for request bodies."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def v1_endpoint(base_url: str, path: str) -> str:
    """``{base_url}/v1/{path}``; a base URL that already ends in ``/v1`` (as Ollama documents) is kept."""
    base = base_url.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return f"{base}/{path}"


def trace_injector() -> InjectHeaders | None:
    """``beluga_tracing.inject_headers`` when that plugin is installed (W3C traceparent), else None."""
    global _inject
    if _inject is False:
        try:
            tracing = importlib.import_module("beluga_tracing")
        except ImportError:
            _inject = None
        else:
            fn = getattr(tracing, "inject_headers", None)
            _inject = fn if callable(fn) else None
    return _inject if callable(_inject) else None


def outgoing_headers() -> dict[str, str] | None:
    """Per-request headers: the W3C trace context when tracing is installed (None when there are none)."""
    inject = trace_injector()
    if inject is None:
        return None
    headers: dict[str, str] = {}
    try:
        out = inject(headers)
    except Exception:
        log.debug("beluga_tracing.inject_headers failed", exc_info=True)
        return None
    if isinstance(out, Mapping):
        headers = {str(k): str(v) for k, v in out.items()}
    return headers or None


def deadline_passed(provider: str) -> ProviderError:
    return ProviderError(ErrorCode.TIMEOUT, f"{provider}: the request deadline passed mid-stream", provider=provider)


def code_for_status(status: int, error_type: str | None = None) -> ErrorCode:
    """The ``ErrorCode`` for an HTTP error status (the upstream error type refines 4xx only)."""
    if status == 429:
        return ErrorCode.RATE_LIMIT
    if status in (401, 403):
        return ErrorCode.AUTH
    if status == 408:
        return ErrorCode.TIMEOUT
    if status >= 500:  # 529 is Anthropic's "overloaded"
        return ErrorCode.PROVIDER_UNAVAILABLE
    if status == 404:
        return ErrorCode.NOT_FOUND
    if error_type in ("rate_limit_error", "rate_limit_exceeded"):
        return ErrorCode.RATE_LIMIT
    return ErrorCode.INVALID_INPUT


def code_for_error_type(error_type: str | None) -> ErrorCode:
    """The ``ErrorCode`` of an error event inside a stream (no HTTP status to go by)."""
    return _ERROR_TYPES.get(error_type or "", ErrorCode.PROVIDER_UNAVAILABLE)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Scrubber:
    """Removes one API key (and anything key-shaped) from text that may reach users or logs."""

    __slots__ = ("_key",)

    def __init__(self, api_key: str | None) -> None:
        self._key = api_key or None

    def __call__(self, text: str) -> str:
        if self._key and self._key in text:
            text = text.replace(self._key, "[api key]")
        return mask_text(text)

    def __repr__(self) -> str:
        return "Scrubber(<hidden>)"


def upstream_error(body: bytes) -> tuple[str | None, str | None]:
    """``(type, message)`` from an error body: ``{"error": {"type"|"code", "message"}}`` or text."""
    try:
        data = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return None, text or None
    if isinstance(data, Mapping):
        err = data.get("error", data)
        if isinstance(err, Mapping):
            etype = err.get("type") or err.get("code")
            msg = err.get("message")
            return (str(etype) if etype else None), (str(msg) if msg else None)
        if isinstance(err, str):
            return None, err
    return None, None


def _quote(message: str | None, scrub: Scrubber) -> str:
    if not message:
        return ""
    message = scrub(" ".join(message.split()))
    if len(message) > _MAX_QUOTED:
        message = message[: _MAX_QUOTED - 1] + "…"
    return f": {message}"


_HINTS: dict[ErrorCode, str] = {
    ErrorCode.AUTH: "check providers.{name}.api_key",
    ErrorCode.NOT_FOUND: "check providers.{name}.base_url and the model name",
    ErrorCode.RATE_LIMIT: "slow down or let the retry plugin wait",
}


def status_error(
    provider: str, status: int, headers: Mapping[str, str], body: bytes, scrub: Scrubber, url: str
) -> ProviderError:
    """The ``ProviderError`` for a non-2xx response, quoting the upstream message with the key scrubbed."""
    etype, msg = upstream_error(body)
    code = code_for_status(status, etype)
    retry_after = parse_retry_after(headers)
    parts = [f"{provider}: HTTP {status} from {url}", _quote(msg, scrub)]
    if etype:
        parts.append(f" ({scrub(etype)})")
    hint = _HINTS.get(code)
    if hint:
        parts.append(f"; {hint.format(name=provider)}")
    if retry_after is not None:
        parts.append(f"; retry after {retry_after:g}s")
    return ProviderError(code, "".join(parts), provider=provider, retry_after=retry_after, status_code=status)


def stream_error(provider: str, payload: Mapping[str, Any], scrub: Scrubber) -> ProviderError:
    """The ``ProviderError`` for an error event received after a 200, in the middle of a stream."""
    err = payload.get("error", payload)
    etype = msg = None
    if isinstance(err, Mapping):
        etype = err.get("type") or err.get("code")
        msg = err.get("message")
    elif isinstance(err, str):
        msg = err
    code = code_for_error_type(str(etype) if etype else None)
    text = f"{provider}: error event in the stream" + _quote(str(msg) if msg else None, scrub)
    if etype:
        text += f" ({scrub(str(etype))})"
    return ProviderError(code, text, provider=provider)


def transport_error(provider: str, exc: httpx.HTTPError, url: str, *, deadline_capped: bool = False) -> ProviderError:
    """Map httpx's connection and timeout errors; the key is never in them (it travels in headers)."""
    if isinstance(exc, httpx.TimeoutException):
        what = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for data",
            httpx.WriteTimeout: "sending the request",
            httpx.PoolTimeout: "waiting for a pooled connection",
        }.get(type(exc), "waiting")
        why = " (capped by the request deadline)" if deadline_capped else ""
        return ProviderError(ErrorCode.TIMEOUT, f"{provider}: timed out {what} on {url}{why}", provider=provider)
    if isinstance(exc, httpx.RemoteProtocolError):
        return ProviderError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"{provider}: connection to {url} broke off mid-response ({type(exc).__name__})",
            provider=provider,
        )
    return ProviderError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"{provider}: cannot reach {url} ({type(exc).__name__}: {exc})",
        provider=provider,
    )


def malformed(provider: str, url: str, what: str) -> ProviderError:
    return ProviderError(
        ErrorCode.PROVIDER_UNAVAILABLE, f"{provider}: malformed response from {url}: {what}", provider=provider
    )


class ClientPool:
    """One pooled ``httpx.AsyncClient`` per event loop, created on first use, with explicit limits.

    A client's connections belong to the loop that opened them, so each loop gets its own client
    (the sync twins run on one long-lived loop per thread, so they reuse theirs).
    """

    def __init__(self, config: ProviderConfig, headers: Mapping[str, str]) -> None:
        self.timeout = httpx.Timeout(
            connect=float(config.connect_timeout),
            read=float(config.read_timeout),
            write=float(config.read_timeout),
            pool=float(config.connect_timeout),
        )
        self.limits = httpx.Limits(
            max_connections=config.max_connections, max_keepalive_connections=config.max_connections
        )
        self._headers = dict(headers)
        # Proxy and CA settings from the environment (HTTPS_PROXY, SSL_CERT_FILE), as httpx and the SDKs do.
        self._trust_env = bool(config.options.get("trust_env", True))
        # Option ``fast_backend`` (default true): httpcore over plain asyncio instead of anyio, and
        # buffered calls straight to the pool (see Direct); false keeps httpx's defaults throughout.
        self._fast = bool(config.options.get("fast_backend", True))
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self._direct: weakref.WeakKeyDictionary[httpx.AsyncClient, Direct | bool] = weakref.WeakKeyDictionary()

    def get(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(
                headers=self._headers, timeout=self.timeout, limits=self.limits, trust_env=self._trust_env
            )
            if self._fast:
                _use_asyncio_backend(client, self.limits)
            self._clients[loop] = client
        return client

    def direct(self) -> Direct | None:
        """The running loop's :class:`Direct` poster, or None when requests must go through the
        client (a proxy from the environment, or ``fast_backend = false``)."""
        if not self._fast:
            return None
        client = self.get()
        direct = self._direct.get(client)
        if direct is None:
            direct = self._direct[client] = Direct.for_client(client, self._headers, self.timeout) or False
        return direct if isinstance(direct, Direct) else None

    def timeout_for(self, deadline: float | None) -> tuple[httpx.Timeout | None, bool]:
        """The request's timeout: the pool's, with each phase capped by what remains of ``deadline``."""
        if deadline is None:
            return None, False
        remaining = max(0.001, deadline - time.monotonic())
        t = self.timeout
        read = t.read if t.read is not None else remaining
        if remaining >= read and t.connect is not None and remaining >= t.connect:
            return None, False
        return (
            httpx.Timeout(
                connect=min(t.connect or remaining, remaining),
                read=min(read, remaining),
                write=min(t.write or remaining, remaining),
                pool=min(t.pool or remaining, remaining),
            ),
            True,
        )

    async def post(
        self, provider: str, url: str, core_url: httpcore.URL, content: bytes, deadline: float | None, scrub: Scrubber
    ) -> httpx.Response | Reply:
        """POST a JSON body and return a 2xx reply; failures raise ``ProviderError`` (mapped, scrubbed).

        Takes the direct path when it serves this client, else the httpx client; the deadline caps
        the timeout.
        """
        timeout, capped = self.timeout_for(deadline)
        direct = self.direct()
        resp: httpx.Response | Reply
        try:
            if direct is not None:
                resp = await direct.post(core_url, content, outgoing_headers(), timeout)
            else:
                resp = await self.get().post(
                    url, content=content, headers=outgoing_headers(), timeout=timeout or httpx.USE_CLIENT_DEFAULT
                )
        except httpx.HTTPError as exc:
            raise transport_error(provider, exc, url, deadline_capped=capped) from None
        if resp.status_code >= 300:
            err = status_error(provider, resp.status_code, resp.headers, resp.content, scrub, url)
            log.debug("%s", err.message)
            raise err
        return resp

    async def stream_json(
        self,
        provider: str,
        url: str,
        content: bytes,
        deadline: float | None,
        scrub: Scrubber,
        *,
        end: str,
        skip: tuple[str, ...] = (),
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """POST a streaming request and yield ``(event, payload)`` for each JSON object event.

        ``end`` is the marker that ends the stream (OpenAI's ``[DONE]`` data, Anthropic's
        ``message_stop`` event or type); events named in ``skip`` are ignored. After the end the
        rest is read so the connection returns to the pool. Non-2xx statuses, non-JSON events,
        transport failures, a passed deadline and a stream cut off before ``end`` raise
        ``ProviderError`` (mapped, scrubbed). Error events are the caller's to recognise.
        """
        timeout, capped = self.timeout_for(deadline)
        client = self.get()
        done = False
        try:
            req = client.build_request(
                "POST", url, content=content, headers=outgoing_headers(), timeout=timeout or httpx.USE_CLIENT_DEFAULT
            )
            resp = await client.send(req, stream=True)
            try:
                if resp.status_code >= 300:
                    body = await resp.aread()
                    raise status_error(provider, resp.status_code, resp.headers, body, scrub, url)
                async for event, data in sse_events(resp.aiter_raw()):
                    if done or event in skip:
                        continue  # after the end: read on so the connection goes back to the pool
                    if data == end or event == end:
                        done = True
                        continue
                    try:
                        payload = json.loads(data)
                    except ValueError:
                        raise malformed(provider, url, f"the data of a {event!r} event is not JSON") from None
                    if not isinstance(payload, dict):
                        raise malformed(provider, url, f"the data of a {event!r} event is not a JSON object")
                    if payload.get("type") == end:
                        done = True
                        continue
                    if deadline is not None and time.monotonic() > deadline:
                        raise deadline_passed(provider)
                    yield event, payload
            finally:
                await resp.aclose()
        except httpx.HTTPError as exc:
            raise transport_error(provider, exc, url, deadline_capped=capped) from None
        if not done:
            raise ProviderError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"{provider}: the stream from {url} ended before {end} (cut off midway)",
                provider=provider,
            )

    async def aclose(self) -> None:
        """Close the client of the running loop; clients of other loops are dropped with them."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        clients, self._clients = dict(self._clients), weakref.WeakKeyDictionary()
        for owner, client in clients.items():
            if owner is loop:
                await client.aclose()

    def __repr__(self) -> str:
        return f"<ClientPool clients={len(self._clients)} max_connections={self.limits.max_connections}>"


class Reply:
    """A buffered response of :meth:`Direct.post`: what the providers read of an ``httpx.Response``."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content


_USER_AGENT = f"python-httpx/{httpx.__version__}".encode()


class Direct:
    """Buffered POSTs straight through the client's httpcore pool (the same connections, limits,
    TLS and backend), without the client's per-request work that a provider call never needs:
    URL merging, cookie jar, auth and redirect handling, event hooks, ``Request``/``Response`` models.
    Only used for a client whose direct transport serves every URL (no proxy mounts).
    """

    __slots__ = ("_headers", "_pool", "_timeout")

    def __init__(self, pool: httpcore.AsyncConnectionPool, headers: Mapping[str, str], timeout: httpx.Timeout) -> None:
        self._pool = pool
        self._headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self._headers += [(b"user-agent", _USER_AGENT), (b"accept-encoding", b"identity")]
        self._timeout = timeout.as_dict()

    @classmethod
    def for_client(cls, client: httpx.AsyncClient, headers: Mapping[str, str], timeout: httpx.Timeout) -> Direct | None:
        transport = getattr(client, "_transport", None)
        if getattr(client, "_mounts", None) or not isinstance(transport, httpx.AsyncHTTPTransport):
            return None
        pool = getattr(transport, "_pool", None)
        if type(pool) is not httpcore.AsyncConnectionPool:
            return None
        return cls(pool, headers, timeout)

    async def post(
        self, url: httpcore.URL, content: bytes, headers: Mapping[str, str] | None, timeout: httpx.Timeout | None
    ) -> Reply:
        """POST ``content`` to ``url``; raises httpx's exception types, as the client would."""
        host = url.host if url.port is None else url.host + b":" + str(url.port).encode()
        hdrs = [(b"host", host), *self._headers, (b"content-length", str(len(content)).encode())]
        if headers:
            hdrs += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        req = httpcore.Request(
            b"POST", url, headers=hdrs, content=content,
            extensions={"timeout": self._timeout if timeout is None else timeout.as_dict()},
        )
        try:
            resp = await self._pool.handle_async_request(req)
            try:
                body = await resp.aread()
            finally:
                await resp.aclose()
        except httpcore.TimeoutException as exc:
            raise _HTTPX_ERRORS.get(type(exc), httpx.TimeoutException)(str(exc)) from exc
        except httpcore.ProxyError as exc:
            raise httpx.ProxyError(str(exc)) from exc
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
            raise _HTTPX_ERRORS.get(type(exc), httpx.TransportError)(str(exc)) from exc
        return Reply(resp.status, {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in resp.headers}, body)

    def __repr__(self) -> str:
        return "<Direct>"  # the headers hold the API key


_HTTPX_ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
}


def _use_asyncio_backend(client: httpx.AsyncClient, limits: httpx.Limits) -> None:
    """Give the client's direct (non-proxy) transport a pool on :class:`AsyncioBackend`.

    Same pool settings and TLS context as httpx's own; proxies (mounts from the environment) keep
    httpx's default backend.
    """
    transport = getattr(client, "_transport", None)
    if not isinstance(transport, httpx.AsyncHTTPTransport):
        return
    old = getattr(transport, "_pool", None)
    if type(old) is not httpcore.AsyncConnectionPool:
        return
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=old._ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True,
        http2=False,
        network_backend=AsyncioBackend(),
    )


async def sse_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[str, str]]:
    """Parse server-sent events incrementally: yields ``(event, data)`` as each event completes.

    Handles ``\\n``, ``\\r\\n`` and ``\\r`` line ends, multi-line ``data``, comments and events split
    across network reads. A trailing event without its blank line is not yielded (it was cut off).
    """
    buf = b""
    event = ""
    data: list[str] = []
    after_cr = False  # the last piece ended in \r: a \n starting the next one belongs to it
    async for piece in chunks:
        if after_cr and piece[:1] == b"\n":
            piece = piece[1:]
        if b"\r" in piece:
            after_cr = piece.endswith(b"\r")
            piece = piece.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        else:
            after_cr = False
        buf = buf + piece if buf else piece
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            line = buf[start:end]
            start = end + 1
            if not line:
                if data:
                    yield event or "message", "\n".join(data)
                event, data = "", []
                continue
            if line[:1] == b":":
                continue
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                data.append(value.decode("utf-8"))
            elif name == b"event":
                event = value.decode("utf-8")
        buf = buf[start:]


# -- a lean asyncio network backend for httpcore ----------------------------------------------------
#
# httpcore's default backend on asyncio goes through anyio: a cancel scope, a sniffio lookup and
# several task lookups around every socket read and write, which on a loopback upstream costs more
# than the HTTP exchange itself. This backend is a plain asyncio Protocol (a timer handle per wait),
# plugged in through httpcore's documented ``network_backend`` hook; h11, httpcore's pool and
# httpx's client above it are unchanged.


class _StreamProtocol(asyncio.Protocol):
    __slots__ = ("_buf", "_closed", "_exc", "_paused", "_read_waiter", "_write_waiter", "transport")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._closed = False
        self._exc: BaseException | None = None
        self._read_waiter: asyncio.Future[None] | None = None
        self._write_waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        self._wake()

    def eof_received(self) -> bool | None:
        self._closed = True
        self._wake()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._exc = exc
        self._wake()
        w = self._write_waiter
        if w is not None and not w.done():
            w.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        w = self._write_waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _wake(self) -> None:
        w = self._read_waiter
        if w is not None and not w.done():
            w.set_result(None)


class _Expired(Exception):
    pass


def _expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(_Expired())


async def _wait(fut: asyncio.Future[None], timeout: float | None, error: type[Exception]) -> None:
    """Await ``fut`` with a plain timer (cheaper than ``asyncio.wait_for`` or a cancel scope)."""
    if timeout is None:
        await fut
        return
    handle = asyncio.get_running_loop().call_later(timeout, _expire, fut)
    try:
        await fut
    except _Expired:
        raise error(f"timed out after {timeout:g}s") from None
    finally:
        handle.cancel()


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or TLS) connection for httpcore, read and written straight through asyncio."""

    def __init__(self, transport: asyncio.Transport, protocol: _StreamProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        p = self._protocol
        while not p._buf:
            if p._closed:
                if p._exc is not None:
                    raise httpcore.ReadError(str(p._exc) or type(p._exc).__name__)
                return b""
            fut = p._read_waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait(fut, timeout, httpcore.ReadTimeout)
            finally:
                p._read_waiter = None
        if len(p._buf) <= max_bytes:
            data = bytes(p._buf)
            p._buf.clear()
        else:
            data = bytes(p._buf[:max_bytes])
            del p._buf[:max_bytes]
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        p = self._protocol
        if not buffer:
            return
        if p._closed or self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        while p._paused and not p._closed:
            fut = p._write_waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait(fut, timeout, httpcore.WriteTimeout)
            finally:
                p._write_waiter = None

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                tls = await loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"TLS handshake timed out after {timeout:g}s") from None
        except (OSError, ssl.SSLError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from None
        tls = cast(asyncio.Transport, tls)
        self._protocol.transport = tls
        return AsyncioStream(tls, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        if info == "is_readable":
            # httpcore asks before reusing a pooled connection: readable means closed or stray data.
            return self._protocol._closed or bool(self._protocol._buf) or self._transport.is_closing()
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend over plain asyncio (TCP_NODELAY, as asyncio sets by default)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _StreamProtocol, host, port, local_addr=(local_address, 0) if local_address else None
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"connecting timed out after {timeout:g}s") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from None
        sock = transport.get_extra_info("socket")
        if sock is not None:
            for option in socket_options or ():
                sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_unix_connection(_StreamProtocol, path)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"connecting timed out after {timeout:g}s") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from None
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
