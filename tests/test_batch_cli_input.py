"""``toolvolley batch``'s files as a user gets them wrong: bad input lines, a hand-edited output,
lone surrogates, two runs on one output, a run interrupted and resumed. Each run is a real
subprocess in its own directory, with a tool that records every call it runs."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SRC = str(Path(__file__).parents[1] / "src")
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, signals and rlimits")
LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/locks")
FAST = ["--token-rate", "20000", "--first-token", "0", "--latency", "0.02"]

# A tool that writes each call to calls.txt; a call whose city is named in gate.txt first says
# so through the FIFO "ready", then waits until the test opens the FIFO "go".
TOOLS = '''
import os
from pathlib import Path

from toolvolley import tool

HERE = Path(__file__).parent


@tool
def lookup(city: str) -> str:
    """Look a city up.

    Args:
        city: the city.
    """
    with (HERE / "calls.txt").open("a", encoding="utf-8", errors="backslashreplace") as f:
        f.write(city + "\\n")
    gate = HERE / "gate.txt"
    if gate.exists() and gate.read_text() == city:
        gate.unlink()
        with (HERE / "ready").open("w") as f:
            f.write("ready")
        (HERE / "go").read_text()
    return f"{city}: found"


tools = [lookup]
'''


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "counted.py").write_text(TOOLS, encoding="utf-8")
    return tmp_path


def _batch(home: Path, *args: str, tools: bool = True) -> list[str]:
    extra = ["--tools", "counted:tools"] if tools else []
    return [sys.executable, "-m", "toolvolley", "batch", *args, *extra, *FAST]


def _run(home: Path, *args: str, tools: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _batch(home, *args, tools=tools),
        cwd=home,
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _calls(home: Path) -> list[str]:
    path = home / "calls.txt"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _lines(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    data.decode("utf-8")  # strict UTF-8: any JSON reader can take it
    return [json.loads(line) for line in data.splitlines()]


def _prompt(id_: Any, city: str) -> bytes:
    return json.dumps({"id": id_, "prompt": f"A lookup for {city}."}).encode() + b"\n"


GOOD = _prompt("a", "Paris") + _prompt("b", "Lima")


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (GOOD + b"not json\n", "line 3: not JSON (Expecting value: column 1)"),
        (GOOD + b'{"id": "c", "prompt": "x"\n', "line 3: not JSON ("),
        (GOOD + b'[{"id": "c", "prompt": "x"}]\n', "line 3: not a JSON object but an array"),
        (GOOD + b'"a lookup for Oslo"\n', "line 3: not a JSON object but a string"),
        (GOOD + b'{"id": "c", "prompt": "Caf\xe9"}\n', "line 3: not UTF-8 text"),
        (GOOD + b'{"id": "c", "prompt": NaN}\n', "line 3: not JSON (NaN is not a JSON value)"),
        (GOOD + b"[" * 100_000 + b"\n", "line 3: not JSON (nested too deeply)"),
        (GOOD + b'{"id": "c"}\n', 'line 3: no "prompt" or "messages"'),
        (GOOD + b'{"id": "c", "prompt": 3}\n', 'line 3: "prompt" must be a string, not a number'),
        (GOOD + b'{"id": "c", "messages": "hi"}\n', 'line 3: "messages" must be a list of'),
        (GOOD + b'{"id": "c", "messages": []}\n', 'line 3: "messages" must be a list of'),
        (GOOD + b'{"id": "c", "messages": [1]}\n', 'line 3: "messages" must be a list of'),
        (GOOD + b'{"id": [1], "prompt": "x"}\n', 'line 3: "id" must be a string or an integer'),
        (GOOD + b'{"id": true, "prompt": "x"}\n', 'line 3: "id" must be a string or an integer'),
        (GOOD + _prompt("a", "Oslo"), 'line 3: id "a" is also the id of line 1'),
        # A line without "id" takes its line number: a later explicit 1 would never run.
        (b'{"prompt": "A lookup for Oslo."}\n' + _prompt(1, "Lima"), "line 2: id 1 is also"),
        (_prompt(2, "Lima") + b'{"prompt": "A lookup for Oslo."}\n', "line 2: id 2 is also"),
        (b"\xef\xbb\xbf\xef\xbb\xbf" + GOOD, "line 1: not JSON"),  # one BOM is accepted
    ],
    ids=[
        "not-json",
        "unterminated",
        "array",
        "string",
        "not-utf8",
        "nan",
        "deep",
        "no-prompt",
        "prompt-number",
        "messages-string",
        "messages-empty",
        "messages-item",
        "id-list",
        "id-bool",
        "duplicate",
        "derived-then-explicit",
        "explicit-then-derived",
        "two-boms",
    ],
)
def test_an_unusable_input_line_is_one_line_and_exit_2_before_any_work(
    home: Path, content: bytes, said: str
) -> None:
    (home / "in.jsonl").write_bytes(content)
    result = _run(home, "in.jsonl", "-o", "out.jsonl")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: in.jsonl {said}"), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert _calls(home) == []
    assert not (home / "out.jsonl").exists()


def test_a_duplicate_id_message_says_where_derived_ids_come_from(home: Path) -> None:
    (home / "in.jsonl").write_bytes(b'{"prompt": "A lookup for Oslo."}\n' + _prompt(1, "Lima"))
    result = _run(home, "in.jsonl", "-o", "out.jsonl")
    assert result.stderr == (
        "error: in.jsonl line 2: id 1 is also the id of line 1 (a line without an id takes "
        "its line number); ids must be unique\n"
    )


@pytest.mark.parametrize(
    ("done", "said"),
    [
        (b'{"id": "a", "ok": true}\nnot json\n', "line 2: not JSON (Expecting value: column 1)"),
        (b'{"id": "a", "ok": true}\n["a"]\n', "line 2: not a JSON object but an array"),
        (b'{"id": "a", "ok": true}\n{"ok": true}\n', 'line 2: no "id"'),
        (b'{"id": "a", "ok": true}\n{"id": "Caf\xe9"}\n', "line 2: not UTF-8 text"),
    ],
    ids=["not-json", "array", "no-id", "not-utf8"],
)
def test_a_hand_edited_output_line_is_one_line_and_exit_2_before_any_work(
    home: Path, done: bytes, said: str
) -> None:
    (home / "in.jsonl").write_bytes(GOOD)
    (home / "out.jsonl").write_bytes(done + b'{"id": "torn", "ok": tr')
    result = _run(home, "in.jsonl", "-o", "out.jsonl")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: out.jsonl {said}"), result.stderr
    assert "an earlier run's output" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert _calls(home) == []
    assert (home / "out.jsonl").read_bytes() == done + b'{"id": "torn", "ok": tr'  # untouched


def test_a_utf8_bom_at_the_start_of_input_and_output_is_accepted(home: Path) -> None:
    (home / "in.jsonl").write_bytes(b"\xef\xbb\xbf" + GOOD)  # as Windows editors save it
    (home / "out.jsonl").write_bytes(b'\xef\xbb\xbf{"id": "a", "ok": true}\n')
    result = _run(home, "in.jsonl", "-o", "out.jsonl", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["skipped_already_done"] == 1
    assert _calls(home) == ["Lima"]


def test_a_lone_surrogate_is_written_and_the_batch_finishes(home: Path) -> None:
    # Valid JSON: \ud800 is an escape JSON allows, but no UTF-8 encoder takes the character.
    (home / "in.jsonl").write_text(
        '{"id": "s\\ud800", "prompt": "A lookup for Paris."}\n'
        '{"id": 1, "prompt": "A lookup for Par\\ud800is."}\n'
        '{"id": 2, "messages": [{"role": "user", "content": "A lookup for Oslo\\udfff."}]}\n',
        encoding="ascii",
    )
    result = _run(home, "in.jsonl", "-o", "out.jsonl", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["conversations"] == 3
    rows = {r["id"]: r for r in _lines(home / "out.jsonl")}
    assert set(rows) == {"s\ud800", 1, 2}
    assert rows["s\ud800"]["ok"]
    assert rows["s\ud800"]["final_text"].endswith("Paris: found")
    for failed in (rows[1], rows[2]):  # the SDK cannot send such a text: written as failed
        assert failed["error"].startswith("ModelError: The model call failed"), failed["error"]
        assert "UnicodeEncodeError" in failed["error"]
    assert rows[2]["transcript"][0]["content"] == "A lookup for Oslo\udfff."
    again = _run(home, "in.jsonl", "-o", "out.jsonl", "--json")  # resume knows the ids
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["skipped_already_done"] == 3
    assert _calls(home) == ["Paris"]


def _fifos(home: Path, city: str) -> None:
    (home / "gate.txt").write_text(city)
    os.mkfifo(home / "ready")
    os.mkfifo(home / "go")


@pytest.fixture
def running() -> Iterator[list[subprocess.Popen[str]]]:
    """The batches a test starts; any still running when it ends (it failed) is killed."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _start(running: list[subprocess.Popen[str]], home: Path, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        _batch(home, *args),
        cwd=home,
        env={**os.environ, "PYTHONPATH": SRC},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    running.append(proc)
    return proc


