"""HTTP plumbing for provider plugins: pooled clients, SSE parsing, error mapping, key scrubbing.

Needs httpx (``pip install beluga-core[http]``); only provider plugins import this module, so the
core itself stays free of it.
"""

from __future__ import annotations

import asyncio
import email.utils
import importlib
import json
import os
import ssl
import time
import urllib.request
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
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


def transport_error(provider: str, exc: BaseException, url: str, *, deadline_capped: bool = False) -> ProviderError:
    """Map the HTTP client's connection and timeout errors; the key is never in them (it travels in headers)."""
    why = " (capped by the request deadline)" if deadline_capped else ""
    if isinstance(exc, httpx.TimeoutException):
        what = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for data",
            httpx.WriteTimeout: "sending the request",
            httpx.PoolTimeout: "waiting for a pooled connection",
        }.get(type(exc), "waiting")
        return ProviderError(ErrorCode.TIMEOUT, f"{provider}: timed out {what} on {url}{why}", provider=provider)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ProviderError(ErrorCode.TIMEOUT, f"{provider}: timed out connecting to {url}{why}", provider=provider)
    if isinstance(exc, TimeoutError):  # aiohttp.SocketTimeoutError: sock_read passed without a byte
        return ProviderError(ErrorCode.TIMEOUT, f"{provider}: timed out waiting for data on {url}{why}",
                             provider=provider)
    if isinstance(exc, aiohttp.ServerDisconnectedError | httpx.RemoteProtocolError):
        return ProviderError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"{provider}: {url} closed the connection without a full response; not sent again, "
            "since the server may have read it",
            provider=provider,
        )
    if isinstance(exc, aiohttp.ClientPayloadError):
        return ProviderError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"{provider}: connection to {url} broke off mid-response ({type(exc).__name__})",
            provider=provider,
        )
    if isinstance(exc, aiohttp.ClientResponseError):  # not HTTP, or HTTP the parser refused
        return ProviderError(
            ErrorCode.PROVIDER_UNAVAILABLE, f"{provider}: {url} sent an invalid HTTP response", provider=provider
        )
    return ProviderError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"{provider}: cannot reach {url} ({type(exc).__name__}: {exc})",
        provider=provider,
    )


