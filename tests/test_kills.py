"""Crashes for real, at every boundary: conversations journaled in SQLite and in a real
PostgreSQL server are killed with SIGKILL (``kill_harness.py``: after a model response is
committed, after a tool's side effect, after a result is committed, during a model turn, in the
middle of a journal write, and at random moments) and resumed until done. Side effects are counted
outside the process (a file; a table). A bounded number here; ``python tests/kill_harness.py
--kills 300`` runs hundreds."""

from __future__ import annotations

from pathlib import Path

import pytest

import kill_harness
from postgres_support import fresh_database, postgres_server  # noqa: F401 - a fixture

# Each kind of boundary once (a tool of each kind; one write's middle): the script's
# ``--kills 300`` goes through all of them, again and again.
BOUNDARIES = [
    b
    for b in kill_harness.BOUNDARIES
    if not b.startswith(("effect:", "mid-write:"))
    or b in ("effect:send:b", "effect:mark:m1", "effect:pay:p0", "mid-write:2")
]


def test_every_boundary_is_killed_on_sqlite(tmp_path: Path) -> None:
    # One conversation per boundary, killed there once, then resumed.
    summary = kill_harness.Summary("sqlite")
    journal = str(tmp_path / "journal.sqlite")
    for i, boundary in enumerate(BOUNDARIES):
        kill_harness.conversation_run(summary, journal, tmp_path, f"b{i}", [boundary])
    assert summary.violations == []
    assert summary.kills == summary.runs - summary.conversations  # each boundary was reached
    assert summary.in_doubt > 0  # a send killed after its effect
    assert summary.reruns > 0  # a mark killed after its effect ran again


@pytest.mark.parametrize("journal", ["sqlite", "postgres"])
def test_random_kills_never_run_a_call_twice(
    request: pytest.FixtureRequest, tmp_path: Path, journal: str
) -> None:
    if journal == "sqlite":
        where, effects = str(tmp_path / "journal.sqlite"), tmp_path
    else:
        where, effects = fresh_database(request.getfixturevalue("postgres_server")), None
    summary = kill_harness.run(where, kills=8, seed=25, effects_dir=effects)
    assert summary.violations == []
    assert summary.kills >= 5
