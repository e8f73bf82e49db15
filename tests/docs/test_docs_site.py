"""The documentation site: it builds with ``mkdocs build --strict`` (a broken link, a missing page
or anchor, an API docstring that does not render fails), and every plugin, hook, config key and
public name has its place in the built pages."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import os
import re
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from beluga_core import BelugaSettings, ProviderConfig, hookspecs

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
HOOKS = sorted(
    name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "beluga_spec")
)
ENTRY_POINTS = sorted(importlib.metadata.entry_points(group="beluga"), key=lambda ep: ep.name)
#: Plugins documented on a shared page rather than on docs/<name>.md.
SHARED_PAGES = {"openai": "providers.md", "anthropic": "providers.md"}
#: The modules the API reference documents, each on its own page (beluga_http.testing with beluga_http).
REFERENCE = {
    "beluga_core": "beluga_core",
    "beluga_core.testing": "beluga_core.testing",
    "beluga_http": "beluga_http",
    "beluga_http.testing": "beluga_http",
    "beluga_wire": "beluga_wire",
    "beluga_wire.anthropic": "beluga_wire",
    "beluga_redis": "beluga_redis",
    "beluga_sdk": "beluga_sdk",
    **{ep.value.split(".")[0]: ep.value.split(".")[0] for ep in ENTRY_POINTS},
}


def _nav_pages(node: Any, title: str = "") -> dict[str, str]:
    """Every page of the nav, by path, with its title."""
    if isinstance(node, str):
        return {node: title}
    found: dict[str, str] = {}
    for item in node if isinstance(node, list) else [node]:
        if isinstance(item, dict):
            for key, value in item.items():
                found.update(_nav_pages(value, key))
        else:
            found.update(_nav_pages(item))
    return found


NAV = _nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return out


def _html(site: Path, page: str) -> str:
    """The built HTML of a docs/ page (``retry.md`` -> ``retry/index.html``)."""
    stem = page.removesuffix(".md")
    return (site / ("index.html" if stem == "index" else f"{stem}/index.html")).read_text()


def _schemas_of(ep: importlib.metadata.EntryPoint) -> list[type]:
    """The plugin's ``[plugins.<name>]`` schema; for a provider plugin, ``[providers.<name>]`` and
    the ``options`` schema of each provider it registers."""
    loaded = ep.load()
    plugin = loaded() if isinstance(loaded, type) else loaded
    schemas = []
    if hasattr(plugin, "config_schema") and (schema := plugin.config_schema()) is not None:
        schemas.append(schema)
    factories: list[Any] = []
    if hasattr(plugin, "register_providers"):
        plugin.register_providers(lambda name, factory: factories.append(factory))
    if factories:
        schemas.append(ProviderConfig)
    schemas += [f.options_schema for f in factories if getattr(f, "options_schema", None) is not None]
    return schemas


def _resolve(dotted: str) -> Any:
    """``beluga_core.ProviderConfig`` -> the object (the longest importable module prefix, then attributes)."""
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _tables(html: str) -> dict[Any, list[str]]:
    """The generated key tables of a built page: the schema each says it comes from, and its keys."""
    found = {}
    for name, table in re.findall(r"generated from <code>([\w.]+)</code>\.</p>\s*<table>(.*?)</table>", html, re.S):
        found[_resolve(name)] = re.findall(r"<tr>\s*<td><code>([^<]+)</code></td>", table)
    return found


def _keys(cls: type, prefix: str = "") -> list[str]:
    """Every key of a settings schema; a nested schema as ``a.b``, an array of them as ``a[].b``."""
    keys = []
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        key = prefix + str(field.metadata.get("key", field.name))
        keys.append(key)
        tp = hints[field.name]
        args = [a for a in typing.get_args(tp) if a not in (Ellipsis, type(None))]
        if attrs.has(tp):
            keys += _keys(tp, key + ".")
        elif typing.get_origin(tp) in (tuple, list) and len(args) == 1 and attrs.has(args[0]):
            keys += _keys(args[0], key + "[].")
    return keys


def _missing_keys(html: str, schema: type) -> list[str]:
    """Keys of ``schema`` not in the page's table generated from it (all of them if it has none)."""
    table = _tables(html).get(schema, [])
    return [k for k in _keys(schema) if k not in table]


