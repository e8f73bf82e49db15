"""The fast path (beluga_http.pool) behaves like httpx's client would, and gives way to it when it must."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from provider_fakes import OPENAI_KEY, FakeServer, closed_port_url, slow

from beluga_core import ErrorCode, LLMRequest, ProviderConfig, ProviderError
from beluga_openai import OpenAIProvider


def _provider(url: str, **kw: Any) -> OpenAIProvider:
    return OpenAIProvider(ProviderConfig(api_key=OPENAI_KEY, base_url=url, model="gpt-4o", **kw))


def test_many_calls_share_one_kept_alive_connection(openai_fake: FakeServer) -> None:
    async def main() -> list[str]:
        p = _provider(openai_fake.url)
        try:
            return [(await p.agenerate(LLMRequest(f"q{i}"))).text for i in range(5)]
        finally:
            await p.aclose()

    texts = asyncio.run(main())
    assert len(texts) == 5 and all(texts)
    assert len({r["client"] for r in openai_fake.requests}) == 1
    assert openai_fake.requests[0]["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"


def test_a_call_cancelled_midway_leaves_the_provider_usable(openai_fake: FakeServer) -> None:
    openai_fake.push(slow(1.0))

    async def main() -> str:
        p = _provider(openai_fake.url)
        try:
            task = asyncio.ensure_future(p.agenerate(LLMRequest("slow")))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return (await p.agenerate(LLMRequest("after"))).text
        finally:
            await p.aclose()

    assert asyncio.run(main())


def test_fast_backend_off_goes_through_the_httpx_client(openai_fake: FakeServer) -> None:
    async def main() -> tuple[str, Any]:
        p = _provider(openai_fake.url, options={"fast_backend": False})
        try:
            text = (await p.agenerate(LLMRequest("hi"))).text
            return text, p._pool.fast_path(p.url)
        finally:
            await p.aclose()

    text, direct = asyncio.run(main())
    assert text and direct is None


def test_a_proxy_from_the_environment_is_honoured(openai_fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", closed_port_url())  # nothing listens there: the call must fail
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    async def main(**kw: Any) -> Any:
        p = _provider(openai_fake.url, **kw)
        try:
            return await p.agenerate(LLMRequest("hi"))
        except ProviderError as exc:
            return exc
        finally:
            await p.aclose()

    err = asyncio.run(main())
    assert isinstance(err, ProviderError) and err.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert not openai_fake.requests
    ok = asyncio.run(main(options={"trust_env": False}))
    assert ok.text and len(openai_fake.requests) == 1


def test_connection_refused_maps_to_provider_unavailable() -> None:
    async def main() -> ProviderError:
        p = _provider(closed_port_url())
        try:
            await p.agenerate(LLMRequest("hi"))
        except ProviderError as exc:
            return exc
        finally:
            await p.aclose()
        raise AssertionError("no error")

    err = asyncio.run(main())
    assert err.code is ErrorCode.PROVIDER_UNAVAILABLE and "ConnectError" in err.message


def test_https_goes_through_tls_on_the_fast_path(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # httpx's trust_env picks it up, as for a private CA
    answer = json.dumps({"model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant",
                         "content": "over tls"}, "finish_reason": "stop"}]}).encode()
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head)
        length = int(next(ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")))
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                     + str(len(answer)).encode() + b"\r\n\r\n" + answer)
        await writer.drain()
        writer.close()

    async def main() -> str:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
        port = server.sockets[0].getsockname()[1]
        p = _provider(f"https://127.0.0.1:{port}")
        try:
            return (await p.agenerate(LLMRequest("hi"))).text
        finally:
            await p.aclose()
            server.close()

    assert asyncio.run(main()) == "over tls"
    assert seen and b"POST /v1/chat/completions" in seen[0]
