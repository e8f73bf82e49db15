"""mkdocs hook: tables generated from the code, so the site cannot drift from it.

A page asks for the keys of a settings schema with a marker on a line of its own::

    <!-- config-keys beluga_retry.plugin:RetrySettings [plugins.retry] -->

and gets a table of every key with its type, default and meaning, read from the attrs class with
``beluga_core.config.describe`` (the same description ``beluga check`` works from). A field whose
type is itself a schema is expanded with dotted keys (``a.b``); an array of them with ``a[].b``.
A marker that names something missing fails the build.

It also drops the ``no-run`` flag from fences (```` ```python no-run ````: shown, but not run by the
tests), which the highlighter would otherwise not recognise as a code block, and the backslash of
``\\|`` in a table's code spans (GitHub needs it; Python-Markdown would print it). In the API
reference, a docstring's doctest (``>>>`` lines and their output) is shown as a Python session.
"""

from __future__ import annotations

import enum
import html
import importlib
import json
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

import attrs
from markdown import Extension, Markdown  # type: ignore[import-untyped]
from markdown.preprocessors import Preprocessor  # type: ignore[import-untyped]
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority

from beluga_core import Duration
from beluga_core.config import describe

MARKER = re.compile(r"^<!--\s*config-keys\s+(?P<target>[\w.]+:\w+)\s+(?P<section>\[[^\]]+\])\s*-->\s*$", re.M)
NO_RUN = re.compile(r"^(?P<fence>[ \t]*```+[\w+-]+)[ \t]+no-run[ \t]*$", re.M)
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean", Duration: "duration"}


def load_schema(target: str) -> type:
    """``module:Class`` to the attrs class it names."""
    module, _, name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"config-keys: cannot load {target}: {exc}") from exc
    if not attrs.has(cls):
        raise PluginError(f"config-keys: {target} is not an attrs class")
    return typing.cast(type, cls)


def _optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _nested(tp: Any) -> tuple[type | None, bool]:
    """The schema inside ``tp`` and whether it is an array of them, else ``(None, False)``."""
    tp, _ = _optional(tp)
    if attrs.has(tp):
        return tp, False
    if typing.get_origin(tp) in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        if len(args) == 1 and attrs.has(args[0]):
            return args[0], True
    return None, False


def type_name(tp: Any) -> str:
    """A value's type as a config file author reads it: ``duration``, ``array of strings``..."""
    tp, optional = _optional(tp)
    origin = typing.get_origin(tp)
    if tp in _SCALARS:
        name = _SCALARS[tp]
    elif tp is Any:
        name = "any"
    elif origin is Literal:
        name = "string"
    elif isinstance(tp, type) and issubclass(tp, enum.Enum):
        name = "error code" if tp.__name__ == "ErrorCode" else tp.__name__
    elif attrs.has(tp):
        name = "table"
    elif origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        inner = type_name(args[0]) if args else "any"
        name = f"array of {_plural(inner)}"
    elif origin in (dict, Mapping) or tp in (dict, Mapping):
        kv = typing.get_args(tp)
        name = f"table of {_plural(type_name(kv[1]))}" if len(kv) == 2 else "table"
    else:
        name = getattr(tp, "__name__", str(tp))
    return f"{name} (optional)" if optional else name


def _plural(name: str) -> str:
    return "values of any type" if name == "any" else name if " " in name and " of " in name else name + "s"


def _default(row: Mapping[str, Any], tp: Any) -> str:
    if row["required"]:
        return "**required**"
    value = row["default"]
    if value is None:
        return "unset"
    bare, _ = _optional(tp)
    if bare is Duration:
        return f'`"{float(value):g}s"`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str | list | dict):
        return f"`{json.dumps(value, ensure_ascii=False)}`" if value or isinstance(value, str) else f"`{value}`"
    return f"`{value}`"


