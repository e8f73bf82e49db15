"""What a call costs: prices per million tokens, the shipped table, and the lookup by model name.

Amounts are kept as whole nano-dollars (1 USD = 10⁹) so that every sum, in memory or in a Redis
Lua script, is exact; a price in USD per million tokens is ``price × 1000`` nano-dollars per token.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import attrs

from beluga_core import Usage, setting

#: Nano-dollars in one US dollar.
NANO = 1_000_000_000


@attrs.frozen
class Price:
    """One model's list price in USD per million tokens (``[plugins.budget.prices."MODEL"]``).

    ``cached_input_per_mtok`` is what input served from the provider's prompt cache costs (default:
    the full input price, the most it can be).
    """

    input_per_mtok: float = setting(min=0, help="USD per million input tokens")
    output_per_mtok: float = setting(0.0, min=0, help="USD per million output tokens (reasoning included)")
    cached_input_per_mtok: float | None = setting(
        None, min=0, help="USD per million input tokens read from the provider's prompt cache (default: input price)"
    )

    def cost(self, usage: Usage) -> int:
        """Nano-dollars for ``usage`` (cached input at its own price, the rest of the input at full price)."""
        cached = min(max(usage.cached_input_tokens, 0), usage.input_tokens)
        cached_price = self.input_per_mtok if self.cached_input_per_mtok is None else self.cached_input_per_mtok
        nano = (
            (usage.input_tokens - cached) * self.input_per_mtok
            + cached * cached_price
            + usage.output_tokens * self.output_per_mtok
        ) * 1000
        return math.ceil(nano - 1e-6) if nano > 0 else 0

    def most(self, input_tokens: int, output_tokens: int) -> int:
        """Nano-dollars the most a call of this size can cost (no input assumed cached)."""
        return self.cost(Usage(input_tokens, output_tokens))


def _p(i: float, o: float, c: float | None = None) -> Price:
    return Price(i, o, c)


#: List prices in USD per million tokens (input, output, cached input), as OpenAI and Anthropic
#: publish them; every entry was checked on 2026-12-06 against the price table LiteLLM 1.108.7 ships
#: (``model_prices_and_context_window_backup.json``, itself kept from the providers' pricing pages).
#: Providers change prices: an operator's ``[plugins.budget.prices]`` entries replace these per
#: model. ``echo`` is Beluga's built-in offline provider and costs nothing.
DEFAULT_PRICES: Mapping[str, Price] = {
    "echo": _p(0, 0, 0),
    # OpenAI
    "gpt-5.4": _p(2.50, 15.00, 0.25),
    "gpt-5.4-mini": _p(0.75, 4.50, 0.075),
    "gpt-5.4-nano": _p(0.20, 1.25, 0.02),
    "gpt-5.2": _p(1.75, 14.00, 0.175),
    "gpt-5.1": _p(1.25, 10.00, 0.125),
    "gpt-5": _p(1.25, 10.00, 0.125),
    "gpt-5-mini": _p(0.25, 2.00, 0.025),
    "gpt-5-nano": _p(0.05, 0.40, 0.005),
    "gpt-4.1": _p(2.00, 8.00, 0.50),
    "gpt-4.1-mini": _p(0.40, 1.60, 0.10),
    "gpt-4.1-nano": _p(0.10, 0.40, 0.025),
    "gpt-4o": _p(2.50, 10.00, 1.25),
    "gpt-4o-mini": _p(0.15, 0.60, 0.075),
    "o1": _p(15.00, 60.00, 7.50),
    "o3": _p(2.00, 8.00, 0.50),
    "o3-mini": _p(1.10, 4.40, 0.55),
    "o4-mini": _p(1.10, 4.40, 0.275),
    "text-embedding-3-small": _p(0.02, 0),
    "text-embedding-3-large": _p(0.13, 0),
    # Anthropic (cached input: a cache read)
    "claude-opus-4-8": _p(5.00, 25.00, 0.50),
    "claude-opus-4-7": _p(5.00, 25.00, 0.50),
    "claude-opus-4-6": _p(5.00, 25.00, 0.50),
    "claude-opus-4-5": _p(5.00, 25.00, 0.50),
    "claude-sonnet-4-6": _p(3.00, 15.00, 0.30),
    "claude-opus-4-1": _p(15.00, 75.00, 1.50),
    "claude-opus-4": _p(15.00, 75.00, 1.50),
    "claude-sonnet-4-5": _p(3.00, 15.00, 0.30),
    "claude-sonnet-4": _p(3.00, 15.00, 0.30),
    "claude-3-7-sonnet": _p(3.00, 15.00, 0.30),
    "claude-3-5-sonnet": _p(3.00, 15.00, 0.30),
    "claude-haiku-4-5": _p(1.00, 5.00, 0.10),
    "claude-3-5-haiku": _p(0.80, 4.00, 0.08),
    "claude-3-haiku": _p(0.25, 1.25, 0.03),
}
#: When the shipped prices were last checked (see ``DEFAULT_PRICES`` for against what).
PRICES_DATE = "2026-12-06"

# A dated or aliased model name: gpt-4o-2024-08-06, claude-sonnet-4-20250514, claude-3-5-haiku-latest.
_VERSION = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$")


def lookup(prices: Mapping[str, Price], model: str) -> Price | None:
    """``model``'s price: its own entry, else the entry of its name without a date or ``-latest``
    suffix (``gpt-4o-2024-08-06`` → ``gpt-4o``), else the part after a ``provider/`` prefix."""
    price = prices.get(model)
    if price is not None or not model:
        return price
    base = _VERSION.sub("", model)
    if base != model and base in prices:
        return prices[base]
    if "/" in model:
        return lookup(prices, model.rsplit("/", 1)[1])
    return None


def to_usd(nano: int | float) -> float:
    """Nano-dollars as USD."""
    return nano / NANO


def to_nano(usd: float) -> int:
    """USD as whole nano-dollars."""
    return round(usd * NANO)


__all__ = ["DEFAULT_PRICES", "NANO", "PRICES_DATE", "Price", "lookup", "to_nano", "to_usd"]
