"""Finding, selecting, loading and ordering plugins.

pluggy does the finding and validating; this module adds what Beluga's users need around it:
selection before import (``BELUGA_LOAD_PLUGINS``, ``BELUGA_DISABLE_PLUGINS``, config), a report for
every plugin that failed to load (with its distribution), the hook options the chain honours, and
the effective order of the chain (listed plugins first, then the others by the ``rank`` they declare).
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import inspect
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import pluggy

from beluga_core import hookspecs
from beluga_core.builtin import BUILTIN
from beluga_core.errors import BelugaError, ConfigError, ConfigIssue, PluginError
from beluga_core.masking import get_logger
from beluga_core.providers import Provider, ProviderFactory, ProviderRegistry

log = get_logger("beluga.plugins")

GROUP = "beluga"

#: The rank of a plugin that declares none: after every plugin that does, in load order.
DEFAULT_RANK = 1000

#: pluggy's ``@hookimpl`` options the chain cannot honour: it calls each plugin's hook itself, in
#: the effective order, so there is no pluggy call loop to wrap or to reorder.
_REFUSED_OPTIONS = ("hookwrapper", "wrapper", "tryfirst", "trylast")

#: Hooks whose implementations are middleware: they must accept (request|call, call_next).
_WRAP_HOOKS = {"wrap_llm_call": ("request", "call_next"), "wrap_tool_call": ("call", "call_next")}


@attrs.define
class PluginInfo:
    """What ``beluga plugins`` reports about one plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    source: str = "entry_point"  # entry_point | registered | builtin
    hooks: list[str] = attrs.field(factory=list)
    error: str | None = None
    position: int | None = None
    value: str | None = None  # the entry point's "module:attr"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "source": self.source,
            "hooks": list(self.hooks),
            "position": self.position,
            "error": self.error,
        }


@attrs.frozen
class Selection:
    """Which plugins may be imported: ``only`` (None = all) minus ``disabled``."""

    only: frozenset[str] | None = None
    disabled: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Selection:
        env = os.environ if env is None else env
        only: frozenset[str] | None = None
        if "BELUGA_LOAD_PLUGINS" in env:
            only = frozenset(_split(env["BELUGA_LOAD_PLUGINS"]))
        return cls(only, frozenset(_split(env.get("BELUGA_DISABLE_PLUGINS", ""))))

    def allows(self, name: str) -> bool:
        return name not in self.disabled and (self.only is None or name in self.only)

    def narrowed(self, *, disabled: Iterable[str] = (), only: Iterable[str] | None = None) -> Selection:
        new_only = self.only
        if only is not None:
            only = frozenset(only)
            new_only = only if new_only is None else new_only & only
        return Selection(new_only, self.disabled | frozenset(disabled))


