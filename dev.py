#!/usr/bin/env python3
"""Set up Beluga's development environment and run its main job, tests or benchmarks.

    python3 dev.py run     # set up .venv, start the gateway on the defaults, send one request through it
    python3 dev.py test    # set up .venv, then run the whole test suite
    python3 dev.py bench   # set up .venv with the peers' packages, then run every benchmark
    python3 dev.py docs    # set up .venv, then build the documentation site into site/ (strict)
    python3 dev.py docs serve   # the same site on http://127.0.0.1:8000, rebuilt as you edit
    python3 dev.py train-injection   # rebuild the injection guard's learned stage (.venv-train; downloads
                                     # its pinned inputs from the package index)

Only Python 3.11+ is needed: the script creates .venv and installs the core, the toolkits under
toolkit/ and every plugin under plugins/ (editable) and the development tools into it. It
re-installs only when a pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def plugin_dirs() -> list[Path]:
    """Every distribution besides the core: the toolkits under toolkit/, then the plugins."""
    found = [*(ROOT / "toolkit").glob("*/pyproject.toml"), *(ROOT / "plugins").glob("*/pyproject.toml")]
    return sorted(p.parent for p in found)


def _stamp(extra: str) -> str:
    h = hashlib.sha256(extra.encode())
    for p in [ROOT / "pyproject.toml", *(d / "pyproject.toml" for d in plugin_dirs())]:
        h.update(p.read_bytes())
    for req in sorted((ROOT / "benchmarks").glob("requirements*.txt")):
        h.update(req.read_bytes())
    return h.hexdigest()


def setup(*, bench: bool = False) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit(f"Beluga needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"dev.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp_file = VENV / (".beluga-bench-stamp" if bench else ".beluga-stamp")
    stamp = _stamp("bench" if bench else "dev")
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    args = ["-e", f"{ROOT}[dev]"]
    for d in plugin_dirs():
        args += ["-e", str(d)]
    print(f"dev.py: installing beluga-core and {len(plugin_dirs())} distributions into {VENV}", flush=True)
    subprocess.run([*pip, *args], check=True)
    if bench:
        subprocess.run([*pip, "-r", str(ROOT / "benchmarks" / "requirements.txt")], check=True)
    stamp_file.write_text(stamp)


def train_injection(rest: list[str]) -> int:
    """Rebuild the learned stage's weights in a venv of their own (the training tools are pinned in
    plugins/guard-injection/training/requirements.txt and are not part of the development setup)."""
    training = ROOT / "plugins" / "guard-injection" / "training"
    venv_dir = ROOT / ".venv-train"
    bin_dir = venv_dir / ("Scripts" if os.name == "nt" else "bin")
    py = bin_dir / "python"
    if not py.exists():
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-r", str(training / "requirements.txt"), "-e", str(ROOT),
                    "-e", str(ROOT / "plugins" / "guard-injection")], check=True)
    return subprocess.call([str(py), str(training / "train.py"), *rest])


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "help"
    rest = argv[1:]
    os.chdir(ROOT)
    if cmd == "setup":
        setup()
        return 0
    if cmd == "run":
        # The main job: the OpenAI-compatible gateway on the embedded defaults (no config file:
        # the echo provider, in-memory storage, every installed plugin by rank), started on a
        # loopback port, one request sent through it, stopped.
        setup()
        beluga = str(BIN / "beluga")
        args = ["serve", "--demo"]
        if rest:
            args += ["--text", " ".join(rest)]
        print(f"$ beluga {' '.join(args)}", flush=True)
        env = {k: v for k, v in os.environ.items() if k != "BELUGA_CONFIG"}
        return subprocess.call([beluga, *args], env=env)
    if cmd == "test":
        setup()
        return subprocess.call([str(PY), "-m", "pytest", *rest])
    if cmd == "docs":
        # mkdocs.yml at the root; --strict: a broken link, a missing page or anchor is an error.
        setup()
        env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # mkdocs-material's banner about its successor
        mkdocs = [str(PY), "-m", "mkdocs"]
        if rest[:1] == ["serve"]:
            return subprocess.call([*mkdocs, "serve", "--strict", *rest[1:]], env=env)
        return subprocess.call([*mkdocs, "build", "--strict", *rest], env=env)
    if cmd == "train-injection":
        return train_injection(rest)
    if cmd == "bench":
        setup(bench=True)
        return subprocess.call([str(PY), str(ROOT / "benchmarks" / "run_all.py"), *rest])
    print(__doc__)
    return 0 if cmd in {"help", "-h", "--help"} else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
