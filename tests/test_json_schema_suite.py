"""The official JSON Schema Test Suite (draft 2020-12), each case run as a tool call.

The cases are vendored under tests/data/json_schema_test_suite/ (see its README). Each case's
schema becomes a tool's parameters through ``Tool.from_schema`` where its data is an object (and
the schema may describe the arguments object); otherwise the schema is wrapped as the one
required property ``value`` (given an ``$id`` of its own, so its ``#`` pointers still point into
it). All the cases of one schema go through one ``Executor`` run, as one batch of calls; a case
agrees when a valid one comes back ``ok`` and an invalid one ``invalid_arguments``.

Run it alone to see the figure::

    .venv/bin/pytest tests/test_json_schema_suite.py -q -s
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from toolvolley import Executor, SchemaError, Tool, Toolbox, ToolCall

SUITE = Path(__file__).parent / "data" / "json_schema_test_suite" / "draft2020-12"
WRAPPED_ID = "urn:toolvolley:case"

# Left out, with why. Every other case of the suite must agree.
NOT_APPLICABLE: dict[str, str] = {
    # Remote references: schemas are never fetched (such a tool is refused with SchemaError).
    "refRemote.json": "every case refers to http://localhost:1234/... (a remote document)",
    "dynamicRef.json/strict-tree schema, guards against misspelled properties": "remote tree.json",
    "dynamicRef.json/tests for implementation dynamic anchor and reference link": (
        "remote extendible-dynamic-ref.json"
    ),
    "dynamicRef.json/$ref and $dynamicAnchor are independent of order - $defs first": (
        "remote extendible-dynamic-ref.json"
    ),
    "dynamicRef.json/$ref and $dynamicAnchor are independent of order - $ref first": (
        "remote extendible-dynamic-ref.json"
    ),
    "dynamicRef.json/$ref to $dynamicRef finds detached $dynamicAnchor": (
        "remote detached-dynamicref.json"
    ),
    "vocabulary.json/schema that uses custom metaschema with with no validation vocabulary": (
        "its $schema is a remote metaschema"
    ),
}
TARGET = 0.99


def _groups() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{path.name}/{group['description']}", group)
        for path in sorted(SUITE.glob("*.json"))
        for group in json.loads(path.read_text(encoding="utf-8"))
    ]


def _left_out(key: str) -> str | None:
    return NOT_APPLICABLE.get(key) or NOT_APPLICABLE.get(key.split("/", 1)[0])


def _as_parameters(schema: Any, data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tool's parameters and the call's arguments for one case."""
    if (
        isinstance(schema, dict)
        and isinstance(data, dict)
        and schema.get("type", "object") == "object"
    ):
        return schema, data
    inner = schema
    if isinstance(schema, dict) and "$id" not in schema:
        inner = {"$id": WRAPPED_ID, **schema}
    wrapped = {"type": "object", "properties": {"value": inner}, "required": ["value"]}
    return wrapped, {"value": data}


def _run_group(group: dict[str, Any]) -> list[bool]:
    """Whether each case of ``group`` agrees with the suite."""
    tools: dict[str, Tool] = {}
    calls: list[ToolCall] = []
    for index, case in enumerate(group["tests"]):
        parameters, arguments = _as_parameters(group["schema"], case["data"])
        name = "direct" if arguments is case["data"] else "wrapped"
        if name not in tools:
            try:
                tools[name] = Tool.from_schema(name, "", parameters, lambda **kw: "ran")
            except SchemaError:
                return [False] * len(group["tests"])
        calls.append(ToolCall(f"c{index}", name, json.dumps(arguments)))
    results = Executor(Toolbox(tools.values())).run_sync(calls)
    statuses = {"ok": True, "invalid_arguments": False}
    return [
        statuses.get(result.status) is case["valid"]
        for result, case in zip(results, group["tests"], strict=True)
    ]


def test_the_vendored_suite_is_there() -> None:
    assert len(list(SUITE.glob("*.json"))) >= 40
    assert (SUITE.parent / "LICENSE").is_file()
    keys = {key for key, _ in _groups()} | {p.name for p in SUITE.glob("*.json")}
    assert set(NOT_APPLICABLE) <= keys, "a left-out case is no longer in the suite"


def test_the_official_suite_agrees() -> None:
    agreed: Counter[str] = Counter()
    applicable: Counter[str] = Counter()
    left_out = 0
    for key, group in _groups():
        if _left_out(key):
            left_out += len(group["tests"])
            continue
        outcomes = _run_group(group)
        file = key.split("/", 1)[0]
        applicable[file] += len(outcomes)
        agreed[file] += sum(outcomes)
    total, good = sum(applicable.values()), sum(agreed.values())
    worst = {f: applicable[f] - agreed[f] for f in applicable if agreed[f] < applicable[f]}
    print(
        f"\nJSON-Schema-Test-Suite draft 2020-12: {good} of {total} applicable cases agree "
        f"({good / total:.1%}); {left_out} left out (remote references); by file: {worst}"
    )
    assert good / total >= TARGET, worst


@pytest.mark.parametrize(
    "key", [k for k, _ in _groups() if _left_out(k) and k.startswith("refRemote.json/")][:3]
)
def test_remote_references_are_refused_not_fetched(key: str) -> None:
    group = dict(_groups())[key]
    parameters, _ = _as_parameters(group["schema"], group["tests"][0]["data"])
    with pytest.raises(SchemaError, match="outside itself"):
        Tool.from_schema("remote", "", parameters, lambda **kw: kw)
