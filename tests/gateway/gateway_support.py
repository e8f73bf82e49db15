"""Helpers for the gateway tests: configs, a gateway served on 127.0.0.1, slow test providers."""

from __future__ import annotations

import asyncio
import math
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from beluga_core import (
    BaseProvider,
    CallNext,
    Kit,
    LLMRequest,
    LLMResponse,
    LLMStream,
    ProviderConfig,
    StreamChunk,
    Usage,
    hookimpl,
)
from beluga_gateway import Gateway, ServerThread, hash_key

# The providers helper's fake OpenAI and Anthropic servers (real HTTP servers on loopback).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "providers"))
from provider_fakes import ANTHROPIC_KEY, OPENAI_KEY, FakeServer, anthropic_server, openai_server

ALPHA = "sk-gw-alpha-0123456789abcdef"  # project alpha, every model; given as a plain key from the environment
BETA = "sk-gw-beta-0123456789abcdef"  # project beta, only "echo"; given as its SHA-256

BASE = f"""
[beluga]
plugins = ["gateway"]
load_unlisted = false
provider = "echo"

[plugins.gateway]
keys = [
  {{ key = "${{GW_ALPHA_KEY}}", project = "alpha", name = "alpha-key" }},
  {{ key_sha256 = "{hash_key(BETA)}", project = "beta", models = ["echo"], name = "beta-key" }},
]
"""


def config_text(extra: str = "", plugins: tuple[str, ...] = (), gw: str = "") -> str:
    """The base config with more plugins listed (in order, before the gateway) and extra TOML.
    Provider plugins whose section appears in ``extra`` are listed too."""
    for name in ("openai", "anthropic"):
        if f"[providers.{name}]" in extra and name not in plugins:
            plugins = (*plugins, name)
    text = BASE.replace('plugins = ["gateway"]', "plugins = " + repr([*plugins, "gateway"]).replace("'", '"'))
    if gw:
        text = text.replace("[plugins.gateway]\n", "[plugins.gateway]\n" + textwrap.dedent(gw).strip() + "\n")
    return text + "\n" + textwrap.dedent(extra)


def write_config(path: Path, extra: str = "", plugins: tuple[str, ...] = (), gw: str = "") -> Path:
    path.write_text(config_text(extra, plugins, gw))
    return path


def make_kit(path: Path, **plugins: Any) -> Kit:
    return Kit(path, plugins=plugins, env={"GW_ALPHA_KEY": ALPHA})


@contextmanager
def serving(kit: Kit, *, watch: bool = False, drain: float = 10.0) -> Iterator[ServerThread]:
    gateway = Gateway(kit, watch=watch, owns_kit=True)
    server = ServerThread(gateway, drain=drain).start()
    server.gateway = gateway  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def sdk(url: str, key: str = ALPHA, **kwargs: Any) -> Any:
    import openai

    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=kwargs.pop("timeout", 15.0),
                         **kwargs)


def async_sdk(url: str, key: str = ALPHA, **kwargs: Any) -> Any:
    import openai

    return openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=15.0, **kwargs)


def finite(value: Any) -> bool:
    """Whether a decoded JSON value holds no NaN or infinity anywhere (what an upstream may be sent)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    if isinstance(value, list):
        return all(finite(v) for v in value)
    return True


class SlowProvider(BaseProvider):
    """Streams its reply word by word, ``delay`` seconds apart; records cancellations and closes."""

    name = "slow"

    def __init__(self, config: ProviderConfig | None = None) -> None:
        super().__init__(config)
        self.delay = float(dict(self.config.options).get("delay", 0.1))
        self.started = 0
        self.finished = 0
        self.cancelled = 0

    async def complete(self, request: LLMRequest) -> LLMResponse:
        stream = LLMStream(self.astream(request))
        return await stream.collect()

    async def stream_chunks(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        self.started += 1
        words = request.messages[-1].text.split(" ")
        try:
            for i, w in enumerate(words):
                await asyncio.sleep(self.delay)
                yield StreamChunk(text=w if i == 0 else " " + w, model="slow")
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise
        self.finished += 1
        yield StreamChunk(usage=Usage(3, len(words)), finish_reason="stop")


class SlowProviders:
    """A plugin registering the ``slow`` provider; ``instances`` keeps each one created."""

    name = "slowprov"

    def __init__(self) -> None:
        self.instances: list[SlowProvider] = []

    @hookimpl
    def register_providers(self, register: Any) -> None:
        def factory(config: ProviderConfig) -> SlowProvider:
            p = SlowProvider(config)
            self.instances.append(p)
            return p

        register("slow", factory)


class Probe:
    """Middleware that records how each call ended: returned, raised, or cancelled."""

    name = "probe"

    def __init__(self) -> None:
        self.outcomes: list[str] = []
        self.metadata: list[dict[str, Any]] = []
        self.requests: list[LLMRequest] = []

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        self.metadata.append(dict(request.metadata))
        self.requests.append(request)
        try:
            result = await call_next(request)
        except asyncio.CancelledError:
            self.outcomes.append("cancelled")
            raise
        except Exception as exc:
            self.outcomes.append(f"raised {type(exc).__name__}")
            raise
        self.outcomes.append("returned")
        return result


__all__ = [
    "ALPHA",
    "ANTHROPIC_KEY",
    "BETA",
    "OPENAI_KEY",
    "FakeServer",
    "Probe",
    "SlowProvider",
    "SlowProviders",
    "anthropic_server",
    "async_sdk",
    "config_text",
    "finite",
    "make_kit",
    "openai_server",
    "sdk",
    "serving",
    "write_config",
]
