"""Retries with exponential backoff and jitter that honour Retry-After and the call's deadline.

>>> from beluga_retry import RetryPolicy, retry
>>> retry(RetryPolicy.default(), lambda: "ok")
'ok'
"""

from __future__ import annotations

from beluga_retry.plugin import RetryPlugin, RetrySettings
from beluga_retry.policy import RetryDeadlineExceeded, RetryEvent, RetryExhausted, RetryPolicy, error_code
from beluga_retry.runner import aretry, aretrying, retry, retrying

__all__ = [
    "RetryDeadlineExceeded",
    "RetryEvent",
    "RetryExhausted",
    "RetryPlugin",
    "RetryPolicy",
    "RetrySettings",
    "aretry",
    "aretrying",
    "error_code",
    "retry",
    "retrying",
]
