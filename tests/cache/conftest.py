"""Every test starts with no provider calls recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cache_support import CALLS


@pytest.fixture(autouse=True)
def _fresh_calls() -> Iterator[None]:
    CALLS.clear()
    yield
    CALLS.clear()