def _split(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


def strict_from_env(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("BELUGA_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


@functools.cache
def _entry_points() -> tuple[importlib.metadata.EntryPoint, ...]:
    return tuple(importlib.metadata.entry_points(group=GROUP))


def clear_entry_point_cache() -> None:
    """Forget the scanned entry points (after installing a distribution at run time)."""
    _entry_points.cache_clear()


def _dist_of(ep: importlib.metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


class PluginManager:
    """Beluga's plugins for one ``Kit``: a pluggy manager plus load reports and ordering."""

    def __init__(
        self,
        *,
        selection: Selection | None = None,
        strict: bool | None = None,
        entry_points: bool = True,
    ) -> None:
        self.pm = pluggy.PluginManager("beluga")
        self.pm.add_hookspecs(hookspecs)
        self.selection = selection if selection is not None else Selection.from_env()
        self.strict = strict_from_env() if strict is None else strict
        self._infos: dict[str, PluginInfo] = {}
        self._objects: dict[str, Any] = {}
        self._seq: dict[str, int] = {}
        self._available: dict[str, importlib.metadata.EntryPoint] = {}
        self._builtin: set[str] = set()
        for name, make in BUILTIN.items():
            info = self._infos[name] = PluginInfo(name, "beluga-core", None, "builtin")
            self._register(name, make(), info)
            self._builtin.add(name)
        if entry_points:
            self.scan()
            self.load_selected()

    # -- discovery ---------------------------------------------------------------------------
    def scan(self) -> None:
        """Find the installed plugins' entry points (nothing is imported)."""
        seen: dict[str, importlib.metadata.EntryPoint] = {}
        for ep in _entry_points():
            if ep.name in seen:
                first, _ = _dist_of(seen[ep.name])
                second, _ = _dist_of(ep)
                if first == second:
                    continue  # the same distribution found twice on sys.path
                err = PluginError(
                    ep.name,
                    f"two distributions declare this plugin name: {first} and {second}; uninstall one",
                    distribution=f"{first}, {second}",
                )
                if self.strict:
                    raise err
                log.error("%s", err)
                self._infos[ep.name] = PluginInfo(ep.name, f"{first}, {second}", None, error=str(err))
                seen[ep.name] = ep
                self._available.pop(ep.name, None)
                continue
            seen[ep.name] = ep
            self._available[ep.name] = ep

    @property
    def available(self) -> list[str]:
        """Names of every installed plugin, loaded or not."""
        return sorted(set(self._available) | set(self._infos))

    def selection_for(self, beluga: Any) -> Selection:
        """This manager's selection narrowed by a config's ``[beluga]`` (``disabled``, and ``plugins``
        when ``load_unlisted`` is false)."""
        sel = self.selection.narrowed(disabled=beluga.disabled)
        return sel if beluga.load_unlisted else sel.narrowed(only=beluga.plugins)

    def load_selected(self, selection: Selection | None = None) -> None:
        """Import every installed plugin the selection allows and that is not loaded yet."""
        sel = selection or self.selection
        for name, ep in sorted(self._available.items()):
            if name in self._objects or not sel.allows(name):
                continue
            if name in self._infos and self._infos[name].error:
                continue
            self._load_entry_point(name, ep)

    def _load_entry_point(self, name: str, ep: importlib.metadata.EntryPoint) -> None:
        dist, version = _dist_of(ep)
        info = PluginInfo(name, dist, version, "entry_point", value=ep.value)
        self._infos[name] = info
        try:
            obj = ep.load()
            if inspect.isclass(obj):
                obj = obj()
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not break the others
            self._fail(info, f"failed to import {ep.value}: {type(exc).__name__}: {exc}", exc)
            return
        self._register(name, obj, info)

    def _fail(self, info: PluginInfo, message: str, exc: BaseException | None = None) -> None:
        err = PluginError(info.name, message, distribution=info.distribution)
        info.error = str(err)
        if self.strict:
            raise err from exc
        log.error("%s (skipped; set BELUGA_STRICT_PLUGINS=1 to make this fatal)", err)

    def register(self, obj: Any, name: str | None = None) -> str:
        """Register a plugin object in-process (application code, tests). Returns its name.

        A class is instantiated. Raises ``PluginError`` if the name is taken or hooks are invalid.
        """
        if inspect.isclass(obj):
            obj = obj()
        name = name or getattr(obj, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__
        assert isinstance(name, str)
        if name in self._objects or name in self._available:
            existing = self._infos.get(name)
            where = existing.distribution if existing and existing.distribution else "in-process registration"
            raise PluginError(name, f"a plugin with this name is already installed ({where})", distribution=where)
        info = PluginInfo(name, None, None, "registered")
        self._infos[name] = info
        strict, self.strict = self.strict, True
        try:
            self._register(name, obj, info)
        except PluginError:
            del self._infos[name]
            raise
        finally:
            self.strict = strict
        return name

    def unregister(self, name: str) -> None:
        if name in self._builtin:
            raise PluginError(name, "the core's own plugins cannot be unregistered", distribution="beluga-core")
        obj = self._objects.pop(name, None)
        if obj is not None:
            self.pm.unregister(obj)
        self._infos.pop(name, None)
        self._seq.pop(name, None)

    def _register(self, name: str, obj: Any, info: PluginInfo) -> None:
        try:
            self.pm.register(obj, name=name)
        except Exception as exc:  # noqa: BLE001 - pluggy's PluginValidationError and friends
            self._fail(info, f"invalid hook implementation: {exc}", exc)
            return
        problem = self._check_hooks(obj) or _check_rank(obj)
        if problem:
            self.pm.unregister(obj)
            self._fail(info, problem)
            return
        info.hooks = sorted(hc.name for hc in (self.pm.get_hookcallers(obj) or ()))
        self._objects[name] = obj
        self._seq[name] = len(self._seq)

    def _check_hooks(self, obj: Any) -> str | None:
        known = [n for n in dir(hookspecs) if callable(getattr(hookspecs, n, None))]
        for hc in self.pm.get_hookcallers(obj) or ():
            if hc.spec is None:
                close = difflib.get_close_matches(hc.name, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                return f"implements unknown hook {hc.name!r}{hint}"
            for impl in hc.get_hookimpls():
                if impl.plugin is not obj:
                    continue
                refused = [o for o in _REFUSED_OPTIONS if getattr(impl, o, False)]
                if refused:
                    return (
                        f"@hookimpl({refused[0]}=True) on {hc.name} is not supported: Beluga calls each plugin's "
                        "hooks itself, in the order of [beluga] plugins (declare a `rank` for where an unlisted "
                        "plugin goes; write middleware as wrap_llm_call)"
                    )
                required = _WRAP_HOOKS.get(hc.name)
                if required and tuple(impl.argnames) != required:
                    return f"{hc.name} must take exactly {required}, not {tuple(impl.argnames)}"
        return None

    # -- reading -----------------------------------------------------------------------------
    def get(self, name: str) -> Any | None:
        return self._objects.get(name)

    @property
    def loaded(self) -> list[str]:
        """Names of the plugins registered with this manager, the core's own included."""
        return list(self._objects)

    def rank(self, name: str) -> int | None:
        """The ``rank`` plugin ``name`` declares (None when it declares none)."""
        value = getattr(self._objects.get(name), "rank", None)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def why_not_loaded(self, name: str, *, disabled: Sequence[str] = (), only: Sequence[str] | None = None) -> str:
        """Why plugin ``name`` is not loaded, for messages: ``disabled`` and ``only`` are the config's
        ``[beluga] disabled`` and (with ``load_unlisted = false``) ``plugins``."""
        info = self._infos.get(name)
        if info is not None and info.error:
            return "it failed to load (see `beluga plugins`)"
        if name in disabled:
            return "it is listed in [beluga] disabled"
        if only is not None and name not in only:
            return "it is not listed in [beluga] plugins and load_unlisted is false"
        if not self.selection.allows(name):
            return "BELUGA_LOAD_PLUGINS or BELUGA_DISABLE_PLUGINS leaves it out"
        return "it is not selected"

    def infos(self, order: Sequence[str] = (), selection: Selection | None = None) -> list[PluginInfo]:
        """Every installed or registered plugin (loaded, failed or deselected), with positions in the
        effective order; the core's own plugins are not listed."""
        effective = self.order(order, selection)
        pos = {n: i for i, n in enumerate(effective)}
        out: list[PluginInfo] = []
        for name in sorted(set(self._infos) - self._builtin, key=lambda n: (pos.get(n, 10**6), n)):
            info = self._infos[name]
            info.position = pos.get(name)
            out.append(info)
        for name in sorted(set(self._available) - set(self._infos)):
            ep = self._available[name]
            dist, version = _dist_of(ep)
            out.append(PluginInfo(name, dist, version, "entry_point", error=None, position=None, value=ep.value))
        return out

    def order(self, listed: Sequence[str] = (), selection: Selection | None = None) -> list[str]:
        """The effective order: the listed plugins first, then the others by the ``rank`` each
        declares (lower is outer; ``DEFAULT_RANK`` for none), ties in load order. The core's own
        plugins take no place in it."""
        sel = selection or self.selection
        names = [n for n in self._objects if sel.allows(n) and n not in self._builtin]
        listed_present = [n for n in listed if n in names]
        rest = [n for n in names if n not in listed_present]
        rest.sort(key=lambda n: (self.rank(n) or DEFAULT_RANK, self._seq[n]))
        return listed_present + rest

    def check_listed(self, listed: Sequence[str], *, file: str | None = None) -> list[ConfigIssue]:
        """Config issues for listed plugins that are not installed (with a suggestion)."""
        issues = []
        known = set(self._available) | set(self._objects) | set(self._infos)
        for i, n in enumerate(listed):
            if n not in known:
                close = difflib.get_close_matches(n, sorted(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                installed = ", ".join(sorted(known)) or "none"
                issues.append(
                    ConfigIssue(
                        f"beluga.plugins[{i}]",
                        f"plugin {n!r} is not installed{hint} (installed: {installed})",
                        file=file,
                    )
                )
        return issues

    def hookimpls(self, hook: str, order: Sequence[str]) -> list[tuple[str, Any]]:
        """``(plugin name, hookimpl function)`` for ``hook``, in ``order``."""
        caller = getattr(self.pm.hook, hook)
        by_plugin = {self.pm.get_name(impl.plugin): impl.function for impl in caller.get_hookimpls()}
        return [(n, by_plugin[n]) for n in order if n in by_plugin]

    def call_each(self, hook: str, order: Sequence[str], **kwargs: Any) -> tuple[dict[str, Any], dict[str, Exception]]:
        """Call ``hook`` on each plugin in ``order``: ``(results, errors)``, each by plugin name."""
        results: dict[str, Any] = {}
        errors: dict[str, Exception] = {}
        caller = getattr(self.pm.hook, hook)
        impls = {self.pm.get_name(impl.plugin): impl for impl in caller.get_hookimpls()}
        for n in order:
            impl = impls.get(n)
            if impl is None:
                continue
            try:
                results[n] = impl.function(**{a: kwargs[a] for a in impl.argnames})
            except Exception as exc:  # noqa: BLE001 - reported per plugin by the caller
                errors[n] = exc
        return results, errors

    def schemas(self) -> dict[str, type]:
        """Each loaded plugin's settings class, from its ``config_schema`` hook."""
        results, errors = self.call_each("config_schema", self.loaded)
        issues = [
            ConfigIssue(f"plugins.{name}", f"config_schema() raised {type(exc).__name__}: {exc}")
            for name, exc in errors.items()
        ]
        issues += [
            ConfigIssue(f"plugins.{name}", "config_schema() must return an attrs class")
            for name, schema in results.items()
            if schema is not None and not attrs.has(schema)
        ]
        if issues:
            raise ConfigError(issues)
        return {name: schema for name, schema in results.items() if schema is not None}

    def providers(self) -> ProviderRegistry:
        """A registry of the providers the loaded plugins register (``register_providers``).

        A plugin that fails there is logged and skipped, unless it raised a ``BelugaError`` (a name
        registered twice), which is raised."""
        registry = ProviderRegistry()
        for name, fn in self.hookimpls("register_providers", self.loaded):

            def register(kind: str, factory: ProviderFactory, _plugin: str = name) -> None:
                registry.register(kind, factory, plugin=_plugin)

            try:
                fn(register=register)
            except BelugaError:
                raise
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the others
                log.error("plugin %r failed in register_providers: %s: %s", name, type(exc).__name__, exc)
        return registry


def _check_rank(obj: Any) -> str | None:
    rank = getattr(obj, "rank", None)
    if rank is None or (isinstance(rank, int) and not isinstance(rank, bool)):
        return None
    return f"rank must be an int (lower: outer), got {rank!r}"


_installed: ProviderRegistry | None = None


def new_provider(name: str, config: Any = None) -> Provider:
    """A provider of kind ``name`` from the installed plugins, outside any ``Kit``:
    ``new_provider("openai", ProviderConfig(api_key=..., model="gpt-4o"))``. The installed plugins
    are loaded once per process, on first use."""
    global _installed
    if _installed is None:
        _installed = PluginManager().providers()
    return _installed.create(name, config)


__all__ = [
    "DEFAULT_RANK",
    "GROUP",
    "PluginInfo",
    "PluginManager",
    "Selection",
    "clear_entry_point_cache",
    "new_provider",
]
