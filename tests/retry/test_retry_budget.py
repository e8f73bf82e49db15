"""The core's deadline: ``TimeoutBudget`` and the per-call deadline every link of the chain respects."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from retry_fakes import FakeClock

from beluga_core import BudgetExhausted, ErrorCode, LLMRequest, LLMResponse, TimeoutBudget
from beluga_core.testing import Recorder, kit_with

SLOW_ECHO = {"providers": {"echo": {"options": {"latency": 1.0}}}}


def test_allocate_gives_a_fraction_of_what_remains() -> None:
    clock = FakeClock()
    budget = TimeoutBudget(10.0, clock=clock)
    assert budget.allocate(0.3) == pytest.approx(3.0)
    clock.advance(4.0)
    assert budget.remaining() == pytest.approx(6.0)
    assert budget.allocate(0.5) == pytest.approx(3.0)
    assert budget.elapsed() == pytest.approx(4.0)


def test_remaining_never_goes_negative_and_check_raises_once_spent() -> None:
    clock = FakeClock()
    budget = TimeoutBudget(1.0, clock=clock)
    budget.check("retrieval")
    clock.advance(2.5)
    assert budget.remaining() == 0.0
    assert budget.expired
    with pytest.raises(BudgetExhausted, match="exhausted before retrieval") as info:
        budget.check("retrieval")
    assert info.value.code is ErrorCode.BUDGET_EXHAUSTED


def test_budget_until_a_request_deadline() -> None:
    clock = FakeClock()
    budget = TimeoutBudget.until(clock() + 7.0, clock=clock)
    assert budget.remaining() == pytest.approx(7.0)
    assert TimeoutBudget.until(clock() - 1, clock=clock).expired


def test_bad_budgets_and_fractions_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        TimeoutBudget(-1)
    for fraction in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match="fraction"):
            TimeoutBudget(1).allocate(fraction)


def test_per_call_timeout_stops_a_slow_provider_quickly() -> None:
    kit = kit_with(config=SLOW_ECHO)
    started = time.monotonic()
    with pytest.raises(BudgetExhausted):
        asyncio.run(kit.agenerate("hi", timeout=0.05))
    assert time.monotonic() - started < 0.9


def test_configured_deadline_applies_to_every_call() -> None:
    kit = kit_with(config={**SLOW_ECHO, "beluga": {"deadline": "50ms"}})
    started = time.monotonic()
    with pytest.raises(BudgetExhausted):
        kit.generate("hi")
    assert time.monotonic() - started < 0.9


def test_middleware_sees_the_deadline_as_an_absolute_monotonic_instant() -> None:
    recorder = Recorder()
    kit = kit_with(recorder)
    before = time.monotonic()
    kit.generate("hi", timeout=5)
    request: LLMRequest = recorder.requests[0]
    assert request.deadline is not None
    assert before + 5 <= request.deadline <= time.monotonic() + 5
    remaining = request.remaining()
    assert remaining is not None and 4 < remaining <= 5


def test_a_call_within_its_deadline_succeeds() -> None:
    kit = kit_with(config={"providers": {"echo": {"options": {"latency": 0.01}}}})
    response: LLMResponse = kit.generate("in time", timeout=5)
    assert response.text == "in time"


TYPED = '''
from beluga_retry import RetryPolicy, aretry, retry, retrying

def number() -> int:
    return 1

async def text() -> str:
    return "x"

@retrying(RetryPolicy.default())
def add(a: int, b: int) -> float:
    return a + b

async def main() -> None:
    reveal_type(retry(RetryPolicy.default(), number))
    reveal_type(await aretry(RetryPolicy.default(), text))
    reveal_type(add(1, 2))
'''


def test_mypy_infers_the_result_type_of_retry_and_aretry(tmp_path: Path) -> None:
    source = tmp_path / "typed_use.py"
    source.write_text(TYPED)
    cache = Path("/tmp") / "beluga-retry-mypy-cache"
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), "--no-error-summary", str(source)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout
    revealed = re.findall(r'Revealed type is "(?:builtins\.)?(\w+)"', out)
    assert revealed == ["int", "str", "float"], out
    assert "error:" not in out, out
