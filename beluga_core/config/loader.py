"""Reading configuration: attrs classes loaded from TOML or JSON, validated all at once.

``load(Schema, path)`` reads a file into an attrs class: defaults, ``setting(min=, max=,
choices=)`` validators, nested sections, durations (``"30s"``, ``"5m"``), ``${ENV}`` and
``${ENV:-default}`` interpolation, and environment overrides (``BELUGA__SECTION__KEY=value``).
Every problem is collected into one ``ConfigError`` naming file, key path, line and reason.
"""

from __future__ import annotations

import difflib
import enum
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import attrs

from beluga_core.config.fields import Duration
from beluga_core.errors import ConfigError, ConfigIssue
from beluga_core.masking import is_secret_key, is_secret_name, mask_value

T = TypeVar("T")

ENV_PREFIX = "BELUGA__"

# -- environment -------------------------------------------------------------------------------

_INTERP = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(data: Any, env: Mapping[str, str], path: str, issues: list[ConfigIssue]) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string; ``$$`` is a literal ``$``."""
    if isinstance(data, str):
        if "$" not in data:
            return data

        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            issues.append(
                ConfigIssue(path, f"environment variable {name} is not set (write ${{{name}:-default}} for a fallback)")
            )
            return ""

        return _INTERP.sub(sub, data)
    if isinstance(data, dict):
        return {k: interpolate(v, env, _join(path, k), issues) for k, v in data.items()}
    if isinstance(data, list):
        return [interpolate(v, env, f"{path}[{i}]", issues) for i, v in enumerate(data)]
    return data


def _norm(key: str) -> str:
    return key.lower().replace("-", "_")


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def apply_env_overrides(
    data: dict[str, Any], env: Mapping[str, str], prefix: str = ENV_PREFIX, names: Sequence[str] = ()
) -> list[str]:
    """Apply ``PREFIX + SECTION__KEY=value`` overrides in place; returns the key paths changed.

    Path parts match keys case-insensitively, with ``_`` standing for ``-``; ``names`` adds known
    names (plugin names) that may not be in the file yet. Values are read as TOML values
    (``100``, ``true``, ``["a", "b"]``) and otherwise taken as strings.
    """
    changed = []
    for var in sorted(env):
        if not var.startswith(prefix) or var == prefix:
            continue
        parts = [p for p in var[len(prefix) :].split("__") if p]
        node: dict[str, Any] = data
        path = []
        for i, part in enumerate(parts):
            key = next((k for k in node if _norm(k) == _norm(part)), None)
            if key is None:
                key = next((n for n in names if _norm(n) == _norm(part)), part.lower())
            path.append(key)
            if i == len(parts) - 1:
                node[key] = _parse_env_value(env[var])
            else:
                nxt = node.get(key)
                if not isinstance(nxt, dict):
                    nxt = node[key] = {}
                node = nxt
        changed.append(".".join(path))
    return changed


# -- reading files -----------------------------------------------------------------------------


def read_file(path: str | Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML or JSON file into a dict; returns ``(data, text)``. Raises ``ConfigError``."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"file not found: {p}", file=str(p)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {p}: {exc.strerror}", file=str(p)) from None
    return parse_text(raw, str(p))


def parse_text(raw: bytes | str, file: str) -> tuple[dict[str, Any], str]:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=file) from None
    too_deep = f"arrays and tables nested more than {MAX_DEPTH} levels deep"
    if file.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError([ConfigIssue("", f"invalid JSON: {exc.msg}", file=file, line=exc.lineno)]) from None
        except RecursionError:
            raise ConfigError(too_deep, file=file) from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"line (\d+)", str(exc))
            line = int(m.group(1)) if m else None
            raise ConfigError([ConfigIssue("", f"invalid TOML: {exc}", file=file, line=line)]) from None
        except RecursionError:
            raise ConfigError(too_deep, file=file) from None
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a table/object", file=file)
    if _deeper_than(data, MAX_DEPTH):
        raise ConfigError(too_deep, file=file)
    return data, text


#: Deepest nesting of arrays and tables a config file may have (every later step walks it).
MAX_DEPTH = 32


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and dicts more than ``limit`` levels (walked without recursion)."""
    level: list[Any] = [value]
    for _ in range(limit):
        level = [v for c in level for v in (c.values() if isinstance(c, dict) else c)
                 if isinstance(v, dict | list)]
        if not level:
            return False
    return True


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEYLINE = re.compile(r"^\s*([A-Za-z0-9_\-\".' ]+?)\s*=")


