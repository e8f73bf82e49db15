"""The beluga command line, run as users run it: the installed console script in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BELUGA = shutil.which("beluga", path=str(Path(sys.executable).parent)) or "beluga"


def beluga(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BELUGA")}
    full_env.update(env or {})
    return subprocess.run(
        [BELUGA, *args], input=stdin, capture_output=True, text=True, env=full_env, cwd=cwd, timeout=60
    )


def test_help_lists_the_commands() -> None:
    out = beluga("--help")
    assert out.returncode == 0
    for cmd in ("plugins", "run", "check", "guard"):
        assert cmd in out.stdout


def test_run_sends_text_through_the_chain_on_the_defaults(tmp_path: Path) -> None:
    out = beluga("run", "hello beluga", env={"BELUGA_LOAD_PLUGINS": ""}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hello beluga"
    assert "chain" in out.stderr and "echo" in out.stderr


def test_run_json_reports_usage_and_order(tmp_path: Path) -> None:
    out = beluga("run", "--json", "hi", env={"BELUGA_LOAD_PLUGINS": ""}, cwd=tmp_path)
    report = json.loads(out.stdout)
    assert report["reply"] == "hi" and report["provider"] == "echo" and report["order"] == []
    assert report["usage"]["output_tokens"] >= 1


def test_run_reports_a_provider_failure_without_a_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "beluga.toml"
    cfg.write_text('[providers.echo]\noptions = {fail_times = 1, fail_code = "auth"}\n')
    out = beluga("run", "--config", str(cfg), "hi", env={"BELUGA_LOAD_PLUGINS": ""})
    assert out.returncode == 1
    assert "auth" in out.stdout
    assert "Traceback" not in out.stderr + out.stdout


def test_plugins_lists_none_when_only_the_core_is_selected(tmp_path: Path) -> None:
    out = beluga("plugins", "--json", env={"BELUGA_LOAD_PLUGINS": ""}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert all(p["position"] is None for p in json.loads(out.stdout))


def test_check_reports_every_problem_with_file_key_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "beluga.toml"
    cfg.write_text('[beluga]\nprovider = "echoo"\ndeadline = "soon"\n[providers.echo]\nread_timout = "1s"\n')
    out = beluga("check", str(cfg), env={"BELUGA_LOAD_PLUGINS": ""})
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert any(f"{cfg}:2: beluga.provider" in line and "did you mean 'echo'" in line for line in lines)
    assert any(f"{cfg}:3: beluga.deadline" in line for line in lines)
    assert any(f"{cfg}:5: providers.echo.read_timout" in line and "read_timeout" in line for line in lines)
    assert "3 problems" in lines[-1]
    assert "Traceback" not in out.stderr

    out = beluga("check", "--json", str(cfg), env={"BELUGA_LOAD_PLUGINS": ""})
    report = json.loads(out.stdout)
    assert report["valid"] is False and len(report["issues"]) == 3
    assert {i["line"] for i in report["issues"]} == {2, 3, 5}


def test_check_accepts_a_valid_file(tmp_path: Path) -> None:
    cfg = tmp_path / "beluga.json"
    cfg.write_text(json.dumps({"beluga": {"provider": "echo", "deadline": "30s"}}))
    out = beluga("check", str(cfg), env={"BELUGA_LOAD_PLUGINS": ""})
    assert out.returncode == 0 and "ok" in out.stdout


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    out = beluga("run", "--config", str(tmp_path / "nope.toml"), "hi", env={"BELUGA_LOAD_PLUGINS": ""})
    assert out.returncode == 1
    assert "file not found" in out.stderr and "Traceback" not in out.stderr


def test_guard_jsonl_answers_one_line_per_input_in_order(tmp_path: Path) -> None:
    lines = "\n".join(json.dumps({"id": i, "text": t}) for i, t in enumerate(["a", "b", "c"])) + "\nnot json\n"
    out = beluga("guard", "--jsonl", stdin=lines, env={"BELUGA_LOAD_PLUGINS": ""}, cwd=tmp_path)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in rows[:3]] == [0, 1, 2]
    assert all(r["allowed"] and r["findings"] == [] for r in rows[:3])
    assert "bad input line 4" in rows[3]["error"]
    assert out.returncode == 1


@pytest.mark.parametrize("args", [["run"], ["check"], ["nonsense"]])
def test_usage_errors_exit_non_zero_without_traceback(args: list[str]) -> None:
    out = beluga(*args, env={"BELUGA_LOAD_PLUGINS": ""})
    assert out.returncode == 2
    assert "Traceback" not in out.stderr


def test_run_trace_without_the_tracing_plugin_says_what_to_install(tmp_path: Path) -> None:
    out = beluga("run", "--trace", "hi", env={"BELUGA_LOAD_PLUGINS": ""}, cwd=tmp_path)
    assert out.returncode == 2
    assert "beluga-tracing" in out.stderr and "Traceback" not in out.stderr


def test_check_reports_a_plugin_name_that_is_not_a_string_without_a_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "beluga.toml"
    cfg.write_text('[beluga]\nprovider = "echo"\nplugins = ["guard-pii", 7]\n')
    out = beluga("check", str(cfg), env={"BELUGA_LOAD_PLUGINS": ""})
    assert out.returncode == 1
    assert f"{cfg}:3: beluga.plugins[1]: expected a string, got 7" in out.stderr
    assert "Traceback" not in out.stderr and "1 problem" in out.stderr


@pytest.mark.parametrize("suffix, text", [
    (".toml", "x = " + "[" * 100_000 + "]" * 100_000 + "\n"),
    (".toml", "x = " + "{a = " * 2_000 + "1" + "}" * 2_000 + "\n"),
    (".json", '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    (".toml", "x = " + "[" * 33 + "]" * 33 + "\n"),
])
def test_check_refuses_a_file_nested_too_deep_without_a_traceback(tmp_path: Path, suffix: str, text: str) -> None:
    cfg = tmp_path / f"beluga{suffix}"
    cfg.write_text(text)
    out = beluga("check", str(cfg), env={"BELUGA_LOAD_PLUGINS": ""})
    assert out.returncode == 1
    assert f"{cfg}: <root>: arrays and tables nested more than 32 levels deep" in out.stderr
    assert "Traceback" not in out.stderr


def test_check_says_which_sections_of_plugins_not_loaded_it_did_not_check(tmp_path: Path) -> None:
    pytest.importorskip("beluga_guard_injection", reason="needs an installed plugin to disable")
    cfg = tmp_path / "beluga.toml"
    cfg.write_text(
        '[beluga]\ndisabled = ["guard-injection"]\n\n[plugins.guard-injection]\nthreshold = "high"\n'
    )
    out = beluga("check", str(cfg))
    assert out.returncode == 0, out.stderr
    assert "ok" in out.stdout and "1 section not checked" in out.stdout
    assert (
        f"{cfg}:4: plugins.guard-injection: not checked: plugin 'guard-injection' is not loaded "
        "(it is listed in [beluga] disabled)" in out.stdout
    )

    report = json.loads(beluga("check", "--json", str(cfg)).stdout)
    assert report["valid"] is True
    assert [(i["key"], i["line"]) for i in report["not_checked"]] == [("plugins.guard-injection", 4)]

    cfg.write_text('[plugins.guard-injection]\nthreshold = "high"\n')
    out = beluga("check", str(cfg), env={"BELUGA_DISABLE_PLUGINS": "guard-injection"})
    assert "BELUGA_LOAD_PLUGINS or BELUGA_DISABLE_PLUGINS leaves it out" in out.stdout
