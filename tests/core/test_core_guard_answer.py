"""``guard_answer``: middleware that answers a call itself puts the answer through the chain's guards;
``call_notes``/``note``: what middleware says about a call, readable before a stream is read."""

from __future__ import annotations

from typing import Any

import pytest

from beluga_core import (
    AIMessage,
    CallNext,
    GuardBlocked,
    GuardInput,
    GuardResult,
    LLMRequest,
    LLMResponse,
    LLMStream,
    StreamChunk,
    call_notes,
    guard_answer,
    hookimpl,
    note,
)
from beluga_core.testing import kit_with


class Answering:
    """Answers every call itself (as a cache would), through ``guard_answer``."""

    name = "answering"

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        note("answered", "here")
        if request.stream:

            async def chunks() -> Any:
                yield StreamChunk(text="the secret plan, in full " * 10)
                yield StreamChunk(finish_reason="stop")

            return await guard_answer(request, LLMStream(chunks()))
        return await guard_answer(request, LLMResponse(AIMessage("the secret plan")))


class Guard:
    name = "guard"

    @hookimpl
    def on_input(self, guard_input: GuardInput) -> GuardResult | None:
        return GuardResult.block("no attacks") if "attack" in guard_input.text else None

    @hookimpl
    def on_output(self, guard_input: GuardInput) -> GuardResult | None:
        return GuardResult.modify(guard_input.text.replace("secret", "[X]"))


def test_an_answer_given_by_middleware_passes_the_input_and_output_guards() -> None:
    kit = kit_with(Answering(), Guard())
    assert kit.generate("hello").text == "the [X] plan"
    with pytest.raises(GuardBlocked) as err:
        kit.generate("an attack")
    assert err.value.stage == "input"
    assert kit.provider().calls == 0  # type: ignore[attr-defined]
    kit.close()


async def test_a_streamed_answer_given_by_middleware_is_guarded_as_it_is_read() -> None:
    kit = kit_with(Answering(), Guard())
    with call_notes() as notes:
        stream = kit.astream("hello")
        first = await stream.__anext__()
        assert notes == {"answered": "here"}
        text = first.text + "".join([c.text async for c in stream])
    assert "secret" not in text and text.count("[X]") == 10
    await kit.aclose()


async def test_outside_a_chain_guard_answer_returns_the_answer_and_note_is_ignored() -> None:
    answer = LLMResponse(AIMessage("the secret plan"))
    assert await guard_answer(LLMRequest("hi"), answer) is answer
    note("nobody", "listens")  # no call_notes block: nothing happens
    with call_notes() as notes:
        note("k", 1)
    assert notes == {"k": 1}
