"""HTTP plumbing for provider plugins: pooled clients, SSE parsing, error mapping, key scrubbing.

Every request carries ``beluga_core.outgoing_headers()`` (the trace context, when a plugin such as
beluga-tracing propagates it).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import ssl
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

try:  # the lean pool (beluga_http.pool) needs httptools' C parser; without it, httpx serves all calls
    from beluga_http.pool import H1Pool, H1Reply, H1Stream, header_lines, request_head
except ImportError:  # pragma: no cover - httptools is in the [http] extra; absent on some platforms
    H1Pool = H1Reply = H1Stream = None  # type: ignore[assignment,misc]

from beluga_core import Duration, ErrorCode, ProviderConfig, ProviderError, get_logger, mask_text, outgoing_headers
from beluga_wire.shape import WireError, load

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



def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON for request bodies."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def v1_endpoint(base_url: str, path: str) -> str:
    """``{base_url}/v1/{path}``; a base URL that already ends in ``/v1`` (as Ollama documents) is kept."""
    base = base_url.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return f"{base}/{path}"


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
    except (ValueError, RecursionError):
        text = body.decode("utf-8", "replace").strip()
        return None, text or None
    if isinstance(data, Mapping):
        err = data.get("error", data)
        if isinstance(err, Mapping):
            etype = err.get("type") or err.get("code")
            msg = err.get("message")
            etype = etype if isinstance(etype, str) and etype else None
            return etype, (msg if isinstance(msg, str) and msg else None)
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
    etype = etype if isinstance(etype, str) else None  # an odd shape is still an error event
    msg = msg if isinstance(msg, str) else None
    code = code_for_error_type(str(etype) if etype else None)
    text = f"{provider}: error event in the stream" + _quote(str(msg) if msg else None, scrub)
    if etype:
        text += f" ({scrub(str(etype))})"
    return ProviderError(code, text, provider=provider)


def transport_error(provider: str, exc: httpx.HTTPError, url: str, *, deadline_capped: bool = False) -> ProviderError:
    """Map httpx's connection and timeout errors; the key is never in them (it travels in headers).

    A pool timeout is this process's own limit (every connection busy), not the provider's
    failure: it comes back ``local`` (see ``pool_exhausted``)."""
    if isinstance(exc, httpx.PoolTimeout):
        return pool_exhausted(provider, url, deadline_capped=deadline_capped)
    if isinstance(exc, httpx.TimeoutException):
        what = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for data",
            httpx.WriteTimeout: "sending the request",
        }.get(type(exc), "waiting")
        why = " (capped by the request deadline)" if deadline_capped else ""
        return ProviderError(ErrorCode.TIMEOUT, f"{provider}: timed out {what} on {url}{why}", provider=provider)
    if isinstance(exc, httpx.RemoteProtocolError):
        return ProviderError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"{provider}: {url} closed the connection or broke off without a full response "
            f"({type(exc).__name__}); the request is not sent again, since the server may have read it",
            provider=provider,
        )
    return ProviderError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"{provider}: cannot reach {url} ({type(exc).__name__}: {exc})",
        provider=provider,
    )


def pool_exhausted(provider: str, url: str, *, deadline_capped: bool = False) -> ProviderError:
    """Every pooled connection to ``url``'s origin stayed busy: a local limit, not the upstream's fault."""
    why = " (the wait was capped by the request deadline)" if deadline_capped else ""
    return ProviderError(
        ErrorCode.TIMEOUT,
        f"{provider}: no pooled connection to {url} came free in time{why}; raise providers.{provider}.max_connections "
        f"or options.pool_timeout (a local limit, not an upstream failure)",
        provider=provider,
        local=True,
    )


def malformed(provider: str, url: str, what: str) -> ProviderError:
    """The upstream's reply could not be read: its fault, so ``provider_unavailable`` (a 502 at the gateway)."""
    return ProviderError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"{provider}: the upstream's reply from {url} is malformed: {what}",
        provider=provider,
    )


