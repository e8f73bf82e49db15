"""Stand-ins for the OpenAI and Anthropic APIs on ``beluga_http.testing``'s scripted loopback server.

Each answers like the real API by default (echoing the last user message, calling a tool when
tools are offered, streaming SSE when asked) and can be scripted to misbehave for one request:
``server.push(reply)`` queues a reply that is used instead of the default.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from beluga_http.testing import (
    FakeServer,
    Handler,
    Reply,
    closed_port_url,
    data,
    event,
    json_reply,
    raw_reply,
    slow,
    sse_reply,
)

__all__ = [  # the scripted server's parts, for the tests that import them from here
    "ANTHROPIC_KEY", "OPENAI_KEY", "FakeServer", "Handler", "Reply", "closed_port_url", "data", "event",
    "json_reply", "raw_reply", "slow", "sse_reply",
]

OPENAI_KEY = "sk-test-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"

# -- OpenAI Chat Completions ---------------------------------------------------------------------


def _openai_answer(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(text, tool_calls) a tiny deterministic "model" gives for a Chat Completions body."""
    messages = body["messages"]
    last = messages[-1]
    if last["role"] == "tool":
        return f"the tool said: {last['content']}", []
    content = last["content"]
    if isinstance(content, list):
        texts = [p["text"] for p in content if p["type"] == "text"]
        images = [p["image_url"] for p in content if p["type"] == "image_url"]
    else:
        texts, images = [content], []
    text = " ".join(texts)
    if body.get("tools"):
        tool = body["tools"][0]["function"]["name"]
        fn = {"name": tool, "arguments": json.dumps({"q": text})}
        return "", [{"id": "call_1", "type": "function", "function": fn}]
    if images:
        desc = ", ".join(f"{i + 1}:{'data' if im['url'].startswith('data:') else 'url'}/{im.get('detail', 'auto')}"
                         for i, im in enumerate(images))
        return f"I see {len(images)} images ({desc}). {text}", []
    return f"echo: {text}", []


