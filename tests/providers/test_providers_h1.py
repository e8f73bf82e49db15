"""beluga_http.pool: the lean HTTP/1.1 pool behind buffered provider calls, against raw loopback servers.

Each server is a real asyncio TCP server whose answers are scripted byte for byte, so framing,
keep-alive, closes and timing are exactly what the test says.
"""

from __future__ import annotations

import asyncio
import gzip

import httpx
import pytest
from provider_fakes import Script, ScriptedServer, read_request

from beluga_http.pool import H1Pool, header_lines, request_head

BODY = b'{"q": 1}'


def _request(path: str = "/v1/x") -> bytes:
    head = request_head("POST", path, "127.0.0.1", [("content-type", "application/json")])
    return head + b"content-length: %d\r\n\r\n" % len(BODY) + BODY


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head, body = await read_request(reader)
    return head + body


def _ok(body: bytes = b'{"ok": true}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s" % (
        len(body), extra, body)


class Server(ScriptedServer):
    """A scripted loopback server (``provider_fakes.ScriptedServer``) with a pool in front of it."""

    def pool(self, max_connections: int = 4, keepalive_expiry: float = 5.0) -> H1Pool:
        return H1Pool("127.0.0.1", self.port, None, max_connections=max_connections, keepalive_expiry=keepalive_expiry)


def serve_forever(reply: bytes) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await _read_request(reader)
            writer.write(reply)
            await writer.drain()

    return script


T = (2.0, 2.0, 2.0)


async def test_requests_share_one_kept_alive_connection() -> None:
    async with Server(serve_forever(_ok())) as srv:
        pool = srv.pool()
        replies = [await pool.request(_request(), T) for _ in range(5)]
        pool.close()
    assert [r.status_code for r in replies] == [200] * 5
    assert replies[0].content == b'{"ok": true}' and replies[0].headers["content-type"] == "application/json"
    assert srv.connections == 1


async def test_a_chunked_body_is_reassembled() -> None:
    chunked = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    async with Server(serve_forever(chunked)) as srv:
        pool = srv.pool()
        first = await pool.request(_request(), T)
        second = await pool.request(_request(), T)
        pool.close()
    assert first.content == second.content == b"hello world" and srv.connections == 1


async def test_a_gzip_body_is_decoded() -> None:
    body = gzip.compress(b'{"zipped": true}')
    async with Server(serve_forever(_ok(body, b"content-encoding: gzip\r\n"))) as srv:
        pool = srv.pool()
        reply = await pool.request(_request(), T)
        pool.close()
    assert reply.content == b'{"zipped": true}'


async def test_connection_close_is_honoured_and_the_next_request_opens_a_new_connection() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        writer.write(_ok(b"%d" % n, b"connection: close\r\n"))
        await writer.drain()

    async with Server(script) as srv:
        pool = srv.pool()
        a = await pool.request(_request(), T)
        b = await pool.request(_request(), T)
        pool.close()
    assert (a.content, b.content) == (b"1", b"2") and srv.connections == 2


async def test_a_body_delimited_by_the_end_of_the_connection_is_complete() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end")
        await writer.drain()

    async with Server(script) as srv:
        pool = srv.pool()
        reply = await pool.request(_request(), T)
        pool.close()
    assert reply.content == b"until the end"


async def test_an_idle_connection_the_server_closed_is_dropped_before_use() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        writer.write(_ok(b"%d" % n))
        await writer.drain()
        # then close without saying so (a server's keep-alive timeout)

    async with Server(script) as srv:
        pool = srv.pool()
        first = await pool.request(_request(), T)
        await asyncio.sleep(0.1)  # the server's FIN arrives while the connection is idle
        second = await pool.request(_request(), T)
        pool.close()
    assert (first.content, second.content) == (b"1", b"2")
    assert srv.connections == 2


async def test_a_request_written_to_a_connection_that_then_closes_is_not_sent_again() -> None:
    requests = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        requests.append(await _read_request(reader))
        if n == 1:
            writer.write(_ok(b"first"))
            await writer.drain()
            requests.append(await _read_request(reader))  # read the second request, then hang up
        else:
            writer.write(_ok(b"resent"))
            await writer.drain()

    async with Server(script) as srv:
        pool = srv.pool()
        assert (await pool.request(_request(), T)).content == b"first"
        with pytest.raises(httpx.RemoteProtocolError):
            await pool.request(_request(), T)
        await asyncio.sleep(0.1)
        pool.close()
    assert len(requests) == 2 and srv.connections == 1


async def test_a_response_cut_off_midway_raises_remote_protocol_error() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
        await writer.drain()

    async with Server(script) as srv:
        pool = srv.pool()
        with pytest.raises(httpx.RemoteProtocolError):
            await pool.request(_request(), T)
        pool.close()


async def test_garbage_instead_of_http_raises_remote_protocol_error() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async with Server(script) as srv:
        pool = srv.pool()
        with pytest.raises(httpx.RemoteProtocolError, match="invalid HTTP response"):
            await pool.request(_request(), T)
        pool.close()


async def test_informational_responses_are_skipped() -> None:
    reply = b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(b"final")
    async with Server(serve_forever(reply)) as srv:
        pool = srv.pool()
        got = await pool.request(_request(), T)
        pool.close()
    assert got.status_code == 200 and got.content == b"final"


