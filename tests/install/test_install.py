"""Install only what you need: fresh virtual environments with the core alone, the core plus one
plugin, and the core plus a third-party plugin distribution (tests/fixtures/beluga-shout)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parents[2]
SHOUT = ROOT / "tests" / "fixtures" / "beluga-shout"
ONE_PLUGIN = ROOT / "plugins" / "retry"


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BELUGA", "VIRTUAL_ENV", "PYTHONPATH"))}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, **kwargs)  # type: ignore[call-overload]


def build_wheels(house: Path, *projects: Path) -> None:
    """Wheels of local projects (no dependencies, no build isolation: offline) into ``house``."""
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(house)]
    out = run([*cmd, *map(str, projects)])
    assert out.returncode == 0, out.stderr


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of the core, one plugin and the third-party test plugin, plus the core's dependencies."""
    house = tmp_path_factory.mktemp("wheels")
    build_wheels(house, ROOT, SHOUT, *([ONE_PLUGIN] if ONE_PLUGIN.exists() else []))
    out = run(
        [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(house), "pluggy", "attrs"]
    )
    assert out.returncode == 0, out.stderr
    return house


def fresh_env(path: Path, wheelhouse: Path, *dists: str) -> Path:
    venv.EnvBuilder(with_pip=True).create(path)
    bindir = path / "bin"
    out = run(
        [str(bindir / "python"), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheelhouse), *dists]
    )
    assert out.returncode == 0, out.stderr
    return bindir


def plugins_json(bindir: Path, cwd: Path, **env: str) -> list[dict[str, object]]:
    out = subprocess.run(
        [str(bindir / "beluga"), "plugins", "--json"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={"PATH": os.environ["PATH"], **env},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_core_alone_lists_no_plugins_and_runs_with_echo(tmp_path: Path, wheelhouse: Path) -> None:
    bindir = fresh_env(tmp_path / "venv", wheelhouse, "beluga-core")
    assert plugins_json(bindir, tmp_path) == []
    out = subprocess.run(
        [str(bindir / "beluga"), "run", "hello from a fresh venv"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hello from a fresh venv"


def test_the_installed_core_type_checks_strictly_without_its_optional_dependencies(
    tmp_path: Path, wheelhouse: Path
) -> None:
    """mypy --strict over the installed beluga-core in an environment with nothing but its own
    dependencies (no google-re2, no httpx): the core's types stand on their own."""
    bindir = fresh_env(tmp_path / "venv", wheelhouse, "beluga-core")
    missing = run([str(bindir / "python"), "-c", "import re2"])
    assert missing.returncode != 0  # the optional dependency really is absent
    out = run(
        [sys.executable, "-m", "mypy", "--strict", "--python-executable", str(bindir / "python"),
         "--python-version", "3.11", "--no-incremental", "-p", "beluga_core"],
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-3000:]


@pytest.mark.skipif(not ONE_PLUGIN.exists(), reason="plugins/retry not in this checkout")
def test_core_plus_one_plugin_lists_exactly_that_one(tmp_path: Path, wheelhouse: Path) -> None:
    bindir = fresh_env(tmp_path / "venv", wheelhouse, "beluga-core", "beluga-retry")
    names = [p["name"] for p in plugins_json(bindir, tmp_path)]
    assert names == ["retry"]


def test_a_third_party_plugin_is_discovered_ordered_by_config_and_disabled_by_env(
    tmp_path: Path, wheelhouse: Path
) -> None:
    bindir = fresh_env(tmp_path / "venv", wheelhouse, "beluga-core", "beluga-shout")
    infos = plugins_json(bindir, tmp_path)
    assert [(p["name"], p["distribution"], p["version"]) for p in infos] == [("shout", "beluga-shout", "1.2.3")]
    assert infos[0]["hooks"] == ["on_input", "wrap_llm_call"]

    # Position from config: an application plugin listed before shout sees the request first.
    script = tmp_path / "app.py"
    script.write_text(
        "from beluga_core import Kit, GuardResult, hookimpl\n"
        "class Tag:\n"
        "    @hookimpl\n"
        "    def on_input(self, guard_input):\n"
        "        return GuardResult.modify(guard_input.text + ' tagged')\n"
        "import sys\n"
        "order = sys.argv[1].split(',')\n"
        "kit = Kit({'beluga': {'plugins': order}}, plugins={'tag': Tag()})\n"
        "r = kit.generate('hi')\n"
        "print(','.join(kit.order), r.text, r.metadata.get('trail'))\n"
    )
    py = str(bindir / "python")
    out = run([py, str(script), "tag,shout"], cwd=tmp_path)
    assert out.stdout.split() == ["tag,shout", "HI", "TAGGED", "['shout']"], out.stderr
    out = run([py, str(script), "shout,tag"], cwd=tmp_path)
    assert out.stdout.split() == ["shout,tag", "HI", "tagged", "['shout']"], out.stderr

    env = {"PATH": os.environ["PATH"], "BELUGA_DISABLE_PLUGINS": "shout"}
    proc = subprocess.run([py, str(script), "tag"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert proc.stdout.split() == ["tag", "hi", "tagged", "None"], proc.stderr
    listed = plugins_json(bindir, tmp_path, BELUGA_DISABLE_PLUGINS="shout")
    assert [(p["name"], p["position"]) for p in listed] == [("shout", None)]


def test_the_injection_guard_wheel_ships_its_model_and_not_its_training(tmp_path: Path) -> None:
    import zipfile

    build_wheels(tmp_path, ROOT / "plugins" / "guard-injection")
    (wheel,) = tmp_path.glob("beluga_guard_injection-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "beluga_guard_injection/model/injection-lr.json.gz" in names
    assert not [n for n in names if "training" in n or n.endswith("train.py")]
