"""The ``guard-pii`` plugin: PII redaction on the input, output and tool stages of a Kit."""

from __future__ import annotations

from typing import Any

import attrs

from beluga_core import ConfigError, GuardInput, GuardResult, get_logger, hookimpl, setting
from beluga_guard_pii.detect import DEFAULT_PII_PATTERNS, ENTITIES, MAX_USER_PATTERNS, PIIPattern, compile_user_pattern
from beluga_guard_pii.redactor import ACTIONS, HASH_KEY_ENV, PIIRedactor

log = get_logger("beluga.guard_pii")

_KEY = "plugins.guard-pii"
_STAGES = ("input", "output", "tool")


def _meta(help: str) -> dict[str, Any]:
    return {"help": help, "secret": False, "min": None, "max": None, "choices": None}


def _check_entities(_: Any, __: Any, value: tuple[str, ...]) -> None:
    unknown = [e for e in value if e not in ENTITIES]
    if unknown:
        raise ValueError(f"unknown entities {unknown}; the built-in entities are {', '.join(ENTITIES)}")


def _check_stages(_: Any, __: Any, value: tuple[str, ...]) -> None:
    unknown = [s for s in value if s not in _STAGES]
    if unknown:
        raise ValueError(f"unknown stages {unknown}; stages are {', '.join(_STAGES)}")


def _check_actions(_: Any, __: Any, value: dict[str, str]) -> None:
    for entity, act in value.items():
        if act not in ACTIONS:
            raise ValueError(f"action for {entity!r} must be one of {', '.join(ACTIONS)}, got {act!r}")


def _check_patterns(_: Any, __: Any, value: dict[str, str]) -> None:
    if len(value) > MAX_USER_PATTERNS:
        raise ValueError(f"{len(value)} patterns; the limit is {MAX_USER_PATTERNS}")
    for name, pattern in value.items():
        try:
            compile_user_pattern(PIIPattern(name, pattern), key=f"{_KEY}.patterns")
        except ConfigError as exc:
            raise ValueError("; ".join(i.reason for i in exc.issues)) from None
        except ValueError as exc:  # a bad name
            raise ValueError(str(exc)) from None


@attrs.frozen
class PIISettings:
    """The ``[plugins.guard-pii]`` section."""

    entities: tuple[str, ...] = attrs.field(
        default=ENTITIES, validator=_check_entities, metadata=_meta("built-in entities to find")
    )
    action: str = setting("redact", choices=ACTIONS, help="what to do with an entity that has no entry in actions")
    actions: dict[str, str] = attrs.field(
        factory=dict,
        validator=_check_actions,
        metadata=_meta("per entity: redact, mask, hash, pseudonymize, block or report, e.g. {EMAIL = 'pseudonymize'}"),
    )
    patterns: dict[str, str] = attrs.field(
        factory=dict, validator=_check_patterns, metadata=_meta("extra entities: NAME = 'RE2 regex' (case-sensitive)")
    )
    placeholders: dict[str, str] = attrs.field(
        factory=dict, metadata=_meta("placeholder per entity for the redact action (default '[NAME]')")
    )
    hash_key: str | None = setting(
        None, secret=True, help=f"HMAC key for the hash action (default ${HASH_KEY_ENV}, else random per request)"
    )
    stages: tuple[str, ...] = attrs.field(
        default=_STAGES, validator=_check_stages, metadata=_meta("stages that redact: input, output, tool")
    )
    restore: bool = setting(True, help="restore pseudonyms ([EMAIL_1]) in the model's output for the caller")

    def __attrs_post_init__(self) -> None:
        known = set(self.entities) | set(self.patterns)
        for key, table in (("actions", self.actions), ("placeholders", self.placeholders)):
            unknown = sorted(set(table) - known)
            if unknown:
                raise ValueError(f"{key} names unknown entities {unknown}; known: {', '.join(sorted(known))}")

    def redactor(self) -> PIIRedactor:
        """The redactor these settings describe."""
        builtins = [
            attrs.evolve(p, placeholder=self.placeholders.get(p.name, p.placeholder))
            for p in DEFAULT_PII_PATTERNS
            if p.name in self.entities
        ]
        user = [PIIPattern(n, rx, self.placeholders.get(n, f"[{n}]")) for n, rx in self.patterns.items()]
        return PIIRedactor(
            *builtins,
            *user,
            action=self.action,  # type: ignore[arg-type]
            actions=self.actions,  # type: ignore[arg-type]
            hash_key=self.hash_key,
            restore=self.restore,
            key=f"{_KEY}.patterns",
        )


class PIIPlugin:
    """Redacts PII before the model sees it, in what it answers, and in tool-call arguments."""

    name = "guard-pii"
    rank = 310  #: where it goes when [beluga] plugins does not list it (lower: outer)

    def __init__(self) -> None:
        self._apply(PIISettings())

    def _apply(self, settings: PIISettings) -> None:
        redactor = settings.redactor()
        stages = frozenset(settings.stages)
        self._state = (redactor, "input" in stages, "output" in stages, "tool" in stages)

    @hookimpl
    def config_schema(self) -> type:
        return PIISettings

    @hookimpl
    def on_settings(self, settings: PIISettings) -> None:
        self._apply(settings)

    @hookimpl
    def on_input(self, guard_input: GuardInput) -> GuardResult | None:
        redactor, on, _, _ = self._state
        return _verdict(redactor.validate(guard_input)) if on else None

    @hookimpl
    def on_output(self, guard_input: GuardInput) -> GuardResult | None:
        redactor, _, on, _ = self._state
        if on:
            return _verdict(redactor.validate(guard_input))
        if redactor.restore_output:
            restored = redactor.restore(guard_input.text, guard_input.state)
            if restored != guard_input.text:
                return GuardResult.modify(restored, reason="pseudonyms restored")
        return None

    @hookimpl
    def on_tool_call(self, guard_input: GuardInput) -> GuardResult | None:
        redactor, _, _, on = self._state
        return _verdict(redactor.validate(guard_input)) if on else None


def _verdict(result: GuardResult) -> GuardResult | None:
    """Nothing found and nothing changed: pass silently (no decision for observers)."""
    return None if result.allowed and result.modified is None and not result.findings else result


__all__ = ["PIIPlugin", "PIISettings"]
