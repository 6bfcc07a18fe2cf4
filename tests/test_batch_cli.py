"""``toolvolley batch`` as a user runs it: a subprocess, killed with SIGKILL mid-run, resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.lowlevel
import pytest

from toolvolley import tool
from toolvolley._many import run_many
from toolvolley.cli.batch import read_done
from toolvolley.providers import OpenAIChat

SRC = str(Path(__file__).parents[1] / "src")
FAST = ["--token-rate", "20000", "--first-token", "0", "--latency", "0.02"]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "toolvolley", "batch", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC}


def _write_input(path: Path, n: int) -> None:
    cities = ["Seoul", "Tokyo", "Paris"]
    with path.open("w") as f:
        for i in range(n):
            prompt = f"What's the weather in {cities[i % 3]} and {cities[(i + 1) % 3]}?"
            f.write(json.dumps({"id": f"c{i}", "prompt": prompt}) + "\n")


def _lines(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert data.endswith(b"\n")  # no half-written line
    return [json.loads(line) for line in data.splitlines()]


def test_sigkill_mid_run_loses_nothing_and_a_rerun_finishes_each_id_once(tmp_path: Path) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_input(source, 60)
    slow = ["--token-rate", "400", "--first-token", "0.05", "--latency", "0.05"]
    proc = subprocess.Popen(
        _cli(str(source), "-o", str(out), "--concurrency", "4", *slow),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (out.exists() and out.read_bytes().count(b"\n") >= 5):
            assert proc.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)  # a subprocess's file growing: there is no event to wait on
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    killed = _lines(out)
    assert 5 <= len(killed) < 60  # killed mid-run, every line whole
    # Simulate a machine that died mid-write as well: the partial line is dropped on resume.
    with out.open("ab") as f:
        f.write(b'{"id": "c59", "ok": tr')
    rerun = subprocess.run(
        _cli(str(source), "-o", str(out), "--concurrency", "8", "--json", *FAST),
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    summary = json.loads(rerun.stdout)
    assert summary["skipped_already_done"] == len(killed)
    assert summary["conversations"] == 60 - len(killed)
    final = _lines(out)
    assert sorted(r["id"] for r in final) == sorted(f"c{i}" for i in range(60))
    assert final[: len(killed)] == killed  # what was finished before the kill is untouched
    assert all(r["ok"] and len(r["tool_calls"]) == 2 for r in final)
    assert all(c["status"] == "ok" for r in final for c in r["tool_calls"])
    # A third run has nothing left to do.
    again = subprocess.run(
        _cli(str(source), "-o", str(out), "--json", *FAST),
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(again.stdout)["conversations"] == 0
    assert len(_lines(out)) == 60


def test_a_failed_conversation_is_recorded_and_the_batch_goes_on(tmp_path: Path) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(
        json.dumps({"id": 1, "prompt": "Weather in Paris?"})
        + "\n"
        + json.dumps({"id": 2, "messages": [{"role": "user", "content": "Weather in Tokyo?"}]})
        + "\n"
    )
    result = subprocess.run(
        _cli(str(source), "-o", str(out), "--max-turns", "1", "--json", *FAST),
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout)["failed"] == 2
    lines = sorted(_lines(out), key=lambda r: r["id"])
    assert [r["id"] for r in lines] == [1, 2]
    for r in lines:  # one turn allowed, the model wanted two: recorded, not fatal
        assert r["ok"] is False
        assert r["error"].startswith("MaxTurnsExceeded")
        assert [c["status"] for c in r["tool_calls"]] == ["ok"]


def test_bedrock_batch_runs_on_the_offline_model_over_converse(tmp_path: Path) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_input(source, 2)
    result = subprocess.run(
        _cli(str(source), "-o", str(out), "--provider", "bedrock", "--json", *FAST),
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout)["failed"] == 0
    lines = sorted(_lines(out), key=lambda r: r["id"])
    assert [(r["id"], r["ok"], len(r["tool_calls"])) for r in lines] == [
        ("c0", True, 2),
        ("c1", True, 2),
    ]


def test_read_done_truncates_a_trailing_partial_line(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"id": "a"}\n{"id": 2}\n{"id": "c", "fin')
    assert read_done(out) == {'"a"', "2"}
    assert out.read_bytes() == b'{"id": "a"}\n{"id": 2}\n'


ACTIVE, PEAK = [0], [0]


@tool
async def echo(word: Literal["alpha", "beta"]) -> str:
    """Echo a word.

    Args:
        word: one of "alpha", "beta".
    """
    ACTIVE[0] += 1
    PEAK[0] = max(PEAK[0], ACTIVE[0])
    try:
        await anyio.lowlevel.checkpoint()
    finally:
        ACTIVE[0] -= 1
    return word


# asyncio only: the OpenAI SDK's stream over the in-process offline transport leaves an
# unexhausted async generator on trio (a ResourceWarning that is not run_many's).
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_run_many_bounds_concurrency_and_answers_every_prompt(anyio_backend: str) -> None:
    from toolvolley.testing import OfflineModel

    model = OpenAIChat.offline(OfflineModel(token_rate=50_000, first_token_s=0))
    seen: list[Any] = []
    async with model:
        outcomes = await run_many(
            model,
            [f"say {w}" for w in ["alpha", "beta"] * 5],
            [echo],
            concurrency=3,
            on_result=lambda o: seen.append(o.id),
        )
    assert sorted(o.id for o in outcomes) == list(range(10))
    assert sorted(seen) == list(range(10))
    assert all(o.ok for o in outcomes)
    calls = [c for o in outcomes for c in o.tool_calls]
    assert calls
    assert {(c["name"], c["status"]) for c in calls} == {("echo", "ok")}
    assert 1 <= PEAK[0] <= 3  # never more conversations at once than asked


def test_tools_from_an_mcp_server_answer_every_call(tmp_path: Path) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    # Beside the default weather tool: places it does not list, and its own tool's name.
    prompts = [
        "The forecast for Smallville, Gotham and Metropolis.",
        "A forecast for Springfield and Shelbyville.",
    ]
    source.write_text(
        "".join(json.dumps({"id": i, "prompt": p}) + "\n" for i, p in enumerate(prompts))
    )
    server = Path(__file__).parent / "mcp_servers" / "counting.py"
    result = subprocess.run(
        _cli(str(source), "-o", str(out), "--mcp", f"{sys.executable} {server}", "--json", *FAST),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["failed"] == 0
    rows = sorted(_lines(out), key=lambda r: r["id"])
    calls = [[(c["name"], c["status"]) for c in r["tool_calls"]] for r in rows]
    assert calls == [[("forecast", "ok")] * 3, [("forecast", "ok")] * 2]
    assert "city Gotham, celsius 21.5" in rows[0]["final_text"]


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("", "error: --mcp needs a URL or a command line"),
        ('python "server.py', "error: --mcp 'python \"server.py' is not a command line: "),
    ],
)
@pytest.mark.parametrize("ray", [[], ["--ray", "auto"]])
def test_a_bad_mcp_server_is_refused_in_one_line_before_any_work(
    tmp_path: Path, spec: str, said: str, ray: list[str]
) -> None:
    """Checked by the driver, so a Ray batch cannot fail chunk by chunk on every worker."""
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": 1, "prompt": "hi"}) + "\n")
    result = subprocess.run(
        _cli(str(source), "-o", str(tmp_path / "o.jsonl"), "--mcp", spec, *ray),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(said)
    assert not (tmp_path / "o.jsonl").exists() or not (tmp_path / "o.jsonl").read_text()


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("nosuchcommand-for-toolvolley", "could not be started: FileNotFoundError"),
        ("HTTP://127.0.0.1:1/mcp", "could not be reached: ConnectError"),  # any case: a URL
    ],
)
def test_an_mcp_server_that_cannot_be_started_or_reached_is_one_line(
    tmp_path: Path, spec: str, said: str
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": 1, "prompt": "A lookup for Paris."}) + "\n")
    result = subprocess.run(
        _cli(str(source), "-o", str(tmp_path / "o.jsonl"), "--mcp", spec),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: MCP server")
    assert said in result.stderr
