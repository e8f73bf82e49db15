"""Hypothesis strategies the wire modules' tests share: texts, names, JSON values and streams."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from beluga_core import StreamChunk, ToolCallDelta

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(min_size=1, max_size=20)
names = st.from_regex(r"[a-zA-Z0-9_-]{1,20}", fullmatch=True)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def streams(draw: Any) -> list[StreamChunk]:
    """Chunks as a provider streams them: text, and tool calls whose arguments arrive in pieces."""
    out: list[StreamChunk] = []
    for i in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            out += [StreamChunk(text=t) for t in draw(st.lists(text, min_size=1, max_size=3))]
        out.append(StreamChunk(tool_calls=(ToolCallDelta(i, id=f"call_{i}", name=draw(names)),)))
        out += [StreamChunk(tool_calls=(ToolCallDelta(i, arguments=a),)) for a in draw(st.lists(text, max_size=3))]
    if not out or draw(st.booleans()):
        out += [StreamChunk(text=t) for t in draw(st.lists(text, min_size=1, max_size=3))]
    return out