def _meaning(row: Mapping[str, Any], tp: Any) -> str:
    help_text = row["help"].strip()
    if re.match(r"[a-z]+\b(?![_.:/])", help_text):  # a plain word, not an identifier like max_tokens
        help_text = help_text[:1].upper() + help_text[1:]
    parts = [help_text] if help_text else []
    bare, _ = _optional(tp)
    unit = "s" if bare is Duration else ""
    low, high = row["min"], row["max"]
    if unit and low == 0:
        low = None  # a duration is never negative: "at least 0s" says nothing
    if low is not None and high is not None:
        parts.append(f"From {low:g}{unit} to {high:g}{unit}.")
    elif low is not None:
        parts.append(f"At least {low:g}{unit}.")
    elif high is not None:
        parts.append(f"At most {high:g}{unit}.")
    choices = row["choices"] or (typing.get_args(bare) if typing.get_origin(bare) is Literal else None)
    if choices:
        parts.append("One of " + ", ".join(f"`{c}`" for c in choices) + ".")
    text = " ".join(p if p.endswith(".") else p + "." for p in parts)
    # Escape HTML outside code spans (help texts say ``<key>``), and the table's column separator.
    pieces = text.split("`")
    pieces = [p if i % 2 else html.escape(p, quote=False) for i, p in enumerate(pieces)]
    return "`".join(pieces).replace("|", "\\|")


def config_rows(cls: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """``(key, type, default, meaning)`` for every key of ``cls``, nested schemas expanded."""
    hints = typing.get_type_hints(cls)
    rows: list[tuple[str, str, str, str]] = []
    for field, row in zip(attrs.fields(cls), describe(cls), strict=True):  # describe keeps field order
        tp = hints.get(field.name, Any)
        key = prefix + row["key"]
        rows.append((key, type_name(tp), _default(row, tp), _meaning(row, tp)))
        inner, many = _nested(tp)
        if inner is not None:
            rows += config_rows(inner, key + ("[]." if many else "."))
    return rows


def config_keys_table(target: str, section: str) -> str:
    cls = load_schema(target)
    module, _, name = target.partition(":")
    lines = [
        f"Every key of `{section}`, generated from `{module}.{name}`.",
        "",
        "| Key | Type | Default | Meaning |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| `{k}` | {t} | {d} | {m} |" for k, t, d, m in config_rows(cls)]
    return "\n".join(lines) + "\n"


def _table_pipes(markdown: str) -> str:
    """In a table row, ``\\|`` inside a code span is a literal pipe (GitHub needs the backslash;
    Python-Markdown already ignores pipes in code spans and would print it)."""
    out = []
    for line in markdown.split("\n"):
        if line.lstrip().startswith("|") and "\\|" in line:
            pieces = line.split("`")
            line = "`".join(p.replace("\\|", "|") if i % 2 else p for i, p in enumerate(pieces))
        out.append(line)
    return "\n".join(out)


def on_page_markdown(markdown: str, **_: Any) -> str:
    markdown = _table_pipes(NO_RUN.sub(r"\g<fence>", markdown))
    return MARKER.sub(lambda m: config_keys_table(m["target"], m["section"]), markdown)


class _DoctestPreprocessor(Preprocessor):  # type: ignore[misc]
    """Fences each run of lines that starts with ``>>>`` (up to a blank line) as ``pycon``."""

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            if lines[i] != ">>>" and not lines[i].startswith(">>> "):
                out.append(lines[i])
                i += 1
                continue
            start = i
            while i < len(lines) and lines[i].strip():
                i += 1
            out += ["", "```pycon", *lines[start:i], "```", ""]
        return out


class _DoctestFences(Extension):  # type: ignore[misc]
    def extendMarkdown(self, md: Markdown) -> None:
        # After whitespace normalisation (30), before the fenced-code preprocessor (25) reads fences.
        md.preprocessors.register(_DoctestPreprocessor(md), "beluga_doctests", 29)


@event_priority(100)  # before mkdocstrings hands the extension list to its own Markdown
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    config.markdown_extensions.append(_DoctestFences())
    return config
