"""The chain's own overhead around the echo provider, plugin start-up time, and config reload cost.

    .venv/bin/python benchmarks/bench_core.py

Compares, in one run: a bare provider call; the Kit with 0, 5 and 10 no-op plugins (each with
wrap_llm_call, on_input and on_output); and the same guard hooks dispatched through pluggy's
``pm.hook`` (pluggy cannot run an async onion, so its row is the guard dispatch plus the bare call).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pluggy

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import aper_call_ns, header, per_call_ns, table

from beluga_core import (
    GuardInput,
    Kit,
    LLMRequest,
    hookimpl,
    hookspecs,
)
from beluga_core.builtin import EchoProvider


class NoOp:
    @hookimpl
    async def wrap_llm_call(self, request: Any, call_next: Any) -> Any:
        return await call_next(request)

    @hookimpl
    def on_input(self, guard_input: Any) -> None:
        return None

    @hookimpl
    def on_output(self, guard_input: Any) -> None:
        return None


def kit_with_noops(n: int) -> Kit:
    return Kit(None, plugins={f"noop{i}": NoOp() for i in range(n)}, entry_points=False)


def pluggy_with_noops(n: int) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("beluga")
    pm.add_hookspecs(hookspecs)
    for i in range(n):
        pm.register(NoOp(), name=f"noop{i}")
    return pm


def chain_overhead(n_calls: int) -> list[list[Any]]:
    request = LLMRequest("Hello, how are you today?")
    echo = EchoProvider()
    bare = aper_call_ns(lambda: echo.agenerate(request), n_calls)
    rows = [["bare echo.agenerate", 0, bare, 0.0, "-"]]
    base = None
    for n in (0, 5, 10):
        kit = kit_with_noops(n)
        t = aper_call_ns(lambda kit=kit: kit.agenerate(request), n_calls)
        if base is None:
            base = t
        per_plugin = (t - base) / n if n else 0.0
        rows.append([f"Kit, {n} no-op plugins", n, t, t - bare, f"{per_plugin:,.0f} ns/plugin" if n else "-"])
    for n in (5, 10):
        pm = pluggy_with_noops(n)

        async def via_pluggy(pm: pluggy.PluginManager = pm) -> Any:
            pm.hook.on_input(guard_input=GuardInput(request.messages[0].text, "input", {}))
            response = await echo.agenerate(request)
            pm.hook.on_output(guard_input=GuardInput(response.text, "output", {}))
            return response

        t = aper_call_ns(via_pluggy, n_calls)
        rows.append([f"pluggy pm.hook guards only, {n} plugins", n, t, t - bare, "(no onion)"])
    return rows


def guard_dispatch(n_calls: int) -> list[list[Any]]:
    from beluga_core.guard import StageGuard, run_stage

    gi = GuardInput("some text", "input", {})
    rows = []
    for n in (5, 10):
        pm = pluggy_with_noops(n)
        ours = tuple(StageGuard.of(f"noop{i}", NoOp().on_input) for i in range(n))
        t_ours = per_call_ns(lambda ours=ours: run_stage(ours, gi), n_calls)
        t_pluggy = per_call_ns(lambda pm=pm: pm.hook.on_input(guard_input=gi), n_calls)
        rows.append([n, t_ours, t_pluggy, t_pluggy / t_ours])
    return rows


def startup(runs: int = 7) -> list[list[Any]]:
    beluga = str(Path(sys.executable).parent / "beluga")
    rows = []
    # As users run it: bytecode caching on (this sandbox sets PYTHONDONTWRITEBYTECODE), warmed once.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BELUGA") and k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as cwd:
        subprocess.run([beluga, "plugins"], env=env, cwd=cwd, capture_output=True, check=True)
        for label, extra in (
            ("all installed plugins", {}),
            ("core only (BELUGA_LOAD_PLUGINS=)", {"BELUGA_LOAD_PLUGINS": ""}),
        ):
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                subprocess.run([beluga, "plugins"], env={**env, **extra}, cwd=cwd, capture_output=True, check=True)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            rows.append([f"beluga plugins, {label}", times[len(times) // 2], times[0]])
        t = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
            t.append((time.perf_counter() - t0) * 1000)
        t.sort()
        rows.append(["python -c pass (interpreter floor)", t[len(t) // 2], t[0]])
    return rows


def reload_cost() -> list[list[Any]]:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "beluga.toml"
        p.write_text('[beluga]\nprovider = "echo"\nmodel = "a"\n')
        kit = Kit(p)  # every installed plugin
        n = 50
        t0 = time.perf_counter()
        for i in range(n):
            p.write_text(f'[beluga]\nprovider = "echo"\nmodel = "m{i}"\n')
            assert kit.reload().applied
        per_reload = (time.perf_counter() - t0) / n * 1000
        read = per_call_ns(lambda: kit.config, 200_000)

        class Obj:
            attr = 1

        o = Obj()
        attr = per_call_ns(lambda: o.attr, 200_000)
        return [
            [
                f"apply a reload ({len(kit.order)} plugins loaded: {', '.join(kit.order) or 'none'})",
                f"{per_reload:.2f} ms",
            ],
            ["read kit.config on the hot path", f"{read:.1f} ns"],
            ["read a plain attribute (floor)", f"{attr:.1f} ns"],
        ]


def main() -> None:
    header("Beluga core: chain overhead, plugin start-up, reload")
    n = 20_000
    print("Per call, best of 5 runs of", n, "calls (ns):")
    print(table(["variant", "plugins", "ns/call", "added vs bare", "per plugin"], chain_overhead(n)))
    print("\nGuard stage dispatch only, sync no-op guards (ns per stage):")
    print(table(["plugins", "Beluga run_stage", "pluggy pm.hook", "pluggy / Beluga"], guard_dispatch(100_000)))
    print("\nStart-up of `beluga plugins` (ms, median and best of 7):")
    print(table(["command", "median ms", "best ms"], startup()))
    print("\nConfig reload:")
    print(table(["what", "cost"], reload_cost()))


if __name__ == "__main__":
    main()
