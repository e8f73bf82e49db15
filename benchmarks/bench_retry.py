"""Success-path overhead of ``beluga_retry`` against tenacity, side by side in one run.

    .venv/bin/python benchmarks/bench_retry.py

Every row wraps the same trivial function (sync) or coroutine (async) that succeeds at once, with
equivalent policies: 3 attempts, exponential backoff with jitter, retry only on selected errors.
"Overhead" is the row's time per call minus the bare call's. Target: beluga at most half of
tenacity's overhead.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tenacity
from _util import aper_call_ns, header, per_call_ns, table

from beluga_core import LLMRequest, ProviderError
from beluga_core.testing import kit_with
from beluga_retry import RetryPolicy, aretry, aretrying, retry, retrying
from beluga_retry.plugin import RetryPlugin

N = 200_000
AN = 100_000


def work() -> int:
    return 42


async def awork() -> int:
    return 42


POLICY = RetryPolicy.default()
TENACITY = dict(
    stop=tenacity.stop_after_attempt(3),
    wait=tenacity.wait_exponential_jitter(initial=1, max=30, jitter=0.1),
    retry=tenacity.retry_if_exception_type(ProviderError),
    reraise=True,
)


def sync_rows() -> list[list[Any]]:
    bare = per_call_ns(work, N)
    beluga_fn = lambda: retry(POLICY, work)  # noqa: E731
    beluga_deadline = lambda: retry(POLICY, work, timeout=30.0)  # noqa: E731
    beluga_decorated = retrying(POLICY)(work)
    ten_decorated = tenacity.retry(**TENACITY)(work)
    ten_object = tenacity.Retrying(**TENACITY)
    ten_call = lambda: ten_object(work)  # noqa: E731
    measured = {
        "bare call": bare,
        "beluga retry(policy, fn)": per_call_ns(beluga_fn, N),
        "beluga retry(..., timeout=30)": per_call_ns(beluga_deadline, N),
        "beluga @retrying": per_call_ns(beluga_decorated, N),
        "tenacity @retry": per_call_ns(ten_decorated, N // 4),
        "tenacity Retrying()(fn)": per_call_ns(ten_call, N // 4),
    }
    return _rows(measured, bare, ("tenacity @retry", "tenacity Retrying()(fn)"))


def async_rows() -> list[list[Any]]:
    bare = aper_call_ns(awork, AN)
    beluga_decorated = aretrying(POLICY)(awork)
    ten_decorated = tenacity.retry(**TENACITY)(awork)
    ten_object = tenacity.AsyncRetrying(**TENACITY)
    measured = {
        "bare await": bare,
        "beluga aretry(policy, afn)": aper_call_ns(lambda: aretry(POLICY, awork), AN),
        "beluga aretry(..., timeout=30)": aper_call_ns(lambda: aretry(POLICY, awork, timeout=30.0), AN),
        "beluga @aretrying": aper_call_ns(beluga_decorated, AN),
        "tenacity @retry (async)": aper_call_ns(ten_decorated, AN // 4),
        "tenacity AsyncRetrying()(afn)": aper_call_ns(lambda: ten_object(awork), AN // 4),
    }
    return _rows(measured, bare, ("tenacity @retry (async)", "tenacity AsyncRetrying()(afn)"))


def _rows(measured: dict[str, float], bare: float, peers: tuple[str, ...]) -> list[list[Any]]:
    peer = min(measured[p] - bare for p in peers)  # the faster tenacity form
    rows = []
    for name, ns in measured.items():
        over = ns - bare
        ratio = "" if ns == bare else f"{over / peer:.2f}"
        rows.append([name, ns, over, ratio])
    return rows


def plugin_rows() -> list[list[Any]]:
    request = LLMRequest("Hello, how are you today?")
    plain = kit_with()
    with_retry = kit_with(RetryPlugin())
    a = aper_call_ns(lambda: plain._chain.call(request), AN // 2)
    b = aper_call_ns(lambda: with_retry._chain.call(request), AN // 2)
    return [["Kit, echo, no plugins", a, 0.0, ""], ["Kit, echo, retry plugin", b, b - a, ""]]


def main() -> None:
    header("retry: success-path overhead vs tenacity")
    cols = ["row", "ns/call", "overhead ns", "overhead vs tenacity"]
    sync = sync_rows()
    print("sync\n" + table(cols, sync) + "\n")
    asy = async_rows()
    print("async\n" + table(cols, asy) + "\n")
    print("plugin through the chain (the response gets metadata['attempts'])\n" + table(cols, plugin_rows()))
    print(
        f"\nbeluga retry overhead / tenacity overhead: sync {sync[1][3]}, async {asy[1][3]} "
        "(target: at most 0.50)"
    )


if __name__ == "__main__":
    main()
