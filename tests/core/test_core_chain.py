"""The chain: order of every hook, guard stages, middleware shapes, tool calls, sync twins."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from beluga_core import (
    AIMessage,
    BudgetExhausted,
    ErrorCode,
    GuardBlocked,
    GuardInput,
    GuardResult,
    HumanMessage,
    ImagePart,
    Kit,
    LLMRequest,
    LLMResponse,
    ProviderError,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolFailed,
    ToolMessage,
    hookimpl,
)
from beluga_core.testing import Recorder, kit_with


class Tagger:
    """Appends its name to input text and to a trail in the response, to make order visible."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    @hookimpl
    def on_input(self, guard_input: GuardInput) -> GuardResult:
        self.log.append(f"{self.name}:input")
        return GuardResult.modify(guard_input.text + f"+{self.name}")

    @hookimpl
    def on_output(self, guard_input: GuardInput) -> GuardResult:
        self.log.append(f"{self.name}:output")
        return GuardResult.modify(guard_input.text + f"<{self.name}")

    @hookimpl
    def on_tool_call(self, guard_input: GuardInput) -> None:
        self.log.append(f"{self.name}:tool")

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: Any) -> Any:
        self.log.append(f"{self.name}:enter")
        response = await call_next(request)
        self.log.append(f"{self.name}:exit")
        return response

    @hookimpl
    async def wrap_tool_call(self, call: Any, call_next: Any) -> Any:
        self.log.append(f"{self.name}:wrap_tool")
        return await call_next(call)


def three(log: list[str], order: list[str] | None = None) -> Kit:
    config = {"beluga": {"plugins": order}} if order else None
    return kit_with(Tagger("a", log), Tagger("b", log), Tagger("c", log), config=config)


def test_config_order_sets_the_order_of_every_hook() -> None:
    log: list[str] = []
    kit = three(log, ["c", "a", "b"])
    response = kit.generate("hi")
    assert log == [
        "c:enter",
        "a:enter",
        "b:enter",
        "c:input",
        "a:input",
        "b:input",
        "c:output",
        "a:output",
        "b:output",
        "b:exit",
        "a:exit",
        "c:exit",
    ]
    # modified text flows from guard to guard, and the model saw the input guards' result
    assert response.text == "hi+c+a+b<c<a<b"
    log.clear()
    kit.call_tool("search", {"q": "x"}, lambda q: q)
    assert log == ["c:tool", "a:tool", "b:tool", "c:wrap_tool", "a:wrap_tool", "b:wrap_tool"]


def test_unlisted_plugins_follow_the_listed_ones_in_registration_order() -> None:
    log: list[str] = []
    kit = three(log, ["b"])
    assert kit.order == ("b", "a", "c")


def test_default_order_puts_unlisted_plugins_by_the_rank_they_declare() -> None:
    from types import SimpleNamespace as Ranked

    kit = kit_with(
        ("breaker", Ranked(rank=500)), ("zzz", object()), ("tracing", Ranked(rank=100)), ("guard-pii", Ranked(rank=310))
    )
    assert kit.order == ("tracing", "guard-pii", "breaker", "zzz")


def test_first_block_stops_the_stage_and_names_the_guard() -> None:
    calls: list[str] = []

    class Blocker:
        name = "blocker"

        @hookimpl
        def on_input(self, guard_input: GuardInput) -> GuardResult:
            calls.append("blocker")
            return GuardResult.block("no thanks")

    class After:
        @hookimpl
        def on_input(self, guard_input: GuardInput) -> None:
            calls.append("after")

    recorder = Recorder()
    kit = kit_with(recorder, Blocker(), ("after", After()))
    with pytest.raises(GuardBlocked) as info:
        kit.generate("hello")
    assert info.value.guard == "blocker"
    assert info.value.stage == "input"
    assert info.value.code is ErrorCode.GUARD_BLOCKED
    assert "no thanks" in str(info.value)
    assert calls == ["blocker"]
    assert kit.provider().calls == 0  # type: ignore[attr-defined]


