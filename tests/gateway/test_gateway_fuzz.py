"""The gateway's OpenAPI description, and Schemathesis fuzzing of a real gateway from it and from
OpenAI's own description: no 5xx, answers that match the description, invalid input refused.

Short derandomized runs (the same cases each time); ``benchmarks/fuzz_gateway.py`` runs longer random ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("schemathesis", reason="the fuzz tests need schemathesis (the dev extra installs it)")

from fuzz_support import (
    OPENAI_SPEC,
    any_chat_upstream,
    chat_acceptance,
    fuzz,
    gateway_schema,
    openai_schema,
)
from gateway_support import ALPHA, OPENAI_KEY, FakeServer, config_text, finite, make_kit, serving

EXAMPLES = 50  # per operation and mode: about 15 s per run on a loaded 2-core machine


def server_errors(counts: Any) -> dict[Any, int]:
    return {k: n for k, n in counts.items() if k[2] >= 500}


def test_the_description_is_served_and_names_what_the_gateway_serves(gateway: Any) -> None:
    server = gateway()
    resp = httpx.get(server.url + "/openapi.json", timeout=15)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
    doc = resp.json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {"/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens",
                                 "/v1/responses", "/v1/embeddings", "/v1/models", "/healthz", "/readyz", "/metrics",
                                 "/openapi.json"}
    chat = doc["components"]["schemas"]["ChatCompletionRequest"]["properties"]
    assert chat["temperature"]["anyOf"][0] == {"type": "number", "minimum": 0, "maximum": 2}
    error = doc["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["required"] == ["message", "type", "param", "code"]


def test_fuzzing_from_the_gateways_description(tmp_path: Path) -> None:
    # Behind an OpenAI-compatible stand-in that answers any body, as what only such providers take
    # (n above 1, custom tools...) is refused for the echo provider.
    upstream = FakeServer(any_chat_upstream, OPENAI_KEY).start()
    path = tmp_path / "beluga.toml"
    path.write_text(config_text(f'[providers.openai]\napi_key = "{OPENAI_KEY}"\nbase_url = "{upstream.url}"\n')
                    .replace('provider = "echo"', 'provider = "openai"'))
    try:
        with serving(make_kit(path)) as server:
            counts = fuzz(gateway_schema(server.url, ALPHA), server.url, EXAMPLES)
    finally:
        upstream.stop()
    assert not server_errors(counts)
    chat = "POST /v1/chat/completions"
    assert counts[(chat, "positive", 200)] > EXAMPLES // 2  # most valid requests were answered
    assert counts[(chat, "negative", 400)] > EXAMPLES // 2  # and invalid ones refused (any 2xx would fail)


def test_fuzzing_from_openais_description_finds_no_5xx(gateway: Any) -> None:
    if not OPENAI_SPEC.is_file():
        pytest.skip(f"OpenAI's description is not at {OPENAI_SPEC} (it is kept at ../shared/reference beside the "
                    "repository; BELUGA_OPENAI_SPEC may name it)")
    server = gateway()
    counts = fuzz(openai_schema(ALPHA), server.url + "/v1", EXAMPLES, checks="no_5xx")
    assert not server_errors(counts)
    assert sum(counts.values()) >= 2 * EXAMPLES  # chat completions, valid and invalid, and the model list


def test_fuzzing_through_an_openai_upstream_sends_it_only_json(tmp_path: Path, openai_upstream: Any) -> None:
    text = config_text(f"""
        [providers.openai]
        api_key = "{OPENAI_KEY}"
        base_url = "{openai_upstream.url}"
    """).replace('provider = "echo"', 'provider = "openai"')
    path = tmp_path / "beluga.toml"
    path.write_text(text)
    with serving(make_kit(path)) as server:
        counts = fuzz(gateway_schema(server.url, ALPHA), server.url, EXAMPLES // 2, checks="none")
    # The stand-in's own failures on odd (valid) input come back as 502; the gateway itself never fails.
    assert not {k: n for k, n in server_errors(counts).items() if k[2] != 502}
    assert openai_upstream.requests, "no request reached the upstream"
    for sent in openai_upstream.requests:
        assert sent["body"] is not None and finite(sent["body"])  # JSON it could parse, no NaN or Infinity


ACCEPTANCE_SAMPLE = 150  # derandomized: the same requests each run, about 20 s


def test_requests_generated_from_openais_description_are_accepted(tmp_path: Path) -> None:
    """Schema-valid chat requests from OpenAI's description (each naming a served model), posted through an
    OpenAI-compatible stand-in: at least 95 % are answered. The rules kept (fuzz_support.KEPT_RULES: model
    names without control characters, names of at most 256 characters, body-wide rules) refuse the rest.
    benchmarks/spec_acceptance.py runs more."""
    if not OPENAI_SPEC.is_file():
        pytest.skip(f"OpenAI's description is not at {OPENAI_SPEC}")
    upstream = FakeServer(any_chat_upstream, OPENAI_KEY).start()
    path = tmp_path / "beluga.toml"
    path.write_text(config_text(f'[providers.openai]\napi_key = "{OPENAI_KEY}"\nbase_url = "{upstream.url}"\n')
                    .replace('provider = "echo"', 'provider = "openai"'))
    try:
        with serving(make_kit(path)) as server:
            accepted, refused = chat_acceptance(openai_schema(ALPHA), server.url + "/v1", ACCEPTANCE_SAMPLE)
    finally:
        upstream.stop()
    total = accepted + sum(refused.values())
    assert total >= ACCEPTANCE_SAMPLE * 0.9
    remaining = {field: n for field, n in refused.items() if not (field.endswith("]") and " [" in field)}
    rate = accepted / total
    assert rate >= 0.95, f"{rate:.1%} accepted; refused by field: {dict(refused.most_common())}"
    assert not remaining, remaining  # every refusal left is a kept rule
