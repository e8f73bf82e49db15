"""Schemathesis runs against a gateway served on loopback, from the gateway's own OpenAPI description
(``/openapi.json``) or from OpenAI's published one. Shared by the test suite (short, derandomized runs)
and ``benchmarks/fuzz_gateway.py`` (long, random runs that count answers by status)."""

from __future__ import annotations

import collections
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, positive_data_acceptance
from schemathesis.config import SchemathesisConfig

REPO = Path(__file__).resolve().parents[2]
#: OpenAI's description, kept beside the repository (``../shared/reference``); the environment may name another.
OPENAI_SPEC = Path(os.environ.get("BELUGA_OPENAI_SPEC") or REPO.parent / "shared" / "reference" / "openai-openapi.json")
#: The operations of OpenAI's API that the gateway serves.
OPENAI_OPERATIONS = ("createChatCompletion", "listModels")
#: What the gateway's own description allows but the gateway refuses on purpose (the body-wide rules
#: its description states in words: JSON Schema cannot say "integers within 100 digits" for free-form fields,
#: nor that some shapes go only to OpenAI-compatible providers).
BODY_WIDE_RULES = ("numbers must be finite", "deeper than", "not valid Unicode", "OpenAI-compatible provider")

Counts = collections.Counter[tuple[str, str, int]]


def _config(scheme: str, key: str) -> SchemathesisConfig:
    # The key comes from the config, not from generated headers, so the auth check can tell them apart;
    # generated security headers would only make requests that fail authentication.
    # Schemathesis' refusals, plus 413: invalid data may be an array longer than maxItems, in a body
    # larger than max_body_bytes.
    rejected = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
    return SchemathesisConfig.from_dict({
        "auth": {"openapi": {scheme: {"bearer": key}}},
        "generation": {"with-security-parameters": False},
        "checks": {"negative_data_rejection": {"expected-statuses": rejected}},
    })


def gateway_schema(url: str, key: str) -> Any:
    """The gateway's own description, as served at ``url/openapi.json``."""
    return schemathesis.openapi.from_url(url + "/openapi.json", config=_config("bearer", key))


def openai_schema(key: str, path: Path = OPENAI_SPEC) -> Any:
    """OpenAI's description, limited to the operations the gateway serves."""
    schema = schemathesis.openapi.from_path(str(path), config=_config("ApiKeyAuth", key))
    return schema.include(operation_id=list(OPENAI_OPERATIONS))


def refused_only_by_body_wide_rules(response: Any) -> None:
    """A request the gateway's description allows may be refused only for a rule the description
    states in words (see ``BODY_WIDE_RULES``)."""
    if response.status_code == 400:
        message = response.json()["error"]["message"]
        assert any(rule in message for rule in BODY_WIDE_RULES), f"a valid request was refused: {message}"


def fuzz(
    schema: Any,
    base_url: str,
    examples: int,
    *,
    checks: str = "all",
    derandomize: bool = True,
    on_response: Callable[[Any, Any], None] | None = None,
    failures: list[str] | None = None,
) -> Counts:
    """Send ``examples`` generated requests per operation and mode (negative too, for operations
    with a body). ``checks``: "all" of Schemathesis' checks (the response conforms to the
    description, invalid input is refused...) besides the acceptance of valid input, which
    ``refused_only_by_body_wide_rules`` replaces; "no_5xx"; or "none" (only count statuses). A failed
    check raises (after Hypothesis shrinks the case) unless ``failures`` collects it."""
    counts: Counts = collections.Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        has_body = bool(operation.body)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if has_body else (GenerationMode.POSITIVE,):
            runner = _runner(operation, mode, base_url, counts, checks, on_response, failures)
            settings(
                max_examples=examples if has_body else 1,
                deadline=None,
                database=None,
                derandomize=derandomize,
                suppress_health_check=list(HealthCheck),
                phases=(Phase.generate, Phase.shrink) if failures is None else (Phase.generate,),
                print_blob=False,
            )(given(case=operation.as_strategy(generation_mode=mode))(runner))()
    return counts


def _runner(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    counts: Counts,
    checks: str,
    on_response: Callable[[Any, Any], None] | None,
    failures: list[str] | None,
) -> Callable[[Any], None]:
    label = operation.label
    strict = checks == "all"
    kwargs: dict[str, Any] = {
        "all": {"excluded_checks": [positive_data_acceptance]},
        "no_5xx": {"checks": [not_a_server_error]},
        "none": {},
    }[checks]

    def run(case: Any) -> None:
        try:
            if checks == "none":
                response = case.call(base_url=base_url, timeout=30)
            else:
                response = case.call_and_validate(base_url=base_url, timeout=30, **kwargs)
            if strict and mode is GenerationMode.POSITIVE:
                refused_only_by_body_wide_rules(response)
            if on_response is not None:
                on_response(case, response)
        except (Exception, BaseExceptionGroup) as exc:  # a failed check is a FailureGroup
            if failures is None:
                raise
            failures.append(f"{label} ({mode.value}): {str(exc)[:2000]}")
            return
        counts[(label, mode.value, response.status_code)] += 1

    return run


