"""Spend control for Beluga: the cost of each model call from a price table, and budgets per project
per UTC day and month, reserved before the call and settled after it, in memory or on Redis.

>>> from beluga_budget import DEFAULT_PRICES
>>> from beluga_core import Usage
>>> DEFAULT_PRICES["gpt-4o-mini"].cost(Usage(input_tokens=1000, output_tokens=500))  # nano-dollars
450000
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beluga_budget.plugin import BudgetPlugin, BudgetSettings, ProjectBudget, SpendListener
from beluga_budget.prices import DEFAULT_PRICES, NANO, PRICES_DATE, Price, lookup, to_nano, to_usd
from beluga_budget.storage import Hold, Ledger, MemoryLedger, Periods, Spend, Verdict, ledger_from_url

if TYPE_CHECKING:
    from beluga_budget.redis_storage import RedisLedger


def __getattr__(name: str) -> object:
    # RedisLedger imports the redis client; load it only when asked for.
    if name == "RedisLedger":
        from beluga_budget.redis_storage import RedisLedger

        return RedisLedger
    raise AttributeError(f"module 'beluga_budget' has no attribute {name!r}")


__all__ = [
    "DEFAULT_PRICES",
    "NANO",
    "PRICES_DATE",
    "BudgetPlugin",
    "BudgetSettings",
    "Hold",
    "Ledger",
    "MemoryLedger",
    "Periods",
    "Price",
    "ProjectBudget",
    "RedisLedger",
    "Spend",
    "SpendListener",
    "Verdict",
    "ledger_from_url",
    "lookup",
    "to_nano",
    "to_usd",
]
