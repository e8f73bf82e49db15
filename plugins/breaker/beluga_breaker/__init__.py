"""Circuit breakers: fail fast while a dependency is down, probe it back to health.

>>> from beluga_breaker import CircuitBreaker
>>> breaker = CircuitBreaker(failure_threshold=5, reset_timeout=30.0)
>>> breaker.call(lambda: "ok")
'ok'
"""

from __future__ import annotations

from beluga_breaker.breaker import DEFAULT_IGNORED, CircuitBreaker, CircuitState, StateListener
from beluga_breaker.plugin import BreakerPlugin, BreakerSettings
from beluga_core import CircuitOpenError

__all__ = [
    "DEFAULT_IGNORED",
    "BreakerPlugin",
    "BreakerSettings",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "StateListener",
]
