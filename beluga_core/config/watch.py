"""Hot reload: poll a file, and hand each settled new version to a callback.

``FileWatcher`` polls by content hash, so editors' atomic renames, touch-without-change and
clock skew need no special care. A change is applied only once two reads ``settle`` apart agree,
so a file caught mid-write (truncated) is not applied. A deleted file keeps the last good
version and is reported; when it comes back it is applied again.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from beluga_core.config import loader as cfg
from beluga_core.errors import ConfigError
from beluga_core.masking import get_logger

log = get_logger("beluga.reload")
T = TypeVar("T")


class FileWatcher:
    """Poll ``path`` every ``interval`` seconds; call ``on_change(bytes)`` for each new version.

    If ``on_change`` raises, the error goes to ``on_error`` (and ``last_error``) and the version
    is remembered as seen, so it is not retried until the file changes again.
    """

    def __init__(
        self,
        path: str | Path,
        interval: float = 1.0,
        on_change: Callable[[bytes], Any] | None = None,
        *,
        on_error: Callable[[BaseException], Any] | None = None,
        settle: float | None = None,
        initial: bool = False,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        self.path = Path(path)
        self.interval = interval
        self.settle = min(interval, 0.05) if settle is None else settle
        self.on_change = on_change
        self.on_error = on_error
        self.last_error: BaseException | None = None
        self.applied = 0
        self.rejected = 0
        self._digest: bytes | None = None
        self._missing_reported = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if initial:
            data = self._read()
            if data is not None:
                self._digest = hashlib.blake2b(data, digest_size=16).digest()

    def _read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._report(ConfigError(f"cannot read {self.path}: {exc.strerror}", file=str(self.path)))
            return None

    def _report(self, exc: BaseException) -> None:
        self.last_error = exc
        self.rejected += 1
        log.error("config watcher: %s", exc)
        if self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:
                log.exception("on_error callback failed")

    def poll(self) -> bool:
        """Check once; returns True if a new version was applied."""
        data = self._read()
        if data is None:
            if not self._missing_reported:
                self._missing_reported = True
                self._report(
                    ConfigError(f"file is missing; keeping the running config: {self.path}", file=str(self.path))
                )
            return False
        self._missing_reported = False
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if digest == self._digest:
            return False
        if self.settle:
            time.sleep(self.settle)
            again = self._read()
            if again != data:
                return False  # still being written; look again next poll
        self._digest = digest
        if self.on_change is None:
            return True
        try:
            self.on_change(data)
        except Exception as exc:  # noqa: BLE001 - a bad file never stops the watcher
            self._report(exc)
            return False
        self.applied += 1
        self.last_error = None
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:
                log.exception("config watcher poll failed")

    def start(self) -> FileWatcher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"beluga-watch:{self.path.name}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> FileWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ConfigWatcher(Generic[T]):
    """A typed config that reloads itself: ``watcher.current`` is always a fully validated ``T``.

    Reading ``current`` is an attribute access. Invalid versions are rejected and the running one
    kept; ``on_reload(old, new)`` listeners run after each applied change.
    """

    def __init__(self, schema: type[T], path: str | Path, interval: float = 1.0, **kwargs: Any) -> None:
        self.schema = schema
        self.path = Path(path)
        self.current: T = cfg.load(schema, self.path)
        self._listeners: list[Callable[[T, T], Any]] = []
        self.watcher = FileWatcher(self.path, interval, on_change=self._apply, initial=True, **kwargs)

    @property
    def last_error(self) -> BaseException | None:
        return self.watcher.last_error

    def on_reload(self, listener: Callable[[T, T], Any]) -> None:
        self._listeners.append(listener)

    def _apply(self, data: bytes) -> None:
        raw, text = cfg.parse_text(data, str(self.path))
        new = cfg.from_dict(self.schema, raw, file=str(self.path), text=text)
        old, self.current = self.current, new
        for listener in self._listeners:
            try:
                listener(old, new)
            except Exception:
                log.exception("reload listener failed")

    def start(self) -> ConfigWatcher[T]:
        self.watcher.start()
        return self

    def stop(self) -> None:
        self.watcher.stop()

    def __enter__(self) -> ConfigWatcher[T]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["ConfigWatcher", "FileWatcher"]