def _without_help(cls: type) -> list[str]:
    """Keys whose ``setting(help=...)`` is empty: the table would give them no meaning."""
    hints = typing.get_type_hints(cls)
    found = [str(f.metadata.get("key", f.name)) for f in attrs.fields(cls) if not f.metadata.get("help")]
    for field in attrs.fields(cls):
        inner = [a for a in (hints[field.name], *typing.get_args(hints[field.name])) if attrs.has(a)]
        found += [k for a in inner for k in _without_help(a)]
    return found


def test_the_site_builds_strictly_with_every_page(site: Path) -> None:
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "_hooks" not in p.parts}
    assert on_disk - set(NAV) == set(), "pages missing from the nav in mkdocs.yml"
    for page in NAV:
        assert "<h1" in _html(site, page), page


def test_plugins_are_found() -> None:
    assert {"retry", "gateway", "openai"} <= {ep.name for ep in ENTRY_POINTS}


@pytest.mark.parametrize("ep", ENTRY_POINTS, ids=[ep.name for ep in ENTRY_POINTS])
def test_every_plugin_has_a_page_in_the_nav(ep: importlib.metadata.EntryPoint, site: Path) -> None:
    page = SHARED_PAGES.get(ep.name, f"{ep.name}.md")
    assert page in NAV, f"plugin {ep.name!r} has no page docs/{page} in the nav"
    assert ep.name in NAV[page] or ep.name == page.removesuffix(".md"), f"the nav title of {page} omits {ep.name}"
    assert '<h2 id="configuration-keys"' in _html(site, page), f"{page} has no 'Configuration keys' section"


@pytest.mark.parametrize("ep", ENTRY_POINTS, ids=[ep.name for ep in ENTRY_POINTS])
def test_every_config_key_of_a_plugin_is_on_its_page(ep: importlib.metadata.EntryPoint, site: Path) -> None:
    page = SHARED_PAGES.get(ep.name, f"{ep.name}.md")
    schemas = _schemas_of(ep)
    assert schemas, f"{ep.name} declares no settings and registers no provider"
    html = _html(site, page)
    for schema in schemas:
        assert _keys(schema), schema
        assert _missing_keys(html, schema) == [], f"keys of {schema.__qualname__} missing from docs/{page}"
        assert _without_help(schema) == [], f"keys of {schema.__qualname__} without a help text"


@pytest.mark.parametrize("schema", [BelugaSettings, ProviderConfig], ids=["beluga", "providers"])
def test_every_core_config_key_is_on_the_configuration_page(schema: type, site: Path) -> None:
    assert _missing_keys(_html(site, "configuration.md"), schema) == []
    assert _without_help(schema) == []


def test_nested_schemas_are_expanded(site: Path) -> None:
    gateway = next(ep for ep in ENTRY_POINTS if ep.name == "gateway")
    (schema,) = _schemas_of(gateway)
    assert "keys[].project" in _keys(schema)
    assert "keys[].project" in _tables(_html(site, "gateway.md"))[schema]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_on_the_hooks_page(hook: str, site: Path) -> None:
    html = _html(site, "plugin-api.md")
    assert re.search(rf"<h3 id=\"[^\"]+\"><code>{hook}\(", html), f"{hook} has no section on docs/plugin-api.md"


@pytest.mark.parametrize("module", sorted(REFERENCE))
def test_every_public_name_is_in_the_api_reference(module: str, site: Path) -> None:
    page = f"reference/{REFERENCE[module]}.md"
    assert page in NAV, f"{module} has no API reference page"
    names = sorted(set(importlib.import_module(module).__all__) - {"__version__"})
    assert names, module
    ids = set(re.findall(r'id="([\w.]+)"', _html(site, page)))
    # A name may be rendered where it is defined: beluga_workflow.runnable (a function shadowing the
    # submodule of that name) as beluga_workflow.runnable.runnable.
    missing = [n for n in names if f"{module}.{n}" not in ids and f"{module}.{n}.{n}" not in ids]
    assert missing == [], f"names of {module} missing from docs/{page}"


def test_every_benchmark_is_listed() -> None:
    text = (DOCS / "benchmarks.md").read_text()
    scripts = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py"))
    assert scripts and [s for s in scripts if f"`{s}`" not in text] == []