def _wait_ready(home: Path, proc: subprocess.Popen[str]) -> None:
    """Block until the gated call says it is running (or the batch ends without it)."""
    fd = os.open(home / "ready", os.O_RDONLY | os.O_NONBLOCK)
    try:
        while not os.read(fd, 16):  # no writer yet, or the writer has not written
            assert proc.poll() is None, proc.communicate()
            select.select([fd], [], [], 1.0)
    finally:
        os.close(fd)


def _release(home: Path, proc: subprocess.Popen[str]) -> None:
    if proc.poll() is not None:
        return
    with (home / "go").open("w") as f:  # the gated call is waiting on the other end
        f.write("go")


@POSIX
@LINUX
def test_a_second_batch_on_the_same_output_is_refused_in_one_line(
    home: Path, running: list[subprocess.Popen[str]]
) -> None:
    cities = ["Paris", "Lima", "Oslo", "Rome", "Cairo", "Quito"]
    (home / "in.jsonl").write_bytes(b"".join(_prompt(c, c) for c in cities))
    _fifos(home, "Lima")
    first = _start(running, home, "in.jsonl", "-o", "out.jsonl", "--concurrency", "1")
    try:
        _wait_ready(home, first)  # the first run owns out.jsonl and is mid-batch
        second = _run(home, "in.jsonl", "-o", "./out.jsonl")
        assert second.returncode == 2, second.stderr
        assert second.stderr == (
            f"error: another toolvolley batch (pid {first.pid}) is writing ./out.jsonl; "
            "wait for it to finish or write to another file\n"
        )
    finally:
        _release(home, first)
        _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert sorted(r["id"] for r in _lines(home / "out.jsonl")) == sorted(cities)
    assert sorted(_calls(home)) == sorted(cities)  # every call ran once, by the first run


