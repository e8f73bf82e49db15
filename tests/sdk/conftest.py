"""Fixtures for the SDK drop-in tests: stand-in OpenAI and Anthropic upstreams on loopback, Kits over them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sdk_support import ANTHROPIC_KEY, OPENAI_KEY, FakeServer, anthropic_server, openai_server

pytest.importorskip("openai", reason="the drop-in is tested with the official openai SDK (pip install openai)")
pytest.importorskip("anthropic", reason="the drop-in is tested with the official anthropic SDK (pip install anthropic)")


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
