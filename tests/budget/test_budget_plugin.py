"""The budget plugin: prices, reserve then settle, refusals naming the project and period, streams,
failures and cached answers, in memory, on a redis-server and on a three-node Redis Cluster."""

from __future__ import annotations

import asyncio
import calendar
from typing import Any

import pytest
from budget_support import NOON, PRICES, StandIn, budget_kit

from beluga_budget import DEFAULT_PRICES, BudgetPlugin, Periods, Price, lookup
from beluga_core import (
    BelugaError,
    ConfigError,
    ErrorCode,
    HumanMessage,
    ProviderError,
    QuotaExceeded,
    Usage,
    estimate_request_tokens,
)
from beluga_core.testing import kit_with

PROMPT = "how many moons does jupiter have"
TOKENS = estimate_request_tokens([HumanMessage(PROMPT)])


def call_cost(max_tokens: int) -> float:
    """USD a call reserves at PRICES (USD 0.001 per token): the prompt's estimate plus max_tokens."""
    return (TOKENS + max_tokens) * 0.001


def spent(plugin: BudgetPlugin, key: str) -> tuple[int, int, int, int]:
    rows = {r.key: r for r in plugin.spend(NOON)}
    r = rows.get(key)
    return (0, 0, 0, 0) if r is None else (r.day, r.day_held, r.month, r.month_held)


# -- prices ------------------------------------------------------------------------------------


def test_a_call_costs_its_usage_with_cached_input_at_the_cached_price() -> None:
    price = DEFAULT_PRICES["gpt-4o-mini"]  # 0.15 in, 0.60 out, 0.075 cached, USD per million tokens
    usage = Usage(input_tokens=1000, output_tokens=500, cached_input_tokens=200)
    assert price.cost(usage) == round((800 * 0.15 + 200 * 0.075 + 500 * 0.60) * 1000)  # nano-dollars
    assert Price(2.0, 8.0).cost(Usage(1000, 0, 1000)) == 2000 * 1000  # no cached price: the full one


def test_dated_aliased_and_prefixed_model_names_find_their_base_price() -> None:
    assert lookup(DEFAULT_PRICES, "gpt-4o-2024-08-06") is DEFAULT_PRICES["gpt-4o"]
    assert lookup(DEFAULT_PRICES, "claude-sonnet-4-20250514") is DEFAULT_PRICES["claude-sonnet-4"]
    assert lookup(DEFAULT_PRICES, "claude-3-5-haiku-latest") is DEFAULT_PRICES["claude-3-5-haiku"]
    assert lookup(DEFAULT_PRICES, "openai/gpt-4o-mini") is DEFAULT_PRICES["gpt-4o-mini"]
    assert lookup(DEFAULT_PRICES, "gpt-4o-mini") is not DEFAULT_PRICES["gpt-4o"]
    assert lookup(DEFAULT_PRICES, "my-finetune") is None


async def test_the_cost_is_on_the_response_and_settled_to_the_reported_usage(storage_url: str) -> None:
    kit, plugin, standin = budget_kit({"storage": storage_url, "usd_per_day": 10.0})
    standin.usage = Usage(input_tokens=7, output_tokens=3, cached_input_tokens=5)
    try:
        r = await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=100)
        # 2 input at 1000, 5 cached at 100, 3 output at 1000 USD per million tokens
        assert r.metadata["cost_usd"] == pytest.approx((2 * 1000 + 5 * 100 + 3 * 1000) / 1e6)
        assert spent(plugin, "acme") == (5_500_000, 0, 5_500_000, 0)  # settled; nothing held any more
    finally:
        await kit.aclose()


# -- budgets -----------------------------------------------------------------------------------


async def test_a_project_over_its_daily_budget_is_refused_naming_it_and_the_period(storage_url: str) -> None:
    per_call = call_cost(10)
    kit, _plugin, standin = budget_kit({"storage": storage_url, "usd_per_day": per_call * 3.5})
    try:
        for _ in range(3):
            await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=10)
        with pytest.raises(QuotaExceeded) as err:
            await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=10)
        e = err.value
        assert e.code is ErrorCode.QUOTA_EXCEEDED and e.key == "acme" and e.period == "day"
        assert "project 'acme'" in e.message and "daily budget" in e.message and "00:00 UTC" in e.message
        assert PROMPT not in e.message
        assert e.retry_after == pytest.approx(12 * 3600)  # noon: the day resets in twelve hours
        assert standin.calls == 3  # the refused call never reached the model
        await kit.agenerate(PROMPT, metadata={"project": "globex"}, max_tokens=10)  # its own budget
    finally:
        await kit.aclose()