def any_chat_upstream(h: Any) -> None:
    """An OpenAI-compatible stand-in that answers every JSON body with a chat completion (``n``
    choices, streamed when asked) or, on its embeddings path, with embeddings: whatever the gateway
    forwards is accepted, so the gateway's own refusals are what a run counts."""
    from beluga_http.testing import data, sse_reply

    body = h.server.last["body"]
    body = body if isinstance(body, dict) else {}
    if h.path.endswith("/embeddings"):  # one small vector per input
        inputs = body.get("input") if isinstance(body.get("input"), list) else [body.get("input")]
        h.send_json(200, {"object": "list", "model": "m", "usage": {"prompt_tokens": 1, "total_tokens": 1},
                          "data": [{"object": "embedding", "index": i, "embedding": [0.5, -0.5]}
                                   for i in range(len(inputs))]})
        return
    n = body.get("n") if isinstance(body.get("n"), int) and 1 <= body["n"] <= 128 else 1
    model = body.get("model") if isinstance(body.get("model"), str) else "model"
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    if not body.get("stream"):
        choices = [{"index": i, "message": {"role": "assistant", "content": f"answer {i}"}, "finish_reason": "stop"}
                   for i in range(n)]
        h.send_json(200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model,
                          "choices": choices, "usage": usage})
        return
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model}
    pieces = []
    for i in range(n):
        delta = {"role": "assistant", "content": f"answer {i}"}
        pieces.append(data({**base, "choices": [{"index": i, "delta": delta}]}))
        pieces.append(data({**base, "choices": [{"index": i, "delta": {}, "finish_reason": "stop"}]}))
    pieces.append(data({**base, "choices": [], "usage": usage}))
    pieces.append(b"data: [DONE]\n\n")
    sse_reply(pieces)(h)


_INDEX = re.compile(r"\[\d+\]")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Refusals of schema-valid requests that the gateway keeps on purpose, by a phrase of their message:
#: the name rules (a name reaches logs, metric labels and traces: no control characters, at most 256
#: characters; a function's name as OpenAI requires it), the body-wide rules above, and the ranges
#: OpenAI states in prose for fields the chain reads.
KEPT_RULES = {
    "control characters": "model names without control characters",
    "characters": "names of at most 256 characters",
    "{'name': ...}}": "tools that name a function",
    "numbers must be finite": "finite numbers, integers of at most 100 digits",
    "deeper than": "nesting depth",
    "must fit in 64 bits": "integer fields the chain reads within 64 bits",
    "not valid Unicode": "valid Unicode",
}


def kept_rule(message: str) -> str | None:
    """The kept rule (see ``KEPT_RULES``) a refusal's message names, if any."""
    return next((rule for phrase, rule in KEPT_RULES.items() if phrase in message), None)


def refused_field(response: Any) -> str:
    """What a refusal names: the error's ``param`` with array indices and free-form keys dropped
    (``messages[].content``, ``tools[].function.parameters.*``), then the kept rule it applies if
    any; without a param, the error's code or the HTTP status."""
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
    if not isinstance(error, dict):
        return f"HTTP {response.status_code}"
    param = error.get("param")
    rule = kept_rule(str(error.get("message") or ""))
    if isinstance(param, str) and param:
        keys = _INDEX.sub("[]", param).split(".")
        field = ".".join(k if _KEY.match(k.removesuffix("[]").removesuffix("[]")) else "*" for k in keys)
        while field.endswith(".*.*"):
            field = field[:-2]
    else:
        field = f"({error.get('code') or response.status_code})"
    return f"{field} [{rule}]" if rule else field


def by_kept_rules(refused: collections.Counter[str]) -> int:
    """How many of ``refused`` (as ``chat_acceptance`` counts them) a kept rule refused."""
    return sum(n for field, n in refused.items() if field.endswith("]") and " [" in field)


def chat_acceptance(schema: Any, base_url: str, examples: int, *, model: str | None = "gpt-4o-mini",
                    derandomize: bool = True, on_response: Callable[[Any, Any], None] | None = None,
                    ) -> tuple[int, collections.Counter[str]]:
    """Send ``examples`` schema-valid ``createChatCompletion`` bodies generated from ``schema`` (OpenAI's
    description) and count them: ``(accepted, refused by field)``. Accepted means a 200 answer.

    ``model`` replaces the generated model name (any string, often empty or with control characters,
    which the gateway refuses on purpose): the count is of the request shapes, for a model it serves.
    None keeps the generated names."""
    operation = next(r.ok() for r in schema.get_all_operations() if r.ok().definition.raw.get("operationId")
                     == "createChatCompletion")
    accepted = 0
    refused: collections.Counter[str] = collections.Counter()

    def run(case: Any) -> None:
        nonlocal accepted
        if model is not None and isinstance(case.body, dict):
            case.body["model"] = model
        response = case.call(base_url=base_url, timeout=30)
        if on_response is not None:
            on_response(case, response)
        if response.status_code == 200:
            accepted += 1
        else:
            refused[refused_field(response)] += 1

    settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=derandomize,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.generate,),
        print_blob=False,
    )(given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))(run))()
    return accepted, refused


__all__ = [
    "KEPT_RULES", "OPENAI_SPEC", "Counts", "any_chat_upstream", "by_kept_rules", "chat_acceptance", "fuzz",
    "gateway_schema", "openai_schema", "refused_field",
]
