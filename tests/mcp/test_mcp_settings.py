"""``[plugins.mcp]``: allowlists with patterns and keys, and errors that name the key at fault."""

from __future__ import annotations

import hashlib

import pytest

from beluga_core import ConfigError, Kit
from beluga_mcp import MCPKeySettings, MCPPlugin, MCPSettings


def test_the_allowlist_takes_names_and_patterns_and_a_key_narrows_it() -> None:
    settings = MCPSettings(tools=("get_*", "search"))
    narrow = MCPKeySettings(key="narrow-key-1234", tools=("get_time",))
    assert settings.allows("get_time") and settings.allows("search")
    assert not settings.allows("delete_all")
    assert settings.allows("get_time", narrow) and not settings.allows("get_weather", narrow)
    assert not settings.allows("delete_all", MCPKeySettings(key="wide-key-12345", tools=("*",)))
    assert MCPSettings().allows("anything")


def test_a_key_is_found_by_its_value_or_its_sha256_and_never_by_a_prefix() -> None:
    by_value = MCPKeySettings(key="value-key-1234", name="a")
    by_hash = MCPKeySettings(key_sha256=hashlib.sha256(b"hashed-key-5678").hexdigest(), name="b")
    settings = MCPSettings(keys=(by_value, by_hash))
    assert settings.key_for("value-key-1234") is by_value
    assert settings.key_for("hashed-key-5678") is by_hash
    assert settings.key_for("value-key-123") is None and settings.key_for(None) is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"tools": 5}, "plugins.mcp.tools: expected a list, got 5"),
        ({"max_tools": 0}, "plugins.mcp.max_tools: must be at least 1, got 0"),
        ({"keys": [{"key": "zq81x"}]}, "plugins.mcp.keys[0]: key is shorter than 8 characters"),
        ({"keys": [{"project": "p"}]}, "plugins.mcp.keys[0]: give exactly one of key_sha256"),
    ],
)
def test_a_bad_section_is_refused_naming_the_key(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Kit({"plugins": {"mcp": section}}, plugins={"mcp": MCPPlugin()}, entry_points=False)
    assert message in str(caught.value)
    assert "zq81x" not in str(caught.value)  # a key's value is never repeated
