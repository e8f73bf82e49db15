"""The ``ratelimit`` plugin in a Kit: keyed per project (or any metadata key), configured, reloaded."""

from __future__ import annotations

import asyncio
from importlib.metadata import entry_points
from typing import Any

import pytest

from beluga_core import BelugaError, ConfigError, ErrorCode, RateLimited
from beluga_core.testing import Recorder, kit_with
from beluga_ratelimit.plugin import RateLimitPlugin, RateLimitSettings


class FakeClock:
    def __init__(self, now: float = 3_600_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(settings: dict[str, Any], clock: FakeClock | None = None) -> tuple[Any, RateLimitPlugin]:
    plugin = RateLimitPlugin(clock=clock or FakeClock())
    return kit_with(plugin, config={"plugins": {"ratelimit": settings}}), plugin


def test_each_project_has_its_own_requests_per_minute() -> None:
    kit, plugin = make({"requests_per_minute": 2})
    acme, globex = {"project": "acme"}, {"project": "globex"}
    assert kit.generate("a1", metadata=acme).text == "a1"
    assert kit.generate("a2", metadata=acme).text == "a2"
    with pytest.raises(RateLimited) as err:
        kit.generate("a3", metadata=acme)
    assert err.value.retry_after == pytest.approx(60.0)
    assert "project=acme" in str(err.value) and "2 requests per 60s" in str(err.value)
    assert kit.generate("g1", metadata=globex).text == "g1"  # acme's limit does not touch globex
    assert plugin.remaining("acme") == {"requests_per_minute": 0}
    assert plugin.remaining("globex") == {"requests_per_minute": 1}
    kit.close()


def test_a_denied_call_never_reaches_the_provider() -> None:
    plugin, recorder = RateLimitPlugin(clock=FakeClock()), Recorder()
    config = {"beluga": {"plugins": ["ratelimit", "recorder"]}, "plugins": {"ratelimit": {"requests_per_minute": 1}}}
    kit = kit_with(plugin, recorder, config=config)
    kit.generate("first", metadata={"project": "acme"})
    with pytest.raises(RateLimited):
        kit.generate("second", metadata={"project": "acme"})
    assert [r.messages[-1].text for r in recorder.requests] == ["first"]
    kit.close()


def test_the_limit_key_can_be_any_metadata_key() -> None:
    kit, _ = make({"key": "user", "requests_per_minute": 1})
    kit.generate("hi", metadata={"user": "ada", "project": "shared"})
    kit.generate("hi", metadata={"user": "bob", "project": "shared"})
    with pytest.raises(RateLimited, match="user=ada"):
        kit.generate("again", metadata={"user": "ada", "project": "shared"})
    kit.close()


def test_requests_without_the_key_share_the_default_bucket() -> None:
    kit, _ = make({"requests_per_minute": 2})
    kit.generate("one")
    kit.generate("two", metadata={"project": ""})
    with pytest.raises(RateLimited, match="project=anonymous"):
        kit.generate("three")
    assert kit.generate("keyed", metadata={"project": "acme"}).text == "keyed"
    kit.close()


def test_an_empty_default_key_rejects_requests_without_the_key() -> None:
    kit, _ = make({"requests_per_minute": 5, "default_key": ""})
    with pytest.raises(BelugaError) as err:
        kit.generate("who am I")
    assert err.value.code is ErrorCode.INVALID_INPUT and not err.value.retryable
    assert "no 'project' in its metadata" in str(err.value)
    assert kit.generate("fine", metadata={"project": "acme"}).text == "fine"
    kit.close()


def test_hourly_and_daily_limits_apply_together_with_the_minute_limit() -> None:
    clock = FakeClock()
    kit, plugin = make({"requests_per_minute": 2, "requests_per_hour": 3}, clock)
    acme = {"project": "acme"}
    kit.generate("1", metadata=acme)
    kit.generate("2", metadata=acme)
    clock.now += 60
    kit.generate("3", metadata=acme)
    with pytest.raises(RateLimited, match="3 requests per 3600s") as err:
        kit.generate("4", metadata=acme)  # the minute has room, the hour has not
    assert err.value.retry_after == pytest.approx(3600 - 60)
    assert plugin.remaining("acme") == {"requests_per_minute": 1, "requests_per_hour": 0}
    kit.close()


def test_sliding_strategy_from_config_smooths_the_window_boundary() -> None:
    clock = FakeClock(3_600_000.0 + 59)
    kit, _ = make({"requests_per_minute": 3, "strategy": "sliding"}, clock)
    for i in range(3):
        kit.generate(str(i), metadata={"project": "acme"})
    clock.now += 2  # a new fixed window, but the last 60 s still hold three requests
    with pytest.raises(RateLimited):
        kit.generate("burst", metadata={"project": "acme"})
    kit.close()


def test_a_reload_keeps_the_counts_and_applies_the_new_limit() -> None:
    kit, plugin = make({"requests_per_minute": 2})
    acme = {"project": "acme"}
    kit.generate("1", metadata=acme)
    kit.generate("2", metadata=acme)
    result = kit.reload({"plugins": {"ratelimit": {"requests_per_minute": 3}}})
    assert result.applied
    assert plugin.remaining("acme") == {"requests_per_minute": 1}
    kit.generate("3", metadata=acme)
    with pytest.raises(RateLimited):
        kit.generate("4", metadata=acme)
    kit.close()


def test_all_limits_zero_turns_the_plugin_into_a_pass_through() -> None:
    kit, plugin = make({"requests_per_minute": 0})
    assert [kit.generate(str(i)).text for i in range(100)][-1] == "99"
    assert plugin.remaining("anonymous") == {}
    kit.close()


@pytest.mark.parametrize(
    ("settings", "where", "why"),
    [
        ({"storage": "memcached://x"}, "plugins.ratelimit.storage", "must be 'memory://' or 'redis://"),
        ({"strategy": "leaky"}, "plugins.ratelimit.strategy", "must be one of"),
        ({"failure_mode": "maybe"}, "plugins.ratelimit.failure_mode", "must be one of"),
        ({"requests_per_minute": -1}, "plugins.ratelimit.requests_per_minute", "at least 0"),
        ({"requests_per_minit": 5}, "plugins.ratelimit.requests_per_minit", "did you mean 'requests_per_minute'"),
    ],
)
def test_invalid_settings_are_reported_with_key_and_reason(settings: dict[str, Any], where: str, why: str) -> None:
    with pytest.raises(ConfigError) as err:
        make(settings)
    assert any(i.key == where and why in i.reason for i in err.value.issues), err.value.issues


def test_a_storage_password_is_masked_in_config_errors_and_reprs() -> None:
    with pytest.raises(ConfigError) as err:
        make({"storage": "memcached://app:hunter2@cache:11211"})
    assert "hunter2" not in str(err.value)
    assert "hunter2" not in repr(RateLimitSettings(storage="redis://:hunter2@cache:6379/0"))


def test_streamed_calls_are_counted_and_denied_before_any_output() -> None:
    kit, _ = make({"requests_per_minute": 1})

    async def drain(text: str) -> str:
        return "".join([c.text or "" async for c in kit.astream(text, metadata={"project": "acme"})])

    assert asyncio.run(drain("streamed words")) == "streamed words"
    with pytest.raises(RateLimited):
        asyncio.run(drain("again"))
    kit.close()


def test_the_plugin_is_installed_under_the_ratelimit_entry_point() -> None:
    (ep,) = [e for e in entry_points(group="beluga") if e.name == "ratelimit"]
    assert ep.load() is RateLimitPlugin
