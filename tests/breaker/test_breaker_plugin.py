"""The ``breaker`` plugin in a real Kit: one breaker per provider and model."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest
from breaker_fakes import FakeClock

from beluga_breaker import CircuitOpenError, CircuitState
from beluga_breaker.plugin import BreakerPlugin, deployments
from beluga_core import BelugaSettings, Config, ConfigError, ErrorCode, Kit, ProviderConfig, ProviderError
from beluga_core.builtin import EchoProvider
from beluga_retry import RetryDeadlineExceeded
from beluga_retry.plugin import RetryPlugin

THREE = {"plugins": {"breaker": {"failure_threshold": 3, "reset_timeout": "30s"}}}


def echo(kit: Kit, name: str = "echo") -> EchoProvider:
    provider = kit.provider(name)
    assert isinstance(provider, EchoProvider)
    return provider


def fail_calls(kit: Kit, n: int, **kwargs: Any) -> None:
    for _ in range(n):
        with pytest.raises(ProviderError):
            kit.generate("hi", **kwargs)


def test_the_breaker_opens_after_the_threshold_and_stops_calling_the_provider(make_kit: Any) -> None:
    kit = make_kit(BreakerPlugin(clock=FakeClock()), config=THREE)
    echo(kit).fail_next(3)
    fail_calls(kit, 3)
    with pytest.raises(CircuitOpenError) as info:
        kit.generate("hi")
    assert echo(kit).calls == 3
    assert info.value.retry_after == pytest.approx(30)
    assert "echo" in str(info.value)


def test_one_model_failing_does_not_stop_the_other_models(make_kit: Any) -> None:
    plugin = BreakerPlugin(clock=FakeClock())
    kit = make_kit(plugin, config=THREE)
    echo(kit).fail_next(3)
    fail_calls(kit, 3, model="model-a")
    assert kit.generate("still up", model="model-b").text == "still up"
    with pytest.raises(CircuitOpenError, match="echo/model-a"):
        kit.generate("hi", model="model-a")
    assert plugin.breaker_for("echo", "model-a").state is CircuitState.OPEN
    assert plugin.breaker_for("echo", "model-b").state is CircuitState.CLOSED


def test_one_provider_failing_does_not_stop_the_others(make_kit: Any) -> None:
    config = {**THREE, "providers": {"echo": {}, "backup": {"type": "echo"}}}
    kit = make_kit(BreakerPlugin(clock=FakeClock()), config=config)
    echo(kit).fail_next(3)
    fail_calls(kit, 3)
    with pytest.raises(CircuitOpenError):
        kit.generate("hi")
    assert kit.generate("via backup", provider="backup").text == "via backup"


def test_per_provider_mode_shares_one_breaker_across_models(make_kit: Any) -> None:
    config = {"plugins": {"breaker": {"failure_threshold": 2, "per": "provider"}}}
    kit = make_kit(BreakerPlugin(clock=FakeClock()), config=config)
    echo(kit).fail_next(2)
    fail_calls(kit, 1, model="model-a")
    fail_calls(kit, 1, model="model-b")
    with pytest.raises(CircuitOpenError):
        kit.generate("hi", model="model-c")


def test_after_reset_timeout_a_probe_closes_it_again(make_kit: Any) -> None:
    clock = FakeClock()
    plugin = BreakerPlugin(clock=clock)
    kit = make_kit(plugin, config=THREE)
    echo(kit).fail_next(3)
    fail_calls(kit, 3)
    clock.advance(30)
    assert kit.generate("probe").text == "probe"
    assert plugin.breaker_for("echo").state is CircuitState.CLOSED


def test_a_429_with_retry_after_holds_the_provider_open_for_that_long(make_kit: Any) -> None:
    clock = FakeClock()
    plugin = BreakerPlugin(clock=clock)
    kit = make_kit(plugin, config=THREE)
    echo(kit).fail_next(1, "rate_limit", retry_after=8)
    with pytest.raises(ProviderError) as first:
        kit.generate("hi")
    assert first.value.code is ErrorCode.RATE_LIMIT
    with pytest.raises(CircuitOpenError) as info:
        kit.generate("hi")
    assert info.value.retry_after == pytest.approx(8)
    assert echo(kit).calls == 1
    clock.advance(8)
    assert kit.generate("back").text == "back"


def test_caller_errors_do_not_open_the_breaker(make_kit: Any) -> None:
    kit = make_kit(BreakerPlugin(clock=FakeClock()), config=THREE)
    echo(kit).fail_next(10, "invalid_input")
    fail_calls(kit, 10)
    echo(kit).fail_next(0)
    assert kit.generate("fine").text == "fine"


def test_slow_calls_open_the_breaker(make_kit: Any) -> None:
    config = {
        "plugins": {"breaker": {"failure_threshold": 2, "slow_call_threshold": "20ms"}},
        "providers": {"echo": {"options": {"latency": 0.05}}},
    }
    plugin = BreakerPlugin()
    kit = make_kit(plugin, config=config)
    kit.generate("slow one")
    kit.generate("slow two")
    assert plugin.breaker_for("echo").state is CircuitState.OPEN
    with pytest.raises(CircuitOpenError, match="slow_call_threshold"):
        kit.generate("refused")


def test_failure_rate_mode_from_config(make_kit: Any) -> None:
    config = {"plugins": {"breaker": {"failure_rate": 0.5, "minimum_calls": 4, "window": "60s"}}}
    kit = make_kit(BreakerPlugin(clock=FakeClock()), config=config)
    kit.generate("a")
    kit.generate("b")
    echo(kit).fail_next(2)
    fail_calls(kit, 2)
    with pytest.raises(CircuitOpenError, match="2 of 4 calls failed"):
        kit.generate("c")


def test_streamed_calls_count_and_are_refused_while_open(make_kit: Any) -> None:
    kit = make_kit(BreakerPlugin(clock=FakeClock()), config=THREE)

    async def read() -> str:
        return "".join([c.text async for c in kit.astream("streamed reply")])

    assert asyncio.run(read()) == "streamed reply"
    echo(kit).fail_next(3)
    for _ in range(3):
        with pytest.raises(ProviderError):
            asyncio.run(read())
    with pytest.raises(CircuitOpenError):
        asyncio.run(read())


def test_retry_outside_the_breaker_gives_up_when_the_open_time_outlives_the_deadline(make_kit: Any) -> None:
    config = {**THREE, "beluga": {"plugins": ["retry", "breaker"], "deadline": "2s"}}
    kit = make_kit(RetryPlugin(), BreakerPlugin(), config=config)
    echo(kit).fail_next(1, "rate_limit", retry_after=20)
    started = time.monotonic()
    with pytest.raises(RetryDeadlineExceeded) as info:
        kit.generate("hi")
    assert time.monotonic() - started < 1.5
    assert echo(kit).calls == 1
    assert isinstance(info.value.__cause__, ProviderError)


def test_retry_outside_the_breaker_waits_for_a_short_open_period(make_kit: Any) -> None:
    config = {
        "beluga": {"plugins": ["retry", "breaker"]},
        "plugins": {"retry": {"max_attempts": 3, "initial_backoff": "1ms"}},
    }
    kit = make_kit(RetryPlugin(), BreakerPlugin(), config=config)
    echo(kit).fail_next(1, "rate_limit", retry_after=0.05)
    response = kit.generate("hi")
    assert response.metadata["attempts"] == 2
    assert echo(kit).calls == 2


def test_bad_breaker_settings_are_config_errors_naming_the_key() -> None:
    from beluga_core.testing import kit_with

    with pytest.raises(ConfigError, match=r"plugins\.breaker\.per"):
        kit_with(BreakerPlugin(), config={"plugins": {"breaker": {"per": "region"}}})
    with pytest.raises(ConfigError, match=r"plugins\.breaker\.failure_rate"):
        kit_with(BreakerPlugin(), config={"plugins": {"breaker": {"failure_rate": 5}}})


def test_an_unchanged_reload_keeps_breaker_state_and_a_changed_one_starts_fresh(make_kit: Any) -> None:
    plugin = BreakerPlugin(clock=FakeClock())
    kit = make_kit(plugin, config=THREE)
    echo(kit).fail_next(3)
    fail_calls(kit, 3)
    assert kit.reload(THREE).applied
    assert plugin.breaker_for("echo").state is CircuitState.OPEN
    assert kit.reload({"plugins": {"breaker": {"failure_threshold": 4}}}).applied
    assert plugin.breaker_for("echo").state is CircuitState.CLOSED


def test_breakers_are_made_on_a_counted_failure_and_capped_by_max_breakers(make_kit: Any) -> None:
    plugin = BreakerPlugin(clock=FakeClock())
    kit = make_kit(plugin, config={"plugins": {"breaker": {"failure_threshold": 2, "max_breakers": 3}}})
    for i in range(20):
        kit.generate("fine", model=f"ok-{i}")
    echo(kit).fail_next(20, "not_found")  # an unknown model's 404 says nothing about the deployment
    fail_calls(kit, 20, model="typo")
    assert plugin.breakers == {}
    echo(kit).fail_next(5)
    for i in range(5):
        fail_calls(kit, 1, model=f"down-{i}")
    # At the cap the least recently used closed breakers (one failure counted each) made room;
    # no name shares a breaker with another.
    assert sorted(plugin.breakers) == [("echo", "down-2"), ("echo", "down-3"), ("echo", "down-4")]
    assert kit.generate("no breaker", model="down-0").text == "no breaker"
    assert kit.generate("own breaker", model="down-4").text == "own breaker"


def test_at_the_cap_the_least_recently_used_closed_breaker_makes_room(make_kit: Any) -> None:
    plugin = BreakerPlugin(clock=FakeClock())
    kit = make_kit(plugin, config={"plugins": {"breaker": {"failure_threshold": 2, "max_breakers": 3}}})
    echo(kit).fail_next(3)
    for name in ("a", "b", "c"):
        fail_calls(kit, 1, model=name)
    kit.generate("used again", model="a")  # a call makes a breaker recently used, whatever its outcome
    echo(kit).fail_next(2)
    fail_calls(kit, 1, model="c")  # c opens (two failures): an open breaker is never evicted
    fail_calls(kit, 1, model="d")
    assert sorted(k[1] for k in plugin.breakers) == ["a", "c", "d"]  # b, least recently used, made room
    echo(kit).fail_next(1)
    fail_calls(kit, 1, model="e")
    assert sorted(k[1] for k in plugin.breakers) == ["c", "d", "e"]  # then a; c, though older, is open
    with pytest.raises(CircuitOpenError, match="echo/c"):
        kit.generate("hi", model="c")


def test_when_every_capped_breaker_is_open_a_new_name_gets_none_and_passes_uncounted(make_kit: Any) -> None:
    clock = FakeClock()
    plugin = BreakerPlugin(clock=clock)
    kit = make_kit(plugin, config={"plugins": {"breaker": {"failure_threshold": 1, "max_breakers": 2}}})
    echo(kit).fail_next(2)
    fail_calls(kit, 1, model="a")
    fail_calls(kit, 1, model="b")
    echo(kit).fail_next(5)
    calls = echo(kit).calls
    fail_calls(kit, 5, model="c")  # threshold 1, yet every call reaches the provider: nothing counts them
    assert echo(kit).calls == calls + 5
    assert sorted(k[1] for k in plugin.breakers) == ["a", "b"] and plugin.breaker_for("echo", "c") is None
    assert kit.generate("still answered", model="d").text == "still answered"  # no shared breaker refuses it
    clock.advance(31)  # a and b are half-open now, with no probe in flight: they may make room again
    echo(kit).fail_next(1)
    fail_calls(kit, 1, model="c")
    assert ("echo", "c") in plugin.breakers and len(plugin.breakers) == 2
    with pytest.raises(CircuitOpenError, match="echo/c"):
        kit.generate("hi", model="c")


def test_configured_deployments_keep_their_own_breakers_beyond_the_cap(make_kit: Any) -> None:
    plugin = BreakerPlugin(clock=FakeClock())
    config = {
        "beluga": {"model": "main"},
        "providers": {"echo": {}, "backup": {"type": "echo", "model": "big"}},
        "plugins": {"breaker": {"failure_threshold": 1, "max_breakers": 2}},
    }
    kit = make_kit(plugin, config=config)
    assert plugin.reserved == {("echo", ""), ("echo", "main"), ("backup", ""), ("backup", "big"), ("backup", "main")}
    echo(kit).fail_next(10)
    for i in range(10):  # made-up names fill the cap with open breakers
        fail_calls(kit, 1, model=f"made-up-{i}")
    assert kit.generate("the default model", model="main").text == "the default model"
    echo(kit).fail_next(1)
    fail_calls(kit, 1, model="main")  # ...yet the configured model still gets its own breaker
    with pytest.raises(CircuitOpenError, match="echo/main"):
        kit.generate("hi", model="main")
    assert ("echo", "main") in plugin.breakers and len(plugin.breakers) == 3
    echo(kit, "backup").fail_next(1)
    fail_calls(kit, 1, provider="backup")  # another configured provider (asked for [beluga] model) too
    assert ("backup", "main") in plugin.breakers and len(plugin.breakers) == 4


def test_deployments_are_read_from_beluga_providers_fallback_and_the_gateways_models_table() -> None:
    config = Config(
        BelugaSettings(provider="openai", fallback=("anthropic:claude", "backup")),
        {"gateway": SimpleNamespace(models={"fast": "openai:gpt-4o-mini", "alias": "local"})},
        {"openai": ProviderConfig(model="gpt-4o"), "local": ProviderConfig(type="echo")},
    )
    assert deployments(config) == {
        ("openai", None), ("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude"),
        ("backup", None), ("local", None),
    }
    bare = Config(BelugaSettings(provider="echo"))  # no model anywhere: the gateway calls it "echo"
    assert deployments(bare) == {("echo", None), ("echo", "echo")}


def test_breaker_names_in_errors_and_logs_escape_control_characters(
    make_kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    kit = make_kit(BreakerPlugin(clock=FakeClock()), config={"plugins": {"breaker": {"failure_threshold": 1}}})
    hostile = "m\nFAKE level=CRITICAL\r\x00\u2028" + "x" * 5000
    echo(kit).fail_next(1)
    with caplog.at_level("INFO", logger="beluga.breaker"):
        fail_calls(kit, 1, model=hostile)
        with pytest.raises(CircuitOpenError) as info:
            kit.generate("hi", model=hostile)
    texts = [r.getMessage() for r in caplog.records if r.name == "beluga.breaker"] + [str(info.value)]
    assert texts and all(not any(c in t for c in "\n\r\x00\u2028") for t in texts)
    assert "echo/m\\u000aFAKE" in str(info.value) and len(str(info.value)) < 400