#: A field of an upstream reply is missing or of the wrong type: ``where`` names the field
#: (``choices[0].message.content``), ``what`` says what is wrong; neither quotes the value. The
#: wire modules' ``WireError``, so a reply read by ``beluga_wire`` needs no translation.
BadShape = WireError


#: What reading an odd reply may raise besides ``BadShape``: the parsers catch these too, so an
#: upstream reply can only ever raise ``ProviderError``.
SHAPE_ERRORS = (BadShape, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)


def shape_error(provider: str, url: str, exc: BaseException) -> ProviderError:
    """The ``ProviderError`` for a reply of the wrong shape (``exc`` from ``SHAPE_ERRORS``)."""
    what = str(exc) if isinstance(exc, BadShape) else "it does not have the documented shape"
    return malformed(provider, url, what)


#: Readers of an upstream reply's fields (``beluga_wire.shape``): each raises ``BadShape`` naming the field.
load_json = load


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
            # Waiting for a free pooled connection: as long as for the upstream's next byte, unless
            # options.pool_timeout says otherwise (the request's deadline caps it either way).
            pool=float(Duration.parse(config.options.get("pool_timeout") or config.read_timeout)),
        )
        self.limits = httpx.Limits(
            max_connections=config.max_connections, max_keepalive_connections=config.max_connections
        )
        self._headers = dict(headers)
        # Proxy and CA settings from the environment (HTTPS_PROXY, SSL_CERT_FILE), as httpx and the SDKs do.
        self._trust_env = bool(config.options.get("trust_env", True))
        # Option ``fast_backend`` (default true): calls go through beluga_http.pool's lean HTTP/1.1
        # pool; false (or a proxy from the environment) sends them through httpx's client.
        self._fast = bool(config.options.get("fast_backend", True))
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        # Per event loop: url -> (its origin's H1Pool, the request head up to the dynamic headers),
        # or None when that url must go through httpx (a proxy applies, or not http(s)); and the
        # pools by origin (scheme, host, port), which urls of one origin share.
        self._fast_urls: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, tuple[H1Pool, bytes] | None]
        ] = weakref.WeakKeyDictionary()
        self._pools: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[str, str, int], H1Pool]
        ] = weakref.WeakKeyDictionary()
        self._tls: ssl.SSLContext | None = None

    def get(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(
                headers=self._headers, timeout=self.timeout, limits=self.limits, trust_env=self._trust_env
            )
            self._clients[loop] = client
        return client

    def fast_path(self, url: str) -> tuple[H1Pool, bytes] | None:
        """The running loop's lean pool for ``url``'s origin and the request head (buffered calls
        and streams alike), or None when the request must go through httpx's client
        (``fast_backend = false``, no httptools, a proxy from the environment, or a scheme other
        than http/https)."""
        loop = asyncio.get_running_loop()
        urls = self._fast_urls.get(loop)
        if urls is None:
            urls = self._fast_urls[loop] = {}
        if url in urls:
            return urls[url]
        found = urls[url] = self._new_fast_path(url, loop) if self._fast and H1Pool is not None else None
        return found

    def _new_fast_path(self, url: str, loop: asyncio.AbstractEventLoop) -> tuple[H1Pool, bytes] | None:
        import urllib.request  # once per url: proxies from the environment, as httpx reads them

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        host = parts.hostname
        if self._trust_env:
            proxies = urllib.request.getproxies()
            if proxies.get(parts.scheme) or proxies.get("all"):
                if not urllib.request.proxy_bypass(host):
                    return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
        tls = None
        if parts.scheme == "https":
            if self._tls is None:
                self._tls = httpx.create_ssl_context(trust_env=self._trust_env)
            tls = self._tls
        pools = self._pools.get(loop)
        if pools is None:
            pools = self._pools[loop] = {}
        pool = pools.get((parts.scheme, host, port))
        if pool is None:
            pool = pools[(parts.scheme, host, port)] = H1Pool(
                host, port, tls,
                max_connections=self.limits.max_connections or 100,
                keepalive_expiry=self.limits.keepalive_expiry or 5.0,
            )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        netloc = host if ":" not in host else f"[{host}]"
        if parts.port is not None:
            netloc += f":{parts.port}"
        fixed = [(k.lower(), v) for k, v in self._headers.items() if k.lower() not in ("host", "content-length")]
        names = {k for k, _ in fixed}
        fixed += [(k, v) for k, v in (("user-agent", _USER_AGENT), ("accept-encoding", "identity")) if k not in names]
        return pool, request_head("POST", target, netloc, fixed)

    @staticmethod
    def _request_bytes(head: bytes, content: bytes) -> bytes:
        return b"".join((head, b"content-length: %d\r\n" % len(content), header_lines(outgoing_headers()),
                         b"\r\n", content))

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
        self, provider: str, url: str, content: bytes, deadline: float | None, scrub: Scrubber
    ) -> httpx.Response | H1Reply:
        """POST a JSON body and return a 2xx reply; failures raise ``ProviderError`` (mapped, scrubbed).

        Takes the lean pool when it serves this url (see :meth:`fast_path`), else the httpx client;
        the deadline caps the timeout.
        """
        timeout, capped = self.timeout_for(deadline)
        fast = self.fast_path(url)
        resp: httpx.Response | H1Reply
        try:
            if fast is not None:
                t = timeout or self.timeout
                resp = await fast[0].request(self._request_bytes(fast[1], content), (t.connect, t.read, t.pool))
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
    ) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        """POST a streaming request and yield ``(event, payload)`` for each JSON object event.

        ``end`` is the marker that ends the stream (OpenAI's ``[DONE]`` data, Anthropic's
        ``message_stop`` event or type); events named in ``skip`` are ignored. The connection goes
        back to the pool as soon as the body's last byte is in (before the caller has read it all);
        a caller that stops early (``aclose``) closes it. Non-2xx statuses, events that are not
        JSON objects or not UTF-8, transport failures, a passed deadline and a stream cut off
        before ``end`` raise ``ProviderError`` (mapped, scrubbed). Error events are the caller's
        to recognise.
        """
        timeout, capped = self.timeout_for(deadline)
        fast = self.fast_path(url)
        done = False
        resp: httpx.Response | H1Stream
        try:
            if fast is not None:
                t = timeout or self.timeout
                resp = await fast[0].stream(self._request_bytes(fast[1], content), (t.connect, t.read, t.pool))
            else:
                client = self.get()
                req = client.build_request(
                    "POST", url, content=content, headers=outgoing_headers(),
                    timeout=timeout or httpx.USE_CLIENT_DEFAULT,
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
                    except (ValueError, RecursionError):
                        raise malformed(provider, url, f"the data of a {_name(event)} event is not JSON") from None
                    if not isinstance(payload, dict):
                        raise malformed(provider, url, f"the data of a {_name(event)} event is not a JSON object")
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
        except UnicodeDecodeError:
            raise malformed(provider, url, "the event stream is not UTF-8") from None
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
        pools, self._pools = dict(self._pools), weakref.WeakKeyDictionary()
        self._fast_urls = weakref.WeakKeyDictionary()
        for owner, by_origin in pools.items():
            if owner is loop:
                for pool in by_origin.values():
                    pool.close()
        for owner, client in clients.items():
            if owner is loop:
                await client.aclose()

    def __repr__(self) -> str:
        return f"<ClientPool clients={len(self._clients)} max_connections={self.limits.max_connections}>"


def _name(event: str) -> str:
    """An event's name for a message: the upstream's own word when it looks like one."""
    return repr(event) if event.isidentifier() and len(event) <= 40 else "server-sent"


_USER_AGENT = f"python-httpx/{httpx.__version__}"


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
