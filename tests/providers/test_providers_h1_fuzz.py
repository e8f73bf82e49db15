"""beluga_http.pool fuzzed: any response framing, split into any TCP writes, cut off anywhere.

A real loopback server answers with a generated response: its body framed by content-length,
chunked encoding (chunks of generated sizes) or the end of the connection; gzip or not; with a
``100 Continue`` first or not; written in generated pieces; and possibly cut off after a generated
number of bytes. A complete response must come back byte for byte (buffered and streamed alike); a
cut one must raise one of httpx's errors (or, when only the end of the connection delimits the body,
give a prefix of it); nothing else may happen, and nothing may hang.
"""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beluga_http.pool import H1Pool, request_head

BODY = b'{"q": 1}'
REQUEST = request_head("POST", "/v1/x", "127.0.0.1", [("content-type", "application/json")]) + (
    b"content-length: %d\r\n\r\n" % len(BODY) + BODY)


@st.composite
def responses(draw: Any) -> dict[str, Any]:
    body = draw(st.binary(max_size=3000) | st.sampled_from([b"", b"data: {}\n\n" * 50]))
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    zipped = draw(st.booleans())
    payload = gzip.compress(body) if zipped else body
    head = b"HTTP/1.1 100 Continue\r\n\r\n" if draw(st.booleans()) else b""
    head += b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
    if zipped:
        head += b"content-encoding: gzip\r\n"
    if framing == "length":
        wire = head + b"content-length: %d\r\n\r\n" % len(payload) + payload
    elif framing == "chunked":
        sizes = draw(st.lists(st.integers(1, 700), max_size=8))
        chunks, rest = [], payload
        for size in sizes:
            if rest:
                chunks.append(rest[:size])
                rest = rest[size:]
        if rest:
            chunks.append(rest)
        wire = head + b"transfer-encoding: chunked\r\n\r\n" + b"".join(
            b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    else:
        wire = head + b"connection: close\r\n\r\n" + payload
    cut = draw(st.none() | st.integers(0, max(0, len(wire) - 1)))
    writes = draw(st.lists(st.integers(1, 512), max_size=12))
    return {"body": body, "framing": framing, "wire": wire, "cut": cut, "writes": writes, "zipped": zipped}


async def _exchange(case: dict[str, Any], streaming: bool) -> bytes | Exception:
    wire: bytes = case["wire"] if case["cut"] is None else case["wire"][: case["cut"]]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0]))
            rest = wire
            for size in case["writes"]:
                if not rest:
                    break
                writer.write(rest[:size])
                rest = rest[size:]
                await writer.drain()
                await asyncio.sleep(0)
            writer.write(rest)
            await writer.drain()
            if case["cut"] is None and case["framing"] != "close":
                await asyncio.sleep(5)  # a kept-alive connection: the client ends it
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    pool = H1Pool("127.0.0.1", server.sockets[0].getsockname()[1], None, max_connections=2)
    try:
        async with asyncio.timeout(10):
            if streaming:
                stream = await pool.stream(REQUEST, (2.0, 2.0, 2.0))
                try:
                    return await stream.aread()
                finally:
                    await stream.aclose()
            return (await pool.request(REQUEST, (2.0, 2.0, 2.0))).content
    except httpx.HTTPError as exc:
        return exc
    finally:
        pool.close()
        server.close()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=responses(), streaming=st.booleans())
def test_any_framing_comes_back_whole_or_fails_with_an_http_error(case: dict[str, Any], streaming: bool) -> None:
    got = asyncio.run(_exchange(case, streaming))
    body = case["body"]
    if case["cut"] is None:
        assert got == body, f"complete {case['framing']} response read as {got!r}"
    elif isinstance(got, bytes):
        # Only a body delimited by the end of the connection can look complete when cut short
        # (gzip's own trailer catches most of those).
        assert case["framing"] == "close", f"a cut {case['framing']} response was accepted"
        assert body.startswith(got)
    else:
        assert isinstance(got, httpx.HTTPError)
