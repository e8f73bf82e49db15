"""The connection options every provider built on ``ClientPool`` takes (no httpx import here)."""

from __future__ import annotations

import attrs

from beluga_core import Duration, setting


@attrs.frozen
class PoolOptions:
    """The ``options`` every ``ClientPool`` reads; a provider's options class extends it."""

    fast_backend: bool = setting(True, help="the lean HTTP/1.1 pool (httptools); false: httpx for every call")
    trust_env: bool = setting(True, help="proxies and CA settings from the environment, as httpx reads them")
    pool_timeout: Duration | None = setting(
        None, min=0, help="how long a call waits for a free connection (default: read_timeout)"
    )


__all__ = ["PoolOptions"]
