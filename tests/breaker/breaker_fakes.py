"""A manual clock for breaker tests, and a failing callable."""

from __future__ import annotations

from beluga_core import ErrorCode, ProviderError


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def outage(message: str = "down") -> ProviderError:
    return ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, message, provider="test")


def fail() -> None:
    raise outage()


def ok() -> str:
    return "ok"
