"""One request never breaks the next on the same kept-alive connection: what the gateway's
connection limits read as the next request's head is only ever a next request."""

from __future__ import annotations

import json
import socket

import httpx
from gateway_support import ALPHA


def _answers(s: socket.socket, n: int) -> list[bytes]:
    """Read ``n`` whole HTTP answers (content-length framed) from ``s``; the status lines."""
    buf, lines = b"", []
    while len(lines) < n:
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, f"connection closed after {lines}"
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        length = next(int(v) for k, _, v in (ln.partition(b":") for ln in head.split(b"\r\n")[1:])
                      if k.strip().lower() == b"content-length")
        while len(buf) < length:
            buf += s.recv(65536)
        buf = buf[length:]
        lines.append(head.split(b"\r\n")[0])
    return lines


def test_the_rest_of_a_body_refused_with_413_is_not_read_as_the_next_request(gateway):
    server = gateway(gw="max_body_bytes = 1024")
    big = json.dumps({"model": "echo", "messages": [{"role": "user", "content": "x" * 300_000}]}).encode()
    small = json.dumps({"model": "echo", "messages": [{"role": "user", "content": "hi"}]}).encode()

    def request(body: bytes) -> bytes:
        return (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                b"authorization: Bearer " + ALPHA.encode() + b"\r\ncontent-length: %d\r\n\r\n" % len(body) + body)

    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(request(big))  # answered 413 from its Content-Length, then its body keeps arriving
        s.sendall(request(small))
        assert _answers(s, 2) == [b"HTTP/1.1 413 Request Entity Too Large", b"HTTP/1.1 200 OK"]
    assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
