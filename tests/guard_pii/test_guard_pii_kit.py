"""The guard-pii plugin in a Kit: input redacted before the provider, pseudonyms restored, config."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from beluga_core import ConfigError, GuardBlocked, HumanMessage, Kit, LLMRequest, LLMResponse, SystemMessage, hookimpl
from beluga_core.builtin import EchoProvider
from beluga_core.testing import kit_with
from beluga_guard_pii.plugin import PIIPlugin, PIISettings


class SeenByEcho(EchoProvider):
    """The built-in echo provider, keeping what reached it."""

    seen: list[str] = []  # noqa: RUF012 - shared with the test through the class

    async def agenerate(self, request: LLMRequest) -> LLMResponse:
        SeenByEcho.seen.append(" | ".join(m.text for m in request.messages))
        return await super().agenerate(request)


class SeenProvider:
    name = "seen-provider"

    @hookimpl
    def register_providers(self, register: Any) -> None:
        register("seen", lambda config: SeenByEcho(config))


@pytest.fixture(autouse=True)
def _clear_seen() -> None:
    SeenByEcho.seen.clear()


def kit(section: dict[str, Any] | None = None) -> Kit:
    config = {"beluga": {"provider": "seen"}, "plugins": {"guard-pii": section or {}}}
    return kit_with(SeenProvider(), PIIPlugin(), config=config)


def test_the_plugin_redacts_input_before_the_echo_provider_and_output_after_it() -> None:
    k = kit()
    reply = k.generate("Contact john@example.com or call 555-123-4567. SSN: 123-45-6789")
    assert SeenByEcho.seen == ["Contact [EMAIL] or call [PHONE]. SSN: [SSN]"]
    assert reply.text == "Contact [EMAIL] or call [PHONE]. SSN: [SSN]"


def test_pseudonyms_reach_the_provider_and_the_caller_gets_the_values_back() -> None:
    k = kit({"actions": {"EMAIL": "pseudonymize", "PHONE": "pseudonymize", "CREDIT_CARD": "mask"}})
    reply = k.generate("Mail jane@example.com or bob@example.org, call 555-123-4567, card 4111 1111 1111 1111")
    assert SeenByEcho.seen == ["Mail [EMAIL_1] or [EMAIL_2], call [PHONE_1], card **** **** **** 1111"]
    assert reply.text == "Mail jane@example.com or bob@example.org, call 555-123-4567, card **** **** **** 1111"


def test_with_the_built_in_echo_provider_the_round_trip_is_invisible_to_the_caller() -> None:
    k = kit_with(PIIPlugin(), config={"plugins": {"guard-pii": {"action": "pseudonymize"}}})
    assert k.generate("I am jane@example.com").text == "I am jane@example.com"
    no_restore = kit_with(PIIPlugin(), config={"plugins": {"guard-pii": {"action": "pseudonymize", "restore": False}}})
    assert no_restore.generate("I am jane@example.com").text == "I am [EMAIL_1]"


def test_numbering_is_shared_by_all_messages_of_one_request_and_system_values_stay_hidden() -> None:
    k = kit({"action": "pseudonymize"})
    messages = [SystemMessage("Escalations go to admin@corp.example"), HumanMessage("I am jane@example.com")]
    reply = k.generate(messages)
    assert SeenByEcho.seen == ["Escalations go to [EMAIL_1] | I am [EMAIL_2]"]
    assert reply.text == "I am jane@example.com"


def test_each_request_has_its_own_mapping() -> None:
    k = kit({"action": "pseudonymize", "restore": False})
    assert k.generate("a@x.io").text == "[EMAIL_1]"
    assert k.generate("b@x.io").text == "[EMAIL_1]"


def test_streamed_output_is_restored_too() -> None:
    k = kit_with(PIIPlugin(), config={"plugins": {"guard-pii": {"action": "pseudonymize"}}})

    async def collect() -> str:
        return "".join([c.text async for c in k.astream("call me at 555-123-4567 please") if c.text])

    assert asyncio.run(collect()) == "call me at 555-123-4567 please"


def test_tool_call_arguments_are_redacted_before_the_tool_runs() -> None:
    k = kit_with(PIIPlugin())
    got = k.call_tool("send", {"to": "jane@example.com", "cc": ["555-123-4567"], "n": 3}, lambda **kw: kw)
    assert got == {"to": "[EMAIL]", "cc": ["[PHONE]"], "n": 3}


def test_stages_can_be_limited() -> None:
    k = kit({"stages": ["output"]})
    assert k.generate("a@b.co").text == "[EMAIL]"
    assert SeenByEcho.seen == ["a@b.co"]
    assert kit_with(PIIPlugin(), config={"plugins": {"guard-pii": {"stages": ["input"]}}}).call_tool(
        "t", {"x": "a@b.co"}, lambda **kw: kw
    ) == {"x": "a@b.co"}


def test_block_action_stops_the_call_with_guard_blocked() -> None:
    k = kit({"actions": {"SSN": "block"}})
    with pytest.raises(GuardBlocked, match="PII not allowed: SSN"):
        k.generate("my SSN is 123-45-6789")
    assert SeenByEcho.seen == []


def test_user_patterns_and_placeholders_from_config() -> None:
    k = kit({"patterns": {"EMPLOYEE_ID": r"EMP-\d{5}"}, "placeholders": {"EMAIL": "<email>"}, "entities": ["EMAIL"]})
    assert k.generate("EMP-12345 a@b.co 555-123-4567").text == "[EMPLOYEE_ID] <email> 555-123-4567"


def test_findings_reach_guard_decision_observers_as_counts_only() -> None:
    decisions: list[Any] = []

    class Observer:
        name = "observer"

        @hookimpl
        def on_guard_decision(self, decision: Any) -> None:
            decisions.append(decision)

    k = kit_with(PIIPlugin(), Observer())
    k.generate("a@b.co and c@d.co")
    assert [(d.stage, dict(d.findings)) for d in decisions] == [("input", {"EMAIL": 2})]


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        ({"patterns": {"BAD": "(unclosed"}}, "plugins.guard-pii.patterns", ["'BAD'", "(unclosed", "missing )"]),
        ({"patterns": {"LOOK": r"(?<=x)y"}}, "plugins.guard-pii.patterns", ["'LOOK'", "lookaround"]),
        ({"patterns": {"HUGE": "a" * 5000}}, "plugins.guard-pii.patterns", ["'HUGE'", "limit is 4096"]),
        ({"patterns": {"EMPTY": "x*"}}, "plugins.guard-pii.patterns", ["'EMPTY'", "empty string"]),
        ({"patterns": {"9bad": "x"}}, "plugins.guard-pii.patterns", ["'9bad'"]),
        ({"actions": {"EMAIL": "shred"}}, "plugins.guard-pii.actions", ["'shred'", "pseudonymize"]),
        ({"actions": {"NOPE": "redact"}}, "plugins.guard-pii", ["NOPE"]),
        ({"entities": ["EMAIL", "PASSPORT"]}, "plugins.guard-pii.entities", ["PASSPORT"]),
        ({"action": "zap"}, "plugins.guard-pii.action", ["'zap'"]),
        ({"stages": ["inputs"]}, "plugins.guard-pii.stages", ["inputs"]),
    ],
)
def test_bad_settings_fail_at_config_time_naming_key_value_and_reason(
    section: dict[str, Any], key: str, words: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        Kit({"plugins": {"guard-pii": section}}, plugins={"guard-pii": PIIPlugin()}, entry_points=False)
    issue = info.value.issues[0]
    assert issue.key == key
    for word in words:
        assert word in issue.reason


def test_the_hash_key_is_masked_wherever_the_config_is_shown() -> None:
    k = kit({"action": "hash", "hash_key": "super-secret-key-123"})
    assert "super-secret-key-123" not in repr(k.config)
    assert "super-secret-key-123" not in str(k.config.as_dict())
    assert "super-secret-key-123" not in repr(k.config.plugin_settings("guard-pii"))


def test_a_reload_swaps_the_redactor(tmp_path: Path) -> None:
    path = tmp_path / "beluga.toml"
    path.write_text('[plugins.guard-pii]\naction = "redact"\n')
    k = Kit(path, plugins={"guard-pii": PIIPlugin()}, entry_points=False)
    assert k.generate("a@b.co").text == "[EMAIL]"
    path.write_text('[plugins.guard-pii]\naction = "mask"\n')
    assert k.reload().applied
    assert k.generate("a@b.co").text == "a@b.co"  # four characters or fewer are kept by mask
    assert k.generate("jane@example.com").text == "****@******e.com"


def test_settings_defaults_describe_all_five_entities_redacted_on_every_stage() -> None:
    s = PIISettings()
    assert (s.entities, s.action, s.stages, s.restore) == (
        ("EMAIL", "PHONE", "SSN", "CREDIT_CARD", "IP_ADDRESS"), "redact", ("input", "output", "tool"), True
    )

