"""PromptBuilder: slot order, cache breakpoint, conditional sections, template variables."""

from __future__ import annotations

import pytest

from beluga_core import AIMessage, ErrorCode, HumanMessage, SystemMessage, TextPart, ToolSpec
from beluga_workflow.prompt import (
    PromptBuilder,
    PromptContext,
    PromptVariableError,
    when_context,
    when_feature,
    when_role,
)

LOOKUP = ToolSpec("lookup_order", "Find an order by id")
REFUND = ToolSpec("refund", "Refund an order")


def test_slots_come_out_in_cache_order_whatever_order_they_were_written_in() -> None:
    builder = (
        PromptBuilder()
        .user("{question}")
        .dynamic_context("Customer tier: {tier}")
        .static_context("Manual: returns within 30 days.")
        .tools(LOOKUP)
        .system("You are the support agent of {product}.")
    )
    history = [HumanMessage("hi"), AIMessage("hello")]
    prompt = builder.build({"question": "Can I return it?", "tier": "gold", "product": "Acme"}, history=history)
    system, h1, h2, user = prompt.messages
    assert isinstance(system, SystemMessage) and isinstance(user, HumanMessage)
    assert [p.text for p in system.parts] == [
        "You are the support agent of Acme.",
        "Manual: returns within 30 days.",
        "Customer tier: gold",
    ]
    assert (h1, h2) == tuple(history)
    assert user.text == "Can I return it?"
    assert prompt.tools == (LOOKUP,)


def test_the_breakpoint_marks_the_last_static_part_and_nothing_else() -> None:
    prompt = (
        PromptBuilder()
        .system("sys")
        .static_context("doc one")
        .static_context("doc two")
        .cache_breakpoint()
        .dynamic_context("today is {day}")
        .user("{q}")
        .build({"day": "Monday", "q": "?"})
    )
    parts = prompt.messages[0].parts
    assert [(p.text, p.cache_breakpoint) for p in parts if isinstance(p, TextPart)] == [
        ("sys", False),
        ("doc one", False),
        ("doc two", True),
        ("today is Monday", False),
    ]
    assert not any(p.cache_breakpoint for p in prompt.messages[-1].parts if isinstance(p, TextPart))


def test_without_cache_breakpoint_no_part_is_marked() -> None:
    prompt = PromptBuilder().system("sys").static_context("doc").build()
    assert not any(p.cache_breakpoint for p in prompt.messages[0].parts if isinstance(p, TextPart))
    assert prompt.static_prefix() == ""


def test_the_static_prefix_is_identical_across_requests_with_different_dynamic_parts() -> None:
    builder = (
        PromptBuilder()
        .system("You help with {product}.")
        .static_context("Policy text")
        .cache_breakpoint()
        .dynamic_context("User: {user}")
        .user("{q}")
        .with_variables(product="Acme")
    )
    a = builder.build({"user": "ann", "q": "one"})
    b = builder.build({"user": "bob", "q": "two"})
    assert a.static_prefix() == b.static_prefix() == "You help with Acme.\nPolicy text"
    assert a.messages != b.messages


def test_the_breakpoint_moves_to_the_last_static_part_that_was_included() -> None:
    builder = (
        PromptBuilder()
        .system("sys")
        .static_context("admin handbook", when=when_role("admin"))
        .cache_breakpoint()
        .user("{q}")
    )
    agent = builder.build({"q": "?"}, role="agent").messages[0].parts
    admin = builder.build({"q": "?"}, role="admin").messages[0].parts
    assert [(p.text, p.cache_breakpoint) for p in agent if isinstance(p, TextPart)] == [("sys", True)]
    assert [(p.text, p.cache_breakpoint) for p in admin if isinstance(p, TextPart)] == [
        ("sys", False),
        ("admin handbook", True),
    ]