@POSIX
@pytest.mark.parametrize("journal", [[], ["--no-journal"]], ids=["journal", "no-journal"])
def test_ctrl_c_mid_batch_then_resume_loses_nothing_and_doubles_nothing(
    home: Path, running: list[subprocess.Popen[str]], journal: list[str]
) -> None:
    cities = ["Paris", "Lima", "Oslo", "Rome", "Cairo", "Quito"]
    (home / "in.jsonl").write_bytes(b"".join(_prompt(c, c) for c in cities))
    _fifos(home, "Oslo")
    first = _start(running, home, "in.jsonl", "-o", "out.jsonl", "--concurrency", "1", *journal)
    _wait_ready(home, first)  # Paris and Lima are written, Oslo's call is running
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130
    assert err.splitlines()[-1] == (
        "interrupted: 2 of 6 conversations are in out.jsonl; run the same command to resume"
    )
    assert [r["id"] for r in _lines(home / "out.jsonl")] == ["Paris", "Lima"]
    (home / "go").unlink()
    (home / "ready").unlink()
    again = _run(home, "in.jsonl", "-o", "out.jsonl", "--json", *journal)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["skipped_already_done"] == 2
    lines = _lines(home / "out.jsonl")
    assert sorted(r["id"] for r in lines) == sorted(cities)
    oslo = [c["status"] for r in lines if r["id"] == "Oslo" for c in r["tool_calls"]]
    if journal:
        # Oslo's call was cut by Ctrl-C before its conversation was written, so it ran again.
        assert sorted(_calls(home)) == sorted([*cities, "Oslo"])
        assert oslo == ["ok"]
    else:
        # The journal knew Oslo's call had started: the resumed conversation is told its
        # outcome is unknown, and the call is not run again.
        assert sorted(_calls(home)) == sorted(cities)
        assert oslo == ["in_doubt"]