def toml_key_lines(text: str) -> dict[str, int]:
    """Best-effort map from dotted key path to line number in a TOML text (for error messages)."""
    lines: dict[str, int] = {}
    table = ""
    for n, line in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(line)
        if m and "=" not in line.split("#")[0]:
            table = ".".join(p.strip().strip("\"'") for p in m.group(1).split("."))
            lines.setdefault(table, n)
            continue
        m = _KEYLINE.match(line)
        if m:
            key = ".".join(p.strip().strip("\"'") for p in m.group(1).split("."))
            lines.setdefault(_join(table, key), n)
    return lines


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


# -- building typed objects --------------------------------------------------------------------


class _Ctx:
    def __init__(self, file: str | None, lines: Mapping[str, int] | None) -> None:
        self.file = file
        self.lines = lines or {}
        self.issues: list[ConfigIssue] = []

    def add(self, path: str, reason: str) -> None:
        last = path.rsplit(".", 1)[-1]
        if is_secret_name(last) and ", got " in reason:
            reason = reason.split(", got ", 1)[0] + ", got a value of the wrong kind (hidden: secret)"
        # The nearest enclosing key that has a line: a list element's is its key's (``a.b[1]`` -> ``a.b``).
        line = self.lines.get(path)
        probe = path
        while line is None and probe:
            bare = re.sub(r"(\[\d+\])+$", "", probe)
            probe = bare if bare != probe else probe.rpartition(".")[0]
            line = self.lines.get(probe) if probe else None
        self.issues.append(ConfigIssue(path, reason, file=self.file, line=line))


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


_MISSING = object()


def _type_name(tp: Any) -> str:
    if tp is Duration:
        return "a duration like '30s'"
    if isinstance(tp, type):
        return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(tp, tp.__name__)
    return str(tp).replace("typing.", "")


def _convert(tp: Any, value: Any, path: str, ctx: _Ctx) -> Any:
    """Convert ``value`` to type ``tp``, recording issues; returns ``_MISSING`` on failure."""
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return _convert_union(typing.get_args(tp), value, path, ctx)
    if value is None:
        ctx.add(path, f"expected {_type_name(tp)}, got nothing (null)")
        return _MISSING
    if origin is Literal:
        return _one_of(typing.get_args(tp), value, path, ctx)
    if attrs.has(tp):
        return build(tp, value, path, ctx)
    if tp is Duration:
        try:
            return Duration.parse(value)
        except ValueError as exc:
            ctx.add(path, str(exc))
            return _MISSING
    if tp in _SCALARS:
        return _convert_scalar(tp, value, path, ctx)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            return _one_of(tuple(str(m.value) for m in tp), _NOT_A_VALUE, path, ctx, shown=value)
    if origin in (tuple, list, Sequence, typing.Sequence) or tp in (tuple, list):
        return _convert_list(tp, value, path, ctx)
    if origin in (dict, Mapping, typing.Mapping) or tp in (dict,):
        return _convert_table(tp, value, path, ctx)
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        ctx.add(path, f"expected {_type_name(tp)}, got {value!r}")
        return _MISSING
    return value


def _convert_union(options: tuple[Any, ...], value: Any, path: str, ctx: _Ctx) -> Any:
    """The first option ``value`` converts to without an issue (``None`` for an optional)."""
    if value is None and type(None) in options:
        return None
    options = tuple(o for o in options if o is not type(None))
    if len(options) == 1:
        return _convert(options[0], value, path, ctx)
    for option in options:
        trial = _Ctx(ctx.file, ctx.lines)
        out = _convert(option, value, path, trial)
        if not trial.issues:
            return out
    ctx.add(path, f"expected {' or '.join(_type_name(o) for o in options)}, got {value!r}")
    return _MISSING


_NOT_A_VALUE = object()


