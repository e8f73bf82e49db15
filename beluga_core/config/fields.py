"""Declaring settings: ``setting()`` fields with bounds, choices and help, and ``Duration``."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from beluga_core.masking import mask_value

# -- durations ---------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


class Duration(float):
    """Seconds, written in config as a number or as ``"250ms"``, ``"30s"``, ``"5m"``, ``"1h"``."""

    @classmethod
    def parse(cls, value: Any) -> Duration:
        if isinstance(value, bool):
            raise ValueError(f"expected a duration like '30s', got {value!r}")
        if isinstance(value, int | float):
            if value < 0:
                raise ValueError(f"a duration cannot be negative, got {value!r}")
            return cls(value)
        if isinstance(value, str):
            m = _DURATION.match(value)
            if m:
                return cls(float(m.group(1)) * _UNITS[m.group(2)])
        raise ValueError(f"expected a duration like '250ms', '30s', '5m' or '1h', got {value!r}")

    def __repr__(self) -> str:
        return f"{float(self):g}s"


# -- declaring settings ------------------------------------------------------------------------


def _min(bound: float) -> Callable[[Any, Any, Any], None]:
    def check(_: Any, a: attrs.Attribute[Any], v: Any) -> None:
        if v is not None and v < bound:
            raise ValueError(f"must be at least {bound:g}, got {v!r}")

    return check


def _max(bound: float) -> Callable[[Any, Any, Any], None]:
    def check(_: Any, a: attrs.Attribute[Any], v: Any) -> None:
        if v is not None and v > bound:
            raise ValueError(f"must be at most {bound:g}, got {v!r}")

    return check


def _choices(options: Sequence[Any]) -> Callable[[Any, Any, Any], None]:
    def check(_: Any, a: attrs.Attribute[Any], v: Any) -> None:
        if v is not None and v not in options:
            close = difflib.get_close_matches(str(v), [str(o) for o in options], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"must be one of {', '.join(map(repr, options))}, got {v!r}{hint}")

    return check


def _masked_repr(value: Any) -> str:
    return "None" if value is None else repr(mask_value(str(value)))


def setting(
    default: Any = attrs.NOTHING,
    *,
    factory: Callable[[], Any] | None = None,
    min: float | None = None,
    max: float | None = None,
    choices: Sequence[Any] | None = None,
    secret: bool = False,
    help: str = "",
) -> Any:
    """An attrs field for a config schema, with range or choice checks and a help text.

    ``secret=True`` masks the value in ``repr`` (it is masked in logs by key name as well).
    """
    validators: list[Callable[[Any, Any, Any], None]] = []
    if min is not None:
        validators.append(_min(min))
    if max is not None:
        validators.append(_max(max))
    if choices is not None:
        validators.append(_choices(tuple(choices)))
    return attrs.field(
        default=default,
        factory=factory,
        validator=validators or None,
        repr=_masked_repr if secret else True,
        metadata={"help": help, "secret": secret, "min": min, "max": max, "choices": choices},
    )


__all__ = ["Duration", "setting"]
