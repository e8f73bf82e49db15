"""Hot reload: bad files never applied, torn reads impossible, the watcher survives anything."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beluga_core import ConfigError, ConfigWatcher, FileWatcher, Kit, hookimpl, setting
from beluga_core.testing import kit_with


def version_config(n: int, *, plugins: str = "") -> str:
    return f'[beluga]\nprovider = "echo"\nmodel = "m{n}"\n{plugins}[providers.echo]\noptions = {{prefix = "v{n}|"}}\n'


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_reload_applies_a_valid_file_and_reports_changed_keys(tmp_path: Path) -> None:
    p = tmp_path / "beluga.toml"
    p.write_text(version_config(1))
    kit = Kit(p, entry_points=False)
    assert kit.generate("hi").text == "v1|hi"
    p.write_text(version_config(2))
    result = kit.reload()
    assert result.applied
    assert set(result.changed) == {"beluga.model", "providers.echo.options.prefix"}
    assert kit.generate("hi").text == "v2|hi"


def test_a_bad_reload_keeps_the_running_config_and_says_why(tmp_path: Path) -> None:
    p = tmp_path / "beluga.toml"
    p.write_text(version_config(1))
    kit = Kit(p, entry_points=False)
    seen = []
    kit.on_reload(seen.append)
    p.write_text(version_config(2) + "\n[beluga.oops]\n")
    result = kit.reload()
    assert not result.applied and isinstance(result.error, ConfigError)
    assert kit.last_reload_error is result.error
    assert seen == [result]
    assert kit.generate("hi").text == "v1|hi"
    assert kit.config.beluga.model == "m1"


def test_plugin_errors_on_config_change_are_recorded_and_others_still_called(tmp_path: Path) -> None:
    calls: list[str] = []

    class Fails:
        name = "fails"

        @hookimpl
        def on_config_change(self, old: object, new: object) -> None:
            if old is not None:
                raise ValueError("cannot apply")

    class Works:
        name = "works"

        @hookimpl
        def on_config_change(self, old: object, new: object) -> None:
            calls.append("works")

    p = tmp_path / "beluga.toml"
    p.write_text(version_config(1))
    kit = kit_with(Fails(), Works(), config=str(p))
    p.write_text(version_config(2))
    result = kit.reload()
    assert result.applied and "cannot apply" in result.plugin_errors["fails"]
    assert calls == ["works", "works"]


@attrs.frozen
class Pair:
    a: int = setting(0)
    b: int = setting(0)


def test_watcher_applies_changes_and_survives_deletion_and_truncation(tmp_path: Path) -> None:
    p = tmp_path / "app.toml"
    p.write_text("a = 1\nb = 1\n")
    w = ConfigWatcher(Pair, p, interval=0.01)
    assert w.current == Pair(1, 1)
    atomic_write(p, "a = 2\nb = 2\n")
    assert w.watcher.poll() and w.current == Pair(2, 2)
    p.unlink()
    assert not w.watcher.poll() and w.current == Pair(2, 2)
    assert "missing" in str(w.last_error)
    p.write_text("a = 3\nb = ")  # truncated mid-write: invalid TOML
    assert not w.watcher.poll() and w.current == Pair(2, 2)
    p.write_text("a = 3\nb = 3\n")
    assert w.watcher.poll() and w.current == Pair(3, 3)
    p.write_text("a = 4\nb = 4\nc = 4\n")  # unknown key
    assert not w.watcher.poll() and w.current == Pair(3, 3)
    assert "unknown key 'c'" in str(w.last_error)


def test_watcher_waits_for_a_file_still_being_written(tmp_path: Path) -> None:
    p = tmp_path / "app.toml"
    p.write_text("a = 1\n")
    applied: list[bytes] = []
    w = FileWatcher(p, 1.0, on_change=applied.append, settle=0.2, initial=True)

    def writer() -> None:
        time.sleep(0.05)
        with p.open("a") as f:
            f.write("b = 2\n")

    p.write_text("a = 1\n# more coming\n")
    t = threading.Thread(target=writer)
    t.start()
    assert not w.poll()  # content changed during the settle window: not applied yet
    t.join()
    assert w.poll() and applied == [b"a = 1\n# more coming\nb = 2\n"]


def test_kit_watch_config_reloads_in_the_background(tmp_path: Path) -> None:
    p = tmp_path / "beluga.toml"
    p.write_text(version_config(1))
    kit = Kit(p, entry_points=False)
    watcher = kit.watch_config(interval=0.02)
    try:
        atomic_write(p, version_config(2))
        deadline = time.monotonic() + 5
        while kit.config.beluga.model != "m2" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert kit.generate("x").text == "v2|x"
        atomic_write(p, "[beluga]\nprovider = 3\n")
        deadline = time.monotonic() + 5
        while watcher.last_error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert isinstance(kit.last_reload_error, ConfigError)
        assert kit.generate("x").text == "v2|x"
    finally:
        kit.close()


def test_concurrent_readers_never_see_a_torn_config_or_a_failed_request(tmp_path: Path) -> None:
    """Threads and asyncio tasks call the kit while the file is rewritten hundreds of times."""
    p = tmp_path / "beluga.toml"
    p.write_text(version_config(0))
    kit = Kit(p, entry_points=False)
    stop = threading.Event()
    errors: list[BaseException] = []
    counts = {"calls": 0}

    def check(response_text: str, model: str) -> None:
        n = response_text.split("|", 1)[0][1:]
        assert model == f"m{n}", (response_text, model)

    def thread_reader() -> None:
        try:
            while not stop.is_set():
                r = kit.generate("x")
                check(r.text, r.model)
                c = kit.config  # a whole config: its parts agree
                assert c.providers["echo"].options["prefix"] == f"v{c.beluga.model[1:]}|"
                counts["calls"] += 1
                # As in task_reader: a thread that never blocks hands the GIL back only when the
                # switch interval forces it, and the writer's every I/O call then waits behind three
                # of them (seen as a run of minutes instead of seconds).
                time.sleep(0.0005)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    async def task_reader() -> None:
        while not stop.is_set():
            r = await kit.agenerate("x")
            check(r.text, r.model)
            counts["calls"] += 1
            # A short sleep, not sleep(0): a loop that is never idle never lets go of the GIL, and
            # the writer thread would wait a whole switch interval for each of its I/O calls.
            await asyncio.sleep(0.0005)

    def loop_reader() -> None:
        async def main() -> None:
            await asyncio.gather(*(task_reader() for _ in range(8)))

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=thread_reader) for _ in range(3)] + [threading.Thread(target=loop_reader)]
    for t in threads:
        t.start()
    try:
        for n in range(1, 301):
            text = version_config(n)
            if n % 10 == 0:
                text += "\n[beluga.broken\n"  # every tenth write is invalid and must be refused
            atomic_write(p, text)
            result = kit.reload()
            assert result.applied == (n % 10 != 0)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not errors, errors[:3]
    assert counts["calls"] > 100
    assert kit.config.beluga.model == "m299"


VALID = version_config(7)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(min_value=0, max_value=len(VALID)),
    insert=st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
    mode=st.sampled_from(["truncate", "insert", "delete", "replace"]),
)
def test_random_corruptions_are_never_applied_and_never_crash_the_watcher(
    tmp_path: Path, cut: int, insert: str, mode: str
) -> None:
    p = tmp_path / "beluga.toml"
    p.write_text(version_config(1))
    kit = Kit(p, entry_points=False)
    watcher = FileWatcher(p, 1.0, on_change=lambda data: _apply(kit, p, data), settle=0, initial=True)
    if mode == "truncate":
        corrupted = VALID[:cut]
    elif mode == "insert":
        corrupted = VALID[:cut] + insert + VALID[cut:]
    elif mode == "delete":
        corrupted = VALID[:cut] + VALID[cut + max(1, len(insert)) :]
    else:
        corrupted = VALID[:cut] + insert + VALID[cut + len(insert) :]
    p.write_text(corrupted, encoding="utf-8")
    before = kit.config
    watcher.poll()  # must not raise, whatever the bytes
    try:
        from beluga_core.config import load_config

        expected = load_config(p, kit.plugins, env={}, providers=kit.plugins.providers().options())
    except ConfigError:
        assert kit.config is before  # invalid: never applied
    else:
        assert kit.config == expected  # valid (the corruption was harmless): applied as written
    assert kit.generate("x").text.endswith("x")


def _apply(kit: Kit, path: Path, data: bytes) -> None:
    result = kit.reload(path, text=data.decode("utf-8", errors="replace"))
    if not result.applied:
        raise result.error  # type: ignore[misc]


def test_reload_with_a_plugin_added_to_the_order(tmp_path: Path) -> None:
    class A:
        name = "a"

    class B:
        name = "b"

    p = tmp_path / "beluga.toml"
    p.write_text('[beluga]\nplugins = ["a", "b"]\n')
    kit = kit_with(A(), B(), config=str(p))
    assert kit.order == ("a", "b")
    p.write_text('[beluga]\nplugins = ["b", "a"]\n')
    assert kit.reload().changed == ("beluga.plugins",)
    assert kit.order == ("b", "a")


@pytest.mark.parametrize("bad", ["", "[beluga]\nplugins = 'a'\n", "{not toml"])
def test_check_reports_bad_files_without_applying(tmp_path: Path, bad: str) -> None:
    p = tmp_path / "beluga.toml"
    p.write_text(version_config(1))
    kit = Kit(p, entry_points=False)
    p.write_text(bad)
    result = kit.reload()
    if bad == "":
        assert result.applied  # an empty file is valid: the defaults
    else:
        assert not result.applied and kit.config.beluga.model == "m1"
