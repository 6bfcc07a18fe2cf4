"""``toolvolley batch`` keeps a journal beside its output by default: killed with SIGKILL at
several moments and resumed each time, every id is in the output once, a tool that is not
idempotent ran at most once per call (its executions are counted in a file), and every call
has one answer (``ok``, or ``in_doubt`` for one the kill interrupted): killed when the output has
reached given lengths, and at random moments (seeded), with the journal in SQLite and in a real
PostgreSQL server (``--journal postgresql://...``)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from postgres_support import fresh_database, postgres_server  # noqa: F401 - a fixture

SRC = str(Path(__file__).parents[1] / "src")
N = 40

TOOLS = f'''
import os, time
from typing import Literal
from toolvolley import tool

Ref = Literal[{", ".join(repr(f"r{i}") for i in range(N))}]


@tool
def book(ref: Ref) -> str:
    """Book the reservation ref (not idempotent: each run books again)."""
    with open(os.environ["EFFECTS"], "a") as f:
        f.write(ref + "\\n")
        f.flush()
        os.fsync(f.fileno())
    time.sleep(0.02 * (1 + int(ref[1:]) % 5))  # done; the answer takes a moment, not in step
    return "booked " + ref


TOOLS = [book]
'''


def _cli(out: Path, *more: str) -> list[str]:
    fast = ["--token-rate", "5000", "--first-token", "0.01"]
    return [sys.executable, "-m", "toolvolley", "batch", "in.jsonl", "-o", str(out), *fast, *more]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{SRC}:{tmp_path}", "EFFECTS": str(tmp_path / "fx")}


def _prepare(tmp_path: Path) -> Path:
    """The tools module and N conversations in ``tmp_path``; the output's path."""
    (tmp_path / "booking.py").write_text(TOOLS)
    with (tmp_path / "in.jsonl").open("w") as f:
        for i in range(N):
            f.write(json.dumps({"id": i, "prompt": f"Please book r{i}."}) + "\n")
    return tmp_path / "out.jsonl"


def _start(tmp_path: Path, out: Path, tools: list[str]) -> subprocess.Popen[bytes]:
    """``toolvolley batch`` started in ``tmp_path``, to be killed."""
    return subprocess.Popen(
        _cli(out, *tools),
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def test_killed_again_and_again_no_booking_runs_twice_and_every_call_is_answered(
    tmp_path: Path,
) -> None:
    out = _prepare(tmp_path)
    tools = ["--tools", "booking:TOOLS", "--concurrency", "4"]
    for kill_at in (3, 12, 25):  # lines in the output when the run is killed
        proc = _start(tmp_path, out, tools)
        try:
            deadline = time.monotonic() + 60
            while len(_lines(out)) < kill_at:
                assert proc.poll() is None, "the batch ended before it could be killed"
                assert time.monotonic() < deadline
                time.sleep(0.01)  # a subprocess's file growing: there is no event to wait on
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
    _resume_and_check(tmp_path, out, tools)
    assert (tmp_path / "out.jsonl.journal.sqlite").exists()


@pytest.mark.parametrize("journal", ["sqlite", "postgres"])
def test_killed_at_random_moments_no_booking_runs_twice_and_every_call_is_answered(
    request: pytest.FixtureRequest, tmp_path: Path, journal: str
) -> None:
    out = _prepare(tmp_path)
    tools = ["--tools", "booking:TOOLS", "--concurrency", "4"]
    if journal == "postgres":
        tools += ["--journal", _url(fresh_database(request.getfixturevalue("postgres_server")))]
    rng = random.Random(f"batch-{journal}")
    kills = 0
    while kills < 3 and len(_lines(out)) < N - 4:  # killed three times, unless it ends first
        proc = _start(tmp_path, out, tools)
        try:
            # A random moment: some more lines written (maybe none), then a random delay.
            wait_for = len(_lines(out)) + rng.randrange(0, 8)
            deadline = time.monotonic() + 60
            while len(_lines(out)) < min(wait_for, N) and proc.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.01)  # a subprocess's file growing: there is no event to wait on
            time.sleep(rng.uniform(0, 0.1))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        finally:
            proc.wait()
    assert kills >= 2
    _resume_and_check(tmp_path, out, tools)
    assert (tmp_path / "out.jsonl.journal.sqlite").exists() == (journal == "sqlite")


def _url(conninfo: str) -> str:
    """``host=/run/x port=5 user=u dbname=d`` as ``postgresql://u@/d?host=/run/x&port=5``."""
    fields = dict(part.split("=", 1) for part in conninfo.split())
    return (
        f"postgresql://{fields['user']}@/{fields['dbname']}?host={fields['host']}"
        f"&port={fields['port']}"
    )


def _resume_and_check(tmp_path: Path, out: Path, tools: list[str]) -> None:
    final = subprocess.run(
        _cli(out, *tools, "--json"),
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(final.stdout)["failed"] == 0
    lines = _lines(out)
    assert sorted(r["id"] for r in lines) == list(range(N))  # each id once
    booked = Counter((tmp_path / "fx").read_text().split())
    assert max(booked.values()) == 1  # no booking ran twice
    statuses = {r["id"]: [c["status"] for c in r["tool_calls"]] for r in lines}
    assert all(s in (["ok"], ["in_doubt"]) for s in statuses.values()), statuses
    for i, s in statuses.items():  # an ok call booked; an in-doubt one may or may not have
        if s == ["ok"]:
            assert booked[f"r{i}"] == 1
