"""``beluga trace TEXT``: the span tree of one call, contributed through register_commands."""

from __future__ import annotations

import json

import pytest

from beluga_core.cli import main


@pytest.fixture(autouse=True)
def _only_tracing(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("BELUGA_LOAD_PLUGINS", "tracing")
    monkeypatch.chdir(tmp_path)


def test_beluga_trace_prints_the_reply_and_the_span_tree(capsys):
    assert main(["trace", "hello tree", "--model", "m1", "--meta", "request_id=r-7"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "hello tree"
    assert any(line.startswith("trace ") and len(line) == 38 for line in lines)
    (call,) = [line for line in lines if line.startswith("chat m1 [client]")]
    assert " ms " in call
    assert "provider.name=echo" in call
    assert "usage.output_tokens=" in call
    assert "request.request_id=r-7" in call


def test_beluga_trace_json_lists_spans_with_attributes(capsys):
    assert main(["trace", "hi", "--stream", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["reply"] == "hi"
    (span,) = data["spans"]
    assert span["name"] == "chat"
    assert span["kind"] == "CLIENT"
    assert span["attributes"]["gen_ai.request.stream"] is True
    assert span["attributes"]["gen_ai.usage.output_tokens"] >= 1
    assert span["duration_ms"] >= 0


def test_beluga_trace_shows_a_failure_and_exits_non_zero(capsys, tmp_path):
    config = tmp_path / "beluga.toml"
    config.write_text('[providers.echo]\noptions = { fail_times = 1, fail_code = "timeout" }\n')
    assert main(["trace", "hi", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("error [timeout]")
    assert "ERROR" in out and "error.type=timeout" in out


def test_beluga_run_trace_prints_the_same_span_tree(capsys):
    assert main(["run", "--trace", "hello run", "--model", "m2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "hello run"
    assert any(line.startswith("chat m2 [client]") for line in lines)
