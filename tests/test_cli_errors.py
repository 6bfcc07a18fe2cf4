"""What the `toolvolley` command says when a user gets something wrong: one line, naming the
option as typed, and exit 2 (1 for what the user cannot fix by retyping), before any work."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import toolvolley
from toolvolley.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
FAST_DEMO = ["--latency", "0.2", "--jitter", "0", "--token-rate", "5000", "--first-token", "0"]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def assert_one_line(result: Any, *expected: str, code: int = 2) -> None:
    assert result.exit_code == code, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for text in expected:
        assert text in result.stderr


# --- serve-model --------------------------------------------------------------------------


@pytest.fixture
def never_served(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused option must stop serve-model before it binds or serves (which would block)."""
    import toolvolley.testing._serving

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("serve-model went on to listen")

    monkeypatch.setattr(toolvolley.testing._serving, "bind", refuse)
    monkeypatch.setattr(toolvolley.testing._serving, "serve_forever", refuse)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "70000"], "--port must be"),
        (["--host", ""], "--host must be"),
        (["--port", "-1"], "--port must be"),
        (["--token-rate", "0"], "--token-rate must be"),
        (["--token-rate", "nan"], "--token-rate must be"),
        (["--token-rate", "inf"], "--token-rate must be"),
        (["--first-token", "-1"], "--first-token must be"),
        (["--first-token", "inf"], "--first-token must be"),
        (["--first-token-s", "-1"], "--first-token must be"),  # the old spelling still works
        (["--max-body-bytes", "0"], "--max-body-bytes must be"),
        (["--model", ""], "--model must be"),
        (["--script", "/no/such/turns.json"], "--script"),
    ],
)
@pytest.mark.usefixtures("never_served")
def test_serve_model_refuses_bad_options_in_one_line(args: list[str], expected: str) -> None:
    result = invoke("serve-model", *args)
    assert_one_line(result, expected)
    assert result.stdout == ""  # no banner for a server that never started


@pytest.mark.usefixtures("never_served")
def test_serve_model_refuses_a_bad_script_naming_the_option(tmp_path: Path) -> None:
    script = tmp_path / "turns.json"
    script.write_text('{"text": "not a list"}', encoding="utf-8")
    assert_one_line(invoke("serve-model", "--script", str(script)), "--script", "list of turns")
    script.write_text('[{"txt": "typo"}]', encoding="utf-8")
    assert_one_line(invoke("serve-model", "--script", str(script)), "--script", "turn 1")


def test_serve_model_port_out_of_range_from_the_installed_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "toolvolley", "serve-model", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "error: --port must be between 0 and 65535, not 70000.\n"


def test_serve_model_help_names_first_token_and_describes_the_script() -> None:
    result = invoke("serve-model", "--help")
    assert "--first-token " in result.stdout
    assert "--first-token-s" not in result.stdout  # a hidden alias
    assert "see docs" not in result.stdout
    assert "JSON list of turns" in result.stdout


# --- the command itself ------------------------------------------------------------------


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"toolvolley {toolvolley.__version__}\n"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["demo", "--latency", "abc"], "'--latency'"),
        (["bench", "--bogus"], "--bogus"),
        (["serve-model", "--port", "abc"], "'--port'"),
        (["demo", "--json=1"], "'--json' does not take a value"),
        (["dmeo"], "Did you mean 'demo'?"),
        (["batch", "in.jsonl"], "'--output'"),
    ],
)
def test_what_typer_refuses_is_one_line_too(args: list[str], expected: str) -> None:
    result = invoke(*args)
    assert_one_line(result, expected, "--help")
    assert result.stdout == ""


