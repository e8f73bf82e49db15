"""Fixtures: fake OpenAI and Anthropic servers on loopback, one per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from provider_fakes import ANTHROPIC_KEY, OPENAI_KEY, FakeServer, anthropic_server, openai_server


@pytest.fixture
def openai_fake() -> Iterator[FakeServer]:
    server = openai_server(OPENAI_KEY)
    yield server
    server.stop()


@pytest.fixture
def anthropic_fake() -> Iterator[FakeServer]:
    server = anthropic_server(ANTHROPIC_KEY)
    yield server
    server.stop()
