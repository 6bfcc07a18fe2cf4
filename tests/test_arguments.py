"""``null`` arguments and declared defaults (issue 15, hole 10b).

Real models send ``null`` for parameters they mean to leave out (OpenAI's strict mode makes every
field required and nullable), and BFCL's live ground truth sends a parameter's declared default,
``null`` included. Neither may come back as ``invalid_arguments``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from toolvolley import Executor, Tool, Toolbox, ToolCall, tool
from toolvolley._schema import ArgumentsError


class Window(BaseModel):
    hours: int = 24
    label: str | None = "day"


@tool
def forecast(
    city: str,
    days: int = 3,
    unit: Literal["c", "f"] = "c",
    # A default outside the type, as BFCL's often are.
    limit: int = None,  # type: ignore[assignment]  # noqa: RUF013
    note: str | None = "none",
    window: Window | None = None,
) -> dict[str, Any]:
    """A forecast."""
    return {"city": city, "days": days, "limit": limit}


# --- tools from Python functions --------------------------------------------------------------


def test_null_for_an_optional_parameter_means_its_default() -> None:
    kwargs = forecast.arguments.validate('{"city": "Oslo", "days": null, "unit": null}')
    assert kwargs["days"] == 3
    assert kwargs["unit"] == "c"
    assert kwargs["city"] == "Oslo"


def test_null_inside_an_optional_nested_field_means_its_default() -> None:
    kwargs = forecast.arguments.validate('{"city": "Oslo", "window": {"hours": null}}')
    assert kwargs["window"] == Window(hours=24)


def test_a_python_default_outside_the_type_is_accepted_when_sent() -> None:
    kwargs = forecast.arguments.validate('{"city": "Oslo", "limit": null}')
    assert kwargs["limit"] is None
    with pytest.raises(ArgumentsError, match="limit: Input should be a valid integer"):
        forecast.arguments.validate('{"city": "Oslo", "limit": "ten"}')


def test_null_is_a_value_where_the_type_allows_it() -> None:
    kwargs = forecast.arguments.validate({"city": "Oslo", "note": None, "window": None})
    assert kwargs["note"] is None
    assert kwargs["window"] is None
    kwargs = forecast.arguments.validate({"city": "Oslo", "window": {"label": None}})
    assert kwargs["window"] == Window(label=None)


def test_null_for_a_required_parameter_is_still_invalid() -> None:
    with pytest.raises(ArgumentsError) as info:
        forecast.arguments.validate('{"city": null}')
    assert "city: Input should be a valid string (got null)" in info.value.message


def test_only_the_real_problems_are_reported() -> None:
    with pytest.raises(ArgumentsError) as info:
        forecast.arguments.validate({"city": "Oslo", "days": None, "unit": "kelvin"})
    message = info.value.message
    assert "unit: Input should be 'c' or 'f'" in message
    assert "days:" not in message


def test_the_schema_sent_to_the_model_is_unchanged() -> None:
    props = forecast.parameters["properties"]
    assert props["limit"] == {"type": "integer", "default": None}
    assert props["days"] == {"type": "integer", "default": 3}
    assert forecast.parameters["required"] == ["city"]


# --- tools from a JSON Schema -----------------------------------------------------------------

SCHEMA: dict[str, Any] = {
    "type": "dict",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "limit": {"type": "integer", "default": None},
        "mode": {"type": "string", "enum": ["fast", "slow"], "default": ""},
        "page": {"type": "integer", "default": None},
        "options": {
            "type": "dict",
            "properties": {"verbose": {"type": "boolean"}, "depth": {"type": "integer"}},
            "required": ["depth"],
        },
        "sizes": {"type": "array", "items": {"$ref": "#/$defs/Size"}},
    },
    "required": ["city", "page"],
    "$defs": {"Size": {"type": "object", "properties": {"w": {"type": "integer"}}}},
}


def _echo(**kwargs: Any) -> dict[str, Any]:
    return kwargs


# BFCL's type words, and the repairs its ground truth needs, declared.
search = Tool.from_schema(
    "search", "Search.", SCHEMA, _echo, dialect="bfcl", coerce=("nulls", "defaults")
)


def test_schema_null_for_an_optional_parameter_means_not_given() -> None:
    raw = '{"city": "Oslo", "page": 1, "days": null, "options": {"verbose": null, "depth": 2}}'
    assert search.arguments.validate(raw) == {"city": "Oslo", "page": 1, "options": {"depth": 2}}


def test_schema_null_in_array_items_objects_means_not_given() -> None:
    raw = {"city": "Oslo", "page": 1, "sizes": [{"w": 1}, {"w": None}]}
    assert search.arguments.validate(raw) == {"city": "Oslo", "page": 1, "sizes": [{"w": 1}, {}]}


def test_schema_declared_defaults_are_accepted_as_values() -> None:
    raw = '{"city": "Oslo", "page": null, "limit": null, "mode": ""}'
    assert search.arguments.validate(raw) == {
        "city": "Oslo",
        "page": None,
        "limit": None,
        "mode": "",
    }


def test_schema_null_for_a_required_parameter_is_still_invalid() -> None:
    with pytest.raises(ArgumentsError) as info:
        search.arguments.validate('{"city": null, "page": 1, "options": {"depth": null}}')
    message = info.value.message
    assert "city: Input should be a valid string (got null)" in message
    assert "options.depth: Input should be a valid integer (got null)" in message


def test_schema_values_that_are_not_the_default_are_still_checked() -> None:
    with pytest.raises(ArgumentsError, match="mode: Input should be 'fast' or 'slow'"):
        search.arguments.validate('{"city": "Oslo", "page": 1, "mode": "medium"}')
    with pytest.raises(ArgumentsError, match="limit: Input should be a valid integer"):
        search.arguments.validate('{"city": "Oslo", "page": 1, "limit": "none"}')


def test_schema_sent_on_keeps_the_declared_defaults() -> None:
    assert search.parameters["properties"]["mode"]["default"] == ""
    assert search.parameters["properties"]["limit"] == {"type": "integer", "default": None}


@given(st.sets(st.sampled_from(["days", "limit", "mode"])))
def test_any_optional_parameters_sent_as_null_run(nulls: set[str]) -> None:
    raw = {"city": "Oslo", "page": 2, **dict.fromkeys(nulls)}
    expected = {"city": "Oslo", "page": 2, **({"limit": None} if "limit" in nulls else {})}
    assert search.arguments.validate(json.dumps(raw)) == expected


# --- through the executor ---------------------------------------------------------------------


def test_the_executor_runs_calls_with_null_optionals() -> None:
    received: list[dict[str, Any]] = []

    @tool
    def lookup(user_id: int, fields: list[str] = ["name"], verbose: bool = False) -> str:  # noqa: B006
        received.append({"user_id": user_id, "fields": fields, "verbose": verbose})
        return "ok"

    calls = [
        ToolCall("a", "lookup", '{"user_id": 1, "fields": null, "verbose": null}'),
        ToolCall("b", "lookup", '{"user_id": null, "verbose": null}'),
        ToolCall("c", "search", '{"city": "Oslo", "page": null, "mode": null}'),
    ]
    results = Executor(Toolbox([lookup, search])).run_sync(calls)
    assert [r.status for r in results] == ["ok", "invalid_arguments", "ok"]
    assert received == [{"user_id": 1, "fields": ["name"], "verbose": False}]
    assert "user_id: Input should be a valid integer (got null)" in results[1].content
    assert "verbose:" not in results[1].content
    assert json.loads(results[2].content) == {"city": "Oslo", "page": None}