async def test_a_huge_limit_or_a_long_key_value_gives_a_short_refusal() -> None:
    """max_tokens at 64 bits reserves more than any budget (refused before the call, in memory as
    in Redis: test_budget_redis), and a Kit user's key value of any length is cut in the message."""
    kit, _plugin, standin = budget_kit({"usd_per_day": 1.0})
    project = "p\n\x00" + "x" * 10_000
    try:
        with pytest.raises(QuotaExceeded) as err:
            await kit.agenerate(PROMPT, metadata={"project": project}, max_tokens=2**63 - 1)
        assert err.value.key == project and len(err.value.message) < 400
        assert "\n" not in err.value.message and "\x00" not in err.value.message
        assert standin.calls == 0
    finally:
        await kit.aclose()


async def test_a_monthly_budget_and_per_project_overrides(storage_url: str) -> None:
    per_call = call_cost(10)
    settings = {"storage": storage_url, "usd_per_month": per_call * 2.5,
                "projects": {"vip": {"usd_per_month": per_call * 10}, "frozen": {"usd_per_day": 0.0}}}
    kit, _plugin, _ = budget_kit(settings)
    try:
        for _ in range(2):
            await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=10)
        with pytest.raises(QuotaExceeded) as err:
            await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=10)
        assert err.value.period == "month" and "monthly budget" in err.value.message
        assert err.value.retry_after == pytest.approx(Periods.at(NOON).month_ends - NOON)
        for _ in range(5):
            await kit.agenerate(PROMPT, metadata={"project": "vip"}, max_tokens=10)
        with pytest.raises(QuotaExceeded) as err:
            await kit.agenerate(PROMPT, metadata={"project": "frozen"}, max_tokens=10)
        assert err.value.retry_after is None and "allows at all" in err.value.message  # a zero budget: never
    finally:
        await kit.aclose()


def test_periods_are_utc_calendar_days_and_months() -> None:
    p = Periods.at(NOON)
    assert (p.day, p.month, p.day_ends - NOON) == ("20261206", "202612", 12 * 3600)
    new_year = Periods.at(calendar.timegm((2026, 12, 31, 23, 59, 59)))
    assert (new_year.day, new_year.month) == ("20261231", "202612")
    assert new_year.day_ends == new_year.month_ends == calendar.timegm((2027, 1, 1, 0, 0, 0))


async def test_a_new_utc_day_brings_a_fresh_daily_budget_but_not_a_fresh_month(storage_url: str) -> None:
    now = [NOON]
    per_call = call_cost(10)
    settings = {"storage": storage_url, "usd_per_day": per_call * 1.5, "usd_per_month": per_call * 2.5}
    kit, _plugin, _ = budget_kit(settings, clock=lambda: now[0])
    try:
        await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=10)
        with pytest.raises(QuotaExceeded) as err:
            await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=10)
        assert err.value.period == "day"
        now[0] = NOON + 86_400  # the next day
        await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=10)
        now[0] = NOON + 2 * 86_400
        with pytest.raises(QuotaExceeded) as err:
            await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=10)
        assert err.value.period == "month"
    finally:
        await kit.aclose()


async def test_a_call_that_could_never_fit_says_so_without_a_retry_after() -> None:
    kit, _, _ = budget_kit({"usd_per_day": call_cost(10)})
    try:
        with pytest.raises(QuotaExceeded) as err:
            await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=1000)
        assert err.value.retry_after is None and "fewer max_tokens" in err.value.message
    finally:
        await kit.aclose()


async def test_requests_without_max_tokens_reserve_default_max_tokens() -> None:
    kit, _, standin = budget_kit({"usd_per_day": call_cost(50) * 1.5, "default_max_tokens": 50})
    standin.usage = Usage(1, 1)
    try:
        await kit.agenerate(PROMPT, metadata={"project": "acme"})
        await kit.agenerate(PROMPT, metadata={"project": "acme"})  # the first settled to almost nothing
        kit2, _, _ = budget_kit({"usd_per_day": call_cost(50) * 0.9, "default_max_tokens": 50})
        with pytest.raises(QuotaExceeded):
            await kit2.agenerate(PROMPT, metadata={"project": "acme"})
        await kit2.aclose()
    finally:
        await kit.aclose()