def test_a_guard_that_raises_blocks_the_call(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        name = "broken"

        @hookimpl
        def on_input(self, guard_input: GuardInput) -> GuardResult:
            raise RuntimeError("secret text: 4111 1111 1111 1111")

    kit = kit_with(Broken())
    with pytest.raises(GuardBlocked) as info:
        kit.generate("hello")
    assert info.value.guard == "broken"
    assert "failing closed" in info.value.reason
    assert "4111" not in str(info.value)
    assert kit.provider().calls == 0  # type: ignore[attr-defined]


def test_a_raising_guards_log_names_it_but_never_quotes_its_message(caplog: pytest.LogCaptureFixture) -> None:
    class Parser:
        name = "parser"

        @hookimpl
        def on_input(self, guard_input: GuardInput) -> GuardResult:
            try:
                int(guard_input.text)
            except ValueError as exc:
                raise RuntimeError(f"could not read {guard_input.text!r}") from exc
            return GuardResult.allow()

    kit = kit_with(Parser())
    with caplog.at_level("DEBUG", logger="beluga"), pytest.raises(GuardBlocked):
        kit.generate("write to jane.doe@example.com")
    records = [r for r in caplog.records if r.name == "beluga.guard"]
    assert records and all(r.exc_info is None for r in records)
    assert "jane.doe" not in caplog.text
    first = records[0].getMessage()
    assert "'parser' raised RuntimeError at input stage" in first and "in on_input" in first
    assert any("test_core_chain.py" in r.getMessage() for r in records if r.levelname == "DEBUG")


def test_a_guard_configured_fail_open_lets_text_pass_when_it_raises() -> None:
    class Broken:
        name = "broken"

        @hookimpl
        async def on_output(self, guard_input: GuardInput) -> GuardResult:
            raise RuntimeError("down")

    kit = kit_with(Broken(), config={"beluga": {"fail_open": ["broken"]}})
    assert kit.generate("hello").text == "hello"


def test_a_guard_returning_the_wrong_type_blocks() -> None:
    class Wrong:
        name = "wrong"

        @hookimpl
        def on_input(self, guard_input: GuardInput) -> Any:
            return "yes"

    with pytest.raises(GuardBlocked, match="guard error"):
        kit_with(Wrong()).generate("hello")


def test_output_guard_blocks_the_answer() -> None:
    class NoSecrets:
        name = "nosecrets"

        @hookimpl
        def on_output(self, guard_input: GuardInput) -> GuardResult | None:
            return GuardResult.block("leak") if "password" in guard_input.text else None

    kit = kit_with(NoSecrets())
    assert kit.generate("fine").text == "fine"
    with pytest.raises(GuardBlocked) as info:
        kit.generate("the password is x")
    assert info.value.stage == "output"


def test_input_guards_see_every_message_and_the_historys_tool_call_arguments_but_not_images() -> None:
    """The history's assistant turns come from the caller, who may write anything there (or send back
    what an output guard restored), so they are input like the rest."""
    seen: list[tuple[str, str, str]] = []

    class Spy:
        @hookimpl
        def on_input(self, guard_input: GuardInput) -> None:
            meta = guard_input.metadata
            seen.append((meta["role"], guard_input.text, meta.get("path", "")))

    kit = kit_with(("spy", Spy()))
    kit.generate(
        [
            SystemMessage("sys"),
            HumanMessage(parts=[TextPart("look"), ImagePart(url="https://x/y.png", detail="high")]),
            AIMessage("earlier answer", tool_calls=[ToolCall("1", "search", {"q": "refunds", "n": 3,
                                                                              "tags": ["a", ""]})]),
            ToolMessage("tool result", tool_call_id="1", name="search"),
        ]
    )
    assert seen == [
        ("system", "sys", ""),
        ("user", "look", ""),
        ("assistant", "earlier answer", ""),
        ("assistant", "refunds", "args.q"),
        ("assistant", "a", "args.tags[0]"),
        ("tool", "tool result", ""),
    ]


def test_an_input_guards_rewrite_of_history_reaches_the_provider_in_text_and_tool_call_arguments() -> None:
    class Redact:
        @hookimpl
        def on_input(self, guard_input: GuardInput) -> GuardResult | None:
            if "secret" in guard_input.text:
                return GuardResult.modify(guard_input.text.replace("secret", "[X]"))
            return None

    sent: list[LLMRequest] = []

    class Capturing:
        @hookimpl
        def register_providers(self, register: Any) -> None:
            from beluga_core.builtin import EchoProvider

            class Seen(EchoProvider):
                async def agenerate(self, request: LLMRequest) -> LLMResponse:
                    sent.append(request)
                    return await super().agenerate(request)

            register("seen", Seen)

    kit = kit_with(("capturing", Capturing()), ("redact", Redact()), config={"beluga": {"provider": "seen"}})
    kit.generate([
        HumanMessage("hi"),
        AIMessage("the secret is out", tool_calls=[ToolCall("1", "send", {"to": ["x", "a secret"], "n": 1})]),
        HumanMessage("again"),
    ])
    history = sent[0].messages[1]
    assert history.text == "the [X] is out"
    assert dict(history.tool_calls[0].arguments) == {"to": ["x", "a [X]"], "n": 1}


def test_guard_state_is_shared_between_input_and_output_of_one_call_only() -> None:
    class Pseudo:
        name = "pseudo"

        @hookimpl
        def on_input(self, guard_input: GuardInput) -> GuardResult:
            guard_input.state["bob"] = "[NAME_1]"
            return GuardResult.modify(guard_input.text.replace("bob", "[NAME_1]"))

        @hookimpl
        def on_output(self, guard_input: GuardInput) -> GuardResult:
            restored = guard_input.text
            for real, fake in guard_input.state.items():
                restored = restored.replace(fake, real)
            return GuardResult.modify(restored)

    recorder = Recorder()
    kit = kit_with(recorder, Pseudo())
    assert kit.generate("hi bob").text == "hi bob"
    # the provider only ever saw the pseudonym
    assert kit.provider().calls == 1  # type: ignore[attr-defined]
    assert kit.generate("no names").text == "no names"


def test_middleware_may_call_next_several_times() -> None:
    class RetryTwice:
        name = "retrying"

        def __init__(self) -> None:
            self.attempts = 0

        @hookimpl
        async def wrap_llm_call(self, request: LLMRequest, call_next: Any) -> Any:
            for attempt in range(3):
                self.attempts += 1
                try:
                    return await call_next(request)
                except ProviderError:
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

    retry = RetryTwice()
    kit = kit_with(retry)
    kit.provider().fail_next(2)  # type: ignore[attr-defined]
    assert kit.generate("persist").text == "persist"
    assert retry.attempts == 3


def test_middleware_may_answer_without_calling_next() -> None:
    class Cache:
        name = "cache"

        @hookimpl
        async def wrap_llm_call(self, request: LLMRequest, call_next: Any) -> LLMResponse:
            return LLMResponse(AIMessage("cached"), model="cache")

    kit = kit_with(Cache())
    assert kit.generate("x").text == "cached"
    assert kit.provider().calls == 0  # type: ignore[attr-defined]


def test_sync_middleware_is_accepted() -> None:
    class SyncWrap:
        name = "sync"

        @hookimpl
        def wrap_llm_call(self, request: LLMRequest, call_next: Any) -> Any:
            return call_next(request.replace(metadata={"touched": True}))

    recorder = Recorder()
    kit = kit_with(SyncWrap(), recorder, config={"beluga": {"plugins": ["sync", "recorder"]}})
    kit.generate("x")
    assert recorder.requests[0].metadata == {"touched": True}


def test_tool_guards_visit_every_nested_string_and_can_rewrite_them() -> None:
    visited: list[tuple[str, str]] = []

    class Upper:
        name = "upper"

        @hookimpl
        def on_tool_call(self, guard_input: GuardInput) -> GuardResult:
            visited.append((guard_input.metadata["path"], guard_input.text))
            assert guard_input.metadata["tool"] == "lookup"
            return GuardResult.modify(guard_input.text.upper())

    kit = kit_with(Upper())
    args = {"q": "a", "filters": {"tags": ["b", {"deep": "c"}], "n": 3}, "flag": True}
    result = kit.call_tool("lookup", args, lambda q, filters, flag: (q, filters, flag))
    assert result == ("A", {"tags": ["B", {"deep": "C"}], "n": 3}, True)
    assert visited == [
        ("args.q", "a"),
        ("args.filters.tags[0]", "b"),
        ("args.filters.tags[1].deep", "c"),
    ]


def test_a_blocked_tool_argument_does_not_run_the_tool() -> None:
    ran: list[str] = []

    class NoRm:
        name = "no-rm"

        @hookimpl
        def on_tool_call(self, guard_input: GuardInput) -> GuardResult | None:
            return GuardResult.block("destructive command") if "rm -rf" in guard_input.text else None

    kit = kit_with(NoRm())
    with pytest.raises(GuardBlocked) as info:
        kit.call_tool("shell", {"cmd": ["ls", "rm -rf /"]}, lambda cmd: ran.append("ran"))
    assert info.value.stage == "tool"
    assert "args.cmd[1]" in str(info.value)
    assert ran == []


async def test_async_tools_run_and_their_failures_are_tool_failed() -> None:
    kit = kit_with()

    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    assert await kit.acall_tool("add", {"a": 1, "b": 2}, add) == 3

    def broken() -> None:
        raise KeyError("x")

    with pytest.raises(ToolFailed) as info:
        await kit.acall_tool("broken", {}, broken)
    assert info.value.code is ErrorCode.TOOL_FAILED
    assert isinstance(info.value.__cause__, KeyError)


def test_sync_twins_work_in_a_plain_script_and_refuse_inside_a_loop() -> None:
    kit = kit_with()
    assert kit.generate("one").text == "one"
    assert kit.generate("two").text == "two"

    async def inside() -> None:
        kit.generate("three")

    with pytest.raises(RuntimeError, match="await its async form"):
        asyncio.run(inside())


async def test_astream_yields_chunks_and_assembles_usage() -> None:
    kit = kit_with()
    chunks = [c async for c in kit.astream("one two three")]
    assert "".join(c.text for c in chunks) == "one two three"
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens > 0


async def test_astream_output_guards_see_the_text_before_the_caller() -> None:
    class Redact:
        name = "redact"

        @hookimpl
        def on_output(self, guard_input: GuardInput) -> GuardResult:
            return GuardResult.modify(guard_input.text.replace("secret", "[X]"))

    kit = kit_with(Redact())
    chunks = [c.text async for c in kit.astream("the secret word")]
    assert "secret" not in "".join(chunks)
    assert "".join(chunks) == "the [X] word"


async def test_deadline_stops_a_slow_provider() -> None:
    kit = kit_with(config={"providers": {"echo": {"options": {"latency": 2.0}}}})
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises((BudgetExhausted, ProviderError)) as info:
        await kit.agenerate("slow", timeout=0.05)
    assert loop.time() - t0 < 1.0
    assert info.value.code in (ErrorCode.BUDGET_EXHAUSTED, ErrorCode.TIMEOUT)


async def test_config_deadline_applies_to_every_call() -> None:
    kit = kit_with(config={"beluga": {"deadline": "50ms"}, "providers": {"echo": {"options": {"latency": 2.0}}}})
    with pytest.raises((BudgetExhausted, ProviderError)):
        await kit.agenerate("slow")


def test_an_observer_that_raises_is_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    class Guard:
        name = "g"

        @hookimpl
        def on_input(self, guard_input: GuardInput) -> GuardResult:
            return GuardResult.allow()

    class BadObserver:
        name = "observer"

        @hookimpl
        def on_guard_decision(self, decision: Any) -> None:
            raise RuntimeError("observer down")

    kit = kit_with(Guard(), BadObserver())
    assert kit.generate("hello").text == "hello"
    assert "observer down" in caplog.text or "on_guard_decision" in caplog.text


def test_guard_decisions_reach_observers_without_the_text() -> None:
    decisions: list[Any] = []

    class Finder:
        name = "finder"

        @hookimpl
        def on_input(self, guard_input: GuardInput) -> GuardResult:
            from beluga_core import Finding

            return GuardResult.modify("[EMAIL]", findings=[Finding("EMAIL", 0, len(guard_input.text))])

    class Observer:
        name = "observer"

        @hookimpl
        def on_guard_decision(self, decision: Any) -> None:
            decisions.append(decision)

    kit_with(Finder(), Observer()).generate("bob@example.com")
    assert len(decisions) == 1
    d = decisions[0]
    assert (d.guard, d.stage, d.allowed, d.modified, dict(d.findings)) == ("finder", "input", True, True, {"EMAIL": 1})
    assert "bob@example.com" not in repr(d)


def test_register_and_unregister_recompile_the_chain() -> None:
    kit = kit_with()
    recorder = Recorder()
    kit.register(recorder)
    kit.generate("x")
    assert len(recorder.requests) == 1
    kit.unregister("recorder")
    kit.generate("y")
    assert len(recorder.requests) == 1


class AliasEcho:
    """Registers a second echo-like provider under another name, to test fallback."""

    name = "alias"

    @hookimpl
    def register_providers(self, register: Any) -> None:
        from beluga_core.builtin import EchoProvider

        class Backup(EchoProvider):
            name = "backup"

        register("backup", Backup)


def test_fallback_serves_the_call_when_the_main_provider_fails() -> None:
    kit = kit_with(
        AliasEcho(),
        config={
            "beluga": {"provider": "echo", "fallback": ["backup:small-model"]},
            "providers": {"backup": {"options": {"prefix": "backup: "}}},
        },
    )
    kit.provider("echo").fail_next(1, "provider_unavailable")  # type: ignore[attr-defined]
    response = kit.generate("hi")
    assert response.text == "backup: hi"
    assert response.model == "small-model"
    assert response.metadata["fallback"] == {
        "provider": "backup",
        "model": "small-model",
        "failed": [{"provider": "echo", "model": "", "error": "provider_unavailable"}],
    }
    assert kit.generate("hi").text == "hi"  # the main provider again once it works


def test_fallback_does_not_hide_non_retryable_errors() -> None:
    kit = kit_with(AliasEcho(), config={"beluga": {"fallback": ["backup"]}})
    kit.provider("echo").fail_next(1, "auth")  # type: ignore[attr-defined]
    with pytest.raises(ProviderError) as info:
        kit.generate("hi")
    assert info.value.code is ErrorCode.AUTH
    assert kit.provider("backup").calls == 0  # type: ignore[attr-defined]


def test_fallback_to_an_unknown_provider_is_a_config_error() -> None:
    from beluga_core import ConfigError

    with pytest.raises(ConfigError, match=r"beluga.fallback\[0\].*unknown provider 'bakup'"):
        kit_with(AliasEcho(), config={"beluga": {"fallback": ["bakup"]}})


class RedactCards:
    """Redacts 16-digit card numbers written in groups of four, and reports them as findings."""

    name = "cards"

    @hookimpl
    def on_output(self, guard_input: GuardInput) -> GuardResult | None:
        import re

        from beluga_core import Finding

        pattern = re.compile(r"\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{4}")
        found = [Finding("CREDIT_CARD", m.start(), m.end()) for m in pattern.finditer(guard_input.text)]
        if not found:
            return None
        return GuardResult.modify(pattern.sub("[CARD]", guard_input.text), findings=found)


async def test_stream_holdback_redacts_entities_split_across_chunks_and_releases_early() -> None:
    from beluga_core.builtin import EchoProvider

    words = [f"w{i}" for i in range(400)]
    words[150] = "4111 1111 1111 1111"  # echo streams word by word: the card arrives in four chunks
    words[390] = "5555-5555-5555-4444"
    text = " ".join(words)
    kit = kit_with(RedactCards())
    assert isinstance(kit.provider(), EchoProvider)
    pieces = [c.text async for c in kit.astream(text) if c.text]
    joined = "".join(pieces)
    assert joined == text.replace("4111 1111 1111 1111", "[CARD]").replace("5555-5555-5555-4444", "[CARD]")
    assert len(pieces) > 3  # released while streaming, not only at the end
    for p in pieces:
        assert "1111" not in p and "5555" not in p


async def test_stream_block_stops_the_stream_before_the_offending_text() -> None:
    class NoPassword:
        name = "nopw"

        @hookimpl
        def on_output(self, guard_input: GuardInput) -> GuardResult | None:
            return GuardResult.block("password leak") if "pass word" in guard_input.text else None

    text = " ".join(["safe"] * 300 + ["pass", "word"] + ["after"] * 300)
    kit = kit_with(NoPassword())
    seen: list[str] = []
    with pytest.raises(GuardBlocked):
        async for c in kit.astream(text):
            seen.append(c.text)
    assert "pass" not in "".join(seen)


async def test_aclose_gives_every_plugin_its_on_close_even_if_one_fails() -> None:
    closed: list[str] = []

    class SyncCloser:
        name = "sync-closer"

        @hookimpl
        def on_close(self) -> None:
            closed.append("sync")
            raise RuntimeError("boom")

    class AsyncCloser:
        name = "async-closer"

        @hookimpl
        async def on_close(self) -> None:
            await asyncio.sleep(0)
            closed.append("async")

    kit = kit_with(SyncCloser(), AsyncCloser())
    await kit.aclose()
    assert sorted(closed) == ["async", "sync"]


def test_findings_of_later_guards_index_the_original_text() -> None:
    import re

    from beluga_core import Finding

    class Emails:
        name = "emails"

        @hookimpl
        def on_input(self, guard_input: GuardInput) -> GuardResult | None:
            ms = list(re.finditer(r"\S+@\S+", guard_input.text))
            if not ms:
                return None
            return GuardResult.modify(
                re.sub(r"\S+@\S+", "[E]", guard_input.text), findings=[Finding("EMAIL", m.start(), m.end()) for m in ms]
            )

    class Secrets:
        name = "secrets"

        @hookimpl
        def on_input(self, guard_input: GuardInput) -> GuardResult | None:
            m = re.search(r"secret-\d+", guard_input.text)
            return GuardResult.allow(findings=[Finding("SECRET", m.start(), m.end())]) if m else None

    kit = kit_with(Emails(), Secrets())
    text = "mail a.very.long.address@example.com and b@x.io about secret-42 now"
    result = kit.guard(text)
    found = [(f.type, text[f.start : f.end]) for f in result.findings]
    assert found == [("EMAIL", "a.very.long.address@example.com"), ("EMAIL", "b@x.io"), ("SECRET", "secret-42")]
