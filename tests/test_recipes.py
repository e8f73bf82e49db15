"""Every page of the docs runs: its ```python blocks, in order, as one script (recipes included).

A block fenced as ```python no-run is shown but not run (e.g. one that needs a real API key or a
running gateway). Pages run in a fresh interpreter in a temporary folder, offline, within 60 s.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

RECIPES = Path(__file__).resolve().parent.parent / "docs" / "recipes"
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def recipe_code(path: Path) -> str:
    blocks = [body for flags, body in FENCE.findall(path.read_text()) if "no-run" not in flags]
    return "\n".join(blocks)


RECIPE_FILES = sorted(p for p in RECIPES.parent.rglob("*.md") if recipe_code(p).strip())


@pytest.mark.parametrize("recipe", RECIPE_FILES, ids=[p.stem for p in RECIPE_FILES])
def test_recipe_runs(recipe: Path, tmp_path: Path) -> None:
    script = tmp_path / f"page_{recipe.stem}.py"  # not mcp.py: a script named like a package hides it
    script.write_text(recipe_code(recipe))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{recipe.name} failed:\n{proc.stdout}\n{proc.stderr}"