async def test_read_timeout_counts_from_the_last_byte_not_from_the_start() -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        body = b"0123456789"
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n")
        for i in range(10):  # 10 bytes, 0.1 s apart: 1 s in all, never 0.4 s without a byte
            await asyncio.sleep(0.1)
            writer.write(body[i:i + 1])
            await writer.drain()
        await asyncio.sleep(5)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        await asyncio.sleep(5)

    async with Server(trickle) as srv:
        pool = srv.pool()
        reply = await pool.request(_request(), (2.0, 0.4, 2.0))
        pool.close()
    assert reply.content == b"0123456789"
    async with Server(silent) as srv:
        pool = srv.pool()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(httpx.ReadTimeout):
            await pool.request(_request(), (2.0, 0.3, 2.0))
        assert loop.time() - t0 < 2.0
        pool.close()


async def test_the_connection_limit_queues_callers_and_the_pool_timeout_ends_their_wait() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await _read_request(reader)
            await asyncio.sleep(0.3)
            writer.write(_ok())
            await writer.drain()

    async with Server(slow) as srv:
        pool = srv.pool(max_connections=1)
        replies = await asyncio.gather(*(pool.request(_request(), T) for _ in range(3)))
        assert [r.status_code for r in replies] == [200] * 3 and srv.connections == 1
        first = asyncio.ensure_future(pool.request(_request(), T))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await pool.request(_request(), (2.0, 2.0, 0.1))
        assert (await first).status_code == 200
        pool.close()


async def test_a_cancelled_exchange_closes_its_connection_and_frees_its_slot() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await _read_request(reader)
            if n == 1:
                await asyncio.sleep(10)  # the first connection never answers
            writer.write(_ok(b"%d" % n))
            await writer.drain()

    async with Server(script) as srv:
        pool = srv.pool(max_connections=1)
        task = asyncio.ensure_future(pool.request(_request(), T))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        reply = await pool.request(_request(), T)  # the only slot was given back
        pool.close()
    assert reply.content == b"2" and srv.connections == 2


async def test_connection_refused_raises_connect_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    pool = H1Pool("127.0.0.1", port, None, max_connections=2)
    for _ in range(3):  # a failed connect gives its slot back each time
        with pytest.raises(httpx.ConnectError):
            await pool.request(_request(), T)
    assert pool._open == 0


async def test_a_closed_pool_refuses_new_requests() -> None:
    async with Server(serve_forever(_ok())) as srv:
        pool = srv.pool()
        await pool.request(_request(), T)
        pool.close()
        with pytest.raises(httpx.ConnectError, match="closed"):
            await pool.request(_request(), T)


def test_header_values_with_line_breaks_are_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        request_head("POST", "/", "h", [("x-evil", "a\r\nhost: other")])
    with pytest.raises(ValueError, match="line break"):
        header_lines({"traceparent": "00-abc\r\nx: y"})
    assert header_lines({"a": "1", "b": "2"}) == b"a: 1\r\nb: 2\r\n"


async def test_a_stream_yields_chunks_as_they_arrive_and_frees_the_connection_at_its_end() -> None:
    gate = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                     b"6\r\nfirst\n\r\n")
        await writer.drain()
        await gate.wait()  # the second chunk only once the client has seen the first
        writer.write(b"7\r\nsecond\n\r\n0\r\n\r\n")
        await writer.drain()
        await _read_request(reader)
        writer.write(_ok(b"after"))
        await writer.drain()

    async with Server(script) as srv:
        pool = srv.pool(max_connections=1)
        stream = await pool.stream(_request(), T)
        assert stream.status_code == 200 and stream.headers["content-type"] == "text/event-stream"
        seen = []
        async for chunk in stream.aiter_raw():
            seen.append(chunk)
            gate.set()
        after = await pool.request(_request(), T)
        pool.close()
    assert seen == [b"first\n", b"second\n"] and after.content == b"after" and srv.connections == 1


async def test_a_stream_closed_early_closes_its_connection_and_frees_its_slot() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        if n == 1:
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\none\r\n")
            await writer.drain()
            await asyncio.sleep(10)
        writer.write(_ok(b"%d" % n))
        await writer.drain()

    async with Server(script) as srv:
        pool = srv.pool(max_connections=1)
        stream = await pool.stream(_request(), T)
        async for _ in stream.aiter_raw():
            break
        await stream.aclose()
        reply = await pool.request(_request(), T)
        pool.close()
    assert reply.content == b"2" and srv.connections == 2


async def test_a_stream_that_stalls_raises_read_timeout_and_one_cut_off_raises_protocol_error() -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\none\r\n")
        await writer.drain()
        if n == 1:
            await asyncio.sleep(10)

    async with Server(stall) as srv:
        pool = srv.pool()
        stream = await pool.stream(_request(), (2.0, 0.3, 2.0))
        with pytest.raises(httpx.ReadTimeout):
            await stream.aread()
        stream = await pool.stream(_request(), T)  # the second connection is closed after one chunk
        with pytest.raises(httpx.RemoteProtocolError):
            await stream.aread()
        pool.close()


async def test_a_large_stream_is_read_whole_with_back_pressure() -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB: more than the high-water mark, so reading pauses

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(payload))
        for i in range(0, len(payload), 65536):
            writer.write(payload[i:i + 65536])
            await writer.drain()

    async with Server(script) as srv:
        pool = srv.pool()
        stream = await pool.stream(_request(), T)
        await asyncio.sleep(0.2)  # let the server fill the buffer up to the high-water mark
        assert stream._paused and stream._size < len(payload)  # reading stopped well before the end
        body = await stream.aread()
        pool.close()
    assert body == payload