async def test_requests_without_the_key_share_the_default_key_or_are_refused() -> None:
    kit, plugin, _ = budget_kit({"usd_per_day": 1.0})
    strict, _, _ = budget_kit({"usd_per_day": 1.0, "default_key": ""})
    try:
        await kit.agenerate(PROMPT, max_tokens=5)
        assert [r.key for r in plugin.spend(NOON)] == ["anonymous"]
        with pytest.raises(BelugaError) as err:
            await strict.agenerate(PROMPT, max_tokens=5)
        assert err.value.code is ErrorCode.INVALID_INPUT and "'project'" in err.value.message
    finally:
        await kit.aclose()
        await strict.aclose()


# -- settling ----------------------------------------------------------------------------------


async def test_a_failed_call_releases_its_reservation_and_costs_nothing(storage_url: str) -> None:
    kit, plugin, standin = budget_kit({"storage": storage_url, "usd_per_day": call_cost(10) * 1.5})
    standin.fail = True
    try:
        for _ in range(3):  # each would not fit beside a reservation that was never released
            with pytest.raises(ProviderError):
                await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=10)
        assert spent(plugin, "acme") == (0, 0, 0, 0)
        standin.fail = False
        await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=10)
    finally:
        await kit.aclose()


async def test_a_cached_answer_costs_nothing_and_releases_its_reservation(storage_url: str) -> None:
    kit, plugin, standin = budget_kit({"storage": storage_url, "usd_per_day": call_cost(10) * 1.5})
    standin.cache_hit = True  # metadata["cache"] == "hit", usage all cached
    try:
        for _ in range(4):
            r = await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=10)
            assert r.metadata["cost_usd"] == 0
        stream = kit.astream(PROMPT, metadata={"project": "acme"}, max_tokens=10)
        assert "".join([c.text async for c in stream]) == "ok"
        await plugin.drain()
        assert spent(plugin, "acme") == (0, 0, 0, 0)
    finally:
        await kit.aclose()


async def test_a_stream_settles_on_its_final_usage_chunk(storage_url: str) -> None:
    kit, plugin, standin = budget_kit({"storage": storage_url, "usd_per_day": 10.0})
    standin.usage = Usage(4, 6)
    try:
        stream = kit.astream(PROMPT, metadata={"project": "acme"}, max_tokens=100)
        first = await stream.__anext__()
        assert first.text == "o"
        assert spent(plugin, "acme")[1] == round(call_cost(100) * 1e9)  # held while the stream runs
        rest = [c async for c in stream]
        assert rest[-1].usage == Usage(4, 6)
        await plugin.drain()
        assert spent(plugin, "acme") == (10_000_000, 0, 10_000_000, 0)
    finally:
        await kit.aclose()


async def test_a_cancelled_or_broken_stream_releases_its_reservation(storage_url: str) -> None:
    kit, plugin, standin = budget_kit({"storage": storage_url, "usd_per_day": 10.0})
    try:
        stream = kit.astream(PROMPT, metadata={"project": "acme"}, max_tokens=100)
        await stream.__anext__()
        await stream.aclose()  # the client went away
        standin.fail_mid_stream = True
        with pytest.raises(ProviderError):
            async for _ in kit.astream(PROMPT, metadata={"project": "acme"}, max_tokens=100):
                pass
        await plugin.drain()
        assert spent(plugin, "acme") == (0, 0, 0, 0)
    finally:
        await kit.aclose()


async def test_no_reported_usage_is_charged_the_reservation() -> None:
    kit, plugin, standin = budget_kit({"usd_per_day": 10.0})
    standin.usage = Usage()
    try:
        r = await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=10)
        assert r.metadata["cost_usd"] == pytest.approx(call_cost(10))
        assert spent(plugin, "acme")[0] == round(call_cost(10) * 1e9)
    finally:
        await kit.aclose()


async def test_the_answering_models_price_settles_a_call_answered_by_another_model() -> None:
    prices = {**PRICES, "model-b": {"input_per_mtok": 0.0, "output_per_mtok": 2000.0}}
    kit, _plugin, standin = budget_kit({"usd_per_day": 10.0, "prices": prices})
    standin.model, standin.usage = "model-b", Usage(10, 10)
    try:
        r = await kit.agenerate(PROMPT, model="model-a", metadata={"project": "acme"}, max_tokens=10)
        assert r.metadata["cost_usd"] == pytest.approx(10 * 2000 / 1e6)
    finally:
        await kit.aclose()


# -- two workers -------------------------------------------------------------------------------


