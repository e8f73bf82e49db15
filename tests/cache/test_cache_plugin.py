"""The ``cache`` plugin in a Kit, on memory: what is a hit, what is stored, what is never stored."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import pytest
from cache_support import CALLS, cache_kit

from beluga_cache import CachePlugin, MemoryCache, request_digest
from beluga_core import (
    AIMessage,
    BelugaError,
    GuardBlocked,
    GuardInput,
    GuardResult,
    HumanMessage,
    ImagePart,
    LLMRequest,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolMessage,
    ToolSpec,
    call_notes,
    hookimpl,
)

ACME = {"project": "acme"}
WEATHER = ToolSpec("weather", "the forecast", {"type": "object", "properties": {"city": {"type": "string"}}})


def test_an_identical_request_is_answered_from_the_cache_and_counts_as_cached_input() -> None:
    kit, cache = cache_kit()
    first = kit.generate("what is 2+2?", metadata={**ACME, "request_id": "r1"})
    second = kit.generate("what is 2+2?", metadata={**ACME, "request_id": "r2"})  # ids are not part of the key
    assert len(CALLS) == 1
    assert (first.metadata["cache"], second.metadata["cache"]) == ("miss", "hit")
    assert second.text == first.text and second.finish_reason == first.finish_reason
    assert second.usage.input_tokens == first.usage.input_tokens > 0
    assert second.usage.cached_input_tokens == second.usage.input_tokens
    assert second.usage.output_tokens == first.usage.output_tokens
    assert (cache.hits, cache.misses, cache.stored) == (1, 1, 1)
    kit.close()


@pytest.mark.parametrize(
    "change",
    [
        {"model": "other-model"},
        {"temperature": 0.3},
        {"max_tokens": 5},
        {"top_p": 0.5},
        {"stop": ["\n"]},
        {"seed": 7},
        {"tools": [WEATHER]},
    ],
    ids=lambda c: next(iter(c)),
)
def test_any_difference_the_model_would_see_is_a_miss(change: dict[str, Any]) -> None:
    kit, _ = cache_kit()
    kit.generate("hello", metadata=ACME)
    kit.generate("hello", metadata=ACME, **change)
    kit.generate("hello", metadata=ACME, **change)
    assert len(CALLS) == 2  # the changed request is answered once, then from the cache
    kit.close()


def png(tail: bytes) -> ImagePart:
    return ImagePart(data=b"\x89PNG" + tail, mime_type="image/png")


def test_messages_parts_and_tool_history_are_all_in_the_key() -> None:
    history = [
        SystemMessage("be brief"),
        HumanMessage("weather?"),
        AIMessage("", tool_calls=[ToolCall("c1", "weather", {"city": "Oslo"})]),
        ToolMessage("rain", tool_call_id="c1", name="weather"),
        HumanMessage("so?"),
    ]
    base = LLMRequest(history, model="m", provider="p")
    variants = [
        base.replace(messages=[*history[:-1], HumanMessage("so??")]),
        base.replace(messages=[SystemMessage("be long"), *history[1:]]),
        base.replace(messages=[*history[:2], AIMessage("", tool_calls=[ToolCall("c1", "weather", {"city": "Rome"})]),
                               *history[3:]]),
        base.replace(messages=[*history[:3], ToolMessage("sun", tool_call_id="c1", name="weather"), history[4]]),
        base.replace(messages=[*history[:-1], HumanMessage([TextPart("so?"), png(b"1")])]),
        base.replace(messages=[*history[:-1], HumanMessage([TextPart("so?"), png(b"2")])]),
        base.replace(model="m2"),
        base.replace(provider="p2"),
    ]
    digests = {request_digest(r) for r in [base, *variants]}
    assert len(digests) == 1 + len(variants)
    assert request_digest(base.replace(metadata={"request_id": "x"}, stream=True)) == request_digest(base)


def test_each_project_has_its_own_namespace() -> None:
    kit, _ = cache_kit()
    kit.generate("hello", metadata={"project": "acme"})
    kit.generate("hello", metadata={"project": "globex"})
    kit.generate("hello", metadata={"project": "globex"})
    kit.generate("hello")  # no project: the default namespace
    assert len(CALLS) == 3
    kit.close()


def test_without_a_default_key_requests_lacking_the_key_are_not_cached() -> None:
    kit, _ = cache_kit({"key": "user", "default_key": ""})
    kit.generate("hello", metadata=ACME)
    kit.generate("hello", metadata=ACME)
    kit.generate("hello", metadata={"user": "ada"})
    kit.generate("hello", metadata={"user": "ada"})
    assert len(CALLS) == 3
    kit.close()


def test_the_cache_is_off_until_enabled() -> None:
    kit, cache = cache_kit({"enabled": False})
    kit.generate("hello", metadata=ACME)
    kit.generate("hello", metadata=ACME)
    assert len(CALLS) == 2 and cache.storage is None
    kit.close()


def test_an_upstream_error_is_never_stored() -> None:
    kit, cache = cache_kit()
    kit.provider("scripted").fail_next(1, "provider_unavailable")  # type: ignore[attr-defined]
    with pytest.raises(BelugaError):
        kit.generate("hello", metadata=ACME)
    assert kit.generate("hello", metadata=ACME).metadata["cache"] == "miss"
    assert kit.generate("hello", metadata=ACME).metadata["cache"] == "hit"
    assert cache.stored == 1
    kit.close()


class BlockWord:
    """Blocks model output containing ``word`` (for callers whose ``user`` is ``only_user``, if set)."""

    def __init__(self, word: str, only_user: str | None = None, stage: str = "output") -> None:
        self.name = f"block-{word}"
        self.word, self.only_user, self.stage = word, only_user, stage

    def _check(self, gi: GuardInput) -> GuardResult | None:
        user = gi.metadata.get("request", {}).get("user")
        if self.word in gi.text and (self.only_user is None or user == self.only_user):
            return GuardResult.block(f"{self.word} is not allowed")
        return None

    @hookimpl
    def on_output(self, guard_input: GuardInput) -> GuardResult | None:
        return self._check(guard_input) if self.stage == "output" else None

    @hookimpl
    def on_input(self, guard_input: GuardInput) -> GuardResult | None:
        return self._check(guard_input) if self.stage == "input" else None


def test_a_call_blocked_by_an_output_guard_is_never_stored() -> None:
    kit, cache = cache_kit({}, BlockWord("forbidden"))
    with pytest.raises(GuardBlocked):
        kit.generate("say forbidden", metadata=ACME)
    kit.unregister("block-forbidden")
    assert kit.generate("say forbidden", metadata=ACME).metadata["cache"] == "miss"  # nothing was stored
    assert len(CALLS) == 2 and cache.stored == 1
    kit.close()


def test_a_hit_is_still_blocked_by_an_output_guard_that_applies_to_the_caller() -> None:
    kit, _ = cache_kit({}, BlockWord("spoiler", only_user="minor"))
    adult = kit.generate("tell me the spoiler", metadata={**ACME, "user": "adult"})
    assert adult.metadata["cache"] == "miss"
    with pytest.raises(GuardBlocked) as err:  # same project, same request: the answer is in the cache
        kit.generate("tell me the spoiler", metadata={**ACME, "user": "minor"})
    assert err.value.stage == "output"
    assert kit.generate("tell me the spoiler", metadata={**ACME, "user": "adult"}).metadata["cache"] == "hit"
    assert len(CALLS) == 1
    kit.close()


def test_a_hit_still_passes_the_input_guards_and_their_redactions_apply_to_it() -> None:
    class Redact:
        name = "redact"

        @hookimpl
        def on_output(self, guard_input: GuardInput) -> GuardResult | None:
            if "secret" in guard_input.text and guard_input.metadata["request"].get("user") == "guest":
                return GuardResult.modify(guard_input.text.replace("secret", "[REDACTED]"))
            return None

    kit, _ = cache_kit({}, Redact(), BlockWord("attack", only_user="mallory", stage="input"))
    assert kit.generate("the secret attack", metadata={**ACME, "user": "owner"}).text == "the secret attack"
    guest = kit.generate("the secret attack", metadata={**ACME, "user": "guest"})
    assert (guest.metadata["cache"], guest.text) == ("hit", "the [REDACTED] attack")
    with pytest.raises(GuardBlocked) as err:
        kit.generate("the secret attack", metadata={**ACME, "user": "mallory"})
    assert err.value.stage == "input"
    assert len(CALLS) == 1
    kit.close()


async def test_a_streamed_hit_matches_the_original_answer_tool_calls_included() -> None:
    kit, cache = cache_kit()
    request: dict[str, Any] = {"metadata": ACME, "tools": [WEATHER]}
    first = [c async for c in kit.astream("weather in Oslo?", **request)]
    second = [c async for c in kit.astream("weather in Oslo?", **request)]
    assert len(CALLS) == 1 and cache.hits == 1

    def assembled(chunks: list[Any]) -> tuple[Any, ...]:
        calls: dict[int, list[str]] = {}
        for c in chunks:
            for d in c.tool_calls:
                slot = calls.setdefault(d.index, ["", "", ""])
                slot[0] = d.id or slot[0]
                slot[1] = d.name or slot[1]
                slot[2] += d.arguments
        parsed = {i: (ident, name, json.loads(args)) for i, (ident, name, args) in calls.items()}
        finish = [c.finish_reason for c in chunks if c.finish_reason]
        usage = [c.usage for c in chunks if c.usage is not None][-1]
        return "".join(c.text for c in chunks), parsed, finish, usage.output_tokens

    assert assembled(second) == assembled(first)
    assert assembled(first)[1] == {0: ("call_1", "weather", {"city": "Oslo", "days": [1, 2]})}
    whole = await kit.agenerate("weather in Oslo?", **request)  # a whole answer from the streamed one
    assert whole.metadata["cache"] == "hit" and whole.tool_calls[0].arguments == {"city": "Oslo", "days": [1, 2]}
    await kit.aclose()


async def test_a_stream_is_answered_from_a_stored_whole_answer_and_says_so() -> None:
    kit, _ = cache_kit()
    whole = await kit.agenerate("one two three four", metadata=ACME)
    with call_notes() as notes:
        stream = kit.astream("one two three four", metadata=ACME)
        first = await stream.__anext__()
        assert notes == {"cache": "hit"}  # known before the first chunk is handed on
        rest = [c async for c in stream]
    assert first.text + "".join(c.text for c in rest) == whole.text
    assert len(CALLS) == 1
    await kit.aclose()


async def test_a_stream_closed_early_or_blocked_midway_is_never_stored() -> None:
    kit, cache = cache_kit({}, BlockWord("boom"))
    stream = kit.astream("a b c d e f", metadata=ACME)
    await stream.__anext__()
    await stream.aclose()  # the client went away after one chunk
    with pytest.raises(GuardBlocked):
        async for _ in kit.astream("x " * 200 + "boom", metadata=ACME):
            pass
    assert cache.stored == 0
    chunks = [c async for c in kit.astream("a b c d e f", metadata=ACME)]
    assert "".join(c.text for c in chunks) == "a b c d e f"
    assert cache.stored == 1 and len(CALLS) == 3
    await kit.aclose()


def test_no_cache_skips_the_lookup_and_no_store_skips_the_storing() -> None:
    kit, _ = cache_kit()
    kit.generate("hello", metadata={**ACME, "cache_control": "no-store"})
    assert kit.generate("hello", metadata=ACME).metadata["cache"] == "miss"  # the first was not stored
    fresh = kit.generate("hello", metadata={**ACME, "cache_control": "No-Cache"})
    assert fresh.metadata["cache"] == "miss"
    assert kit.generate("hello", metadata=ACME).metadata["cache"] == "hit"
    assert len(CALLS) == 3
    kit.close()


def test_embeddings_are_cached_unless_turned_off() -> None:
    kit, _ = cache_kit()
    a = kit.embed(["alpha", "beta"], metadata=ACME)
    b = kit.embed(["alpha", "beta"], metadata=ACME)
    assert b.embeddings == a.embeddings and b.metadata["cache"] == "hit" and len(CALLS) == 1
    kit.close()
    kit, _ = cache_kit({"embeddings": False})
    kit.embed(["alpha"], metadata=ACME)
    kit.embed(["alpha"], metadata=ACME)
    assert len(CALLS) == 3
    kit.close()


def test_ten_thousand_distinct_requests_keep_the_memory_cache_within_its_bounds() -> None:
    kit, cache = cache_kit({"max_entries": 500, "max_bytes": 200_000})
    for i in range(1_000):  # the cache is full from here on
        kit.generate(f"question number {i} " + "x" * (i % 300), metadata=ACME)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(1_000, 10_000):
            kit.generate(f"question number {i} " + "x" * (i % 300), metadata=ACME)
            CALLS.clear()  # the test provider's own record of what it was asked
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1_000_000  # 9,000 more answers (about 3 MB of them) did not stay in memory
    storage = cache.storage
    assert isinstance(storage, MemoryCache)
    assert len(storage) <= 500 and storage.nbytes <= 200_000
    assert kit.generate("question number 9999 " + "x" * (9999 % 300), metadata=ACME).metadata["cache"] == "hit"
    assert kit.generate("question number 0 ", metadata=ACME).metadata["cache"] == "miss"  # evicted long ago
    kit.close()


def test_the_memory_cache_evicts_the_least_recently_used_and_expires_entries() -> None:
    now = [0.0]
    cache = MemoryCache(max_entries=2, clock=lambda: now[0])
    cache.set("a", b"1", 10)
    cache.set("b", b"2", 10)
    assert cache.get("a") == b"1"  # a is now the most recently used
    cache.set("c", b"3", 10)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"1", None, b"3")
    now[0] = 10.0
    assert cache.get("a") is None and len(cache) == 1
    cache.set("huge", b"x" * (cache.max_bytes + 1), 10)
    assert cache.get("huge") is None


def test_an_answer_larger_than_max_entry_bytes_is_not_stored() -> None:
    kit, cache = cache_kit({"max_entry_bytes": 1000})
    kit.generate("y" * 2000, metadata=ACME)
    kit.generate("y" * 2000, metadata=ACME)
    kit.generate("small", metadata=ACME)
    kit.generate("small", metadata=ACME)
    assert len(CALLS) == 3 and cache.stored == 1
    kit.close()


class Opaque:
    pass


def _deep(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "params",
    [
        {"logit_bias": Opaque()},
        {"mixed": {1: "a", "b": 2}},
        {"deep": _deep(100_000)},  # nested deeper than JSON encoding allows
    ],
    ids=["unencodable", "mixed-keys", "deep"],
)
def test_a_request_with_parameters_that_have_no_canonical_form_is_answered_uncached(params: dict[str, Any]) -> None:
    kit, _ = cache_kit()
    for _ in range(2):
        assert kit.generate("hello", metadata=ACME, **params).metadata.get("cache") is None
    assert len(CALLS) == 2
    kit.close()


def test_hostile_text_huge_prompts_and_odd_values_are_cached_by_hash() -> None:
    kit, cache = cache_kit()
    odd = ["x" * 3_000_000, "\ud800 lone surrogate", "nul \x00 byte", "emoji 🐋" * 100]
    for text in odd:  # (max_tokens keeps the echoed answer small enough to store)
        kit.generate(text, metadata=ACME, temperature=float("nan"), max_tokens=50)
        again = kit.generate(text, metadata=ACME, temperature=float("nan"), max_tokens=50)
        assert again.metadata["cache"] == "hit"
    assert len(CALLS) == len(odd)
    storage = cache.storage
    assert isinstance(storage, MemoryCache)
    for key in list(storage._entries):
        assert key.startswith("beluga:cache:") and len(key) == len("beluga:cache:") + 16 + 1 + 64
    kit.close()


def test_settings_are_checked_and_the_storage_url_is_never_shown() -> None:
    from beluga_core import ConfigError

    with pytest.raises(ConfigError) as err:
        cache_kit({"storage": "postgres://user:hunter2@db/0"})
    assert "storage" in str(err.value) and "hunter2" not in str(err.value)
    with pytest.raises(ConfigError, match="ttl"):
        cache_kit({"ttl": "0s"})
    assert "hunter2" not in repr(CachePlugin())



def test_by_rank_the_cache_sits_inside_the_rate_limiter_and_outside_retry_and_the_breaker() -> None:
    from beluga_breaker.plugin import BreakerPlugin
    from beluga_ratelimit.plugin import RateLimitPlugin
    from beluga_retry.plugin import RetryPlugin

    sections = {"breaker": {"failure_threshold": 1, "reset_timeout": "1h"}, "retry": {"max_attempts": 1}}
    kit, _ = cache_kit({}, BreakerPlugin(), RetryPlugin(), RateLimitPlugin(), sections=sections)
    assert [n for n in kit.order if n in ("ratelimit", "cache", "retry", "breaker")] == [
        "ratelimit", "cache", "retry", "breaker"]
    kit.generate("hello", metadata=ACME)
    kit.provider("scripted").fail_next(1, "provider_unavailable")
    with pytest.raises(BelugaError, match="provider_unavailable"):
        kit.generate("other", metadata=ACME)
    with pytest.raises(BelugaError, match="circuit"):  # the provider's breaker is open now
        kit.generate("another", metadata=ACME)
    assert len(CALLS) == 2
    hit = kit.generate("hello", metadata=ACME)  # a hit never reaches the breaker, nor counts for it
    assert hit.metadata["cache"] == "hit" and "attempts" not in hit.metadata and len(CALLS) == 2
    kit.close()


def test_a_reload_keeps_the_stored_answers_and_turning_the_cache_off_passes_calls_through() -> None:
    kit, cache = cache_kit()
    kit.generate("hello", metadata=ACME)
    storage = cache.storage
    base = {"beluga": {"provider": "scripted"}}
    assert kit.reload({**base, "plugins": {"cache": {"enabled": True, "ttl": "5m"}}}).applied
    assert cache.storage is storage and kit.generate("hello", metadata=ACME).metadata["cache"] == "hit"
    assert kit.reload({**base, "plugins": {"cache": {"enabled": False}}}).applied
    assert "cache" not in kit.generate("hello", metadata=ACME).metadata and len(CALLS) == 2
    bad = kit.reload({**base, "plugins": {"cache": {"enabled": True, "max_entries": 0}}})
    assert not bad.applied and "max_entries" in str(bad.error)
    kit.close()
