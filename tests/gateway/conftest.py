"""Fixtures for the gateway tests: fake upstreams on loopback, a gateway factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_support import ANTHROPIC_KEY, OPENAI_KEY, FakeServer, anthropic_server, make_kit, openai_server, serving
from gateway_support import write_config as _write

from beluga_gateway import ServerThread

pytest.importorskip("openai", reason="the gateway tests drive it with the official openai SDK (pip install openai)")


@pytest.fixture
def openai_upstream() -> Iterator[FakeServer]:
    server = openai_server(OPENAI_KEY)
    yield server
    server.stop()


@pytest.fixture
def anthropic_upstream() -> Iterator[FakeServer]:
    server = anthropic_server(ANTHROPIC_KEY)
    yield server
    server.stop()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Callable[..., ServerThread]]:
    """``gateway(extra_toml, plugins=(...), **test_plugins)``: a gateway on a free loopback port."""
    stack: list[Any] = []

    def start(
        extra: str = "", plugins: tuple[str, ...] = (), gw: str = "", watch: bool = False, **test_plugins: Any
    ) -> ServerThread:
        path = _write(tmp_path / f"beluga{len(stack)}.toml", extra, plugins, gw)
        cm = serving(make_kit(path, **test_plugins), watch=watch)
        server = cm.__enter__()
        server.config_path = path  # type: ignore[attr-defined]
        stack.append(cm)
        return server

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)
