"""Loads the Berkeley Function Calling Leaderboard parallel cases (see ../shared/data/bfcl)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "bfcl"
BFCL_DIR = Path(os.environ.get("TOOLVOLLEY_BFCL_DIR", _DEFAULT))
FILES = ("BFCL_v4_parallel.json", "BFCL_v4_parallel_multiple.json")


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    functions: list[dict[str, Any]]
    calls: list[tuple[str, dict[str, Any]]]  # function name, arguments (first accepted values)


def _first_accepted(accepted: dict[str, list[Any]]) -> dict[str, Any]:
    """The first accepted value of each parameter; an empty string means "may be omitted".

    A dict-valued parameter lists its accepted dicts, and their keys list accepted values again.
    """
    args: dict[str, Any] = {}
    for param, values in accepted.items():
        first = values[0]
        if first == "":
            continue
        args[param] = _first_accepted(first) if isinstance(first, dict) else first
    return args


def load_cases() -> list[Case]:
    if not BFCL_DIR.is_dir():
        return []
    cases: list[Case] = []
    for name in FILES:
        answers = {}
        with (BFCL_DIR / "possible_answer" / name).open() as lines:
            for line in lines:
                answer = json.loads(line)
                answers[answer["id"]] = answer["ground_truth"]
        with (BFCL_DIR / name).open() as lines:
            for line in lines:
                case = json.loads(line)
                calls = [
                    (fn, _first_accepted(accepted))
                    for entry in answers[case["id"]]
                    for fn, accepted in entry.items()
                ]
                question = case["question"][0][-1]["content"]
                cases.append(Case(case["id"], question, case["function"], calls))
    return cases
