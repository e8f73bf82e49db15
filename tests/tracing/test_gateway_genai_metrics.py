"""The gateway's /metrics carries the GenAI client metrics under their Prometheus names, parsed back
with prometheus_client's own exposition parser."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tracing_support import EMAIL, PHONE, SECRET

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "gateway"))
from gateway_support import ALPHA, make_kit, serving, write_config

DURATION = "gen_ai_client_operation_duration_seconds"
TOKENS = "gen_ai_client_token_usage"
FIRST_CHUNK = "gen_ai_client_operation_time_to_first_chunk_seconds"

GW = 'models = { "fast" = "echo:m-fast", "conf" = "echo" }'
EXTRA = '[providers.echo]\nmodel = "m-conf"\n'


def families(url: str) -> tuple[str, dict[str, Any]]:
    text = httpx.get(url + "/metrics").text
    return text, {f.name: f for f in text_string_to_metric_families(text)}


def samples(family: Any, suffix: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for s in family.samples if s.name == family.name + suffix]


def chat(url: str, model: str, text: str = "hello there", stream: bool = False) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}
    return httpx.post(url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {ALPHA}"})


def test_gateway_metrics_expose_the_genai_client_metrics_for_plain_streamed_and_failed_calls(tmp_path):
    kit = make_kit(write_config(tmp_path / "beluga.toml", EXTRA, gw=GW))
    with serving(kit) as server:
        assert chat(server.url, "fast", f"mail {EMAIL}, call {PHONE}, key {SECRET}").status_code == 200
        streamed = chat(server.url, "fast", "one two three", stream=True)
        assert streamed.status_code == 200 and "data: [DONE]" in streamed.text
        assert chat(server.url, "conf").status_code == 200  # the model comes from [providers.echo]
        kit.provider().fail_next(1, "rate_limit")
        assert chat(server.url, "fast").status_code == 429
        assert chat(server.url, f"unknown-{EMAIL}").status_code == 404  # never reached a provider
        text, fams = families(server.url)

    assert {DURATION, TOKENS, FIRST_CHUNK} <= set(fams)
    assert all(fams[n].type == "histogram" for n in (DURATION, TOKENS, FIRST_CHUNK))
    counts = {
        (la["gen_ai_request_model"], la["gen_ai_response_model"], la["error_type"]): v
        for la, v in samples(fams[DURATION], "_count")
    }
    assert counts == {("m-fast", "m-fast", ""): 2.0, ("m-conf", "m-conf", ""): 1.0, ("m-fast", "", "rate_limit"): 1.0}
    labels = {k for la, _ in samples(fams[DURATION], "_count") for k in la}
    assert labels == {"gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model",
                      "gen_ai_response_model", "error_type"}
    assert {la["gen_ai_operation_name"] for la, _ in samples(fams[DURATION], "_count")} == {"chat"}
    assert {la["gen_ai_provider_name"] for la, _ in samples(fams[DURATION], "_count")} == {"echo"}
    buckets = {la["le"] for la, _ in samples(fams[DURATION], "_bucket")}
    assert {"0.01", "81.92", "+Inf"} <= buckets

    tokens = {(la["gen_ai_request_model"], la["gen_ai_token_type"]): v for la, v in samples(fams[TOKENS], "_count")}
    assert tokens == {("m-fast", "input"): 2.0, ("m-fast", "output"): 2.0, ("m-conf", "input"): 1.0,
                      ("m-conf", "output"): 1.0}
    assert all(v > 0 for _, v in samples(fams[TOKENS], "_sum"))

    ((first_labels, first_count),) = samples(fams[FIRST_CHUNK], "_count")
    assert first_count == 1.0  # only the streamed call
    assert first_labels["gen_ai_request_model"] == "m-fast"
    for secret in (EMAIL, PHONE, SECRET, "unknown-"):
        assert secret not in text


def test_model_names_outside_the_config_share_one_label(tmp_path):
    kit = make_kit(write_config(tmp_path / "beluga.toml", EXTRA))  # no models table: any name goes to echo
    with serving(kit) as server:
        for i in range(3):
            assert chat(server.url, f"made-up-{i}").status_code == 200
        assert chat(server.url, "m-conf").status_code == 200
        _, fams = families(server.url)
    models = {
        (la["gen_ai_request_model"], la["gen_ai_response_model"]): v for la, v in samples(fams[DURATION], "_count")
    }
    assert models == {("other", "other"): 3.0, ("m-conf", "m-conf"): 1.0}  # echo answers with the asked name


def test_response_model_labels_are_capped(tmp_path):
    from beluga_gateway.metrics import MAX_RESPONSE_MODELS, Metrics

    m = Metrics(lambda: {})
    names = [m.response_model(f"upstream-{i}", "asked") for i in range(MAX_RESPONSE_MODELS + 10)]
    assert len(set(names)) == MAX_RESPONSE_MODELS + 1 and names[-1] == "other"
    assert m.response_model("asked", "asked") == "asked"  # the request's own name is always kept
