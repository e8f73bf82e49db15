"""``beluga spend``: today's and this month's spend per project, read from the budget's storage."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from beluga_core import default_config_path

HELP = "print today's and this month's spend per project (UTC), read from the budget plugin's storage"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", help="config file (default: $BELUGA_CONFIG, then ./beluga.toml, else defaults)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _err(message: str) -> None:
    print(f"beluga spend: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from beluga_budget.plugin import BudgetSettings
    from beluga_budget.prices import to_usd
    from beluga_budget.storage import Periods, ledger_from_url
    from beluga_core import BelugaError, ConfigError, Kit, StorageUnavailable

    try:
        kit = Kit(default_config_path(args.config), plugin_manager=getattr(args, "plugins", None))
    except ConfigError as exc:
        for issue in exc.issues:
            _err(str(issue))
        return 1
    try:
        settings = kit.config.plugin_settings("budget")
    finally:
        kit.close()
    if not isinstance(settings, BudgetSettings):
        settings = BudgetSettings()
    if settings.storage.startswith("memory://"):
        _err(
            "[plugins.budget] storage is memory://, which each process keeps to itself; "
            "set storage = \"redis://...\" (or redis+cluster://...) for a spend that beluga spend can read"
        )
        return 1
    ledger = ledger_from_url(
        settings.storage, failure_mode="closed", timeout=max(float(settings.timeout), 2.0),
        recheck_interval=0.0, key_prefix=settings.key_prefix,
    )
    periods = Periods.at(time.time())
    try:
        rows = ledger.spend(periods)
    except (BelugaError, StorageUnavailable, OSError) as exc:
        _err(str(exc))
        return 1
    except Exception as exc:  # noqa: BLE001 - a storage error, reported by type (no secrets in it)
        _err(f"cannot read {ledger.url}: {type(exc).__name__}: {exc}")
        return 1
    finally:
        ledger.close()
    report: list[dict[str, Any]] = []
    for row in rows:
        day_limit, month_limit = settings.limits(row.key)
        report.append({
            settings.key: row.key,
            "today_usd": to_usd(row.day),
            "today_held_usd": to_usd(row.day_held),
            "month_usd": to_usd(row.month),
            "month_held_usd": to_usd(row.month_held),
            "usd_per_day": day_limit,
            "usd_per_month": month_limit,
        })
    if args.json:
        print(json.dumps({"storage": ledger.url, "day": periods.day, "month": periods.month, "key": settings.key,
                          "spend": report}, indent=2))
        return 0
    print(f"spend on {periods.day[:4]}-{periods.day[4:6]}-{periods.day[6:]} and in {periods.month[:4]}-"
          f"{periods.month[4:]} (UTC), from {ledger.url}")
    if not report:
        print("(no spend recorded)")
        return 0

    def limit(usd: float | None) -> str:
        return "-" if usd is None else f"{usd:.2f}"

    width = max(len(settings.key), *(len(r[settings.key]) for r in report))
    print(f"{settings.key:<{width}}  {'today USD':>12}  {'month USD':>12}  {'per day':>10}  {'per month':>10}")
    for r in report:
        print(f"{r[settings.key]:<{width}}  {r['today_usd']:>12.6f}  {r['month_usd']:>12.6f}  "
              f"{limit(r['usd_per_day']):>10}  {limit(r['usd_per_month']):>10}")
    return 0
