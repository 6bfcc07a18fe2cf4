"""Conformance on a corpus written outside this project: BFCL's 400 parallel cases.

Every case's tools are built with ``Tool.from_schema``, its ground-truth calls are sent under their
wire names as raw JSON, and each must come back ``ok`` with exactly the ground-truth arguments.
Then one argument of one call is given a wrong type: that call alone is ``invalid_arguments``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bfcl import BFCL_DIR, Case, load_cases
from toolvolley import Executor, Tool, Toolbox, ToolCall

CASES = load_cases()

# Ground truths that break their own case's schema. Sending them must fail that call alone.
SCHEMA_DEFECTS: dict[str, tuple[int, str]] = {
    "parallel_multiple_21": (1, "x: Input should be a valid array"),  # "data['sales']", a string
    "parallel_multiple_26": (1, "type: unexpected argument"),  # not a parameter of that function
    "parallel_multiple_94": (0, "elements[0]: Input should be a valid integer"),  # strings
}

pytestmark = pytest.mark.skipif(
    not CASES, reason=f"BFCL corpus not found at {BFCL_DIR} (set TOOLVOLLEY_BFCL_DIR)"
)


def _record(**kwargs: Any) -> dict[str, Any]:
    return kwargs


def _toolbox(case: Case) -> Toolbox:
    return Toolbox(
        Tool.from_schema(
            f["name"], f.get("description", ""), f["parameters"], _record, dialect="bfcl"
        )
        for f in case.functions
    )


def _corrupt(tool: Tool, args: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """Give one argument a value of the wrong type; None if no argument has a checkable type."""
    properties = tool.parameters.get("properties", {})
    for param in args:
        kind = properties.get(param, {}).get("type")
        if kind is None:
            continue  # BFCL's `any`: nothing is wrong for it
        wrong: Any = "not an object" if kind == "object" else {"wrong": "type"}
        return param, {**args, param: wrong}
    return None


def test_known_defects_are_in_the_corpus() -> None:
    assert set(SCHEMA_DEFECTS) <= {c.id for c in CASES}


def test_corpus_is_complete() -> None:
    assert len(CASES) == 400
    assert sum(len(c.calls) for c in CASES) > 1000


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_ground_truth_calls_run_with_exact_arguments(case: Case) -> None:
    toolbox = _toolbox(case)
    calls = [
        ToolCall(f"call_{i}", toolbox.wire_name(name), json.dumps(args))
        for i, (name, args) in enumerate(case.calls)
    ]
    results = Executor(toolbox).run_sync(calls)

    assert [r.call_id for r in results] == [c.id for c in calls]
    defect_index, defect = SCHEMA_DEFECTS.get(case.id, (-1, ""))
    for index, (result, (name, args)) in enumerate(zip(results, case.calls, strict=True)):
        if index == defect_index:
            assert result.status == "invalid_arguments"
            assert defect in result.content
            continue
        assert result.status == "ok", result.content
        assert toolbox.get(result.name) is toolbox.get(name)
        assert result.value == args
        assert json.loads(result.content) == args


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_corrupted_argument_fails_that_call_alone(case: Case) -> None:
    toolbox = _toolbox(case)
    target = None
    if case.id in SCHEMA_DEFECTS:
        pytest.skip("this case's ground truth already breaks its schema")
    for index, (name, args) in enumerate(case.calls):
        tool = toolbox.get(name)
        assert tool is not None
        corrupted = _corrupt(tool, args)
        if corrupted is not None:
            target = (index, *corrupted)
            break
    if target is None:
        pytest.skip("no argument in this case has a type that can be violated")
    index, param, bad_args = target
    calls = [
        ToolCall(f"call_{i}", toolbox.wire_name(name), bad_args if i == index else args)
        for i, (name, args) in enumerate(case.calls)
    ]
    results = Executor(toolbox).run_sync(calls)

    statuses = ["invalid_arguments" if i == index else "ok" for i in range(len(calls))]
    assert [r.status for r in results] == statuses
    assert f"{param}:" in results[index].content
