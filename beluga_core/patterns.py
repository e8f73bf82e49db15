"""Linear-time regular expressions for guards, with clear errors for bad user patterns.

Patterns run on RE2 (``google-re2``): no backtracking, so no input can make a match take more
than linear time. RE2 rejects what needs backtracking (lookaround, backreferences); the error
says so and names the pattern. Guard plugins depend on ``google-re2``; the core does not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from beluga_core.errors import ConfigError, ConfigIssue

#: Longest user pattern accepted (characters).
MAX_PATTERN_LENGTH = 4096
#: Memory RE2 may use for one compiled pattern; larger automata are refused.
MAX_PATTERN_MEMORY = 8 << 20


def _re2() -> Any:
    try:
        import re2  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError as exc:  # pragma: no cover - guard plugins install it
        raise ConfigError("linear-time patterns need google-re2: pip install google-re2") from exc
    return re2


def compile_pattern(name: str, pattern: str, *, key: str = "patterns", case_sensitive: bool = False) -> Any:
    """Compile ``pattern`` with RE2, or raise ``ConfigError`` naming the pattern and the reason.

    ``key`` is the config key path reported in errors (e.g. ``plugins.guard-injection.patterns``).
    Matching is case-insensitive unless ``case_sensitive``.
    """
    where = f"{key}.{name}"
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError([ConfigIssue(where, f"pattern {name!r} must be a non-empty string")])
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ConfigError(
            [ConfigIssue(where, f"pattern {name!r} is {len(pattern)} characters; the limit is {MAX_PATTERN_LENGTH}")]
        )
    re2 = _re2()
    options = re2.Options()
    options.log_errors = False
    options.max_mem = MAX_PATTERN_MEMORY
    options.case_sensitive = case_sensitive
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        hint = ""
        if "(?<" in pattern or "(?=" in pattern or "(?!" in pattern or "\\1" in pattern:
            hint = " (lookaround and backreferences need backtracking, which is not allowed: rewrite without them)"
        raise ConfigError([ConfigIssue(where, f"pattern {name!r} = {pattern!r} is invalid: {reason}{hint}")]) from None


def raw_match(compiled: Any) -> Callable[..., Any]:
    """``compiled``'s RE2 ``Match(anchor, data, pos, endpos)`` over bytes: the spans of the whole match
    and of each group, ``(-1, -1)`` where none, without Python match objects (for hot paths; ``endpos``
    must not pass the end of ``data``). The one place that reaches into google-re2's wrapper."""
    return compiled._regexp.Match  # type: ignore[no-any-return]


def re2_anchor(*, start: bool = False) -> Any:
    """The anchor ``raw_match`` takes: unanchored search, or anchored at ``pos`` if ``start``."""
    anchor = _re2()._Anchor
    return anchor.ANCHOR_START if start else anchor.UNANCHORED


__all__ = ["MAX_PATTERN_LENGTH", "MAX_PATTERN_MEMORY", "compile_pattern", "raw_match", "re2_anchor"]
