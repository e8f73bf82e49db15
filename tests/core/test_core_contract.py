"""The kernel's contract with plugins: settings handed over once per change, ranks, refused pluggy
options, the built-in echo provider, plugin commands, header injectors, provider twins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from beluga_core import (
    AIMessage,
    BaseProvider,
    CallNext,
    CommandRegistry,
    ConfigError,
    HumanMessage,
    LazyProvider,
    LLMRequest,
    LLMResponse,
    LLMStream,
    PluginError,
    ProviderConfig,
    StreamChunk,
    Usage,
    hookimpl,
    setting,
    settings_from_dict,
)
from beluga_core.cli import main
from beluga_core.registry import PluginManager
from beluga_core.testing import kit_with

# -- on_settings ---------------------------------------------------------------------------------


@attrs.frozen
class LimitSettings:
    limit: int = setting(3, min=1)


class Limited:
    name = "limited"

    def __init__(self) -> None:
        self.seen: list[LimitSettings] = []

    @hookimpl
    def config_schema(self) -> type:
        return LimitSettings

    @hookimpl
    def on_settings(self, settings: LimitSettings) -> None:
        self.seen.append(settings)


def test_on_settings_hands_the_plugin_its_typed_section_on_start_and_on_each_change_only() -> None:
    plugin = Limited()
    kit = kit_with(plugin, config={"plugins": {"limited": {"limit": 5}}})
    assert plugin.seen == [LimitSettings(5)]
    kit.reload({"beluga": {"deadline": "30s"}, "plugins": {"limited": {"limit": 5}}})  # another section changed
    assert plugin.seen == [LimitSettings(5)]
    kit.reload({"plugins": {"limited": {"limit": 7}}})
    assert plugin.seen == [LimitSettings(5), LimitSettings(7)]
    kit.reload({})  # the section removed: the schema's defaults
    assert plugin.seen[-1] == LimitSettings(3)


def test_a_plugin_registered_later_gets_its_settings_at_once() -> None:
    kit = kit_with(config={})
    plugin = Limited()
    kit.register(plugin)
    assert plugin.seen == [LimitSettings()]


def test_a_failing_on_settings_is_recorded_and_the_other_plugins_still_get_theirs() -> None:
    class Broken:
        name = "broken"

        @hookimpl
        def on_settings(self, settings: Any) -> None:
            raise RuntimeError("cannot apply")

    plugin = Limited()
    kit = kit_with(Broken(), plugin)
    assert "cannot apply" in kit.reload_errors["broken"]
    assert plugin.seen == [LimitSettings()]


# -- ranks and the fallback's place ------------------------------------------------------------


class Tagger:
    def __init__(self, tag: str, rank: int | None) -> None:
        self.name = tag
        if rank is not None:
            self.rank = rank
        self.seen: list[str | None] = []

    @hookimpl
    async def wrap_llm_call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse | LLMStream:
        self.seen.append(request.provider)
        return await call_next(request)


class Backup:
    name = "backup-provider"

    @hookimpl
    def register_providers(self, register: Any) -> None:
        from beluga_core.builtin import EchoProvider

        register("backup", EchoProvider)


def test_fallback_sits_between_plugins_ranked_below_and_above_it() -> None:
    outer, inner, unranked = Tagger("outer", 400), Tagger("inner", 500), Tagger("unranked", None)
    kit = kit_with(unranked, inner, outer, Backup(), config={"beluga": {"fallback": ["backup"]}})
    assert kit.order[:3] == ("outer", "inner", "unranked")
    kit.provider("echo").fail_next(1)  # type: ignore[attr-defined]
    assert kit.generate("hi").text == "hi"
    assert outer.seen == ["echo"]  # outside the fallback: one call
    assert inner.seen == ["echo", "backup"]  # inside it: each provider tried
    assert unranked.seen == ["echo", "backup"]


# -- pluggy options ------------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["hookwrapper", "wrapper", "tryfirst", "trylast"])
def test_pluggy_options_the_chain_cannot_honour_are_refused_naming_plugin_option_and_hook(option: str) -> None:
    class Opinionated:
        name = "opinionated"

        @hookimpl(**{option: True})
        def on_config_change(self, old: Any, new: Any) -> Any:
            yield

    with pytest.raises(PluginError) as info:
        kit_with(Opinionated())
    message = str(info.value)
    assert "opinionated" in message and f"{option}=True" in message and "on_config_change" in message


def test_a_rank_that_is_not_an_int_is_refused_naming_the_plugin() -> None:
    class Vague:
        name = "vague"
        rank = "outer"

        @hookimpl
        def on_input(self, guard_input: Any) -> None:
            return None

    with pytest.raises(PluginError, match=r"vague.*rank must be an int.*'outer'"):
        kit_with(Vague())


# -- the built-in echo -----------------------------------------------------------------------


def test_echo_comes_in_through_register_providers_and_takes_no_place_in_the_order() -> None:
    pm = PluginManager(entry_points=False)
    assert "echo" in pm.loaded and "echo" not in pm.order()
    assert pm.providers().names() == ["echo"]
    assert [i.name for i in pm.infos()] == []
    with pytest.raises(PluginError):
        pm.unregister("echo")
    with pytest.raises(PluginError, match="already installed"):
        pm.register(Backup(), "echo")


# -- register_commands -------------------------------------------------------------------------


class Commands:
    name = "commands"

    def __init__(self) -> None:
        self.managers: list[Any] = []

    @hookimpl
    def register_commands(self, commands: CommandRegistry) -> None:
        def hello(args: Any) -> int:
            self.managers.append(args.plugins)
            print(f"hello {args.who}")
            return 0

        def traced(args: Any) -> int:
            print(f"traced {args.text}")
            return 0

        commands.add("hello", "say hello", lambda p: p.add_argument("who"), hello)
        commands.provide("run", "--trace", traced)


def test_plugin_commands_run_with_the_clis_one_plugin_manager(capsys: pytest.CaptureFixture[str]) -> None:
    pm = PluginManager(entry_points=False)
    plugin = Commands()
    pm.register(plugin)
    assert main(["hello", "world"], plugins=pm) == 0
    assert capsys.readouterr().out == "hello world\n"
    assert plugin.managers == [pm]
    assert main(["run", "--trace", "hi"], plugins=pm) == 0  # the flag the core declares, answered by the plugin
    assert capsys.readouterr().out == "traced hi\n"


def test_a_command_name_taken_twice_is_refused_naming_both_plugins() -> None:
    reg = CommandRegistry()
    reg._plugin = "first"
    reg.add("x", "", lambda p: None, lambda a: 0)
    reg._plugin = "second"
    with pytest.raises(PluginError, match="already defined by first"):
        reg.add("x", "", lambda p: None, lambda a: 0)


def test_run_uses_the_clis_plugin_manager_for_its_kit(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pm = PluginManager(entry_points=False)
    seen = Tagger("seen", None)
    pm.register(seen)
    assert main(["run", "through the shared manager"], plugins=pm) == 0
    assert seen.seen == ["echo"]
    assert "through the shared manager" in capsys.readouterr().out


# -- provider twins ------------------------------------------------------------------------------


class Upper(BaseProvider):
    name = "upper"

    async def complete(self, request: LLMRequest) -> LLMResponse:
        text = request.messages[-1].text.upper()
        return LLMResponse(AIMessage(text), model=request.model or "u", provider=self.name, usage=Usage(1, 1))

    async def stream_chunks(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        for word in request.messages[-1].text.upper().split():
            yield StreamChunk(text=word)
        yield StreamChunk(usage=Usage(1, 1), finish_reason="stop")


def test_each_async_provider_method_takes_what_its_sync_twin_takes() -> None:
    p = Upper()
    assert p.generate([HumanMessage("hi")]).text == "HI"
    assert asyncio.run(p.agenerate([HumanMessage("hi")])).text == "HI"
    assert p.generate("hi", model="m").model == asyncio.run(p.agenerate("hi", model="m")).model == "m"
    assert [c.text for c in p.stream("a b")] == ["A", "B", ""]

    async def collect() -> list[str]:
        return [c.text async for c in p.astream("a b")]

    assert asyncio.run(collect()) == ["A", "B", ""]
    with pytest.raises(TypeError, match="either an LLMRequest or messages"):
        p.generate(LLMRequest("x"), model="m")


def test_kit_stream_is_the_sync_twin_of_astream() -> None:
    kit = kit_with()
    assert "".join(c.text for c in kit.stream("one two", max_tokens=50)) == "one two"


# -- provider options ------------------------------------------------------------------------


@attrs.frozen
class ShoutOptions:
    volume: int = setting(1, min=1, max=11)


class Shouting(Upper):
    name = "shouting"
    options_schema = ShoutOptions


class Shouts:
    name = "shouts"

    @hookimpl
    def register_providers(self, register: Any) -> None:
        register("shouting", Shouting)


def test_provider_options_are_checked_against_the_providers_schema_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "beluga.toml"
    path.write_text('[beluga]\nprovider = "shouting"\n\n[providers.shouting]\noptions = { volum = 3 }\n')
    with pytest.raises(ConfigError) as info:
        kit_with(Shouts(), config=path)
    (issue,) = info.value.issues
    assert (issue.key, issue.line) == ("providers.shouting.options.volum", 5)
    assert "did you mean 'volume'" in issue.reason
    path.write_text('[beluga]\nprovider = "shouting"\n\n[providers.shouting]\noptions = { volume = 12 }\n')
    with pytest.raises(ConfigError, match=r"providers\.shouting\.options\.volume: must be at most 11"):
        kit_with(Shouts(), config=path)
    path.write_text('[beluga]\nprovider = "shouting"\n\n[providers.shouting]\noptions = { volume = 11 }\n')
    assert kit_with(Shouts(), config=path).generate("hi").text == "HI"


def test_a_provider_built_in_code_has_its_options_checked_too() -> None:
    pm = PluginManager(entry_points=False)
    pm.register(Shouts())
    with pytest.raises(ConfigError, match=r"providers\.shouting\.options\.volum"):
        pm.providers().create("shouting", ProviderConfig(options={"volum": 3}))
    with pytest.raises(ConfigError, match=r"providers\.echo\.options\.latency"):
        pm.providers().create("echo", ProviderConfig(options={"latency": "fast"}))


def test_a_lazy_provider_imports_its_class_on_first_use_and_carries_its_options_schema() -> None:
    factory = LazyProvider("beluga_core.builtin:EchoProvider", ShoutOptions)
    assert factory.options_schema is ShoutOptions
    assert factory(ProviderConfig()).name == "echo"
    with pytest.raises(ValueError, match="module:Class"):
        LazyProvider("no_colon_here")


def test_config_errors_hide_the_values_of_keys_named_as_secrets_only() -> None:
    @attrs.frozen
    class Keys:
        api_key: int = 0
        max_tokens: int = 0

    with pytest.raises(ConfigError) as info:
        settings_from_dict(Keys, {"api_key": "sk-leaked-123456789", "max_tokens": "many"})
    text = str(info.value)
    assert "sk-leaked" not in text and "hidden: secret" in text
    assert "got 'many'" in text  # max_tokens is a count, not a secret


def test_beluga_plugins_lists_the_providers_and_who_registered_them(capsys: pytest.CaptureFixture[str],
                                                                   tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pm = PluginManager(entry_points=False)
    pm.register(Shouts())
    assert main(["plugins"], plugins=pm) == 0
    assert "providers: echo (built in), shouting (shouts)" in capsys.readouterr().out


def test_a_stage_result_names_the_guards_that_modified_the_text_and_their_reasons() -> None:
    class Redact:
        def __init__(self, name: str, word: str) -> None:
            self.name, self.word = name, word

        @hookimpl
        def on_input(self, guard_input: Any) -> Any:
            from beluga_core import GuardResult

            text = guard_input.text
            return GuardResult.modify(text.replace(self.word, "[X]"), reason=f"{self.word} removed") \
                if self.word in text else None

    kit = kit_with(Redact("a", "secret"), Redact("b", "plan"))
    result = kit.guard("the secret plan")
    assert (result.modified, result.guard, result.reason) == ("the [X] [X]", "a, b", "secret removed; plan removed")
    only = kit.guard("the plan")
    assert (only.guard, only.reason) == ("b", "plan removed")
    assert kit.guard("nothing here").guard is None
