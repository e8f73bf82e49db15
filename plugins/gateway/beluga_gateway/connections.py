"""Limits on client connections that an ASGI app cannot set: a deadline on each request head and a
cap on open connections.

A client that sends its request line and headers byte by byte never reaches the app (uvicorn calls
it once the headers are complete), and uvicorn has no header timeout of its own: its keep-alive
timer runs only between requests and is cancelled by the first byte of the next. So the limits sit
in the HTTP protocol, a subclass of uvicorn's own (httptools, else h11), passed as uvicorn's
documented ``http`` option. The body deadline is the app's (``Gateway`` reads the body itself).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from beluga_gateway.plugin import GatewaySettings
from beluga_wire.openai_chat import APIError, dumps

#: Request line and headers larger than this (bytes) are refused with 431 (uvicorn's httptools
#: parser sets no limit of its own).
MAX_HEAD_BYTES = 64 * 1024

_DEFAULTS = GatewaySettings()


def _response(status: int, reason: str, err: APIError) -> bytes:
    body = dumps(err.body())
    head = f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in err.headers.items())
    return head.encode("latin-1") + b"connection: close\r\n\r\n" + body


_TOO_MANY = _response(503, "Service Unavailable", APIError(
    503, "The gateway has as many open connections as it accepts; retry shortly.", type="service_unavailable",
    code="too_many_connections", headers={"retry-after": "1"},
))
_HEAD_TIMEOUT = _response(408, "Request Timeout", APIError(
    408, "The request line and headers did not arrive in time.", code="request_timeout"))
_HEAD_TOO_LARGE = _response(431, "Request Header Fields Too Large", APIError(
    431, f"The request line and headers are larger than {MAX_HEAD_BYTES} bytes.", code="request_headers_too_large"))


class LimitedHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP/1.1 protocol with the gateway's ``header_timeout`` and ``max_connections``.

    ``gateway`` (set on a subclass per server, see ``protocol_for``) supplies the settings in force,
    so a config reload applies to the next connection; without one the defaults apply.
    """

    gateway: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.beluga_head_timer: asyncio.TimerHandle | None = None
        self.beluga_head_bytes = 0

    def beluga_settings(self) -> GatewaySettings:
        gateway = self.gateway
        settings: GatewaySettings = gateway.state.settings if gateway is not None else _DEFAULTS
        return settings

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        settings = self.beluga_settings()
        if len(self.connections) > settings.max_connections:
            self.beluga_refuse(_TOO_MANY)
            return
        self.beluga_arm(float(settings.header_timeout))

    def data_received(self, data: bytes) -> None:
        timed = self.beluga_head_timer is not None
        if timed:
            self.beluga_head_bytes += len(data)
        cycle = self.cycle
        super().data_received(data)
        if self.cycle is not cycle:  # uvicorn made a new request cycle: the head is complete
            self.beluga_disarm()
        elif timed and self.beluga_head_timer is not None and self.beluga_head_bytes > MAX_HEAD_BYTES:
            self.beluga_refuse(_HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        """The parser saw the first byte of a request: on a kept-alive connection, the next request's
        head is timed from here. (Bytes of an earlier request's body that arrive after its answer,
        say the rest of a body refused with 413, are still that request's: they start nothing.)
        Only uvicorn's httptools protocol has this callback; on h11 the first head alone is timed."""
        super().on_message_begin()
        if self.beluga_head_timer is None and self.cycle is not None:
            self.beluga_arm(float(self.beluga_settings().header_timeout))

    def connection_lost(self, exc: Exception | None) -> None:
        self.beluga_disarm()
        super().connection_lost(exc)

    def beluga_arm(self, seconds: float) -> None:
        self.beluga_disarm()
        self.beluga_head_bytes = 0
        self.beluga_head_timer = self.loop.call_later(seconds, self.beluga_head_expired)

    def beluga_disarm(self) -> None:
        if self.beluga_head_timer is not None:
            self.beluga_head_timer.cancel()
            self.beluga_head_timer = None

    def beluga_head_expired(self) -> None:
        self.beluga_head_timer = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            self.transport.close()  # a response is on its way: do not write into it
        else:
            self.beluga_refuse(_HEAD_TIMEOUT)

    def beluga_refuse(self, response: bytes) -> None:
        self.beluga_disarm()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()


def protocol_for(gateway: Any) -> type[LimitedHTTPProtocol]:
    """The protocol class of a server in front of ``gateway`` (its settings, followed on reload)."""
    return type("LimitedHTTPProtocol", (LimitedHTTPProtocol,), {"gateway": gateway, "__module__": __name__})


__all__ = ["MAX_HEAD_BYTES", "LimitedHTTPProtocol", "protocol_for"]
