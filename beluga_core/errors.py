"""Beluga's error hierarchy: one base class, a machine-readable code, and a few subclasses."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any


class ErrorCode(enum.StrEnum):
    """What went wrong, in terms a retry policy, a breaker or an HTTP gateway can act on."""

    RATE_LIMIT = "rate_limit"
    TIMEOUT = "timeout"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    AUTH = "auth"
    INVALID_INPUT = "invalid_input"
    TOOL_FAILED = "tool_failed"
    GUARD_BLOCKED = "guard_blocked"
    BUDGET_EXHAUSTED = "budget_exhausted"
    NOT_FOUND = "not_found"
    QUOTA_EXCEEDED = "quota_exceeded"


#: The codes a retry policy retries unless configured otherwise.
RETRYABLE_BY_DEFAULT: frozenset[ErrorCode] = frozenset(
    {ErrorCode.RATE_LIMIT, ErrorCode.TIMEOUT, ErrorCode.PROVIDER_UNAVAILABLE}
)


class BelugaError(Exception):
    """Base of every error Beluga raises on purpose.

    ``code`` says what kind of failure it is; ``retryable`` whether a retry may succeed.
    """

    default_code: ErrorCode = ErrorCode.INVALID_INPUT

    def __init__(
        self,
        code: ErrorCode | str | None = None,
        message: str = "",
        *,
        retry_after: float | None = None,
        status_code: int | None = None,
    ) -> None:
        self.code = ErrorCode(code) if code is not None else self.default_code
        self.message = message or self.code.value
        self.retry_after = retry_after
        self.status_code = status_code
        super().__init__(self.message)

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_BY_DEFAULT

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.value!r}, message={self.message!r})"


class GuardBlocked(BelugaError):
    """A guard refused a text segment. ``guard`` names it, ``stage`` is input, output or tool."""

    default_code = ErrorCode.GUARD_BLOCKED

    def __init__(self, guard: str, reason: str, *, stage: str = "input") -> None:
        self.guard = guard
        self.reason = reason
        self.stage = stage
        super().__init__(ErrorCode.GUARD_BLOCKED, f"blocked by guard {guard!r} at {stage}: {reason}")


class RateLimited(BelugaError):
    """A rate limit was hit; ``retry_after`` (seconds) says when trying again makes sense."""

    default_code = ErrorCode.RATE_LIMIT

    def __init__(self, message: str = "rate limit exceeded", *, retry_after: float | None = None) -> None:
        super().__init__(ErrorCode.RATE_LIMIT, message, retry_after=retry_after)


class CircuitOpenError(BelugaError):
    """A circuit breaker is open and refuses calls until ``retry_after`` seconds have passed."""

    default_code = ErrorCode.PROVIDER_UNAVAILABLE

    def __init__(self, message: str = "circuit open", *, retry_after: float | None = None) -> None:
        super().__init__(ErrorCode.PROVIDER_UNAVAILABLE, message, retry_after=retry_after)


class ProviderError(BelugaError):
    """A model provider failed; ``provider`` names it and ``status_code`` is the HTTP status if any.

    ``local`` is true when the failure was this process's own (every pooled connection busy), not
    the provider's: breakers do not count it against the provider.
    """

    default_code = ErrorCode.PROVIDER_UNAVAILABLE

    def __init__(
        self,
        code: ErrorCode | str,
        message: str,
        *,
        provider: str = "",
        retry_after: float | None = None,
        status_code: int | None = None,
        local: bool = False,
    ) -> None:
        self.provider = provider
        self.local = local
        super().__init__(code, message, retry_after=retry_after, status_code=status_code)


class StorageUnavailable(ProviderError):
    """A plugin's shared storage (Redis, ...) cannot be reached and its failure mode is ``closed``.

    ``plugin`` names the plugin, ``storage`` the storage (password masked, never the URL's secret);
    ``retry_after`` is when it will be tried again. Gateways answer 503 with ``Retry-After``.
    """

    def __init__(self, storage: str, reason: str, *, plugin: str, retry_after: float | None = None) -> None:
        self.storage = storage
        self.plugin = plugin
        super().__init__(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"{plugin}: storage {storage} is unreachable ({reason}); failing closed, request denied. "
            f"Start the storage, or set [plugins.{plugin}] failure_mode = \"open\" to admit requests meanwhile",
            provider=plugin,
            retry_after=retry_after,
        )


class QuotaExceeded(BelugaError):
    """A spending budget has no room for the call: ``key`` names whose budget (a project, a user),
    ``period`` which one (``"day"``, ``"month"``). Not a rate limit and not the timeout budget:
    gateways answer 429 with OpenAI's ``insufficient_quota`` code."""

    default_code = ErrorCode.QUOTA_EXCEEDED

    def __init__(self, message: str, *, key: str = "", period: str = "", retry_after: float | None = None) -> None:
        self.key = key
        self.period = period
        super().__init__(ErrorCode.QUOTA_EXCEEDED, message, retry_after=retry_after)


class BudgetExhausted(BelugaError):
    """The call's deadline passed (or would pass) before the work could finish."""

    default_code = ErrorCode.BUDGET_EXHAUSTED


class ConfigIssue:
    """One problem found in a configuration: where (file, key path, line) and why."""

    __slots__ = ("file", "key", "line", "reason")

    def __init__(self, key: str, reason: str, *, file: str | None = None, line: int | None = None) -> None:
        self.key = key
        self.reason = reason
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.key or '<root>'}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "key": self.key, "reason": self.reason}

    def __repr__(self) -> str:
        return f"ConfigIssue({str(self)!r})"


class ConfigError(BelugaError):
    """A configuration could not be used. ``issues`` lists every problem found, not just the first."""

    default_code = ErrorCode.INVALID_INPUT

    def __init__(self, issues: Iterable[ConfigIssue] | str, *, file: str | None = None) -> None:
        if isinstance(issues, str):
            issues = [ConfigIssue("", issues, file=file)]
        self.issues = list(issues)
        for issue in self.issues:
            if issue.file is None:
                issue.file = file
        lines = [str(i) for i in self.issues]
        head = "invalid configuration" if len(lines) != 1 else lines[0]
        message = head if len(lines) == 1 else head + ":\n  " + "\n  ".join(lines)
        super().__init__(ErrorCode.INVALID_INPUT, message)


class PluginError(BelugaError):
    """A plugin could not be loaded or is misdeclared; names the plugin and its distribution."""

    default_code = ErrorCode.INVALID_INPUT

    def __init__(self, plugin: str, message: str, *, distribution: str | None = None) -> None:
        self.plugin = plugin
        self.distribution = distribution
        where = f"plugin {plugin!r}" + (f" (distribution {distribution})" if distribution else "")
        super().__init__(ErrorCode.INVALID_INPUT, f"{where}: {message}")


class ToolFailed(BelugaError):
    """A tool called through ``Kit.call_tool`` raised; the original exception is chained."""

    default_code = ErrorCode.TOOL_FAILED


__all__ = [
    "RETRYABLE_BY_DEFAULT",
    "BelugaError",
    "BudgetExhausted",
    "CircuitOpenError",
    "ConfigError",
    "ConfigIssue",
    "ErrorCode",
    "GuardBlocked",
    "PluginError",
    "ProviderError",
    "QuotaExceeded",
    "RateLimited",
    "StorageUnavailable",
    "ToolFailed",
]
