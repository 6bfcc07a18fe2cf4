"""Journal benchmark: what recording a batch of calls costs (``toolvolley.stores``).

The seed exercise (the three-city weather demo, end to end, ``--seed-scale`` scales its
times) and scenario D of ``benchmarks/executor.py`` (``--noops`` async no-op calls in one
batch) with the journal off and on (SQLite; PostgreSQL too with ``--postgres CONNINFO``), and
small batches (``--small`` calls), where the per-batch cost shows; see
``toolvolley.bench._journal``.
``toolvolley bench --journal`` runs it too. Prints one JSON report (medians of ``--repeat``
rounds)::

    python benchmarks/journal.py --json
    python benchmarks/journal.py --json --postgres "host=/tmp/pg port=5432 dbname=bench"
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from toolvolley.bench import run_journal_benchmark


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the default)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per figure (median)")
    parser.add_argument("--noops", type=int, default=1000, help="calls in the large batch")
    parser.add_argument("--small", type=int, default=4, help="calls in a small batch")
    parser.add_argument("--postgres", help="a PostgreSQL conninfo: measure PostgresJournal too")
    parser.add_argument(
        "--seed-scale", type=float, default=1.0, help="the seed exercise's times, scaled"
    )
    args = parser.parse_args(argv)
    report = run_journal_benchmark(
        repeat=args.repeat,
        noops=args.noops,
        small=args.small,
        postgres=args.postgres,
        seed_scale=args.seed_scale,
    )
    report["command"] = "python benchmarks/journal.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