@pytest.mark.parametrize("command", [[], ["demo"], ["bench"], ["serve-model"], ["batch"]])
def test_help_shows_no_type_for_flags(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout


def test_the_command_without_the_cli_extra_says_what_to_install_in_one_line() -> None:
    """The entry point pyproject declares, run where typer cannot be imported."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # no tomllib on 3.10
    found = re.search(r'^toolvolley = "([\w.]+):(\w+)"$', pyproject, re.MULTILINE)
    assert found is not None
    module, function = found.groups()
    code = (
        "import sys; sys.modules['typer'] = None; sys.argv = ['toolvolley', 'demo']; "
        f"import {module}; {module}.{function}()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "toolvolley: the command line needs the cli extra: pip install 'toolvolley[cli]'\n"
    )


# --- demo -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--latency", "-1"], "--latency must be"),
        (["--latency", "nan"], "--latency must be"),
        (["--latency", "inf"], "--latency must be"),
        (["--jitter", "-0.1"], "--jitter must be"),
        (["--latency", "0.2", "--jitter", "0.5"], "--jitter must be"),
        (["--token-rate", "0"], "--token-rate must be"),
        (["--first-token", "-1"], "--first-token must be"),
        (["--timeline", "x.png"], "--timeline"),
        (["--trace", "x.svg"], "--trace"),
        (["--provider", "bogus"], "--provider must be"),
        (["--base-url", "http://127.0.0.1:9"], "--base-url is for --provider"),
        (["--plan", "--latency", "-1"], "--latency must be"),
        (["--plan", "--timeline", "x.png"], "--timeline"),
    ],
)
def test_demo_refuses_bad_options_in_one_line(
    args: list[str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("demo", *FAST_DEMO, *args)
    assert_one_line(result, expected)
    assert "jitter_s" not in result.stderr
    assert "latency_s" not in result.stderr


def test_demo_refuses_a_directory_and_an_unwritable_file_as_output(tmp_path: Path) -> None:
    for args in (["--trace", str(tmp_path)], ["--timeline", str(tmp_path / "x.svg" / "y.svg")]):
        assert_one_line(invoke("demo", *FAST_DEMO, *args), args[0])


def test_demo_checks_the_anthropic_sdk_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)  # an install with the cli extra only
    result = invoke("demo", *FAST_DEMO, "--provider", "anthropic", "--base-url", "http://x")
    assert_one_line(result, "--provider anthropic", "pip install 'toolvolley[anthropic]'")


def test_demo_checks_boto3_for_bedrock_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    result = invoke("demo", *FAST_DEMO, "--provider", "bedrock")
    assert_one_line(result, "--provider bedrock", "pip install 'toolvolley[bedrock]'")


# --- bench ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--only", "Z"], "--only"),  # the last --only counts
        (["--only", "AZ"], "--only"),
        (["--timeline", "x.png"], "--timeline"),
        (["--trace", "x.svg"], "--trace"),
        (["--plot", "x.png"], "--plot"),
        (["--scale", "inf"], "--scale must be"),
        (["--scale", "nan"], "--scale must be"),
        (["--token-rate", "inf"], "--token-rate must be"),
        (["--first-token", "inf"], "--first-token must be"),
        (["--sweep-latency", "0", "--plot", "x.svg"], "--sweep-latency must be"),
        (["--sweep-latency", "-1"], "--sweep-latency must be"),
        (["--max-calls", "0"], "--max-calls must be"),
    ],
)
def test_bench_refuses_bad_options_in_one_line(
    args: list[str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each with nothing else to run, so a check that does not happen shows as exit 0."""
    monkeypatch.chdir(tmp_path)  # x.svg, should the check not happen
    assert_one_line(invoke("bench", "--only", "", "--no-streaming", *args), expected)


def test_bench_checks_its_extras_before_measuring(monkeypatch: pytest.MonkeyPatch) -> None:
    import toolvolley.cli.bench

    measured: list[str] = []

    def measure(**_: Any) -> dict[str, Any]:
        measured.append("executor")
        return {}

    monkeypatch.setattr(toolvolley.cli.bench, "run_executor_benchmark", measure)
    monkeypatch.setitem(sys.modules, "mcp", None)  # an install without the mcp extra
    result = invoke("bench", "--only", "A", "--no-streaming", "--mcp")
    assert_one_line(result, "--mcp", "pip install 'toolvolley[mcp]'")
    assert measured == []


def test_bench_keeps_what_it_measured_when_a_later_part_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import toolvolley.cli.bench

    def broken(**_: Any) -> dict[str, Any]:
        raise RuntimeError("the streaming part broke")

    monkeypatch.setattr(toolvolley.cli.bench, "run_streaming_benchmark", broken)
    result = invoke("bench", "--only", "A", "--repeat", "1", "--scale", "0.002")
    assert_one_line(result, "streaming", "the streaming part broke", code=1)
    assert "Executor (median of 1)" in result.stdout  # scenario A's table, measured before
