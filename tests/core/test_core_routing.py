"""Model groups: one model name over several deployments, spread by strategy, failing over."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from beluga_core import ConfigError, ErrorCode, Kit, ProviderError, RateLimited


def kit(strategy: str = "round-robin", **group: Any) -> Kit:
    providers = {n: {"type": "echo", "options": {"prefix": f"{n}:"}} for n in ("a", "b", "c")}
    return Kit({
        "beluga": {"load_unlisted": False},
        "providers": providers,
        "models": {"fast": {"deployments": group.pop("deployments", ["a", "b", "c"]), "strategy": strategy, **group}},
    })


def served_by(k: Kit, n: int) -> Counter[str]:
    return Counter(k.generate("hi", model="fast").text.split(":")[0] for _ in range(n))


def test_round_robin_spreads_calls_evenly() -> None:
    with kit() as k:
        assert served_by(k, 30) == {"a": 10, "b": 10, "c": 10}


def test_weighted_follows_the_weights() -> None:
    with kit("weighted", weights={"a": 3, "b": 1, "c": 0}) as k:
        assert served_by(k, 40) == {"a": 30, "b": 10}


def test_least_busy_sends_concurrent_calls_to_the_idle_deployments() -> None:
    providers = {n: {"type": "echo", "options": {"prefix": f"{n}:", "latency": 0.2}} for n in ("a", "b", "c")}
    config = {"beluga": {"load_unlisted": False}, "providers": providers,
              "models": {"fast": {"deployments": ["a", "b", "c"], "strategy": "least-busy"}}}

    async def burst(k: Kit) -> Counter[str]:
        answers = await asyncio.gather(*(k.agenerate("hi", model="fast") for _ in range(6)))
        return Counter(a.text.split(":")[0] for a in answers)

    with Kit(config) as k:
        assert asyncio.run(burst(k)) == {"a": 2, "b": 2, "c": 2}


def test_latency_prefers_the_fastest_deployment() -> None:
    providers = {"a": {"type": "echo", "options": {"prefix": "a:", "latency": 0.03}},
                 "b": {"type": "echo", "options": {"prefix": "b:"}}}
    config = {"beluga": {"load_unlisted": False}, "providers": providers,
              "models": {"fast": {"deployments": ["a", "b"], "strategy": "latency"}}}
    with Kit(config) as k:
        counts = served_by(k, 20)
        snapshot = k.deployments()["fast"]
    assert counts["a"] == 1 and counts["b"] == 19  # a is measured once, then b is faster
    assert snapshot["strategy"] == "latency" and snapshot["deployments"][0]["latency_ms"] >= 25


def test_a_failing_deployment_loses_its_traffic_and_no_call_is_lost() -> None:
    with kit() as k:
        k.provider("b").fail_next(100)  # type: ignore[attr-defined]
        answers = [k.generate("hi", model="fast") for _ in range(12)]
        health = {d["target"]: d["healthy"] for d in k.deployments()["fast"]["deployments"]}
    assert all(a.text.endswith(":hi") for a in answers)
    assert Counter(a.text.split(":")[0] for a in answers) == {"a": 6, "c": 6}
    failed_over = [a.metadata["routing"] for a in answers if "failed" in a.metadata["routing"]]
    assert failed_over == [{"model": "fast", "deployment": "c", "failed": [{"deployment": "b",
                                                                            "error": "provider_unavailable"}]}]
    assert health == {"a": True, "b": False, "c": True}


def test_an_error_a_retry_cannot_help_is_not_sent_elsewhere() -> None:
    with kit() as k:
        k.provider("a").fail_next(1, ErrorCode.AUTH)  # type: ignore[attr-defined]
        with pytest.raises(ProviderError) as info:
            k.generate("hi", model="fast")
        assert info.value.code is ErrorCode.AUTH
        assert [d["calls"] for d in k.deployments()["fast"]["deployments"]] == [1, 0, 0]


def test_rpm_and_max_in_flight_cap_a_deployment() -> None:
    with kit(deployments=["a", "b"], rpm={"a": 2, "b": 1}) as k:
        assert sorted(k.generate("hi", model="fast").text for _ in range(3)) == ["a:hi", "a:hi", "b:hi"]
        with pytest.raises(RateLimited, match="every deployment is at its rpm or max_in_flight limit"):
            k.generate("hi", model="fast")


def test_models_that_name_no_group_pass_untouched() -> None:
    with kit() as k:
        assert k.generate("hi", model="other", provider="c").text == "c:hi"
        assert "routing" not in k.generate("hi", model="other", provider="c").metadata


@pytest.mark.parametrize(("group", "key", "reason"), [
    ({"deployments": ["a", "zz"]}, "models.fast.deployments[1]", "unknown provider 'zz'"),
    ({"deployments": ["a"], "weights": {"b": 1}}, "models.fast", "not among the deployments"),
    ({"deployments": ["a"], "strategy": "random"}, "models.fast.strategy", "must be one of"),
    ({"deployments": []}, "models.fast", "at least one"),
    ({"deployments": ["a"], "rpm": {"a": 0}}, "models.fast", "rpm.a"),
])
def test_bad_groups_are_refused_naming_the_key(group: dict[str, Any], key: str, reason: str) -> None:
    config = {"beluga": {"load_unlisted": False}, "providers": {"a": {"type": "echo"}}, "models": {"fast": group}}
    with pytest.raises(ConfigError) as info:
        Kit(config)
    assert any(i.key == key and reason in i.reason for i in info.value.issues), info.value.issues


def test_streams_are_routed_too() -> None:
    with kit() as k:
        texts = ["".join(c.text for c in k.stream("hi there", model="fast")) for _ in range(3)]
    assert sorted(texts) == ["a:hi there", "b:hi there", "c:hi there"]
