"""What checking one call's arguments costs, for a typical MCP tool's JSON Schema.

The schema is the MCP filesystem server's ``edit_file`` as zod emits it (draft-07, closed
objects, an array of objects); the arguments are sent as the JSON string a model produces.
Prints one JSON report, each figure the best of ``--repeat`` rounds of ``--calls`` checks::

    python benchmarks/arguments.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from toolvolley import Tool

EDIT_FILE: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "path": {"type": "string"},
        "edits": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "oldText": {"type": "string", "description": "Text to search for"},
                    "newText": {"type": "string", "description": "Text to replace with"},
                },
                "required": ["oldText", "newText"],
                "additionalProperties": False,
            },
        },
        "dryRun": {"type": "boolean", "default": False, "description": "Preview changes"},
    },
    "required": ["path", "edits"],
    "additionalProperties": False,
}
VALID = json.dumps(
    {
        "path": "/tmp/notes.txt",
        "edits": [{"oldText": "foo", "newText": "bar"}, {"oldText": "x", "newText": "y"}],
        "dryRun": True,
    }
)
INVALID = json.dumps({"path": "/tmp/notes.txt", "edits": [{"oldText": "foo"}], "dryRun": "yes"})


def _best_us(check: Callable[[], object], calls: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            check()
        best = min(best, (time.perf_counter() - start) / calls)
    return round(best * 1e6, 2)


def _rejected(tool: Tool) -> None:
    try:
        tool.arguments.validate(INVALID)
    except Exception:
        return
    raise AssertionError("the invalid arguments were accepted")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the default)")
    parser.add_argument("--calls", type=int, default=20_000, help="checks per round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (the best is kept)")
    args = parser.parse_args(argv)
    tool = Tool.from_schema("edit_file", "Edit a file.", EDIT_FILE, lambda **kw: kw)
    return {
        "schema": "MCP filesystem edit_file (draft-07)",
        "us_per_call": {
            "json_loads_only": _best_us(lambda: json.loads(VALID), args.calls, args.repeat),
            "valid": _best_us(lambda: tool.arguments.validate(VALID), args.calls, args.repeat),
            "invalid": _best_us(lambda: _rejected(tool), args.calls // 10, args.repeat),
        },
        "command": "python benchmarks/arguments.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
