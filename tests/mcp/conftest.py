"""Fixtures for the MCP tests (helpers in mcp_support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def record_file(tmp_path: Path) -> Path:
    """Where record_server.py writes the arguments of each call it received (JSON lines)."""
    return tmp_path / "received.jsonl"