def openai_default(h: Handler) -> None:
    server, req = h.server, h.server.last
    if req["headers"].get("authorization") != f"Bearer {server.api_key}":
        got = req["headers"].get("authorization", "").removeprefix("Bearer ")
        h.send_json(401, {"error": {"message": f"Incorrect API key provided: {got}.", "type": "invalid_request_error",
                                    "code": "invalid_api_key"}})
        return
    body = req["body"]
    if req["path"].endswith("/embeddings") and isinstance(body, dict) and isinstance(body.get("input"), list):
        # One small vector per input, listed last-first: a client must order them by "index".
        items = [{"object": "embedding", "index": i, "embedding": [float(len(t)), float(i), 0.5]}
                 for i, t in enumerate(body["input"])]
        tokens = sum(max(1, len(t) // 4) for t in body["input"])
        h.send_json(200, {"object": "list", "data": items[::-1], "model": body.get("model"),
                          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
        return
    if not isinstance(body, dict) or "model" not in body or "messages" not in body:
        h.send_json(400, {"error": {"message": "model and messages are required", "type": "invalid_request_error"}})
        return
    text, calls = _openai_answer(body)
    prompt = sum(len(json.dumps(m)) // 4 for m in body["messages"])
    completion = max(1, len(text) // 4)
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
             "prompt_tokens_details": {"cached_tokens": server.cached_tokens}}
    finish = "tool_calls" if calls else "stop"
    if not body.get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            message["tool_calls"] = calls
        h.send_json(200, {"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                          "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})
        return
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": body["model"]}
    pieces = [data({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})]
    words = text.split(" ") if text else []
    for i, w in enumerate(words):
        pieces.append(data({**base, "choices": [{"index": 0, "delta": {"content": w if i == 0 else " " + w}}]}))
    for n, c in enumerate(calls):
        fn = {"name": c["function"]["name"], "arguments": ""}
        head = {"index": n, "id": c["id"], "type": "function", "function": fn}
        pieces.append(data({**base, "choices": [{"index": 0, "delta": {"tool_calls": [head]}}]}))
        args = c["function"]["arguments"]
        for k in range(0, len(args), 5):
            frag = {"index": n, "function": {"arguments": args[k:k + 5]}}
            pieces.append(data({**base, "choices": [{"index": 0, "delta": {"tool_calls": [frag]}}]}))
    pieces.append(data({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}))
    if (body.get("stream_options") or {}).get("include_usage"):
        pieces.append(data({**base, "choices": [], "usage": usage}))
    pieces.append(b"data: [DONE]\n\n")
    sse_reply(pieces)(h)


def openai_server(api_key: str = OPENAI_KEY) -> FakeServer:
    return FakeServer(openai_default, api_key).start()


# -- Anthropic Messages --------------------------------------------------------------------------


def anthropic_default(h: Handler) -> None:
    server, req = h.server, h.server.last
    if req["headers"].get("x-api-key") != server.api_key:
        got = req["headers"].get("x-api-key")
        err = {"type": "authentication_error", "message": f"invalid x-api-key {got}"}
        h.send_json(401, {"type": "error", "error": err})
        return
    body = req["body"]
    problem = None
    if not req["headers"].get("anthropic-version"):
        problem = "anthropic-version header is required"
    elif not isinstance(body, dict) or "max_tokens" not in body or "model" not in body:
        problem = "model and max_tokens are required"
    else:
        roles = [m["role"] for m in body["messages"]]
        if any(a == b for a, b in itertools.pairwise(roles)) or (roles and roles[0] != "user"):
            problem = "roles must alternate between user and assistant, starting with user"
        elif any(m["role"] == "system" for m in body["messages"]):
            problem = "system messages go in the top-level system parameter"
    if problem:
        h.send_json(400, {"type": "error", "error": {"type": "invalid_request_error", "message": problem}})
        return
    last = body["messages"][-1]["content"]
    blocks = last if isinstance(last, list) else [{"type": "text", "text": last}]
    results = [b for b in blocks if b["type"] == "tool_result"]
    texts = [b["text"] for b in blocks if b["type"] == "text"]
    images = [b["source"] for b in blocks if b["type"] == "image"]
    calls: list[dict[str, Any]] = []
    if results:
        inner = results[0].get("content") or []
        text = "the tool said: " + "".join(b.get("text", "") for b in inner)
    elif body.get("tools"):
        text = "Let me check."
        name = body["tools"][0]["name"]
        calls = [{"type": "tool_use", "id": "toolu_1", "name": name, "input": {"q": " ".join(texts)}}]
    elif images:
        text = f"I see {len(images)} images ({', '.join(s['type'] for s in images)}). {' '.join(texts)}"
    else:
        text = "echo: " + " ".join(texts)
    cache_read = server.cached_tokens
    usage = {"input_tokens": 10, "output_tokens": max(1, len(text) // 4), "cache_read_input_tokens": cache_read,
             "cache_creation_input_tokens": 5}
    stop = "tool_use" if calls else "end_turn"
    content = [{"type": "text", "text": text}, *calls]
    if not body.get("stream"):
        h.send_json(200, {"id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
                          "content": content, "stop_reason": stop, "stop_sequence": None, "usage": usage})
        return
    start_usage = {**usage, "output_tokens": 1}
    pieces = [event("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"], "content": [],
        "stop_reason": None, "usage": start_usage}})]
    pieces.append(event("content_block_start", {"type": "content_block_start", "index": 0,
                                                "content_block": {"type": "text", "text": ""}}))
    pieces.append(event("ping", {"type": "ping"}))
    for i, w in enumerate(text.split(" ")):
        pieces.append(event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                    "delta": {"type": "text_delta", "text": w if i == 0 else " " + w}}))
    pieces.append(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    for n, c in enumerate(calls, start=1):
        pieces.append(event("content_block_start", {"type": "content_block_start", "index": n, "content_block": {
            "type": "tool_use", "id": c["id"], "name": c["name"], "input": {}}}))
        args = json.dumps(c["input"])
        for k in range(0, len(args), 5):
            pieces.append(event("content_block_delta", {"type": "content_block_delta", "index": n, "delta": {
                "type": "input_json_delta", "partial_json": args[k:k + 5]}}))
        pieces.append(event("content_block_stop", {"type": "content_block_stop", "index": n}))
    pieces.append(event("message_delta", {"type": "message_delta",
                                          "delta": {"stop_reason": stop, "stop_sequence": None},
                                          "usage": {"output_tokens": usage["output_tokens"]}}))
    pieces.append(event("message_stop", {"type": "message_stop"}))
    sse_reply(pieces)(h)


def anthropic_server(api_key: str = ANTHROPIC_KEY) -> FakeServer:
    return FakeServer(anthropic_default, api_key).start()


# -- raw asyncio servers, for framings and connection behaviour the HTTP server above cannot script --

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """The head and the body of one HTTP/1.1 request with a Content-Length body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(ln.split(b":")[1]) for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length"))
    return head, await reader.readexactly(length)


class ScriptedServer:
    """A loopback TCP server running ``script(reader, writer, n)`` for its n-th connection, whose
    answers are written byte for byte; a connection the client drops ends the script quietly."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> ScriptedServer:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.script(reader, writer, self.connections)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