def test_sections_and_tools_are_included_by_role_feature_or_context() -> None:
    builder = (
        PromptBuilder()
        .system("base")
        .system("You may see internal notes.", when=when_role("admin", "owner"))
        .system("Refunds are enabled.", when=when_feature("refunds"))
        .dynamic_context("VIP customer.", when=when_context("tier", "vip"))
        .dynamic_context("Has an open ticket.", when=when_context("ticket"))
        .dynamic_context("Big spender.", when=when_context("spent", test=lambda v: v > 1000))
        .tools(LOOKUP)
        .tools(REFUND, when=when_feature("refunds") & when_role("admin"))
    )
    plain = builder.build(role="agent")
    assert plain.messages[0].text == "base" and plain.tools == (LOOKUP,)
    full = builder.build(role="admin", features={"refunds"}, context={"tier": "vip", "ticket": 12, "spent": 5000})
    assert [p.text for p in full.messages[0].parts if isinstance(p, TextPart)] == [
        "base",
        "You may see internal notes.",
        "Refunds are enabled.",
        "VIP customer.",
        "Has an open ticket.",
        "Big spender.",
    ]
    assert full.tools == (LOOKUP, REFUND)
    assert "system[1]" in full.included and "system[1]" not in plain.included


def test_a_plain_callable_and_combined_conditions_work_as_when() -> None:
    def night(ctx: PromptContext) -> bool:
        return ctx.context.get("hour", 12) >= 22

    builder = PromptBuilder().system("Be brief.", when=night).system("Not a trial.", when=~when_feature("trial"))
    assert builder.build(context={"hour": 23}).messages[0].text == "Be brief.Not a trial."
    assert builder.build(features={"trial"}).messages == ()


def test_a_missing_variable_is_named_with_its_section() -> None:
    builder = PromptBuilder().system("Hello").static_context("Manual for {product}", name="manual").user("{q}")
    with pytest.raises(PromptVariableError) as info:
        builder.build({"q": "?"})
    err = info.value
    assert err.variable == "product" and err.section == "static_context[manual]"
    assert "'product'" in str(err) and "static_context[manual]" in str(err) and "given: q" in str(err)
    assert err.code is ErrorCode.INVALID_INPUT


def test_a_missing_variable_in_an_excluded_section_is_not_an_error() -> None:
    builder = PromptBuilder().system("Admin: {secret}", when=when_role("admin")).user("{q}")
    assert builder.build({"q": "hi"}, role="agent").messages[-1].text == "hi"


def test_defaults_are_overridden_by_build_variables() -> None:
    builder = PromptBuilder().system("You are {persona}.").with_variables(persona="helpful")
    assert builder.build().messages[0].text == "You are helpful."
    assert builder.build({"persona": "terse"}).messages[0].text == "You are terse."


def test_literal_text_keeps_its_braces_and_bad_templates_fail_when_added() -> None:
    doc = 'Reply as JSON: {"answer": "..."}'
    prompt = PromptBuilder().static_context(doc, template=False).system("Use {{braces}} literally").build()
    assert [p.text for p in prompt.messages[0].parts if isinstance(p, TextPart)] == ["Use {braces} literally", doc]
    with pytest.raises(ValueError, match="template=False"):
        PromptBuilder().static_context(doc)
    with pytest.raises(ValueError, match="plain variable name"):
        PromptBuilder().system("Hi {user.name}")


def test_user_input_is_not_reinterpreted_as_a_template() -> None:
    prompt = PromptBuilder().user("{q}").build({"q": "what does {x} mean?"})
    assert prompt.messages[-1].text == "what does {x} mean?"


def test_history_is_trimmed_to_the_last_messages() -> None:
    history = [HumanMessage(f"m{i}") for i in range(6)]
    prompt = PromptBuilder().history(2).user("now").build(history=history)
    assert [m.text for m in prompt.messages] == ["m4", "m5", "now"]
    assert [m.text for m in PromptBuilder().history(0).build(history=history).messages] == []


def test_a_builder_is_immutable_so_one_can_serve_every_request() -> None:
    base = PromptBuilder().system("base")
    extended = base.system("extra").cache_breakpoint()
    assert base.build().messages[0].text == "base"
    assert extended.build().messages[0].text == "baseextra"
    assert not base.breakpoint
