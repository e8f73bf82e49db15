"""The ``guard-injection`` plugin: ``InjectionDetector`` on the input, tool and (opt-in) output stages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from beluga_core import ConfigError, GuardInput, GuardResult, get_logger, hookimpl, setting
from beluga_guard_injection.detector import (
    DEFAULT_MAX_INPUT_CHARS,
    DEFAULT_THRESHOLD,
    LEARNED_SCOPES,
    InjectionDetector,
)
from beluga_guard_injection.signals import CATEGORIES

log = get_logger("beluga.guard_injection")

_KEY = "plugins.guard-injection"


def _check_patterns(_: Any, a: attrs.Attribute[Any], value: Mapping[str, str]) -> None:
    try:
        InjectionDetector(value, defaults=False, key=f"{_KEY}.patterns")
    except ConfigError as exc:
        raise ValueError("; ".join(i.reason for i in exc.issues)) from None


def _check_disabled(_: Any, a: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    unknown = [v for v in value if v not in CATEGORIES]
    if unknown:
        raise ValueError(f"unknown categories {unknown!r} (known: {', '.join(CATEGORIES)})")


def _check_stages(_: Any, a: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    unknown = [v for v in value if v not in ("input", "output", "tool")]
    if unknown:
        raise ValueError(f"unknown stages {unknown!r} (known: 'input', 'output', 'tool')")


@attrs.frozen
class InjectionSettings:
    """The ``[plugins.guard-injection]`` section."""

    stages: tuple[str, ...] = attrs.field(
        default=("input", "tool"),
        validator=_check_stages,
        metadata={"help": "stages to guard: input, tool, output (output is off by default: answers discuss attacks)"},
    )
    threshold: float = setting(
        DEFAULT_THRESHOLD, min=0.05, max=100, help="passage score that blocks (a strong signal weighs 1.0)"
    )
    defaults: bool = setting(True, help="use the built-in signals and learned stage (false: only your patterns)")
    patterns: Mapping[str, str] = attrs.field(
        factory=dict,
        validator=_check_patterns,
        metadata={"help": "named RE2 patterns, case-insensitive; a match blocks: {name = 'regex'}"},
    )
    disabled: tuple[str, ...] = attrs.field(
        default=(), validator=_check_disabled, metadata={"help": "built-in categories to turn off"}
    )
    max_input_chars: int = setting(
        DEFAULT_MAX_INPUT_CHARS, min=1, help="longer texts are blocked unread (scanning is linear; this caps cost)"
    )
    scan_system: bool = setting(False, help="also scan system messages (your own prompt; off by default)")
    learned: bool = setting(
        True,
        help="add the learned stage: text the signals let through is blocked at a high model probability",
    )
    learned_threshold: float | None = setting(
        None, min=0.5, max=1.0, help="the learned stage's blocking probability (default: the shipped model's own)"
    )
    learned_scope: str = setting(
        "signalled",
        choices=LEARNED_SCOPES,
        help="text the learned stage reads: 'signalled' (a signal matched, too weak to block) or 'all'",
    )


class InjectionPlugin:
    """Blocks prompt injection in user text, tool results and tool-call arguments."""

    name = "guard-injection"
    rank = 300  #: where it goes when [beluga] plugins does not list it (lower: outer)

    def __init__(self) -> None:
        self._state: tuple[InjectionDetector | None, frozenset[str], bool] = (None, frozenset(), False)
        self._settings = InjectionSettings()
        self._pending = True

    def _apply(self, settings: InjectionSettings) -> None:
        # Build lazily, on the first text to check: listing plugins or building a Kit that never
        # guards must not pay for compiling the built-in signals. (Compiled signals are shared
        # process-wide, so a reload with the same categories costs only the user patterns.)
        self._settings = settings
        self._pending = True

    def _build(self) -> tuple[InjectionDetector | None, frozenset[str], bool]:
        settings = self._settings
        detector = InjectionDetector(
            settings.patterns,
            defaults=settings.defaults,
            threshold=settings.threshold,
            disabled=settings.disabled,
            max_input_chars=settings.max_input_chars,
            key=f"{_KEY}.patterns",
            learned=settings.learned and settings.defaults,  # defaults = false: only your patterns
            learned_threshold=settings.learned_threshold,
            learned_scope=settings.learned_scope,
        )
        # One attribute write: a call in flight keeps the detector it started with.
        self._state = (detector, frozenset(settings.stages), settings.scan_system)
        self._pending = False
        return self._state

    @property
    def detector(self) -> InjectionDetector:
        state = self._build() if self._pending else self._state
        assert state[0] is not None
        return state[0]

    @hookimpl
    def config_schema(self) -> type:
        return InjectionSettings

    @hookimpl
    def on_settings(self, settings: InjectionSettings) -> None:
        self._apply(settings)

    def _guard(self, guard_input: GuardInput) -> GuardResult | None:
        detector, stages, scan_system = self._build() if self._pending else self._state
        if guard_input.stage not in stages:
            return None
        if not scan_system and guard_input.metadata.get("role") == "system":
            return None
        assert detector is not None
        result = detector.validate(guard_input)
        if not result.allowed:
            log.warning(
                "blocked at %s stage: %s", guard_input.stage, ", ".join(sorted({f.type for f in result.findings}))
            )
        return result

    @hookimpl
    def on_input(self, guard_input: GuardInput) -> GuardResult | None:
        return self._guard(guard_input)

    @hookimpl
    def on_output(self, guard_input: GuardInput) -> GuardResult | None:
        return self._guard(guard_input)

    @hookimpl
    def on_tool_call(self, guard_input: GuardInput) -> GuardResult | None:
        return self._guard(guard_input)


__all__ = ["InjectionPlugin", "InjectionSettings"]