async def test_two_kits_on_one_storage_never_let_a_project_spend_past_its_budget(storage_url: str) -> None:
    """Sixty overlapping calls through two Kits sharing a storage: every reservation is honoured, so
    the calls that got through spent at most the budget (each settles to what it reserved)."""
    per_call = call_cost(10)
    settings = {"storage": storage_url, "usd_per_day": per_call * 12.5}
    kit_a, plugin_a, standin_a = budget_kit(settings)
    if storage_url == "memory://":  # one process: the second worker shares the first one's ledger
        kit_b, plugin_b, standin_b = kit_a, plugin_a, standin_a
    else:
        kit_b, plugin_b, standin_b = budget_kit(settings)
    standin_a.delay = standin_b.delay = 0.02  # calls overlap: reservations race each other
    try:
        async def one(kit: Any) -> bool:
            try:
                await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=10)
            except QuotaExceeded:
                return False
            return True

        results = await asyncio.gather(*(one(kit_a if i % 2 else kit_b) for i in range(60)))
        await plugin_a.drain()
        await plugin_b.drain()
        day, held, _, _ = spent(plugin_a, "acme")
        assert held == 0
        assert sum(results) == 12  # exactly as many as the budget holds, across both workers
        assert day == round(12 * per_call * 1e9) <= round(per_call * 12.5 * 1e9)
        assert spent(plugin_b, "acme")[0] == day  # both read the same ledger
    finally:
        await kit_a.aclose()
        if kit_b is not kit_a:
            await kit_b.aclose()


# -- models without a price, and configuration ---------------------------------------------------


async def test_a_model_without_a_price_is_refused_naming_it_and_the_setting() -> None:
    kit, _, standin = budget_kit({"usd_per_day": 1.0})
    try:
        with pytest.raises(BelugaError) as err:
            await kit.agenerate(PROMPT, model="my-finetune", metadata={"project": "acme"})
        assert err.value.code is ErrorCode.INVALID_INPUT
        assert "'my-finetune'" in err.value.message and "[plugins.budget.prices.my-finetune]" in err.value.message
        assert standin.calls == 0
    finally:
        await kit.aclose()


async def test_a_model_without_a_price_may_be_priced_by_the_default_price() -> None:
    settings = {"usd_per_day": 1.0, "unknown_model": "default",
                "default_price": {"input_per_mtok": 3000.0, "output_per_mtok": 3000.0}}
    kit, _, standin = budget_kit(settings)
    standin.model, standin.usage = "my-finetune", Usage(10, 10)
    try:
        r = await kit.agenerate(PROMPT, model="my-finetune", metadata={"project": "acme"}, max_tokens=10)
        assert r.metadata["cost_usd"] == pytest.approx(20 * 3000 / 1e6)
    finally:
        await kit.aclose()


@pytest.mark.parametrize(
    ("settings", "where", "why"),
    [
        ({"usd_per_day": -1}, "plugins.budget.usd_per_day", "at least 0"),
        ({"usd_per_month": "lots"}, "plugins.budget.usd_per_month", "expected a number"),
        ({"prices": {"gpt-x": {"output_per_mtok": 1.0}}}, "plugins.budget.prices.gpt-x.input_per_mtok", "required"),
        ({"prices": {"gpt-x": {"input_per_mtok": -2}}}, "plugins.budget.prices.gpt-x.input_per_mtok", "at least 0"),
        ({"projects": {"acme": {"usd_per_dya": 1}}}, "plugins.budget.projects.acme.usd_per_dya", "usd_per_day"),
        ({"unknown_model": "guess"}, "plugins.budget.unknown_model", "'refuse', 'default'"),
        ({"unknown_model": "default"}, "plugins.budget", "default_price"),
        ({"storage": "memcached://h:1"}, "plugins.budget.storage", "must be 'memory://' or 'redis://"),
        ({"storage": "redis+cluster://h:7000/2"}, "plugins.budget.storage", "only database 0"),
        ({"failure_mode": "ajar"}, "plugins.budget.failure_mode", "'open', 'closed'"),
    ],
)
def test_bad_settings_name_the_key_and_the_reason(settings: dict[str, Any], where: str, why: str) -> None:
    with pytest.raises(ConfigError) as err:
        kit_with(BudgetPlugin(), config={"plugins": {"budget": settings}})
    text = str(err.value)
    assert where in text and why in text


async def test_installed_without_a_limit_the_plugin_changes_nothing() -> None:
    plugin = BudgetPlugin()
    kit = kit_with(plugin, config={"plugins": {"budget": {}}})
    try:
        r = await kit.agenerate(PROMPT, model="no-price-anywhere", metadata={"project": "acme"})
        assert "cost_usd" not in r.metadata and plugin.ledger is None
    finally:
        await kit.aclose()


