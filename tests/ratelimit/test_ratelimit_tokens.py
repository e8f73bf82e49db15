"""Token limits: reserve the estimate before the call, settle to the reported usage after it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import pytest

from beluga_core import ErrorCode, HumanMessage, ProviderError, RateLimited, estimate_request_tokens
from beluga_core.testing import kit_with
from beluga_ratelimit import RateLimiter
from beluga_ratelimit.plugin import RateLimitPlugin

T0 = 3_600_000.0


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def storage_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "memory":
        yield "memory://"
    else:
        yield request.getfixturevalue("redis_url")


def test_fifty_concurrent_reservations_never_exceed_the_token_limit(storage_url: str) -> None:
    """Tracked total of (reserved for calls in flight + settled usage) stays within the limit throughout."""
    limit, estimate = 1000, 100
    limiter = RateLimiter(limit, 60, storage_url, clock=lambda: T0 + 1)
    rng = random.Random(5)
    committed = 0  # reserved for calls in flight + actual usage of settled calls
    peak = 0
    used: list[int] = []
    attempts = 0

    async def one(delay: float, latency: float, actual: int, gate: asyncio.Event | None = None) -> bool:
        nonlocal committed, peak, attempts
        await asyncio.sleep(delay)
        try:
            r = await limiter.ahit("project", estimate)
        except RateLimited as exc:
            assert exc.retry_after is not None and exc.retry_after > 0
            return False
        finally:
            attempts += 1
            if gate is not None and attempts == 50:
                gate.set()
        committed += estimate
        peak = max(peak, committed)
        if gate is not None:
            await gate.wait()  # hold every admitted call until all fifty have asked
        await asyncio.sleep(latency)  # the model call
        committed -= estimate - actual  # count the settlement before storage sees it: never under-counts
        used.append(actual)
        await limiter.asettle(r, actual)
        return True

    def wave(spread: float, gate: asyncio.Event | None = None) -> list[Any]:
        return [one(rng.uniform(0, spread), rng.uniform(0.005, 0.02), rng.randint(20, 80), gate) for _ in range(50)]

    async def main() -> tuple[list[bool], list[bool], int, int]:
        first = await asyncio.gather(*wave(0.0, asyncio.Event()))  # all at once: only whole estimates that fit
        used_first = sum(used)
        second = await asyncio.gather(*wave(0.03))  # staggered: settlements free room as they land
        left = await limiter.aremaining("project")
        await limiter.aclose()
        return first, second, used_first, left

    first, second, used_first, left = asyncio.run(main())
    assert first.count(True) == limit // estimate
    assert second.count(True) >= (limit - used_first) // estimate > 0  # refunds let more in
    assert peak <= limit
    assert sum(used) <= limit
    assert left == limit - sum(used)  # settled exactly: no reservation leaked


def _kit(plugin: RateLimitPlugin, storage: str, latency: float = 0.05, **settings: Any) -> Any:
    config = {
        "plugins": {"ratelimit": {"storage": storage, "requests_per_minute": 0, **settings}},
        "providers": {"echo": {"options": {"latency": latency}}},
    }
    return kit_with(plugin, config=config)


def test_fifty_concurrent_kit_calls_admit_only_what_the_reserved_estimates_allow(storage_url: str) -> None:
    plugin = RateLimitPlugin(clock=lambda: T0 + 1)
    prompt = "summarise the quarterly numbers " * 4
    estimate = estimate_request_tokens((HumanMessage(prompt),)) + 50
    limit = estimate * 10 + estimate // 2  # room for ten and a half estimates
    kit = _kit(plugin, storage_url, latency=1.0, tokens_per_minute=limit)  # all fifty ask before any answer

    async def main() -> tuple[list[Any], dict[str, int]]:
        calls = [kit.agenerate(prompt, max_tokens=50, metadata={"project": "acme"}) for _ in range(50)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        left = await plugin.aremaining("acme")
        await plugin.aclose()
        return results, left

    results, left = asyncio.run(main())
    answers = [r for r in results if not isinstance(r, BaseException)]
    denials = [r for r in results if isinstance(r, RateLimited)]
    assert len(answers) == 10 and len(denials) == 40
    assert all(d.retry_after is not None and 0 < d.retry_after <= 60 for d in denials)
    actual = sum(a.usage.total_tokens for a in answers)
    assert actual < 10 * estimate  # the echo answer is shorter than max_tokens: refunds happened
    assert left == {"tokens_per_minute": limit - actual}
    kit.close()


def test_streamed_calls_settle_to_the_usage_reported_at_the_end(storage_url: str) -> None:
    plugin = RateLimitPlugin(clock=lambda: T0 + 1)
    kit = _kit(plugin, storage_url, tokens_per_minute=5000, default_max_tokens=1000)

    async def main() -> tuple[str, dict[str, int], dict[str, int]]:
        chunks = [c async for c in kit.astream("stream me a short answer", metadata={"project": "acme"})]
        await plugin.drain()
        after = await plugin.aremaining("acme")
        untouched = await plugin.aremaining("other")
        await plugin.aclose()
        return "".join(c.text or "" for c in chunks), after, untouched

    text, after, untouched = asyncio.run(main())
    usage = estimate_request_tokens((HumanMessage("stream me a short answer"),)) + max(1, (len(text) + 3) // 4)
    assert text == "stream me a short answer"
    assert after == {"tokens_per_minute": 5000 - usage}  # not 5000 - (prompt + 1000 reserved)
    assert untouched == {"tokens_per_minute": 5000}
    kit.close()


def test_a_failed_provider_call_gives_its_token_reservation_back() -> None:
    plugin = RateLimitPlugin(clock=lambda: T0 + 1)
    kit = _kit(plugin, "memory://", tokens_per_minute=2000, requests_per_minute=10)
    kit.provider().fail_next(1, ErrorCode.PROVIDER_UNAVAILABLE)  # type: ignore[attr-defined]
    with pytest.raises(ProviderError):
        kit.generate("hello", metadata={"project": "acme"})
    assert plugin.remaining("acme") == {"requests_per_minute": 9, "tokens_per_minute": 2000}
    kit.close()


def test_a_token_denial_does_not_use_up_the_request_limit() -> None:
    plugin = RateLimitPlugin(clock=lambda: T0 + 1)
    kit = _kit(plugin, "memory://", tokens_per_minute=100, requests_per_minute=5, default_max_tokens=90)
    kit.generate("hi", metadata={"project": "acme"})
    with pytest.raises(RateLimited, match="tokens"):
        kit.generate("hi", metadata={"project": "acme"})  # 95 tokens reserved would overshoot 100
    assert plugin.remaining("acme")["requests_per_minute"] == 4
    kit.close()


def test_a_request_larger_than_the_whole_token_limit_is_rejected_as_invalid() -> None:
    plugin = RateLimitPlugin(clock=lambda: T0 + 1)
    kit = _kit(plugin, "memory://", tokens_per_minute=100)
    with pytest.raises(Exception) as err:
        kit.generate("hi", max_tokens=500, metadata={"project": "acme"})
    assert getattr(err.value, "code", None) is ErrorCode.INVALID_INPUT
    assert "can never be admitted" in str(err.value)
    kit.close()
