"""Typed config loading: every validation rule, env interpolation and overrides, plugin sections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import attrs
import pytest

from beluga_core import ConfigError, Duration, Kit, hookimpl, setting
from beluga_core import config as cfg
from beluga_core.testing import kit_with


@attrs.frozen
class Database:
    host: str = setting("localhost")
    port: int = setting(5432, min=1, max=65535)


@attrs.frozen
class AppConfig:
    name: str = setting("app")
    workers: int = setting(4, min=0, max=64)
    ratio: float = setting(0.5, min=0.0, max=1.0)
    debug: bool = setting(True)
    mode: Literal["fast", "safe"] = setting("safe")
    level: str = setting("info", choices=["debug", "info", "warning"])
    timeout: Duration = setting(Duration(30))
    tags: tuple[str, ...] = setting(factory=tuple)
    db: Database = setting(factory=Database)
    api_key: str | None = setting(None, secret=True)


def write(tmp_path: Path, text: str, name: str = "app.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_defaults_apply_for_missing_keys(tmp_path: Path) -> None:
    c = cfg.load(AppConfig, write(tmp_path, ""))
    assert c == AppConfig()


def test_explicit_zero_empty_and_false_are_kept(tmp_path: Path) -> None:
    c = cfg.load(AppConfig, write(tmp_path, 'workers = 0\nname = ""\ndebug = false\nratio = 0'))
    assert (c.workers, c.name, c.debug, c.ratio) == (0, "", False, 0.0)


def test_nested_sections_and_durations(tmp_path: Path) -> None:
    c = cfg.load(AppConfig, write(tmp_path, 'timeout = "5m"\n[db]\nhost = "db.internal"\nport = 6543'))
    assert c.timeout == 300.0 and c.db == Database("db.internal", 6543)
    for text, seconds in [("250ms", 0.25), ("30s", 30.0), ("1h", 3600.0), ("1.5", 1.5)]:
        assert Duration.parse(text) == seconds


def test_json_files_load_the_same(tmp_path: Path) -> None:
    c = cfg.load(AppConfig, write(tmp_path, json.dumps({"workers": 2, "db": {"port": 1}}), "app.json"))
    assert (c.workers, c.db.port) == (2, 1)


def test_every_problem_is_reported_at_once_with_file_key_and_line(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        'workers = 100\nratio = "high"\nmode = "fsat"\nlevel = "loud"\ntimeout = "soon"\n[db]\nport = 0\nhots = "x"\n',
    )
    with pytest.raises(ConfigError) as info:
        cfg.load(AppConfig, p)
    issues = {i.key: i for i in info.value.issues}
    assert set(issues) == {"workers", "ratio", "mode", "level", "timeout", "db.port", "db.hots"}
    assert "at most 64" in issues["workers"].reason
    assert "expected a number" in issues["ratio"].reason
    assert "did you mean 'fast'" in issues["mode"].reason
    assert "must be one of" in issues["level"].reason
    assert "duration" in issues["timeout"].reason
    assert "at least 1" in issues["db.port"].reason
    assert "did you mean 'host'" in issues["db.hots"].reason
    assert issues["workers"].line == 1 and issues["db.port"].line == 7 and issues["db.hots"].line == 8
    assert all(i.file == str(p) for i in info.value.issues)
    assert str(p) in str(info.value)


def test_unknown_keys_are_errors_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'workres'; did you mean 'workers'"):
        cfg.load(AppConfig, write(tmp_path, "workres = 3"))


def test_wrong_types_are_errors_not_coerced(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        cfg.load(AppConfig, write(tmp_path, 'workers = "4"\ndebug = 1\ntags = "a"'))
    assert {i.key for i in info.value.issues} == {"workers", "debug", "tags"}


def _known_words(_: object, __: object, value: tuple[str, ...]) -> None:
    unknown = [w for w in value if w not in ("ok", "fine")]
    if unknown:
        raise ValueError(f"unknown words {unknown}")


@attrs.frozen
class Filter:
    words: tuple[str, ...] = attrs.field(default=(), validator=_known_words)
    limits: dict[str, int] = setting(factory=dict)


@attrs.frozen
class WithFilter:
    filter: Filter = setting(factory=Filter)


def test_a_bad_list_element_is_reported_on_its_keys_line_and_nothing_else_sees_it(tmp_path: Path) -> None:
    p = write(tmp_path, '[filter]\n# words to let through\nwords = ["ok", 3]\nlimits = { a = 1, b = "x" }\n')
    with pytest.raises(ConfigError) as info:
        cfg.load(WithFilter, p)
    found = [(i.key, i.line, i.reason) for i in info.value.issues]
    assert found == [
        ("filter.words[1]", 3, "expected a string, got 3"),
        ("filter.limits.b", 4, "expected an integer, got 'x'"),
    ]


def test_syntax_errors_name_the_file_and_line(tmp_path: Path) -> None:
    p = write(tmp_path, "workers = 3\nname = \n")
    with pytest.raises(ConfigError) as info:
        cfg.load(AppConfig, p)
    assert info.value.issues[0].line == 2
    assert "invalid TOML" in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        cfg.load(AppConfig, tmp_path / "nope.toml")


def test_env_interpolation_with_defaults(tmp_path: Path) -> None:
    p = write(tmp_path, 'name = "${APP_NAME}"\napi_key = "${KEY:-none}"\n[db]\nhost = "$${literal}"')
    c = cfg.load(AppConfig, p, env={"APP_NAME": "beluga"})
    assert (c.name, c.api_key, c.db.host) == ("beluga", "none", "${literal}")
    with pytest.raises(ConfigError, match="APP_NAME is not set"):
        cfg.load(AppConfig, p, env={})


def test_env_overrides_use_the_documented_prefix(tmp_path: Path) -> None:
    p = write(tmp_path, "workers = 2\n[db]\nport = 1")
    c = cfg.load(AppConfig, p, env={"BELUGA__WORKERS": "8", "BELUGA__DB__PORT": "99", "BELUGA__TAGS": '["a", "b"]'})
    assert (c.workers, c.db.port, c.tags) == (8, 99, ("a", "b"))
    with pytest.raises(ConfigError, match="at most 64"):
        cfg.load(AppConfig, p, env={"BELUGA__WORKERS": "1000"})


def test_secrets_are_masked_in_repr_and_to_dict(tmp_path: Path) -> None:
    c = cfg.load(AppConfig, write(tmp_path, 'api_key = "sk-1234567890abcdef"'))
    assert "sk-1234567890abcdef" not in repr(c)
    assert cfg.to_dict(c)["api_key"] == "sk" + "*" * 15 + "ef"
    assert cfg.to_dict(c, masked=False)["api_key"] == "sk-1234567890abcdef"


def test_validate_reruns_validators_on_an_object() -> None:
    bad = attrs.evolve(AppConfig(), workers=5)
    assert cfg.validate(bad) == []
    object.__setattr__(bad, "workers", 500)
    assert [i.key for i in cfg.validate(bad)] == ["workers"]


def test_diff_names_changed_keys() -> None:
    assert cfg.diff(AppConfig(), attrs.evolve(AppConfig(), workers=9, db=Database(port=1))) == ["db.port", "workers"]


# -- the Kit's own config ----------------------------------------------------------------------


@attrs.frozen
class LimitSettings:
    requests_per_minute: int = setting(60, min=1)
    storage: str = setting("memory://")


class Limits:
    name = "limits"

    def __init__(self) -> None:
        self.settings: LimitSettings | None = None
        self.changes = 0

    @hookimpl
    def config_schema(self) -> type:
        return LimitSettings

    @hookimpl
    def on_config_change(self, old: object, new: object) -> None:
        self.settings = new.plugin_settings("limits")  # type: ignore[attr-defined]
        self.changes += 1


def test_each_plugin_gets_its_typed_section() -> None:
    limits = Limits()
    kit_with(limits, config={"plugins": {"limits": {"requests_per_minute": 5}}})
    assert limits.settings == LimitSettings(5)
    limits2 = Limits()
    kit_with(limits2)
    assert limits2.settings == LimitSettings()


def test_plugin_sections_are_validated_before_anything_is_applied(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '[beluga]\nprovider = "echoo"\nplugns = []\n[plugins.limits]\nrequests_per_minute = 0\n'
        '[plugins.limts]\nx = 1\n[providers.echo]\nread_timeout = "fast"\n[plugin]\n',
        "beluga.toml",
    )
    limits = Limits()
    with pytest.raises(ConfigError) as info:
        kit_with(limits, config=str(p))
    keys = {i.key for i in info.value.issues}
    assert keys == {
        "beluga.provider",
        "beluga.plugns",
        "plugins.limits.requests_per_minute",
        "plugins.limts",
        "providers.echo.read_timeout",
        "plugin",
    }
    assert limits.changes == 0
    text = str(info.value)
    assert "did you mean 'echo'" in text and "did you mean 'limits'" in text and "did you mean 'plugins'" in text


def test_a_plugin_without_a_schema_takes_no_settings() -> None:
    class Plain:
        name = "plain"

    with pytest.raises(ConfigError, match="takes no settings"):
        kit_with(Plain(), config={"plugins": {"plain": {"x": 1}}})


def test_env_overrides_reach_plugin_sections_by_name() -> None:
    limits = Limits()
    kit_with(limits, env={"BELUGA__PLUGINS__LIMITS__REQUESTS_PER_MINUTE": "7", "BELUGA__BELUGA__PROVIDER": "echo"})
    assert limits.settings == LimitSettings(7)


def test_provider_secrets_never_show_in_config_repr() -> None:
    kit = Kit({"providers": {"echo": {"api_key": "sk-live-abcdefghijklmnop"}}}, entry_points=False)
    assert "abcdefghijklmnop" not in repr(kit.config)
    assert "abcdefghijklmnop" not in repr(kit.config.providers["echo"])


def test_every_core_key_is_documented() -> None:
    import importlib.util
    from pathlib import Path

    from beluga_core import BelugaSettings, ProviderConfig

    docs = Path(__file__).resolve().parents[2] / "docs"
    # The page's key tables are generated from the schemas by the site's hook: check what it renders.
    spec = importlib.util.spec_from_file_location("docs_generated_hook", docs / "_hooks" / "generated.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    doc = hook.on_page_markdown((docs / "configuration.md").read_text())
    for schema in (BelugaSettings, ProviderConfig):
        for row in cfg.describe(schema):
            assert f"| `{row['key']}` |" in doc, f"{schema.__name__}.{row['key']} is not in docs/configuration.md"