def _one_of(allowed: tuple[Any, ...], value: Any, path: str, ctx: _Ctx, *, shown: Any = _NOT_A_VALUE) -> Any:
    """``value`` if it is one of ``allowed``; otherwise an issue naming the closest, if any
    (``shown`` is what the message quotes, when that is not ``value``)."""
    if value in allowed:
        return value
    shown = value if shown is _NOT_A_VALUE else shown
    close = difflib.get_close_matches(str(shown), [str(a) for a in allowed], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    ctx.add(path, f"must be one of {', '.join(map(repr, allowed))}, got {shown!r}{hint}")
    return _MISSING


#: Scalar types: what a value must be (bool is not an int here), and how it is stored.
_SCALARS: dict[type, tuple[Callable[[Any], bool], Callable[[Any], Any]]] = {
    bool: (lambda v: isinstance(v, bool), lambda v: v),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), lambda v: v),
    float: (lambda v: isinstance(v, int | float) and not isinstance(v, bool), float),
    str: (lambda v: isinstance(v, str), lambda v: v),
}


def _convert_scalar(tp: type, value: Any, path: str, ctx: _Ctx) -> Any:
    accepts, store = _SCALARS[tp]
    if accepts(value):
        return store(value)
    ctx.add(path, f"expected {_type_name(tp)}, got {value!r}")
    return _MISSING


def _convert_list(tp: Any, value: Any, path: str, ctx: _Ctx) -> Any:
    if not isinstance(value, list | tuple):
        ctx.add(path, f"expected a list, got {value!r}")
        return _MISSING
    args = typing.get_args(tp)
    items = [_convert(args[0] if args else Any, v, f"{path}[{i}]", ctx) for i, v in enumerate(value)]
    if any(item is _MISSING for item in items):
        return _MISSING  # each bad element is reported; the list is not half-built
    return items if typing.get_origin(tp) is list else tuple(items)


def _convert_table(tp: Any, value: Any, path: str, ctx: _Ctx) -> Any:
    if not isinstance(value, dict):
        ctx.add(path, f"expected a table, got {value!r}")
        return _MISSING
    args = typing.get_args(tp)
    table = {k: _convert(args[1] if len(args) == 2 else Any, v, _join(path, k), ctx) for k, v in value.items()}
    return _MISSING if any(v is _MISSING for v in table.values()) else table


def _key_of(a: attrs.Attribute[Any]) -> str:
    return str(a.metadata.get("key", a.name))


def build(cls: type[T], data: Any, path: str, ctx: _Ctx) -> T:
    """Build attrs class ``cls`` from a mapping, recording every issue in ``ctx``."""
    if not isinstance(data, Mapping):
        ctx.add(path, f"expected a table, got {data!r}")
        return _MISSING  # type: ignore[return-value]
    fields = attrs.fields(cls)  # type: ignore[arg-type]
    hints = _hints(cls)
    by_key = {_key_of(a): a for a in fields if a.init}
    for key in data:
        if key not in by_key:
            close = difflib.get_close_matches(str(key), list(by_key), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(by_key)) or "none"
            ctx.add(_join(path, key), f"unknown key {key!r}{hint} (known keys: {known})")
    kwargs: dict[str, Any] = {}
    failed = False
    for key, a in by_key.items():
        kpath = _join(path, key)
        if key not in data:
            if a.default is attrs.NOTHING:
                ctx.add(kpath, "required key is missing")
                failed = True
            continue
        value = _convert(hints.get(a.name, Any), data[key], kpath, ctx)
        if value is _MISSING:
            failed = True
            continue
        if a.validator is not None:
            try:
                a.validator(None, a, value)
            except (ValueError, TypeError) as exc:
                ctx.add(kpath, _reason(exc))
                failed = True
                continue
        kwargs[a.alias or a.name] = value
    if failed:
        return _MISSING  # type: ignore[return-value]
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        ctx.add(path, _reason(exc))
        return _MISSING  # type: ignore[return-value]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TypeError) and len(exc.args) >= 2 and isinstance(exc.args[1], attrs.Attribute):
        return str(exc.args[0])
    return str(exc)


# -- the public recipe API ---------------------------------------------------------------------


