"""Crash harness: hundreds of SIGKILLs at every boundary of a journaled conversation, each
followed by resumes until it is done, then checked (``tests/kill_harness.py`` says how). Prints
a JSON summary: kills (per boundary), calls answered ``in_doubt``, idempotent calls run again,
violations (must be 0; the exit status is 1 otherwise)::

    python benchmarks/kills.py --kills 300
    python benchmarks/kills.py --kills 100 --journal postgresql   # starts a server (initdb)
    python benchmarks/kills.py --kills 100 --journal "host=/tmp/pg port=5432 dbname=kills"
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import kill_harness  # in tests/, beside the test that runs a few kills


@contextlib.contextmanager
def journal_for(kind: str, tmp: Path) -> Iterator[tuple[str, Path | None]]:
    """Where to journal (and where the effects files go: None for a table)."""
    if kind == "sqlite":
        yield str(tmp / "journal.sqlite"), tmp
    elif kill_harness.is_postgres(kind):
        yield kind, None
    else:
        from postgres_support import fresh_database, running_server

        with running_server() as server:
            yield fresh_database(server), None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the default)")
    parser.add_argument("--kills", type=int, default=300, help="SIGKILLs, at least")
    parser.add_argument("--journal", default="sqlite", help="sqlite, postgresql, or a conninfo")
    parser.add_argument("--seed", type=int, default=0, help="the kills' RNG seed")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, journal_for(args.journal, Path(tmp)) as where:
        summary = kill_harness.run(where[0], args.kills, args.seed, where[1])
    print(json.dumps(summary.as_json(), indent=2))
    return 1 if summary.violations else 0


if __name__ == "__main__":
    sys.exit(main())