def test_mcp_adds_its_tools_to_the_default_weather_tool(home: Path) -> None:
    (home / "in.jsonl").write_text(
        json.dumps({"id": 1, "prompt": "What's the weather in Paris?"})
        + "\n"
        + json.dumps({"id": 2, "prompt": "The forecast for Smallville."})
        + "\n"
    )
    server = Path(__file__).parent / "mcp_servers" / "counting.py"  # has a forecast tool
    mcp = ["--mcp", f"{sys.executable} {server}"]
    result = _run(home, "in.jsonl", "-o", "out.jsonl", *mcp, tools=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "toolvolley batch · tools: the demo's get_weather (a local Open-Meteo-style service "
        f"on loopback) and MCP {sys.executable} {server}"
    )
    rows = sorted(_lines(home / "out.jsonl"), key=lambda r: r["id"])
    assert [[c["name"] for c in r["tool_calls"]] for r in rows] == [["get_weather"], ["forecast"]]
    assert all(c["status"] == "ok" for r in rows for c in r["tool_calls"])


def test_a_resumed_batch_with_nothing_left_says_so(home: Path) -> None:
    (home / "in.jsonl").write_bytes(GOOD)
    assert _run(home, "in.jsonl", "-o", "out.jsonl").returncode == 0
    again = _run(home, "in.jsonl", "-o", "out.jsonl")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[1:] == [
        "nothing left to run: 2 of 2 conversations already in out.jsonl"
    ]
    assert sorted(_calls(home)) == ["Lima", "Paris"]


def test_an_empty_input_has_nothing_to_run(home: Path) -> None:
    (home / "in.jsonl").write_bytes(b"\n  \n")
    result = _run(home, "in.jsonl", "-o", "out.jsonl")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["nothing to run: in.jsonl has no conversations"]


def _unwritable(home: Path) -> str:
    (home / "out.jsonl").mkdir()
    return "error: -o out.jsonl is a directory, not a file\n"


def _same(home: Path) -> str:
    os.link(home / "in.jsonl", home / "same.jsonl")
    return "error: -o same.jsonl is the input file in.jsonl; write the output to another file\n"