def from_dict(
    cls: type[T],
    data: Mapping[str, Any],
    *,
    file: str | None = None,
    text: str | None = None,
    env: Mapping[str, str] | None = None,
    env_prefix: str | None = ENV_PREFIX,
) -> T:
    """Build and validate ``cls`` from already-parsed data (see ``load``)."""
    env = os.environ if env is None else env
    work: dict[str, Any] = json.loads(json.dumps(data, default=str)) if data else {}
    if env_prefix:
        apply_env_overrides(work, env, env_prefix)
    ctx = _Ctx(file, toml_key_lines(text) if text and not (file or "").endswith(".json") else None)
    work = interpolate(work, env, "", ctx.issues)
    for issue in ctx.issues:
        issue.file = file
    obj = build(cls, work, "", ctx)
    if ctx.issues or obj is _MISSING:
        raise ConfigError(ctx.issues or [ConfigIssue("", "invalid configuration", file=file)], file=file)
    return obj


def check_options(schema: type, options: Mapping[str, Any], path: str) -> None:
    """Raise ``ConfigError`` listing every issue of ``options`` against attrs class ``schema``,
    each named under ``path`` (``providers.openai.options.headers``)."""
    ctx = _Ctx(None, None)
    build(schema, dict(options), path, ctx)
    if ctx.issues:
        raise ConfigError(ctx.issues)


def load(
    cls: type[T],
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    env_prefix: str | None = ENV_PREFIX,
) -> T:
    """Load a TOML or JSON file into attrs class ``cls``; raises ``ConfigError`` listing every issue.

    An explicit ``0``, ``""`` or ``false`` in the file is kept; missing keys take their defaults.
    """
    data, text = read_file(path)
    return from_dict(cls, data, file=str(path), text=text, env=env, env_prefix=env_prefix)


def validate(obj: Any) -> list[ConfigIssue]:
    """Re-run every field validator of an attrs object (nested too); returns the issues found."""
    ctx = _Ctx(None, None)
    _validate(obj, "", ctx)
    return ctx.issues


def _validate(obj: Any, path: str, ctx: _Ctx) -> None:
    for a in attrs.fields(type(obj)):
        value = getattr(obj, a.name)
        kpath = _join(path, _key_of(a))
        if a.validator is not None:
            try:
                a.validator(obj, a, value)
            except (ValueError, TypeError) as exc:
                ctx.add(kpath, _reason(exc))
        if attrs.has(type(value)):
            _validate(value, kpath, ctx)


def to_dict(obj: Any, *, masked: bool = True) -> Any:
    """A plain dict of an attrs config object, secrets masked unless ``masked=False``."""
    if attrs.has(type(obj)):
        out = {}
        for a in attrs.fields(type(obj)):
            v = to_dict(getattr(obj, a.name), masked=masked)
            if masked and v is not None and (a.metadata.get("secret") or is_secret_key(a.name)) and isinstance(v, str):
                v = mask_value(v)
            out[_key_of(a)] = v
        return out
    if isinstance(obj, Mapping):
        return {k: to_dict(v, masked=masked) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_dict(v, masked=masked) for v in obj]
    if isinstance(obj, Duration):
        return float(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    return obj


def diff(old: Any, new: Any, path: str = "") -> list[str]:
    """Key paths whose values differ between two configs (or plain dicts)."""
    a = to_dict(old, masked=False) if attrs.has(type(old)) else old
    b = to_dict(new, masked=False) if attrs.has(type(new)) else new
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b), key=str):
            out.extend(diff(a.get(k, _MISSING), b.get(k, _MISSING), _join(path, k)))
        return out
    return [] if a == b else [path or "<root>"]


def describe(cls: type) -> list[dict[str, Any]]:
    """Every key of a schema with type, default, bounds and help (for docs and ``beluga check``)."""
    rows: list[dict[str, Any]] = []
    hints = _hints(cls)
    for a in attrs.fields(cls):
        default: Any = a.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        rows.append(
            {
                "key": _key_of(a),
                "type": _type_name(hints.get(a.name, Any)),
                "default": None if default is attrs.NOTHING else to_dict(default),
                "required": default is attrs.NOTHING,
                "help": a.metadata.get("help", ""),
                "min": a.metadata.get("min"),
                "max": a.metadata.get("max"),
                "choices": a.metadata.get("choices"),
            }
        )
    return rows


__all__ = [
    "ENV_PREFIX",
    "apply_env_overrides",
    "build",
    "check_options",
    "describe",
    "diff",
    "from_dict",
    "interpolate",
    "load",
    "parse_text",
    "read_file",
        "to_dict",
    "validate",
]
