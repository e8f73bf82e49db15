"""Print finished spans as a tree: names, durations, key attributes and events (``beluga trace``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from beluga_tracing import semconv as sc

#: The attributes shown on a span's line, in this order (others are left out to keep lines short).
KEY_ATTRIBUTES: tuple[str, ...] = (
    sc.GEN_AI_PROVIDER_NAME,
    sc.GEN_AI_REQUEST_MODEL,
    sc.GEN_AI_RESPONSE_MODEL,
    sc.GEN_AI_AGENT_NAME,
    sc.GEN_AI_TOOL_NAME,
    sc.GEN_AI_USAGE_INPUT_TOKENS,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    sc.GEN_AI_RESPONSE_FINISH_REASONS,
    sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    sc.BELUGA_RETRY_ATTEMPTS,
    sc.BELUGA_RETRY_REASON,
    sc.ERROR_TYPE,
)


def _short(key: str) -> str:
    for prefix in ("gen_ai.", "beluga.guard.", "beluga."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def _value(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _plain(attributes: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in (attributes or {}).items()}


def span_dict(span: Any) -> dict[str, Any]:
    """A finished SDK span as plain JSON-able data."""
    ctx = span.get_span_context()
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
        "duration_ms": round(((span.end_time or 0) - (span.start_time or 0)) / 1e6, 3),
        "status": span.status.status_code.name,
        "attributes": _plain(span.attributes),
        "events": [{"name": e.name, "attributes": _plain(e.attributes)} for e in span.events],
    }


def format_tree(spans: Iterable[Any], *, keys: Sequence[str] = KEY_ATTRIBUTES, events: bool = True) -> str:
    """Render finished spans (e.g. ``InMemorySpanExporter().get_finished_spans()``) as one tree per trace."""
    items = sorted(spans, key=lambda s: s.start_time or 0)
    by_id = {s.get_span_context().span_id: s for s in items}
    children: dict[int, list[Any]] = {}
    roots: list[Any] = []
    for s in items:
        parent = s.parent.span_id if s.parent is not None else None
        if parent is not None and parent in by_id:
            children.setdefault(parent, []).append(s)
        else:
            roots.append(s)
    lines: list[str] = []
    last_trace: int | None = None

    def walk(span: Any, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
        attrs = span.attributes or {}
        shown = " ".join(
            [f"{_short(k)}={_value(attrs[k])}" for k in keys if k in attrs]
            + [f"{k[7:]}={_value(v)}" for k, v in attrs.items() if k.startswith(sc.BELUGA_REQUEST_PREFIX)]
        )
        failed = " ERROR" if span.status.status_code.name == "ERROR" else ""
        lines.append(f"{prefix}{branch}{span.name} [{span.kind.name.lower()}] {ms:.3f} ms{failed}  {shown}".rstrip())
        inner = prefix + ("" if top else ("   " if last else "│  "))
        kids = children.get(span.get_span_context().span_id, [])
        if events:
            for e in span.events:
                ev = " ".join(f"{_short(k)}={_value(v)}" for k, v in (e.attributes or {}).items())
                lines.append(f"{inner}{'│' if kids else ' '}  · {e.name} {ev}".rstrip())
        for i, kid in enumerate(kids):
            walk(kid, inner, i == len(kids) - 1, False)

    for root in roots:
        tid = root.get_span_context().trace_id
        if tid != last_trace:
            lines.append(f"trace {tid:032x}")
            last_trace = tid
        walk(root, "", True, True)
    return "\n".join(lines)
