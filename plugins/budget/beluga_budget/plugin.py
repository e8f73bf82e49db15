"""The ``budget`` plugin: what each project spends, from a price table, capped per day and per month."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from beluga_budget.prices import DEFAULT_PRICES, Price, lookup, to_nano, to_usd
from beluga_budget.storage import Hold, Ledger, MemoryLedger, Periods, Spend, ledger_from_url
from beluga_core import (
    BelugaError,
    CallNext,
    Config,
    Duration,
    ErrorCode,
    LLMRequest,
    LLMResponse,
    LLMStream,
    QuotaExceeded,
    Usage,
    estimate_request_tokens,
    get_logger,
    hookimpl,
    setting,
)
from beluga_redis import Pending, storage_setting

if TYPE_CHECKING:
    from beluga_core import CommandRegistry

log = get_logger("beluga.budget")

#: Called with (key value, model, USD) once per settled call; see ``BudgetPlugin.add_listener``.
SpendListener = Callable[[str, str, float], None]



@attrs.frozen
class ProjectBudget:
    """``[plugins.budget.projects."NAME"]``: one key value's own limits (unset: the section's)."""

    usd_per_day: float | None = setting(None, min=0, help="this project's budget per UTC day (unset: the section's)")
    usd_per_month: float | None = setting(
        None, min=0, help="this project's budget per UTC month (unset: the section's)"
    )


@attrs.frozen
class BudgetSettings:
    """The ``[plugins.budget]`` section. Every limit is unset by default, so installing the plugin
    changes nothing until a limit (or ``track``) is configured."""

    key: str = setting("project", help="request metadata key whose value budgets are kept by (project, user, ...)")
    default_key: str = setting(
        "anonymous", help='key used for requests whose metadata lacks `key`; "" rejects such requests instead'
    )
    usd_per_day: float | None = setting(
        None, min=0, help="USD each key value may spend per UTC day (unset: no daily limit)"
    )
    usd_per_month: float | None = setting(
        None, min=0, help="USD each key value may spend per UTC month (unset: no monthly limit)"
    )
    projects: Mapping[str, ProjectBudget] = setting(
        factory=dict, help="limits of particular key values, replacing the section's (a table per project)"
    )
    prices: Mapping[str, Price] = setting(
        factory=dict, help="USD per million tokens per model, added to (and replacing) the shipped prices"
    )
    unknown_model: str = setting(
        "refuse", choices=("refuse", "default"),
        help="a model with no price: refuse the call, or price it by default_price",
    )
    default_price: Price | None = setting(
        None, help="the price of models missing from prices (unknown_model = 'default')"
    )
    default_max_tokens: int = setting(
        4096, min=1, help="output tokens reserved for a request that sets no max_tokens"
    )
    track: bool = setting(False, help="record spend (metrics, spans, beluga spend) even where no limit is set")
    storage: str = storage_setting("shared, exact across replicas")
    failure_mode: str = setting(
        "open", choices=("open", "closed"), help="when Redis is down: open admits calls unchecked, closed refuses them"
    )
    key_prefix: str = setting("beluga:budget:", help="prefix of every storage key (to share one Redis between apps)")
    timeout: Duration = setting(Duration(0.5), min=0.001, help="Redis connect and round-trip timeout")
    recheck_interval: Duration = setting(
        Duration(1.0), min=0, help="after a Redis failure, use failure_mode without trying Redis for this long"
    )

    def __attrs_post_init__(self) -> None:
        if self.unknown_model == "default" and self.default_price is None:
            raise ValueError(
                "unknown_model = 'default' needs a [plugins.budget.default_price] table "
                "(input_per_mtok, output_per_mtok) to price models missing from prices"
            )

    @property
    def active(self) -> bool:
        """Whether the plugin does anything: a limit is set somewhere, or ``track``."""
        return (
            self.track
            or self.usd_per_day is not None
            or self.usd_per_month is not None
            or any(p.usd_per_day is not None or p.usd_per_month is not None for p in self.projects.values())
        )

    def limits(self, key: str) -> tuple[float | None, float | None]:
        """(USD per day, USD per month) for ``key``; None is no limit."""
        own = self.projects.get(key)
        if own is None:
            return self.usd_per_day, self.usd_per_month
        return (
            self.usd_per_day if own.usd_per_day is None else own.usd_per_day,
            self.usd_per_month if own.usd_per_month is None else own.usd_per_month,
        )


@attrs.frozen
class _Policy:
    """Everything one configuration needs on the request path, built once in ``_apply``."""

    settings: BudgetSettings
    ledger: Ledger
    prices: Mapping[str, Price]


def _is_cache_hit(metadata: Mapping[str, Any] | None) -> bool:
    return metadata is not None and metadata.get("cache") == "hit"


def _limit_nano(usd: float | None) -> int:
    return -1 if usd is None else to_nano(usd)


class BudgetPlugin:
    """Caps what each value of a request metadata key (a project) spends per UTC day and month.

    Before a call it reserves the most the call can cost (the prompt's estimated tokens at the input
    price plus ``max_tokens`` at the output price) and refuses it with ``QuotaExceeded`` when that
    would go over a limit; after the call it settles to the cost of the usage the provider reported
    (for streams, when the stream ends; a failed or cancelled call releases its reservation). A
    cached answer (``metadata["cache"] == "hit"``) costs nothing. ``clock`` (seconds since the epoch)
    replaces the wall clock that decides the periods, for tests.
    """

    name = "budget"
    rank = 320  #: where it goes when [beluga] plugins does not list it (lower: outer)

    def __init__(self, *, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.time
        self._policy: _Policy | None = None
        self._settings = BudgetSettings()
        self._ledger_spec: tuple[Any, ...] | None = None
        self._ledger: Ledger | None = None
        self._config: Config | None = None
        self._listeners: list[SpendListener] = []
        self._pending = Pending()
        self._today: Periods | None = None
        self._apply(BudgetSettings())

    # -- configuration -------------------------------------------------------------------------
    @hookimpl
    def config_schema(self) -> type:
        return BudgetSettings

    @hookimpl
    def on_settings(self, settings: BudgetSettings) -> None:
        self._apply(settings)

    @hookimpl
    def on_config_change(self, old: Config | None, new: Config) -> None:
        self._config = new  # for the model a request that names none goes to

    def _apply(self, s: BudgetSettings) -> None:
        self._settings = s
        if not s.active:
            self._policy = None
            return
        spec = (s.storage, s.failure_mode, float(s.timeout), float(s.recheck_interval), s.key_prefix)
        ledger = self._ledger
        if ledger is None or spec != self._ledger_spec:
            ledger = ledger_from_url(
                s.storage,
                failure_mode=s.failure_mode,  # type: ignore[arg-type]
                timeout=float(s.timeout),
                recheck_interval=float(s.recheck_interval),
                key_prefix=s.key_prefix,
                clock=self._clock,
            )
            old, self._ledger, self._ledger_spec = self._ledger, ledger, spec
            if old is not None and not isinstance(old, MemoryLedger):
                old.close()
        self._policy = _Policy(s, ledger, {**DEFAULT_PRICES, **s.prices})

    @hookimpl
    def register_commands(self, commands: CommandRegistry) -> None:
        from beluga_budget import cli

        commands.add("spend", cli.HELP, cli.configure, cli.run)

    # -- observers -----------------------------------------------------------------------------
    def add_listener(self, listener: SpendListener) -> None:
        """Call ``listener(key value, model, usd)`` once per settled call (the gateway counts spend
        in ``/metrics`` this way). A listener that raises is logged and ignored."""
        self._listeners.append(listener)

    def remove_listener(self, listener: SpendListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _spent(self, key: str, model: str, nano: int) -> None:
        usd = to_usd(nano)
        for listener in list(self._listeners):
            try:
                listener(key, model, usd)
            except Exception:
                log.exception("budget: spend listener %r failed", listener)

    # -- prices --------------------------------------------------------------------------------
    def price_of(self, model: str, policy: _Policy | None = None) -> Price | None:
        """``model``'s price from the configured and shipped tables (None when it has none and
        ``unknown_model`` is ``refuse``)."""
        policy = policy or self._policy
        s = policy.settings if policy else self._settings
        price = lookup(policy.prices if policy else {**DEFAULT_PRICES, **s.prices}, model)
        if price is None and s.unknown_model == "default":
            return s.default_price
        return price

    def _targets(self, request: LLMRequest) -> list[str]:
        """The model names a request may be answered by: its own, else its provider's configured one;
        for a ``[models.<name>]`` group, each deployment's."""
        config = self._config
        model = request.model or ""
        if config is None:
            return [model]
        provider = request.provider or config.beluga.provider
        group = config.models.get(model) if model else None
        if group is not None:
            names = []
            for target in group.deployments:
                section, _, named = target.partition(":")
                names.append(named or config.provider_config(section).model or "")
            return names
        # Named nowhere: the provider's own default, which a price table entry may name by the
        # provider (the built-in echo provider answers as model "echo").
        return [model or config.provider_config(provider).model or config.beluga.model or provider or ""]

    def _reserve_price(self, request: LLMRequest, policy: _Policy) -> tuple[str, Price]:
        """The model charged for and the price reserved at: the dearest the call may be answered by."""
        best: tuple[str, Price] | None = None
        for model in self._targets(request):
            price = self.price_of(model, policy)
            if price is None and not model:
                raise BelugaError(
                    ErrorCode.INVALID_INPUT,
                    "budget: the request names no model and its provider section sets none, so its price is "
                    "unknown; name a model, or set [plugins.budget] unknown_model = \"default\" with a default_price",
                )
            if price is None:
                raise BelugaError(
                    ErrorCode.INVALID_INPUT,
                    f"budget: no price for model {model!r}; add [plugins.budget.prices.{_toml_key(model)}] with "
                    "input_per_mtok and output_per_mtok, or set [plugins.budget] unknown_model = \"default\" "
                    "with a default_price",
                )
            if best is None or price.most(1000, 1000) > best[1].most(1000, 1000):
                best = (model, price)
        assert best is not None
        return best

    # -- the request path ----------------------------------------------------------------------
    def key_of(self, metadata: Any, settings: BudgetSettings | None = None) -> str:
        """The budget key for a request's metadata (the default key, or an error, when it has none)."""
        s = settings or self._settings
        value = metadata.get(s.key) if metadata else None
        if value is None or value == "":
            if not s.default_key:
                raise BelugaError(
                    ErrorCode.INVALID_INPUT,
                    f"budget: the request has no {s.key!r} in its metadata; pass metadata={{{s.key!r}: ...}} "
                    "or set [plugins.budget] default_key to budget such requests together",
                )
            return s.default_key
        return str(value)

    def _refusal(self, s: BudgetSettings, key: str, period: str, used: int, amount: int, limit: float,
                 periods: Periods) -> QuotaExceeded:
        name = "daily" if period == "day" else "monthly"
        resets = "at 00:00 UTC" if period == "day" else "on the 1st at 00:00 UTC"
        shown = key if len(key) <= 64 else key[:64] + "…"  # a Kit user's key value may be any text
        who = f"{s.key} {shown!r}"
        if to_nano(limit) < amount:
            return QuotaExceeded(
                f"budget: this call could cost up to USD {to_usd(amount):.6f}, more than the {name} budget of "
                f"{who} (USD {limit:.6f}) allows at all; ask for fewer max_tokens or a shorter prompt",
                key=key, period=period, retry_after=None,
            )
        ends = periods.day_ends if period == "day" else periods.month_ends
        return QuotaExceeded(
            f"budget: {who} has used its {name} budget (USD {to_usd(used):.6f} of USD {limit:.6f} spent or held "
            f"by calls in flight; this call could cost up to USD {to_usd(amount):.6f}); it resets {resets}",
            key=key, period=period, retry_after=max(1.0, ends - self._clock()),
        )

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        policy = self._policy
        if policy is None:
            return await call_next(request)
        s = policy.settings
        key = self.key_of(request.metadata, s)
        model, price = self._reserve_price(request, policy)
        output = 0 if request.operation == "embeddings" else request.max_tokens or s.default_max_tokens
        amount = price.most(estimate_request_tokens(request.messages), output)
        day_usd, month_usd = s.limits(key)
        periods = self._periods()
        verdict = await policy.ledger.areserve(key, amount, _limit_nano(day_usd), _limit_nano(month_usd), periods)
        if not verdict.allowed:
            limit = day_usd if verdict.period == "day" else month_usd
            assert limit is not None
            used = verdict.day if verdict.period == "day" else verdict.month
            raise self._refusal(s, key, verdict.period, used, amount, limit, periods)
        hold = Hold(key, amount, periods, verdict.degraded)
        try:
            result = await call_next(request)
        except BaseException:
            await policy.ledger.asettle(hold, 0)  # the provider did not answer: nothing to pay
            raise
        if isinstance(result, LLMStream):
            result.on_finish(self._stream_settler(policy, hold, model, price, result))
            return result
        cost = self._cost(policy, result, model, price)
        if cost < 0:
            cost = amount  # no usage reported: the most it could cost
        await policy.ledger.asettle(hold, cost)
        self._spent(key, result.model or model, cost)
        return result.replace(metadata={**result.metadata, "cost_usd": to_usd(cost)})

    def _periods(self) -> Periods:
        """Today's and this month's periods (computed again once the day is over)."""
        now = self._clock()
        p = self._today
        if p is None or not p.day_ends - 86_400.0 <= now < p.day_ends:
            p = self._today = Periods.at(now)
        return p

    def _cost(self, policy: _Policy, response: LLMResponse, model: str, price: Price) -> int:
        """Nano-dollars ``response`` cost: 0 for a cached answer; its usage at the answering model's
        price (else the reserved one); -1 when the provider reported no usage."""
        if _is_cache_hit(response.metadata):
            return 0
        usage = response.usage
        if not usage.input_tokens and not usage.output_tokens:
            return -1
        own = self.price_of(response.model, policy) if response.model and response.model != model else None
        return (own or price).cost(usage)

    def _stream_settler(
        self, policy: _Policy, hold: Hold, model: str, price: Price, stream: LLMStream
    ) -> Callable[[LLMResponse | None, BaseException | None], None]:
        def settle(response: LLMResponse | None, error: BaseException | None) -> None:
            if response is not None:
                cost = self._cost(policy, response, model, price)
                if cost < 0:
                    cost = hold.amount
                if isinstance(response.metadata, dict):
                    # Read by observers called after this one (tracing's span of the call).
                    response.metadata["cost_usd"] = to_usd(cost)
                answered = response.model or model
            else:
                # Failed or cancelled: what the provider reported so far, else nothing.
                usage = stream.usage or Usage()
                cost = 0 if _is_cache_hit(stream.metadata) else price.cost(usage)
                answered = stream.model or model
            stream.metadata["cost_usd"] = to_usd(cost)
            self._spent(hold.key, answered, cost)
            ledger = policy.ledger
            if isinstance(ledger, MemoryLedger):
                ledger.settle(hold, cost)
                return
            self._pending.start(lambda: ledger.asettle(hold, cost), lambda: ledger.settle(hold, cost))

        return settle

    async def drain(self) -> None:
        """Wait for stream settlements still on their way to storage (tests, graceful shutdown)."""
        await self._pending.drain()

    # -- reports -------------------------------------------------------------------------------
    def spend(self, now: float | None = None) -> list[Spend]:
        """Every key value's spend (nano-dollars) today and this month, from the storage."""
        ledger = self._ledger
        if ledger is None:
            return []
        return ledger.spend(Periods.at(self._clock() if now is None else now))

    @property
    def settings(self) -> BudgetSettings:
        return self._settings

    @property
    def ledger(self) -> Ledger | None:
        """The storage in use (None until a limit or ``track`` is configured)."""
        return self._ledger

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the storage's connections (Redis). Call it after the Kit is closed."""
        if self._ledger is not None:
            self._ledger.close()

    @hookimpl
    async def on_close(self) -> None:
        """``Kit.aclose()`` closes the storage's connections."""
        await self.aclose()

    async def aclose(self) -> None:
        await self.drain()
        if self._ledger is not None:
            await self._ledger.aclose()

    def __repr__(self) -> str:
        return f"<BudgetPlugin {self._settings if self._policy else 'off'}>"


def _toml_key(name: str) -> str:
    bare = name.replace("-", "").replace("_", "").isalnum()
    return name if bare else '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


__all__ = ["BudgetPlugin", "BudgetSettings", "ProjectBudget", "SpendListener"]
