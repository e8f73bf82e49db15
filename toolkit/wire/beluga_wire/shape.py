"""Reading JSON whose shape is not trusted (a client's request, an upstream's reply), field by
field: every reader names the field it refuses (``messages[0].content``) and never quotes its value.

Shared by every wire module and by ``beluga_http``'s providers, so a malformed field reads the same
wherever it arrives."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

#: Control characters and the line and paragraph separators: never in a model name, which ends up
#: in breaker names, log lines and metric labels.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: The largest integer a request field the chain reads may hold.
INT64 = 2**63 - 1


class WireError(ValueError):
    """A field is missing or has the wrong type or value. ``where`` names it (``messages[0].content``),
    ``what`` says what is wrong; neither quotes the value."""

    def __init__(self, where: str, what: str) -> None:
        self.where = where
        self.what = what
        super().__init__(f"{where} {what}")


def load(body: bytes, where: str = "the body") -> Any:
    """JSON from bytes; not UTF-8, not JSON or nested too deep raises ``WireError``."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise WireError(where, "is not JSON") from None


def obj(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` as a JSON object."""
    if not isinstance(value, Mapping):
        raise WireError(where, "is not a JSON object")
    return value


def opt_obj(parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """``parent[key]`` as an object; absent or null is an empty one."""
    value = parent.get(key)
    return {} if value is None else obj(value, where)


def opt_str(parent: Mapping[str, Any], key: str, where: str) -> str | None:
    """``parent[key]`` as a string, or None when absent or null."""
    value = parent.get(key)
    if value is None or isinstance(value, str):
        return value
    raise WireError(where, "is not a string")


def req_str(parent: Mapping[str, Any], key: str, where: str) -> str:
    """``parent[key]``, which must be a string."""
    value = parent.get(key)
    if not isinstance(value, str):
        raise WireError(where, "is required (a string)" if value is None else "is not a string")
    return value


def opt_list(parent: Mapping[str, Any], key: str, where: str) -> list[Any]:
    """``parent[key]`` as a list; absent or null is an empty one."""
    return list_or_none(parent, key, where) or []


def list_or_none(parent: Mapping[str, Any], key: str, where: str) -> list[Any] | None:
    """``parent[key]`` as a list, or None when absent or null."""
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise WireError(where, "is not an array")
    return value


def opt_bool(parent: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = parent.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise WireError(where, "is not a boolean")


def opt_number(parent: Mapping[str, Any], key: str, where: str, lo: float, hi: float) -> float | None:
    """A number within ``lo`` … ``hi`` (booleans are not numbers), or None."""
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(where, "is not a number")
    if not lo <= value <= hi:
        raise WireError(where, f"must be between {lo:g} and {hi:g}")
    return float(value)


def opt_int(parent: Mapping[str, Any], key: str, where: str, lo: int) -> int | None:
    """An integer of at least ``lo`` that fits in 64 bits (``16.0`` is 16), or None."""
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(where, "is not an integer")
    if value < lo:
        raise WireError(where, f"must be at least {lo}")
    if value > INT64:  # token limits feed reservations and Redis scripts: keep them to 64 bits
        raise WireError(where, "must fit in 64 bits")
    return value


def count(parent: Mapping[str, Any], key: str, where: str) -> int:
    """A token count: a non-negative whole number (absent or null is 0)."""
    value = parent.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(where, "is not a number")
    if isinstance(value, float) and not (value.is_integer() and value < 2**53):
        raise WireError(where, "is not a whole number")
    if value < 0:
        raise WireError(where, "is negative")
    return int(value)


def index(parent: Mapping[str, Any], key: str, where: str) -> int:
    """A list index (absent or null is 0)."""
    value = parent.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise WireError(where, "is not an index")
    return value


__all__ = [
    "CONTROL",
    "INT64",
    "WireError",
    "count",
    "index",
    "list_or_none",
    "load",
    "obj",
    "opt_bool",
    "opt_int",
    "opt_list",
    "opt_number",
    "opt_obj",
    "opt_str",
    "req_str",
]