def pool_exhausted(provider: str, size: int, waited: float) -> ProviderError:
    """All of this process's connections to the provider stayed busy: a local limit, not the upstream's fault."""
    return ProviderError(
        ErrorCode.TIMEOUT,
        f"{provider}: all {size} pooled connections stayed busy for {waited:g}s; raise "
        f"providers.{provider}.max_connections or options.pool_timeout (a local limit, not an upstream failure)",
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


class BadShape(Exception):
    """A field of an upstream reply is missing or of the wrong type. ``where`` names the field
    (``choices[0].message.content``), ``what`` says what is wrong; neither quotes the value."""

    def __init__(self, where: str, what: str) -> None:
        self.where = where
        self.what = what
        super().__init__(f"{where} {what}")


#: What reading an odd reply may raise besides ``BadShape``: the parsers catch these too, so an
#: upstream reply can only ever raise ``ProviderError``.
SHAPE_ERRORS = (BadShape, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)


def shape_error(provider: str, url: str, exc: BaseException) -> ProviderError:
    """The ``ProviderError`` for a reply of the wrong shape (``exc`` from ``SHAPE_ERRORS``)."""
    what = str(exc) if isinstance(exc, BadShape) else "it does not have the documented shape"
    return malformed(provider, url, what)


def load_json(body: bytes, where: str = "the body") -> Any:
    """JSON from the upstream; not UTF-8, not JSON or nested too deep raises ``BadShape``."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadShape(where, "is not JSON") from None


def obj(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` as a JSON object, or ``BadShape``."""
    if not isinstance(value, Mapping):
        raise BadShape(where, "is not a JSON object")
    return value


def opt_obj(parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """``parent[key]`` as an object; absent or null is an empty one."""
    value = parent.get(key)
    return {} if value is None else obj(value, where)


def opt_list(parent: Mapping[str, Any], key: str, where: str) -> list[Any]:
    """``parent[key]`` as a list; absent or null is an empty one."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadShape(where, "is not a list")
    return value


def opt_str(parent: Mapping[str, Any], key: str, where: str) -> str | None:
    """``parent[key]`` as a string, or None when absent or null."""
    value = parent.get(key)
    if value is None or isinstance(value, str):
        return value
    raise BadShape(where, "is not a string")


def count(parent: Mapping[str, Any], key: str, where: str) -> int:
    """A token count: a non-negative whole number (absent or null is 0)."""
    value = parent.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadShape(where, "is not a number")
    if isinstance(value, float) and not (value.is_integer() and value < 2**53):
        raise BadShape(where, "is not a whole number")
    if value < 0:
        raise BadShape(where, "is negative")
    return int(value)


def index(parent: Mapping[str, Any], key: str, where: str) -> int:
    """A list index (absent or null is 0)."""
    value = parent.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise BadShape(where, "is not an index")
    return value


class _Reply:
    """What the providers read of a response: status, headers (lower-case names), the body."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content


class _Timeouts:
    __slots__ = ("connect", "pool", "read")

    def __init__(self, connect: float, read: float, pool: float) -> None:
        self.connect, self.read, self.pool = connect, read, pool


BACKENDS = ("aiohttp", "httpx", "httpx-aiohttp", "h1")


class ClientPool:
    """Pooled HTTP clients for one provider: one per event loop, created on first use, with explicit limits.

    A client's connections belong to the loop that opened them, so each loop gets its own client
    (the sync twins run on one long-lived loop per thread, so they reuse theirs).
    """

    def __init__(self, config: ProviderConfig, headers: Mapping[str, str]) -> None:
        self.timeouts = _Timeouts(float(config.connect_timeout), float(config.read_timeout),
                                  float(config.options.get("pool_timeout", config.connect_timeout)))
        self.max_connections = int(config.max_connections)
        self._headers = dict(headers)
        # Proxy and CA settings from the environment (HTTPS_PROXY, SSL_CERT_FILE), as httpx and the SDKs do.
        self._trust_env = bool(config.options.get("trust_env", True))
        self.backend = str(config.options.get("backend", "aiohttp"))
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}")
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._proxies: dict[str, str | None] = {}
        self._ssl: ssl.SSLContext | None = None
        self._h1: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, tuple[Any, bytes]]] = (
            weakref.WeakKeyDictionary()
        )

    # -- clients ---------------------------------------------------------------------------------
    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or (client.closed if self.backend == "aiohttp" else client.is_closed):
            client = self._clients[loop] = self._new_client()
        return client

    def _new_client(self) -> Any:
        t = self.timeouts
        if self.backend == "aiohttp":
            import aiohttp

            connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0, keepalive_timeout=5.0,
                                             ssl=self._tls())
            # trust_env is applied per url by _proxy_for (once), not by aiohttp (a thread hop per request).
            return aiohttp.ClientSession(
                connector=connector, headers=self._headers, trust_env=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=t.connect, sock_read=t.read),
                skip_auto_headers=("accept-encoding",), auto_decompress=True, raise_for_status=False,
            )
        limits = httpx.Limits(max_connections=self.max_connections, max_keepalive_connections=self.max_connections)
        timeout = httpx.Timeout(connect=t.connect, read=t.read, write=t.read, pool=t.pool)
        if self.backend == "httpx-aiohttp":
            from httpx_aiohttp import HttpxAiohttpClient

            return HttpxAiohttpClient(headers=self._headers, timeout=timeout, limits=limits, trust_env=self._trust_env)
        return httpx.AsyncClient(headers=self._headers, timeout=timeout, limits=limits, trust_env=self._trust_env)

    def _tls(self) -> ssl.SSLContext:
        """Certificates as httpx and the SDKs find them: ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when
        ``trust_env``, else the system's store."""
        if self._ssl is None:
            env = os.environ if self._trust_env else {}
            self._ssl = ssl.create_default_context(cafile=env.get("SSL_CERT_FILE"), capath=env.get("SSL_CERT_DIR"))
        return self._ssl

    def _proxy_for(self, url: str) -> str | None:
        """The proxy from the environment (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) for ``url``,
        looked up once per url; None without ``trust_env``."""
        try:
            return self._proxies[url]
        except KeyError:
            pass
        proxy = None
        if self._trust_env:
            parts = urlsplit(url)
            proxies = urllib.request.getproxies()
            found = proxies.get(parts.scheme) or proxies.get("all")
            if found and not urllib.request.proxy_bypass(parts.hostname or ""):
                proxy = found
        if len(self._proxies) < 64:  # a provider posts to one or two urls
            self._proxies[url] = proxy
        return proxy

    def _slots_of_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self.max_connections)
        return slots

    def _h1_path(self, url: str) -> tuple[Any, bytes]:
        from beluga_core.h1 import H1Pool, request_head

        loop = asyncio.get_running_loop()
        urls = self._h1.setdefault(loop, {})
        found = urls.get(url)
        if found is None:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port or 80
            pool = H1Pool(host, port, None, max_connections=self.max_connections)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            fixed = [(k.lower(), v) for k, v in self._headers.items()]
            fixed.append(("accept-encoding", "identity"))
            found = urls[url] = (pool, request_head("POST", target, f"{host}:{port}", fixed))
        return found

    def timeout_for(self, deadline: float | None) -> tuple[_Timeouts, bool]:
        """The request's timeouts: the pool's, with each phase capped by what remains of ``deadline``."""
        t = self.timeouts
        if deadline is None:
            return t, False
        remaining = max(0.001, deadline - time.monotonic())
        if remaining >= t.read and remaining >= t.connect and remaining >= t.pool:
            return t, False
        return _Timeouts(min(t.connect, remaining), min(t.read, remaining), min(t.pool, remaining)), True

    # -- one exchange ----------------------------------------------------------------------------
    async def _open(self, provider: str, url: str, content: bytes, t: _Timeouts) -> Any:
        """Send the request; return a response with ``status_code``, ``headers``, ``aiter_raw``,
        ``aread`` and ``aclose`` once its head is in."""
        if self.backend == "aiohttp":
            import aiohttp

            session = self._client()
            slots = self._slots_of_loop()
            if slots.locked():
                try:
                    async with asyncio.timeout(t.pool):
                        await slots.acquire()
                except TimeoutError:
                    raise pool_exhausted(provider, self.max_connections, t.pool) from None
            else:
                await slots.acquire()
            try:
                resp = await session.post(
                    url, data=content, headers=outgoing_headers(), allow_redirects=False, proxy=self._proxy_for(url),
                    timeout=aiohttp.ClientTimeout(total=None, connect=t.pool + t.connect, sock_connect=t.connect,
                                                  sock_read=t.read),
                )
            except BaseException:
                slots.release()
                raise
            return _AiohttpResponse(resp, slots.release)
        if self.backend == "h1":
            from beluga_core.h1 import header_lines

            pool, head = self._h1_path(url)
            data = b"".join((head, b"content-length: %d\r\n" % len(content), header_lines(outgoing_headers()),
                             b"\r\n", content))
            return await pool.stream(data, (t.connect, t.read, t.pool))
        client = self._client()
        req = client.build_request(
            "POST", url, content=content, headers=outgoing_headers(),
            timeout=httpx.Timeout(connect=t.connect, read=t.read, write=t.read, pool=t.pool),
        )
        return await client.send(req, stream=True)

    async def post(
        self, provider: str, url: str, content: bytes, deadline: float | None, scrub: Scrubber
    ) -> _Reply:
        """POST a JSON body and return a 2xx reply; failures raise ``ProviderError`` (mapped, scrubbed)."""
        t, capped = self.timeout_for(deadline)
        try:
            resp = await self._open(provider, url, content, t)
            try:
                body = await resp.aread()
            finally:
                await resp.aclose()
        except _TRANSPORT_ERRORS as exc:
            raise transport_error(provider, exc, url, deadline_capped=capped) from None
        if resp.status_code >= 300:
            err = status_error(provider, resp.status_code, resp.headers, body, scrub, url)
            log.debug("%s", err.message)
            raise err
        return _Reply(resp.status_code, resp.headers, body)

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
        ``message_stop`` event or type); events named in ``skip`` are ignored. After the end the
        rest is read at once, so the connection goes back to the pool before the caller sees the
        last chunk; a caller that stops early closes the connection. Non-2xx statuses, events that
        are not JSON objects or not UTF-8, transport failures, a passed deadline and a stream cut
        off before ``end`` raise ``ProviderError`` (mapped, scrubbed). Error events are the
        caller's to recognise.
        """
        t, capped = self.timeout_for(deadline)
        done = False
        try:
            resp = await self._open(provider, url, content, t)
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
        except _TRANSPORT_ERRORS as exc:
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
        h1, self._h1 = dict(self._h1), weakref.WeakKeyDictionary()
        self._slots = weakref.WeakKeyDictionary()
        for owner, urls in h1.items():
            if owner is loop:
                for pool, _ in urls.values():
                    pool.close()
        for owner, client in clients.items():
            if owner is loop:
                if self.backend == "aiohttp":
                    await client.close()
                else:
                    await client.aclose()

    def __repr__(self) -> str:
        return f"<ClientPool clients={len(self._clients)} max_connections={self.max_connections}>"


def _name(event: str) -> str:
    return repr(event) if event.isidentifier() and len(event) <= 40 else "server-sent"


class _AiohttpResponse:
    """An aiohttp response as the pool reads it; closing it gives its connection slot back."""

    __slots__ = ("_free", "_resp", "headers", "status_code")

    def __init__(self, resp: Any, free: Callable[[], object]) -> None:
        self._resp = resp
        self._free: Callable[[], object] | None = free
        self.status_code: int = resp.status
        self.headers: Mapping[str, str] = resp.headers

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        async for chunk in self._resp.content.iter_any():
            yield chunk

    async def aread(self) -> bytes:
        body: bytes = await self._resp.read()
        return body

    async def aclose(self) -> None:
        self._resp.release()  # a body not read to its end closes the connection instead of pooling it
        free, self._free = self._free, None
        if free is not None:
            free()


#: What the HTTP clients raise for transport failures (mapped by ``transport_error``).
_TRANSPORT_ERRORS = (httpx.HTTPError, aiohttp.ClientError, TimeoutError)


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
