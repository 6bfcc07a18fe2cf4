"""Tools defined by a JSON Schema get exactly what their schema allows (issue 23).

The check is a real JSON Schema validator's (tests/test_json_schema_suite.py holds it to the
official test suite); these tests pin what it means for tools: open objects take extra
arguments, ``const`` and ``not`` hold, a schema that cannot be used makes only its tool unusable,
repairs happen only where a tool asks for them, and messages name each place that failed.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mcp_servers.fixtures import COUNTING, SDK_TRIO_WARNINGS
from toolvolley import Executor, SchemaError, Tool, Toolbox, ToolCall, UserError
from toolvolley._schema import ArgumentsError


def _echo(**kwargs: Any) -> dict[str, Any]:
    return kwargs


def _tool(schema: dict[str, Any], **options: Any) -> Tool:
    return Tool.from_schema("t", "A tool.", schema, _echo, **options)


def _message(tool: Tool, arguments: Any) -> str:
    with pytest.raises(ArgumentsError) as info:
        tool.arguments.validate(arguments if isinstance(arguments, str) else json.dumps(arguments))
    return info.value.message


# --- what the schema allows, exactly ------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {}},
        {"type": "object", "properties": {"a": {"type": "string"}}},
        {"type": "object", "additionalProperties": True},
        {"type": "object", "properties": {"o": {"type": "object", "properties": {}}}},
    ],
)
def test_open_objects_accept_extra_arguments(schema: dict[str, Any]) -> None:
    arguments = {"x": "1", "o": {"y": 2}} if "o" in schema.get("properties", {}) else {"x": "1"}
    assert _tool(schema).arguments.validate(json.dumps(arguments)) == arguments


def test_closed_objects_refuse_extra_arguments() -> None:
    schema = {
        "type": "object",
        "properties": {"o": {"type": "object", "additionalProperties": False}},
        "additionalProperties": False,
    }
    message = _message(_tool(schema), {"x": 1, "o": {"y": 2}})
    assert "x: unexpected argument" in message
    assert "o.y: unexpected argument" in message


def test_const_is_enforced() -> None:
    t = _tool({"type": "object", "properties": {"v": {"const": {"a": [1, 2]}}}})
    assert t.arguments.validate('{"v": {"a": [1, 2]}}') == {"v": {"a": [1, 2]}}
    assert "v: Input should be {" in _message(t, {"v": {"a": [2, 1]}})
    assert "v: Input should be" in _message(t, {"v": 3})


def test_not_is_enforced() -> None:
    t = _tool({"type": "object", "properties": {"v": {"not": {"type": "integer"}}}})
    assert t.arguments.validate('{"v": "x"}') == {"v": "x"}
    assert 'v: Input should not match {"type":"integer"} (got 3)' in _message(t, {"v": 3})


def test_true_is_not_an_integer_and_strings_are_not_numbers() -> None:
    t = _tool({"type": "object", "properties": {"n": {"type": "integer"}, "x": {"type": "number"}}})
    assert "n: Input should be a valid integer (got true)" in _message(t, {"n": True})
    assert 'x: Input should be a valid number (got "1.5")' in _message(t, {"x": "1.5"})
    assert t.arguments.validate('{"n": 2.0, "x": 1}') == {"n": 2.0, "x": 1}


def test_combinations_and_unique_items() -> None:
    t = _tool(
        {
            "type": "object",
            "properties": {
                "one": {"oneOf": [{"type": "integer"}, {"minimum": 2}]},
                "all": {"allOf": [{"type": "object"}, {"required": ["k"]}]},
                "tags": {"type": "array", "uniqueItems": True},
            },
        }
    )
    assert t.arguments.validate('{"one": 1, "all": {"k": 0}, "tags": [1, 2]}')
    message = _message(t, {"one": 3, "all": {}, "tags": [1, 1]})
    assert "one: Input should match exactly one" in message
    assert "all.k: missing required argument" in message
    assert "tags: Array items should be unique" in message


def test_refs_inside_the_schema_and_escaped_pointers() -> None:
    schema = {
        "type": "object",
        "properties": {"p": {"$ref": "#/$defs/a~1b"}, "q": {"$ref": "#/$defs/c%25d"}},
        "$defs": {"a/b": {"type": "integer"}, "c%d": {"type": "string"}},
    }
    t = _tool(schema)
    assert t.arguments.validate('{"p": 1, "q": "x"}') == {"p": 1, "q": "x"}
    assert "p: Input should be a valid integer" in _message(t, {"p": "1"})


def test_the_draft_a_schema_declares_is_used() -> None:
    # Draft 7 has no prefixItems; 2020-12 has no items array (its items then is any schema).
    draft7 = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"pair": {"items": [{"type": "integer"}], "prefixItems": [False]}},
    }
    assert _tool(draft7).arguments.validate('{"pair": [1]}') == {"pair": [1]}
    assert "pair[0]" in _message(_tool(draft7), {"pair": ["x"]})


def test_messages_name_each_place_with_its_path() -> None:
    t = _tool(
        {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}, "n": {"minimum": 1}},
                        "required": ["city"],
                    },
                },
                "mode": {"enum": ["fast", "slow"]},
                "size": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            },
            "required": ["items"],
        }
    )
    message = _message(t, {"items": [{"city": "a"}, {}, {"city": 3, "n": 0}], "mode": "x"})
    assert "items[1].city: missing required argument" in message
    assert "items[2].city: Input should be a valid string (got 3)" in message
    assert "items[2].n: Input should be greater than or equal to 1 (got 0)" in message
    assert "mode: Input should be 'fast' or 'slow' (got \"x\")" in message
    assert "Expected parameters: items (array, required), mode (any), size (any)" in message
    assert 'size: Input should be a valid integer or null (got "big")' in _message(
        t, {"items": [], "size": "big"}
    )


def test_arguments_that_are_not_a_json_object() -> None:
    t = _tool({"type": "object"})
    assert "not valid JSON" in _message(t, '{"a": ')
    assert "not valid JSON" in _message(t, '{"a": NaN}')
    assert "must be a JSON object" in _message(t, "[1]")
    assert t.arguments.validate("") == {}


# --- schemas that cannot be used ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "object", "properties": {"a": {"type": "text"}}}, "not a valid JSON Schema"),
        ({"type": "object", "properties": {"a": {"pattern": "("}}}, "not a valid JSON Schema"),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/gone"}}}, "not a valid"),
        (
            {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}},
            "refers to 'https://example.com/a.json', outside itself",
        ),
        ({"type": "string"}, "must be of type 'object'"),
    ],
)
def test_a_schema_that_cannot_be_used_is_a_schema_error(
    schema: dict[str, Any], reason: str
) -> None:
    with pytest.raises(SchemaError, match="Tool 't' cannot be used") as info:
        _tool(schema)
    assert isinstance(info.value, UserError)
    assert info.value.tool_name == "t"
    assert reason in info.value.reason


def test_options_are_checked() -> None:
    with pytest.raises(UserError, match="coerce"):
        _tool({"type": "object"}, coerce=["everything"])
    with pytest.raises(UserError, match="coerce"):
        _tool({"type": "object"}, coerce="nulls")
    with pytest.raises(UserError, match="dialect"):
        _tool({"type": "object"}, dialect="openapi")


# --- repairs, only where declared ---------------------------------------------------------------

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "n": {"type": "integer"},
        "x": {"type": "number"},
        "flag": {"type": "boolean"},
        "limit": {"type": "integer", "default": None},
        "inner": {"type": "object", "properties": {"k": {"type": "string"}}, "required": ["k"]},
    },
    "required": ["n"],
}


def test_no_repairs_by_default() -> None:
    t = _tool(SCHEMA)
    message = _message(t, {"n": "5", "flag": "true", "limit": None, "inner": {"k": None}})
    for where in ("n:", "flag:", "limit:", "inner.k:"):
        assert where in message


def test_strings_repair_passes_the_repaired_values_on() -> None:
    t = _tool(SCHEMA, coerce={"strings"})
    kwargs = t.arguments.validate('{"n": "5", "x": " 1.5", "flag": "false"}')
    assert kwargs == {"n": 5, "x": 1.5, "flag": False}
    assert "n: Input should be a valid integer" in _message(t, {"n": "5.5"})
    assert "n: Input should be a valid integer" in _message(t, {"n": "five"})


def test_nulls_and_defaults_repairs() -> None:
    t = _tool(SCHEMA, coerce=("nulls", "defaults"))
    assert t.arguments.validate('{"n": 1, "x": null, "limit": null}') == {"n": 1, "limit": None}
    message = _message(t, {"n": None, "inner": {"k": None}})
    assert "n: Input should be a valid integer (got null)" in message
    assert "inner.k: Input should be a valid string (got null)" in message


def test_repairs_follow_refs_and_reach_the_handler() -> None:
    schema = {
        "type": "object",
        "properties": {"where": {"$ref": "#/$defs/Place"}, "n": {"type": "integer"}},
        "$defs": {
            "Place": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "zoom": {"type": "integer"}},
                "required": ["city"],
            }
        },
    }
    received: list[dict[str, Any]] = []

    def handler(**kwargs: Any) -> str:
        received.append(kwargs)
        return "ok"

    t = Tool.from_schema("t", "", schema, handler, coerce=("nulls", "strings"))
    calls = [
        ToolCall("1", "t", '{"where": {"city": "Oslo", "zoom": null}, "n": "7"}'),
        ToolCall("2", "t", '{"where": {"city": null}}'),
    ]
    results = Executor(Toolbox([t])).run_sync(calls)
    assert [r.status for r in results] == ["ok", "invalid_arguments"]
    assert received == [{"where": {"city": "Oslo"}, "n": 7}]
    assert "where.city: Input should be a valid string (got null)" in results[1].content


def test_the_bfcl_dialect_is_explicit() -> None:
    bfcl = {"type": "dict", "properties": {"r": {"type": "float"}, "a": {"type": "any"}}}
    with pytest.raises(SchemaError, match="not a valid JSON Schema"):
        _tool(bfcl)
    t = _tool(bfcl, dialect="bfcl")
    assert t.parameters["properties"] == {"r": {"type": "number"}, "a": {}}
    assert t.arguments.validate('{"r": 1, "a": [1]}') == {"r": 1, "a": [1]}
    assert "z: unexpected argument" in _message(t, {"z": 1})  # BFCL's parameters are closed


def test_the_bfcl_dialect_stays_out_of_the_default_path() -> None:
    """Tools in the default dialect, valid or checked, load no BFCL code (a fresh interpreter)."""
    code = (
        "import sys; from toolvolley import Tool\n"
        "t = Tool.from_schema('t', 'd', {'properties': {'n': {'type': 'integer'}}}, print)\n"
        "t.arguments.validate('{\"n\": 1}')\n"
        "print('toolvolley._json_schema_bfcl' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["False"]


def test_a_schema_tool_pickles_for_other_processes() -> None:
    t = _tool({"type": "object", "properties": {"n": {"type": "integer"}}}, coerce={"strings"})
    copied = pickle.loads(pickle.dumps(t.arguments))
    assert copied.json_schema == t.parameters
    assert copied.validate('{"n": "3"}') == {"n": 3}
    assert "n: Input should be a valid integer" in _message(_tool(t.parameters), {"n": "x"})


# --- through the executor and a real MCP server -------------------------------------------------


def test_the_executor_sends_back_what_the_validator_refused() -> None:
    good = _tool({"type": "object", "properties": {"a": {"const": 1}}})
    calls = [ToolCall("1", "t", '{"a": 1}'), ToolCall("2", "t", '{"a": 2}')]
    results = Executor(Toolbox([good])).run_sync(calls)
    assert [r.status for r in results] == ["ok", "invalid_arguments"]
    assert "a: Input should be 1 (got 2)" in results[1].content


@SDK_TRIO_WARNINGS
@pytest.mark.anyio
async def test_an_mcp_tool_whose_schema_is_open_takes_extra_arguments() -> None:
    from toolvolley.mcp import MCPServer

    async with MCPServer.stdio(sys.executable, [COUNTING]) as server:
        tools = await server.tools()
        echo = next(t for t in tools if t.name == "echo")
        assert "additionalProperties" not in echo.parameters  # the SDK leaves it open
        results = await Executor(tools, timeout=30).run(
            [
                ToolCall("1", "echo", '{"text": "hi", "verbose": true}'),
                ToolCall("2", "echo", '{"verbose": true}'),
            ]
        )
    assert (results[0].status, results[0].content) == ("ok", "hi")
    assert results[1].status == "invalid_arguments"
    assert "text: missing required argument" in results[1].content


def test_the_arguments_benchmark_runs() -> None:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "arguments.py"
    spec = importlib.util.spec_from_file_location("arguments_benchmark", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = module.main(["--calls", "20", "--repeat", "1"])
    assert set(report["us_per_call"]) == {"json_loads_only", "valid", "invalid"}
    assert all(v > 0 for v in report["us_per_call"].values())


# --- what an untrusted server's schema or a model's arguments cannot do -------------------------


def _long_message_cases() -> list[tuple[dict[str, Any], Any]]:
    many = [f"option_{i}" for i in range(5000)]
    return [
        ({"type": "object", "properties": {"e": {"enum": many}}}, {"e": "x"}),
        (
            {"type": "object", "properties": {"e": {"anyOf": [{"enum": many}, {"const": 1}]}}},
            {"e": "x"},
        ),
        (
            {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(5000)}},
            {"p1": 1},
        ),
        ({"type": "object", "additionalProperties": False}, {"k" * 100_000: 1}),
        ({"type": "object", "properties": {"s": {"pattern": "a" * 20_000}}}, {"s": "b"}),
        (
            {"type": "object", "properties": {"s": {"contains": {"const": -1}}}},
            {"s": list(range(50_000))},
        ),
    ]


@pytest.mark.parametrize(("schema", "arguments"), _long_message_cases())
def test_messages_stay_short_whatever_the_schema_or_arguments_hold(
    schema: dict[str, Any], arguments: Any
) -> None:
    message = _message(_tool(schema), arguments)
    assert message.startswith("Invalid arguments: ")
    assert message.endswith("Fix the arguments and call the tool again.")
    assert len(message) <= 2_000


def test_a_backtracking_pattern_is_checked_with_a_small_budget() -> None:
    # fancy-regex backtracks for patterns with back-references; this string needs about 2**17
    # steps, well under the engine's own limit (a million, ~30 ms each: an array of such strings
    # would hold the event loop for seconds while the batch validates it).
    t = _tool({"type": "object", "properties": {"s": {"items": {"pattern": "^(a|a)*\\1$"}}}})
    message = _message(t, {"s": ["a" * 17 + "!"]})
    assert "s[0]: String is too costly to check against its pattern" in message
    assert t.arguments.validate('{"s": ["aaa"]}') == {"s": ["aaa"]}
    copied = pickle.loads(pickle.dumps(t.arguments))  # a worker process's copy: the same budget
    with pytest.raises(ArgumentsError, match="too costly"):
        copied.validate('{"s": ["aaaaaaaaaaaaaaaaa!"]}')


@pytest.mark.parametrize("text", ['{"n": 1e400}', '{"n": -1e400}', '{"n": [1E999]}'])
def test_numbers_beyond_floats_are_refused_as_such(text: str) -> None:
    for schema in ({"type": "object"}, {"type": "object", "properties": {"n": {"type": "number"}}}):
        message = _message(_tool(schema), text)
        assert "is out of range" in message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_numbers_in_a_mapping_are_refused_and_shown_as_sent(value: float) -> None:
    # Anthropic's input arrives parsed: the SDK's json.loads reads NaN and 1e400 as floats.
    for schema in ({"type": "object"}, {"type": "object", "properties": {"n": {"type": "number"}}}):
        with pytest.raises(ArgumentsError) as info:
            _tool(schema).arguments.validate({"n": [value]})
        assert (
            f"n[0]: Input should be a finite number (got {json.dumps(value)})" in info.value.message
        )


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def test_arguments_nested_too_deeply_are_invalid_and_the_other_calls_still_run() -> None:
    t = _tool({"type": "object", "properties": {"a": {"items": {"$ref": "#/properties/a"}}}})
    deep = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    calls = [
        ToolCall("1", "t", deep),
        ToolCall("2", "t", {"a": _nested(100_000)}),
        ToolCall("3", "t", '{"a": [[]]}'),
    ]
    results = Executor(Toolbox([t])).run_sync(calls)
    assert [r.status for r in results] == ["invalid_arguments", "invalid_arguments", "ok"]
    assert "nested too deeply" in results[0].content
    assert "nested too deeply" in results[1].content


def test_a_schema_nested_too_deeply_is_a_schema_error() -> None:
    schema: dict[str, Any] = {"type": "object"}
    node = schema
    for _ in range(5_000):
        node["properties"] = {"a": {"type": "object"}}
        node = node["properties"]["a"]
    with pytest.raises(SchemaError, match="nested too deeply"):
        _tool(schema)


@pytest.mark.parametrize(
    "draft", ["https://example.com/my-draft", "file:///etc/passwd", "json-schema/draft-2030"]
)
def test_a_draft_that_is_not_known_is_named_as_such(draft: str) -> None:
    with pytest.raises(SchemaError) as info:
        _tool({"$schema": draft, "type": "object"})
    assert f"its $schema, {draft!r}, is not a draft this validator knows" in info.value.reason
    assert "under $defs" not in info.value.reason


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": ["string"] * 5000 + ["bogus"]}}},
        {"type": "object", "properties": {"a" * 100_000: {"type": "text"}}},
        {"type": "object", "properties": {"a": {"$ref": "#/" + "q" * 100_000}}},
        {"type": "object", "properties": {"a": {"$ref": "https://e.com/" + "q" * 100_000}}},
        {"$schema": "https://e.com/" + "q" * 100_000, "type": "object"},
    ],
)
def test_why_a_schema_cannot_be_used_is_said_briefly(schema: dict[str, Any]) -> None:
    # An MCP server's tool left out says why when the model calls it: in the model's context.
    with pytest.raises(SchemaError) as info:
        _tool(schema)
    assert len(str(info.value)) <= 800


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"a": {1: "x"}}, "a: keys should be strings (got int)"),
        ({"a": [{1, 2}]}, "a[0]: set is not a JSON value"),
        ({"a": object()}, "a: object is not a JSON value"),
    ],
)
def test_a_parsed_mapping_holds_only_what_json_can(arguments: Any, problem: str) -> None:
    with pytest.raises(ArgumentsError) as info:
        _tool({"type": "object", "properties": {"a": {}}}).arguments.validate(arguments)
    assert problem in info.value.message


def test_an_integer_with_too_many_digits_is_refused_in_the_model_s_terms() -> None:
    message = _message(_tool({"type": "object"}), '{"n": ' + "1" * 5000 + "}")
    assert "a number has too many digits (at most 4300)" in message
    assert "sys.set_int_max_str_digits" not in message  # advice for Python programmers


def test_items_beyond_a_closed_tuple_are_named_as_unexpected() -> None:
    t = _tool({"type": "object", "properties": {"o": {"prefixItems": [{}], "items": False}}})
    message = _message(t, {"o": ["a", "x" * 10_000]})
    assert "o[1]: unexpected item" in message
    assert len(message) < 400


@pytest.mark.parametrize("coerce", [None, 5, [["strings"]], "strings"])
def test_coerce_that_is_no_collection_of_repairs_is_a_user_error(coerce: Any) -> None:
    with pytest.raises(UserError, match=r"coerce takes a collection of \['defaults', 'nulls'"):
        _tool({"type": "object"}, coerce=coerce)


def test_coerce_given_as_an_iterator_is_read_once_and_kept() -> None:
    t = _tool(
        {"type": "object", "properties": {"n": {"type": "integer"}}}, coerce=iter(["strings"])
    )
    assert t.arguments.validate('{"n": "3"}') == {"n": 3}


@pytest.mark.parametrize("description", [None, 5])
def test_a_description_that_is_no_string_is_a_user_error(description: Any) -> None:
    # It would be sent as the tool's description, which every provider refuses unless a string.
    with pytest.raises(UserError, match=r"Tool 't': description must be a string"):
        Tool.from_schema("t", description, {"type": "object"}, _echo)


def test_unevaluated_items_are_named_by_their_index() -> None:
    t = _tool(
        {"type": "object", "properties": {"o": {"prefixItems": [{}], "unevaluatedItems": False}}}
    )
    message = _message(t, {"o": [1, "x", {"k": 2}, "é"]})
    assert "o[1]: unexpected item; o[2]: unexpected item; o[3]: unexpected item" in message


@pytest.mark.parametrize("arguments", ['{"a": "x\\ud800y", "b": 1}', {"a": ["x\ud800y"], "b": 1}])
def test_a_lone_surrogate_does_not_hide_what_is_wrong_with_the_arguments(arguments: Any) -> None:
    # jsonschema-rs cannot encode "\ud800" to report errors; the message is still about them.
    text = {"maxLength": 10}
    schema = {
        "type": "object",
        "properties": {"a": {"anyOf": [text, {"items": text}]}},
        "additionalProperties": False,
    }
    with pytest.raises(ArgumentsError) as info:
        _tool(schema).arguments.validate(arguments)  # JSON text, or a mapping as an SDK parsed it
    assert "b: unexpected argument" in info.value.message
    assert "codec" not in info.value.message