@pytest.mark.parametrize(
    ("args", "setup", "said"),
    [
        (["dir", "-o", "out.jsonl"], lambda h: (h / "dir").mkdir(), "error: dir is a directory"),
        (["none.jsonl", "-o", "out.jsonl"], None, "error: cannot read none.jsonl: No such file"),
        (
            ["in.jsonl", "-o", "nodir/out.jsonl"],
            None,
            "error: -o nodir/out.jsonl: the directory 'nodir' does not exist.\n",
        ),
        (["in.jsonl", "-o", "out.jsonl"], _unwritable, "error: -o out.jsonl is a directory"),
        (["in.jsonl", "-o", "same.jsonl"], _same, "error: -o same.jsonl is the input file"),
        (["in.jsonl", "-o", "in.jsonl"], None, "error: -o in.jsonl is the input file"),
        (["in.jsonl", "-o", "o.json", "--trace", "o.json"], None, "error: --trace o.json would"),
        (
            ["in.json", "-o", "o", "--trace", "in.json"],
            lambda h: (h / "in.json").write_bytes(GOOD),
            "error: --trace in.json would",
        ),
        (["in.jsonl", "-o", "o", "--trace", "t.png"], None, "error: --trace t.png: the file must"),
        pytest.param(
            ["in.jsonl", "-o", "fifo"],
            lambda h: os.mkfifo(h / "fifo"),
            "error: -o fifo is not a regular file",
            marks=POSIX,
        ),
        pytest.param(
            ["fifo", "-o", "out.jsonl"],
            lambda h: os.mkfifo(h / "fifo"),
            "error: fifo is not a regular file: the input is read twice",
            marks=POSIX,
        ),
    ],
)
def test_unusable_files_are_one_line_and_exit_2(
    home: Path, args: list[str], setup: Any, said: str
) -> None:
    (home / "in.jsonl").write_bytes(GOOD)
    if setup is not None:
        setup(home)
    result = _run(home, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(said), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert (home / "in.jsonl").read_bytes() == GOOD
    assert _calls(home) == []


def test_a_last_output_line_without_its_newline_is_kept_when_whole(home: Path) -> None:
    (home / "in.jsonl").write_bytes(GOOD)
    (home / "out.jsonl").write_bytes(b'{"id": "a", "ok": true}')  # saved by an editor, say
    result = _run(home, "in.jsonl", "-o", "out.jsonl", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["skipped_already_done"] == 1
    assert [r["id"] for r in _lines(home / "out.jsonl")] == ["a", "b"]
    assert _calls(home) == ["Lima"]


@POSIX
def test_an_input_cut_while_the_batch_runs_stops_it_in_one_line(
    home: Path, running: list[subprocess.Popen[str]]
) -> None:
    pad = " " * 100_000  # lines longer than the reader's buffer: line 2 is read from disk
    lines = [json.dumps({"id": c, "prompt": f"A lookup for {c}.{pad}"}) + "\n" for c in "PLO"]
    (home / "in.jsonl").write_text("".join(lines))
    _fifos(home, "P")
    first = _start(running, home, "in.jsonl", "-o", "out.jsonl", "--concurrency", "1")
    try:
        _wait_ready(home, first)
        (home / "in.jsonl").write_text(lines[0])
    finally:
        _release(home, first)
        _, err = first.communicate(timeout=60)
    assert first.returncode == 2, err
    # Line 2 gone, or cut: the reader may hold its start from before.
    assert err.splitlines()[-1].startswith("error: in.jsonl changed while the batch ran")
    assert [r["id"] for r in _lines(home / "out.jsonl")] == ["P"]


@POSIX
def test_an_output_that_cannot_be_written_stops_the_batch_in_one_line(home: Path) -> None:
    """A full disk, here a file size limit: every line before is whole, and a rerun resumes."""
    cities = ["Paris", "Lima", "Oslo", "Rome"]
    (home / "in.jsonl").write_bytes(b"".join(_prompt(c, c) for c in cities))
    limited = (
        "import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (2500, 2500)); "
        "sys.argv[0] = 'toolvolley'; runpy.run_module('toolvolley', run_name='__main__')"
    )
    # No journal: the limit is for the output (a journal would reach it first).
    args = ["batch", "in.jsonl", "-o", "out.jsonl", "--concurrency", "1", "--no-journal"]
    args += ["--tools"]
    result = subprocess.run(
        [sys.executable, "-c", limited, *args, "counted:tools", *FAST],
        cwd=home,
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    *progress, said = result.stderr.splitlines()  # progress lines: stderr is no terminal
    assert said.startswith("error: cannot write out.jsonl: only "), said
    assert said.endswith(" bytes of a line were written (is the disk full?)"), said
    assert all(line.startswith("batch: ") for line in progress)
    written = (home / "out.jsonl").read_bytes()
    whole = written[: written.rfind(b"\n") + 1]
    assert 1 <= whole.count(b"\n") < len(cities)
    again = _run(home, "in.jsonl", "-o", "out.jsonl", "--json")
    assert again.returncode == 0, again.stderr
    assert sorted(r["id"] for r in _lines(home / "out.jsonl")) == sorted(cities)