async def test_track_records_spend_without_a_limit_and_listeners_hear_each_call() -> None:
    kit, plugin, standin = budget_kit({"track": True})
    standin.usage = Usage(1, 2)
    heard: list[tuple[str, str, float]] = []
    plugin.add_listener(lambda key, model, usd: heard.append((key, model, usd)))
    plugin.add_listener(lambda *_: 1 / 0)  # a broken listener is logged and ignored
    try:
        await kit.agenerate(PROMPT, metadata={"project": "acme"})
        assert heard == [("acme", "model-a", pytest.approx(0.003))]
        assert spent(plugin, "acme")[0] == 3_000_000
    finally:
        await kit.aclose()


async def test_the_cost_is_an_attribute_of_the_chat_span() -> None:
    pytest.importorskip("beluga_tracing")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from beluga_tracing import TracingPlugin, semconv, use_tracer_provider

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    use_tracer_provider(provider)
    plugin, standin = BudgetPlugin(clock=lambda: NOON), StandIn()
    kit = kit_with(TracingPlugin(), plugin, standin, config={
        "beluga": {"plugins": ["tracing", "budget", "standin"], "model": "model-a"},
        "plugins": {"budget": {"usd_per_day": 10.0, "prices": PRICES}},
    })
    standin.usage = Usage(1, 2)
    try:
        await kit.agenerate(PROMPT, metadata={"project": "acme"}, max_tokens=5)
        async for _ in kit.astream(PROMPT, metadata={"project": "acme"}, max_tokens=5):
            pass
        await plugin.drain()
        chats = [s for s in exporter.get_finished_spans() if s.name.startswith("chat")]
        assert [s.attributes[semconv.BELUGA_BUDGET_COST_USD] for s in chats] == [pytest.approx(0.003)] * 2
    finally:
        await kit.aclose()
        use_tracer_provider(None)
        provider.shutdown()



async def test_embeddings_reserve_their_input_only() -> None:
    plugin = BudgetPlugin(clock=lambda: NOON)
    prices = {"echo": {"input_per_mtok": 1000.0, "output_per_mtok": 1_000_000.0}}  # USD 1 per output token
    kit = kit_with(plugin, config={"plugins": {"budget": {"usd_per_day": 1.0, "prices": prices}}})
    try:
        answer = await kit.aembed(["hello", "world"], metadata={"project": "acme"})
        assert len(answer.embeddings) == 2 and answer.metadata["cost_usd"] > 0
        with pytest.raises(QuotaExceeded):  # a chat call reserves its max_tokens of output
            await kit.agenerate("hello", metadata={"project": "acme"}, max_tokens=2)
    finally:
        await kit.aclose()


def test_a_reload_keeps_the_spend_and_applies_the_new_budget() -> None:
    per_call = call_cost(10)
    kit, plugin, _ = budget_kit({"usd_per_day": per_call * 1.5})
    acme = {"project": "acme"}
    kit.generate(PROMPT, metadata=acme, max_tokens=10)
    with pytest.raises(QuotaExceeded):
        kit.generate(PROMPT, metadata=acme, max_tokens=10)
    order = {"plugins": ["budget", "standin"], "model": "model-a"}
    result = kit.reload({"beluga": order, "plugins": {"budget": {"usd_per_day": per_call * 2.5, "prices": PRICES}}})
    assert result.applied
    kit.generate(PROMPT, metadata=acme, max_tokens=10)  # the first call's spend is still counted
    with pytest.raises(QuotaExceeded):
        kit.generate(PROMPT, metadata=acme, max_tokens=10)
    assert spent(plugin, "acme")[0] == round(2 * per_call * 1e9)
    kit.close()


async def test_a_model_group_reserves_at_its_dearest_deployment() -> None:
    prices = {**PRICES, "model-b": {"input_per_mtok": 3000.0, "output_per_mtok": 3000.0}}
    plugin, standin = BudgetPlugin(clock=lambda: NOON), StandIn()
    config = {
        "beluga": {"plugins": ["budget", "standin"]},
        "models": {"smart": {"deployments": ["echo:model-a", "echo:model-b"]}},
        "plugins": {"budget": {"usd_per_day": call_cost(10) * 2, "prices": prices}},  # 2 at model-a, 0 at model-b
    }
    kit = kit_with(plugin, standin, config=config)
    try:
        await kit.agenerate(PROMPT, model="model-a", metadata={"project": "acme"}, max_tokens=10)
        with pytest.raises(QuotaExceeded) as err:
            await kit.agenerate(PROMPT, model="smart", metadata={"project": "acme"}, max_tokens=10)
        assert f"USD {call_cost(10) * 3:.6f}" in err.value.message  # priced at model-b, three times model-a
    finally:
        await kit.aclose()
