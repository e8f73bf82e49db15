"""Long texts are guarded off the event loop: one large message does not stall every other request."""

from __future__ import annotations

import asyncio
import contextvars
import random
import threading
import time
from collections.abc import Awaitable
from typing import Any

import pytest

from beluga_core import GuardBlocked, GuardInput, GuardPipeline, GuardResult, HumanMessage, SystemMessage, hookimpl
from beluga_core.testing import kit_with

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class ThreadSpy:
    """Records, per text length, which thread ran the guard and the request id it saw."""

    name = "spy"

    def __init__(self, block_word: str = "forbidden") -> None:
        self.seen: list[tuple[int, str, str]] = []
        self.block_word = block_word

    def _look(self, guard_input: GuardInput) -> GuardResult | None:
        self.seen.append((len(guard_input.text), threading.current_thread().name, REQUEST_ID.get()))
        if self.block_word in guard_input.text:
            return GuardResult.block("forbidden word")
        return None

    @hookimpl
    def on_input(self, guard_input: GuardInput) -> GuardResult | None:
        return self._look(guard_input)

    @hookimpl
    def on_output(self, guard_input: GuardInput) -> GuardResult | None:
        return self._look(guard_input)

    @hookimpl
    def on_tool_call(self, guard_input: GuardInput) -> GuardResult | None:
        return self._look(guard_input)


def _offloaded(name: str) -> bool:
    return name.startswith("beluga-guard")


async def test_a_long_text_is_guarded_on_a_worker_thread_and_a_short_one_inline() -> None:
    spy = ThreadSpy()
    kit = kit_with(spy, config={"beluga": {"guard_offload_chars": 1000}})
    REQUEST_ID.set("req-7")
    try:
        await kit.agenerate("short")
        await kit.agenerate("x" * 5000)
    finally:
        await kit.aclose()
    short = [name for n, name, _ in spy.seen if n < 1000]
    long = [(name, rid) for n, name, rid in spy.seen if n >= 1000]
    assert short and not any(_offloaded(name) for name in short)
    assert len(long) == 2  # input and output
    assert all(_offloaded(name) and rid == "req-7" for name, rid in long)  # the caller's context goes along


async def test_many_short_texts_of_one_request_count_together() -> None:
    spy = ThreadSpy()
    kit = kit_with(spy, config={"beluga": {"guard_offload_chars": 1000}})
    messages = [SystemMessage("s" * 400), HumanMessage("a" * 400), HumanMessage("b" * 400)]
    try:
        await kit.agenerate(messages)
    finally:
        await kit.aclose()
    inputs = spy.seen[:3]
    assert [n for n, _, _ in inputs] == [400, 400, 400]
    assert all(_offloaded(name) for _, name, _ in inputs)


async def test_an_offloaded_guard_still_blocks_and_tool_arguments_are_offloaded_too() -> None:
    spy = ThreadSpy()
    kit = kit_with(spy, config={"beluga": {"guard_offload_chars": 1000}})
    try:
        with pytest.raises(GuardBlocked):
            await kit.agenerate("x" * 5000 + " forbidden")
        assert kit.provider().calls == 0  # type: ignore[attr-defined]
        args = {"rows": ["r" * 300 for _ in range(5)]}
        assert await kit.acall_tool("store", args, lambda rows: len(rows)) == 5
    finally:
        await kit.aclose()
    tool = [name for n, name, _ in spy.seen if n == 300]
    assert len(tool) == 5 and all(_offloaded(name) for name in tool)


async def test_offload_zero_keeps_every_guard_on_the_callers_thread() -> None:
    spy = ThreadSpy()
    kit = kit_with(spy, config={"beluga": {"guard_offload_chars": 0}})
    try:
        await kit.agenerate("x" * 50_000)
        assert (await kit.aguard("y" * 50_000)).allowed
    finally:
        await kit.aclose()
    assert spy.seen and not any(_offloaded(name) for _, name, _ in spy.seen)


def test_sync_twins_still_guard_long_texts() -> None:
    spy = ThreadSpy()
    kit = kit_with(spy, config={"beluga": {"guard_offload_chars": 100}})
    try:
        assert kit.generate("z" * 1000).text == "z" * 1000
        assert not kit.guard("z" * 1000 + " forbidden").allowed
        with pytest.raises(GuardBlocked):
            kit.generate("z" * 1000 + " forbidden")
    finally:
        kit.close()
    assert not GuardPipeline(input_guards=[spy._look]).validate_input("q" * 10_000 + " forbidden").allowed


def _phone_numbers(size: int) -> str:
    rng = random.Random(7)
    parts: list[str] = []
    total = 0
    while total < size:
        s = f"call {rng.randint(200, 999)}-{rng.randint(200, 999)}-{rng.randint(1000, 9999)} now "
        parts.append(s)
        total += len(s)
    return "".join(parts)[:size]


async def _longest_stall(work: Awaitable[Any]) -> tuple[float, Any]:
    """Run ``work`` while a probe task ticks every 5 ms; returns the longest extra wait of a tick."""
    ticks: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            ticks.append(now - last - 0.005)
            last = now

    task = asyncio.create_task(probe())
    await asyncio.sleep(0.02)
    try:
        result = await work
    finally:
        done.set()
        await task
    return max(ticks), result


async def test_a_megabyte_of_phone_numbers_does_not_stall_the_event_loop() -> None:
    pii = pytest.importorskip("beluga_guard_pii.plugin")
    injection = pytest.importorskip("beluga_guard_injection.plugin")
    kit = kit_with(injection.InjectionPlugin(), pii.PIIPlugin())
    text = _phone_numbers(1_000_000)
    try:
        await kit.agenerate("warm up: call 415-555-0100")  # the guards build their engines on first use
        t0 = time.perf_counter()
        stall, response = await _longest_stall(kit.agenerate(text))
        took = time.perf_counter() - t0
    finally:
        await kit.aclose()
    assert "[PHONE]" in response.text and "555-" not in response.text[:2000]
    # Guarding took about a second (more on a loaded machine). With the guards on the loop, the loop
    # stalled for nearly all of it; off the loop its longest wait is a small part of it (a relative
    # bound: a loaded machine slows the guards and the probe alike).
    assert stall < took / 3, (stall, took)
