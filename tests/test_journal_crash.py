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
    tmp_path: Path, journal: str, script: list[dict[str, Any]], crash: str
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"script-{crash}.json"
    path.write_text(json.dumps(script))
    effects = tmp_path / "effects.txt"
    return subprocess.run(
        [sys.executable, str(HELPER), journal, str(effects), str(path), crash],
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


@pytest.mark.parametrize("crash", ["after-response", "mid-write"])
def test_killed_before_any_start_is_committed_the_calls_run_once(
    tmp_path: Path, journal: str, crash: str
) -> None:
    """Killed after the response's commit, or in the middle of the transaction of the starts:
    the response is replayed, and no call had started, so each runs, once."""
    crashed = run(tmp_path, journal, [TURN_0, TURN_1, {"text": "done"}], crash)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert effects(tmp_path) == ["send a"]
    resumed = run(tmp_path, journal, [{"text": "finished"}], "none")
    assert resumed.returncode == 0, resumed.stderr
    outcome = json.loads(resumed.stdout)
    assert effects(tmp_path) == ["mark m", "send a", "send b"]
    statuses = [[status for status, _ in turn] for turn in outcome["turns"]]
    assert statuses == [["ok"], ["ok", "ok"], []]
    assert outcome["final"] == "finished"


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
