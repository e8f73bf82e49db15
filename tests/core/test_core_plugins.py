"""Plugin discovery through real entry points: selection, broken plugins, duplicates, strict mode."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from beluga_core import Kit, PluginError
from beluga_core.registry import PluginManager, Selection, clear_entry_point_cache

GOOD = """
from beluga_core import GuardResult, hookimpl

class Plugin:
    @hookimpl
    def on_input(self, guard_input):
        return GuardResult.modify(guard_input.text + "+{name}")
"""


def make_dist(root: Path, dist: str, entries: dict[str, str], modules: dict[str, str]) -> None:
    """Write an installed distribution (dist-info with entry points) that importlib.metadata finds."""
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entries.items())
    (info / "entry_points.txt").write_text(f"[beluga]\n{lines}\n")
    for mod, code in modules.items():
        (root / f"{mod}.py").write_text(textwrap.dedent(code))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    clear_entry_point_cache()
    yield tmp_path
    clear_entry_point_cache()


def only_fakes(pm_names: list[str]) -> list[str]:
    return [n for n in pm_names if n.startswith("fake")]


def test_entry_point_plugins_are_discovered_with_their_distribution(site: Path) -> None:
    make_dist(site, "beluga-fake-a", {"fake-a": "fake_a:Plugin"}, {"fake_a": GOOD.format(name="a")})
    pm = PluginManager(selection=Selection(only=frozenset({"fake-a"})))
    info = {i.name: i for i in pm.infos()}["fake-a"]
    assert (info.distribution, info.version, info.hooks, info.error) == ("beluga-fake-a", "1.0", ["on_input"], None)


def test_load_and_disable_variables_select_before_import(site: Path) -> None:
    make_dist(site, "beluga-fake-a", {"fake-a": "fake_a:Plugin"}, {"fake_a": GOOD.format(name="a")})
    # importing this module would raise: selection must skip it before import
    make_dist(
        site, "beluga-fake-bomb", {"fake-bomb": "fake_bomb:Plugin"}, {"fake_bomb": "raise SystemExit('imported!')"}
    )
    kit = Kit(env={"BELUGA_LOAD_PLUGINS": "fake-a"})
    assert kit.order == ("fake-a",)
    kit = Kit(env={"BELUGA_DISABLE_PLUGINS": "fake-bomb", "BELUGA_LOAD_PLUGINS": "fake-a,fake-bomb"})
    assert kit.order == ("fake-a",)
    kit = Kit(env={"BELUGA_LOAD_PLUGINS": ""})
    assert kit.order == ()


def test_config_disabled_and_load_unlisted_select_before_import(site: Path) -> None:
    make_dist(site, "beluga-fake-a", {"fake-a": "fake_a:Plugin"}, {"fake_a": GOOD.format(name="a")})
    make_dist(
        site, "beluga-fake-bomb", {"fake-bomb": "fake_bomb:Plugin"}, {"fake_bomb": "raise SystemExit('imported!')"}
    )
    kit = Kit({"beluga": {"plugins": ["fake-a"], "load_unlisted": False}})
    assert kit.order == ("fake-a",)
    kit = Kit({"beluga": {"disabled": ["fake-bomb"]}}, env={"BELUGA_LOAD_PLUGINS": "fake-a,fake-bomb"})
    assert kit.order == ("fake-a",)


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_work(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_dist(site, "beluga-fake-a", {"fake-a": "fake_a:Plugin"}, {"fake_a": GOOD.format(name="a")})
    make_dist(
        site, "beluga-fake-broken", {"fake-broken": "fake_broken:Plugin"}, {"fake_broken": "import not_a_module_xyz"}
    )
    kit = Kit(env={"BELUGA_LOAD_PLUGINS": "fake-a,fake-broken"})
    assert kit.order == ("fake-a",)
    assert kit.generate("x").text == "x+a"
    info = {i.name: i for i in kit.plugins.infos()}["fake-broken"]
    assert "beluga-fake-broken" in (info.error or "")
    assert "ModuleNotFoundError" in (info.error or "")
    assert "fake-broken" in caplog.text and "beluga-fake-broken" in caplog.text


def test_strict_mode_makes_a_broken_plugin_fatal(site: Path) -> None:
    make_dist(
        site, "beluga-fake-broken", {"fake-broken": "fake_broken:Plugin"}, {"fake_broken": "import not_a_module_xyz"}
    )
    with pytest.raises(PluginError, match="beluga-fake-broken"):
        Kit(env={"BELUGA_LOAD_PLUGINS": "fake-broken", "BELUGA_STRICT_PLUGINS": "1"})


def test_a_bad_hook_signature_is_reported_and_skipped(site: Path) -> None:
    bad = """
    from beluga_core import hookimpl
    class Plugin:
        @hookimpl
        def on_input(self, guard_input, extra_argument):
            return None
    """
    unknown = """
    from beluga_core import hookimpl
    class Plugin:
        @hookimpl
        def on_inptu(self, guard_input):
            return None
    """
    wrap = """
    from beluga_core import hookimpl
    class Plugin:
        @hookimpl
        async def wrap_llm_call(self, request):
            return None
    """
    make_dist(site, "beluga-fake-a", {"fake-a": "fake_a:Plugin"}, {"fake_a": GOOD.format(name="a")})
    make_dist(site, "beluga-fake-bad", {"fake-bad": "fake_bad:Plugin"}, {"fake_bad": bad})
    make_dist(site, "beluga-fake-unknown", {"fake-unknown": "fake_unknown:Plugin"}, {"fake_unknown": unknown})
    make_dist(site, "beluga-fake-wrap", {"fake-wrap": "fake_wrap:Plugin"}, {"fake_wrap": wrap})
    kit = Kit(env={"BELUGA_LOAD_PLUGINS": "fake-a,fake-bad,fake-unknown,fake-wrap"})
    assert kit.order == ("fake-a",)
    errors = {i.name: i.error for i in kit.plugins.infos()}
    assert "extra_argument" in (errors["fake-bad"] or "")
    assert "did you mean 'on_input'" in (errors["fake-unknown"] or "")
    assert "wrap_llm_call must take exactly" in (errors["fake-wrap"] or "")
    assert kit.generate("x").text == "x+a"


def test_duplicate_plugin_names_are_an_error_naming_both_distributions(site: Path) -> None:
    make_dist(site / "one", "beluga-fake-one", {"fake-dup": "fake_one:Plugin"}, {"fake_one": GOOD.format(name="1")})
    make_dist(site / "two", "beluga-fake-two", {"fake-dup": "fake_two:Plugin"}, {"fake_two": GOOD.format(name="2")})
    import sys

    sys.path[:0] = [str(site / "one"), str(site / "two")]
    try:
        clear_entry_point_cache()
        kit = Kit(env={"BELUGA_LOAD_PLUGINS": "fake-dup"})
        err = {i.name: i.error for i in kit.plugins.infos()}["fake-dup"] or ""
        assert "beluga-fake-one" in err and "beluga-fake-two" in err
        assert kit.order == ()
        with pytest.raises(PluginError, match="beluga-fake-one"):
            Kit(env={"BELUGA_LOAD_PLUGINS": "fake-dup", "BELUGA_STRICT_PLUGINS": "1"})
    finally:
        sys.path.remove(str(site / "one"))
        sys.path.remove(str(site / "two"))


def test_registering_a_taken_name_is_an_error(site: Path) -> None:
    make_dist(site, "beluga-fake-a", {"fake-a": "fake_a:Plugin"}, {"fake_a": GOOD.format(name="a")})
    kit = Kit(env={"BELUGA_LOAD_PLUGINS": "fake-a"})
    with pytest.raises(PluginError, match="already installed"):
        kit.register(object(), name="fake-a")


def test_listed_but_missing_plugin_is_a_config_error_with_a_suggestion(site: Path) -> None:
    from beluga_core import ConfigError

    make_dist(site, "beluga-fake-a", {"fake-a": "fake_a:Plugin"}, {"fake_a": GOOD.format(name="a")})
    with pytest.raises(ConfigError, match="did you mean 'fake-a'"):
        Kit({"beluga": {"plugins": ["fake-b"]}}, env={"BELUGA_LOAD_PLUGINS": "fake-a"})
