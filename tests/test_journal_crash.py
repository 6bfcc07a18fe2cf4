"""Crashes for real: a conversation journaled in SQLite or PostgreSQL is killed with SIGKILL
(a separate process, its tools' side effects counted in a file outside it), then resumed: no
call to a tool that is not idempotent runs twice, every call is answered once (``ok`` or
``in_doubt``), recorded calls are not run again and idempotent unfinished ones are."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from postgres_support import fresh_database, postgres_server  # noqa: F401 - a fixture

HELPER = Path(__file__).with_name("journal_crash.py")

TURN_0 = {"tool_calls": [{"name": "send", "arguments": {"to": "a"}}]}
TURN_1 = {
    "tool_calls": [
        {"name": "send", "arguments": {"to": "b"}},
        {"name": "mark", "arguments": {"key": "m"}},
    ]
}


@pytest.fixture(params=["sqlite", "postgres"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the killed process and the resumed one keep their journal."""
    if request.param == "sqlite":
        return str(tmp_path / "journal.sqlite")
    return fresh_database(request.getfixturevalue("postgres_server"))


def run(
    tmp_path: Path,
    journal: str,
    script: list[dict[str, Any]],
    crash: str,
    provider: str = "openai-chat",
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"script-{crash}.json"
    path.write_text(json.dumps(script))
    effects = tmp_path / "effects.txt"
    return subprocess.run(
        [sys.executable, str(HELPER), journal, str(effects), str(path), crash, provider],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def effects(tmp_path: Path) -> list[str]:
    return sorted((tmp_path / "effects.txt").read_text().splitlines())


def test_killed_after_a_side_effect_the_call_is_in_doubt_and_never_run_again(
    tmp_path: Path, journal: str
) -> None:
    crashed = run(tmp_path, journal, [TURN_0, TURN_1, {"text": "done"}], "after-effect")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert effects(tmp_path) == ["mark m", "send a", "send b"]
    # Resumed: the model is asked only for the turn after the recorded ones (the script holds
    # only it: a request for turn 0 or 1 would get "done" and no calls).
    resumed = run(tmp_path, journal, [{"text": "checked"}], "none")
    assert resumed.returncode == 0, resumed.stderr
    outcome = json.loads(resumed.stdout)
    # send a: recorded, replayed; send b: in doubt, not run again; mark: idempotent, run again.
    assert effects(tmp_path) == ["mark m", "mark m", "send a", "send b"]
    statuses = [[status for status, _ in turn] for turn in outcome["turns"]]
    assert statuses == [["ok"], ["in_doubt", "ok"], []]
    assert "may or may not have taken effect" in outcome["turns"][1][0][1]
    assert outcome["final"] == "checked"


def test_killed_in_the_write_of_the_first_starts_the_model_is_asked_again(
    tmp_path: Path, journal: str
) -> None:
    """Killed in the middle of the transaction of turn 1's first starts (which holds its calls):
    nothing of turn 1 was recorded and nothing of it ran, so the model is asked again, and the
    calls it asks for run once."""
    crashed = run(tmp_path, journal, [TURN_0, TURN_1, {"text": "done"}], "mid-write")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert effects(tmp_path) == ["send a"]
    resumed = run(tmp_path, journal, [TURN_1, {"text": "finished"}], "none")
    assert resumed.returncode == 0, resumed.stderr
    outcome = json.loads(resumed.stdout)
    assert effects(tmp_path) == ["mark m", "send a", "send b"]
    statuses = [[status for status, _ in turn] for turn in outcome["turns"]]
    assert statuses == [["ok"], ["ok", "ok"], []]
    assert outcome["final"] == "finished"


@pytest.mark.parametrize("provider", ["openai-chat", "anthropic", "gemini"])
def test_killed_after_a_call_is_dispatched_mid_stream_the_cut_turn_is_answered(
    tmp_path: Path, journal: str, provider: str
) -> None:
    """Killed once turn 1's first calls are recorded and started, before any body ran and
    before the response is recorded: the resumed conversation holds an assistant turn with
    exactly the recorded calls, each answered once (``send``, started without a result: in
    doubt, never run again; ``mark``, idempotent: run), and goes on with the next model turn."""
    crashed = run(tmp_path, journal, [TURN_0, TURN_1, {"text": "done"}], "after-call", provider)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert effects(tmp_path) == ["send a"]
    resumed = run(tmp_path, journal, [{"text": "finished"}], "none", provider)
    assert resumed.returncode == 0, resumed.stderr
    outcome = json.loads(resumed.stdout)
    statuses = [[status for status, _ in turn] for turn in outcome["turns"]]
    assert statuses[0] == ["ok"]
    assert statuses[1] in (["in_doubt"], ["in_doubt", "ok"])  # the calls the write held
    assert statuses[2:] == [[]]
    assert effects(tmp_path) == ["mark m", "send a"][2 - len(statuses[1]) :]
    assert outcome["final"] == "finished"
    asked, answered = calls_and_answers(outcome["transcript"], provider)
    assert sorted(asked) == sorted(answered)  # every call of the transcript: one answer
    assert len(asked) == len(set(asked)) == 1 + len(statuses[1])


def test_killed_after_the_whole_response_is_recorded_nothing_runs_twice(
    tmp_path: Path, journal: str
) -> None:
    """Killed once turn 1's whole response is recorded: its calls were dispatched as the
    stream finished them (they may have run or not, their results recorded or not). Resumed,
    ``send`` ran at most once, ``mark`` at least once, every call has one answer."""
    crashed = run(tmp_path, journal, [TURN_0, TURN_1, {"text": "done"}], "after-response")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    resumed = run(tmp_path, journal, [{"text": "finished"}], "none")
    assert resumed.returncode == 0, resumed.stderr
    outcome = json.loads(resumed.stdout)
    done = effects(tmp_path)
    assert done.count("send a") == 1
    assert done.count("send b") <= 1
    assert done.count("mark m") >= 1
    statuses = [[status for status, _ in turn] for turn in outcome["turns"]]
    assert statuses[0] == ["ok"]
    assert statuses[2] == []
    assert statuses[1][0] in ("ok", "in_doubt")
    assert statuses[1][1] == "ok"
    asked, answered = calls_and_answers(outcome["transcript"], "openai-chat")
    assert sorted(asked) == sorted(answered)
    assert outcome["final"] == "finished"


def calls_and_answers(transcript: list[dict[str, Any]], provider: str) -> tuple[list[str], ...]:
    """The ids of the calls in ``transcript``, and of the results that answer them."""
    asked: list[str] = []
    answered: list[str] = []
    for i, message in enumerate(transcript):
        if provider == "gemini":  # ids may be absent: a call is its turn, place and name
            parts = message["parts"]
            calls = [p["functionCall"]["name"] for p in parts if "functionCall" in p]
            asked += [f"{i}:{k}:{name}" for k, name in enumerate(calls)]
            names = [p["functionResponse"]["name"] for p in parts if "functionResponse" in p]
            answered += [f"{i - 1}:{k}:{name}" for k, name in enumerate(names)]
        elif provider == "anthropic":
            content = message["content"]
            blocks = content if isinstance(content, list) else []
            asked += [b["id"] for b in blocks if b["type"] == "tool_use"]
            answered += [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]
        elif message["role"] == "assistant":
            asked += [c["id"] for c in message.get("tool_calls") or []]
        elif message["role"] == "tool":
            answered.append(message["tool_call_id"])
    return asked, answered


def test_killed_after_the_results_are_recorded_nothing_runs_again(
    tmp_path: Path, journal: str
) -> None:
    crashed = run(tmp_path, journal, [TURN_0, TURN_1, {"text": "done"}], "after-results")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert effects(tmp_path) == ["mark m", "send a", "send b"]
    resumed = run(tmp_path, journal, [{"text": "finished"}], "none")
    assert resumed.returncode == 0, resumed.stderr
    outcome = json.loads(resumed.stdout)
    assert effects(tmp_path) == ["mark m", "send a", "send b"]  # nothing ran again
    statuses = [[status for status, _ in turn] for turn in outcome["turns"]]
    assert statuses == [["ok"], ["ok", "ok"], []]
    assert outcome["final"] == "finished"
