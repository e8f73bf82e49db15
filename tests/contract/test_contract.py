"""The kernel's contract with plugin authors, checked: what may be imported, which hooks exist (each
documented and tested), and the static checks every distribution passes."""

from __future__ import annotations

import ast
import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import beluga_core
from beluga_core import hookspecs

ROOT = Path(__file__).resolve().parents[2]
API_PAGE = ROOT / "docs" / "plugin-api.md"
BIN = Path(sys.executable).parent
HOOKS = sorted(
    name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "beluga_spec")
)


def _tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or pytest.skip(f"{name} is not installed"))


def test_hooks_are_found() -> None:
    assert "on_input" in HOOKS and "wrap_llm_call" in HOOKS and "on_settings" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_on_the_plugin_api_page(hook: str) -> None:
    assert re.search(rf"^### `{hook}\(", API_PAGE.read_text(), re.MULTILINE), f"{hook} has no section"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test_that_implements_it(hook: str) -> None:
    pattern = re.compile(rf"@hookimpl[^\n]*\n\s*(async )?def {hook}\(")
    implemented = [p for p in (ROOT / "tests").rglob("test_*.py") if pattern.search(p.read_text())]
    assert implemented, f"no test implements {hook}"


@pytest.mark.parametrize("name", sorted(set(beluga_core.__all__) - {"__version__"}))
def test_every_public_name_is_on_the_plugin_api_page(name: str) -> None:
    assert f"`{name}" in API_PAGE.read_text(), f"beluga_core.{name} is not on docs/plugin-api.md"


def _imports_of(code: str) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("beluga_core"):
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("beluga_core")]
    return out


def _documented_code() -> list[tuple[str, str]]:
    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted(ROOT.glob("*/*/README.md"))]:
        for i, block in enumerate(re.findall(r"^```python[^\n]*\n(.*?)^```", page.read_text(), re.S | re.M)):
            found.append((f"{page.relative_to(ROOT)} block {i + 1}", block))
    for path in sorted((ROOT / "tests" / "fixtures").rglob("*.py")) + sorted((ROOT / "examples").rglob("*.py")):
        found.append((str(path.relative_to(ROOT)), path.read_text()))
    return found


def test_documented_code_and_the_third_party_fixture_import_only_the_public_surface() -> None:
    allowed = {"beluga_core", "beluga_core.testing"}
    bad = [(where, m) for where, code in _documented_code() for m in _imports_of(code) if m not in allowed]
    assert not bad, f"these import kernel modules instead of beluga_core: {bad}"


def test_import_contracts_hold() -> None:
    """Plugins import only beluga_core's public surface; the kernel's modules are layered, with
    no cycle; plugins do not depend on each other (see [tool.importlinter] in pyproject.toml)."""
    out = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_ruff_passes_over_every_distribution() -> None:
    out = subprocess.run([_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:]


def test_mypy_strict_passes_over_every_distribution() -> None:
    out = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:]
