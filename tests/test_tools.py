from __future__ import annotations

import dataclasses
import inspect
import math
import pickle
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from toolvolley import Executor, Hedge, Retry, Tool, UserError, tool
from toolvolley._schema import ArgumentsError
from toolvolley._tool_options import ToolOptionArgs, ToolOptions


class Unit(BaseModel):
    name: Literal["celsius", "fahrenheit"] = "celsius"


@tool
async def get_weather(
    city: str,
    days: Annotated[int, Field(description="Forecast length.", ge=1)] = 1,
    unit: Unit | None = None,
) -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: City name, e.g. "Paris".
        days: Ignored: the Annotated description wins.
    """
    return {"city": city}


def test_decorator_builds_name_description_and_schema() -> None:
    assert isinstance(get_weather, Tool)
    assert get_weather.name == "get_weather"
    assert get_weather.description == "Current weather for a city."
    assert get_weather.is_async
    schema = get_weather.parameters
    assert schema["type"] == "object"
    assert schema["required"] == ["city"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["city"] == {
        "type": "string",
        "description": 'City name, e.g. "Paris".',
    }
    assert schema["properties"]["days"]["description"] == "Forecast length."
    assert schema["properties"]["days"]["minimum"] == 1
    assert "Unit" in schema["$defs"]
    assert "title" not in schema


def test_decorated_tool_still_calls_the_function() -> None:
    @tool
    def add(a: int, b: int) -> int:
        return a + b

    assert add(2, 3) == 5
    assert not add.is_async


def test_validation_returns_keyword_arguments_with_defaults() -> None:
    kwargs = get_weather.arguments.validate('{"city": "Paris", "unit": {"name": "fahrenheit"}}')
    assert kwargs["city"] == "Paris"
    assert kwargs["days"] == 1
    assert kwargs["unit"] == Unit(name="fahrenheit")


def test_validation_messages_name_the_argument() -> None:
    with pytest.raises(ArgumentsError) as info:
        get_weather.arguments.validate('{"days": "soon", "colour": "red"}')
    message = info.value.message
    assert "city: missing required argument" in message
    assert "days: Input should be a valid integer" in message
    assert "colour: unexpected argument" in message
    assert "city (string, required)" in message


def test_invalid_json_and_non_object() -> None:
    with pytest.raises(ArgumentsError, match="not valid JSON"):
        get_weather.arguments.validate('{"city": ')
    with pytest.raises(ArgumentsError, match="must be a JSON object"):
        get_weather.arguments.validate("[1, 2]")


def test_empty_arguments_mean_no_arguments() -> None:
    @tool
    def now() -> str:
        return "noon"

    assert now.arguments.validate("") == {}
    assert now.arguments.validate({}) == {}


def test_parameter_names_that_shadow_pydantic_attributes() -> None:
    @tool
    def odd(json: str, model_config: int, copy: bool = False) -> str:
        return json

    kwargs = odd.arguments.validate('{"json": "x", "model_config": 3}')
    assert kwargs == {"json": "x", "model_config": 3, "copy": False}
    assert set(odd.parameters["properties"]) == {"json", "model_config", "copy"}


@dataclasses.dataclass
class Point:
    x: float
    y: float


def test_dataclass_parameters() -> None:
    @tool
    def norm(p: Point) -> float:
        return math.hypot(p.x, p.y)

    kwargs = norm.arguments.validate('{"p": {"x": 3, "y": 4}}')
    assert norm(**kwargs) == 5.0


def test_options_are_validated() -> None:
    def f() -> None: ...

    with pytest.raises(UserError, match="timeout"):
        tool(timeout=0)(f)
    with pytest.raises(UserError, match="max_concurrency"):
        tool(max_concurrency=0)(f)
    with pytest.raises(UserError, match="run_in"):
        tool(run_in=3)(f)  # type: ignore[call-overload]
    with pytest.raises(UserError, match="timeout"):
        tool(timeout=True)(f)
    with pytest.raises(UserError, match="sequential"):
        tool(sequential=1)(f)  # type: ignore[call-overload]
    elsewhere = tool(run_in="cluster")(f)  # a runner name: the executor must have it
    with pytest.raises(UserError, match="no runner of that name"):
        Executor([elsewhere])
    with pytest.raises(UserError, match="module level"):
        tool(run_in="process")(f)

    async def g() -> None: ...

    with pytest.raises(UserError, match="async"):
        tool(run_in="process")(g)


def test_variadic_parameters_are_refused() -> None:
    def f(*args: int) -> None: ...

    with pytest.raises(UserError, match="named parameters"):
        tool(f)


def test_with_options_copies() -> None:
    slow = get_weather.with_options(timeout=3, name="weather")
    assert (slow.name, slow.timeout) == ("weather", 3)
    assert get_weather.timeout is None


def _policy_tool() -> Tool:
    return tool(idempotent=True)(_lookup)


def _lookup(key: str) -> str:
    return key


# (option, a value to set, the value that clears it)
OPTION_CHANGES: list[tuple[str, object, object]] = [
    ("timeout", 3, None),
    ("max_concurrency", 2, None),
    ("sequential", True, False),
    ("run_in", "gpu", "thread"),
    ("read_only", True, False),
    ("destructive", True, False),
    ("idempotent", True, False),
    ("retry", Retry(), None),
    ("hedge", Hedge(after=1), None),
]


@pytest.mark.parametrize(("option", "value", "cleared"), OPTION_CHANGES)
def test_with_options_keeps_what_it_is_not_given_and_clears_what_it_is(
    option: str, value: object, cleared: object
) -> None:
    changed = _policy_tool().with_options(**{option: value})  # type: ignore[arg-type]
    assert getattr(changed, option) == value
    assert getattr(changed.with_options(name="renamed"), option) == value  # not given: kept
    assert getattr(changed.with_options(), option) == value
    assert getattr(changed.with_options(**{option: cleared}), option) == cleared  # type: ignore[arg-type]


def test_with_options_none_clears_a_timeout() -> None:
    timed = get_weather.with_options(timeout=3)
    assert timed.with_options(timeout=None).timeout is None
    assert timed.with_options(max_concurrency=2).timeout == 3
    marked = get_weather.with_options(idempotent=True)
    assert marked.with_options(idempotent=False).idempotent is False


def test_tool_options_are_one_frozen_value_object() -> None:
    options = ToolOptions(timeout=5, idempotent=True, retry=Retry())
    assert options == ToolOptions(timeout=5, idempotent=True, retry=Retry())
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.timeout = 1  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(options)) == options
    for bad in ({"timeout": True}, {"max_concurrency": 0}, {"sequential": 1}, {"retry": Retry()}):
        with pytest.raises(UserError):
            ToolOptions(**bad)
    made = tool(**{f.name: getattr(options, f.name) for f in dataclasses.fields(ToolOptions)})(
        _lookup
    )
    assert made.options == options
    twin = tool(timeout=5, idempotent=True, retry=options.retry)(_lookup)
    assert twin.options == made.options
    assert twin != made  # a tool is itself, not its options
    assert len({twin, made}) == 2
    assert made.with_options(timeout=None).options == dataclasses.replace(options, timeout=None)


def test_tool_options_are_spelled_out_once() -> None:
    """@tool, Tool.from_schema and with_options take the options of ToolOptions by keyword."""
    names = {f.name for f in dataclasses.fields(ToolOptions)}
    assert set(ToolOptionArgs.__annotations__) == names
    for entry in (tool, Tool.from_schema, Tool.with_options):
        assert {
            p.name for p in inspect.signature(entry).parameters.values() if p.kind == p.KEYWORD_ONLY
        }.isdisjoint(names), entry


def test_a_tool_and_its_options_pickle() -> None:
    """As run_many ships tools to Ray workers (a schema tool; a function's pydantic model of
    arguments goes with cloudpickle)."""
    schema = {"type": "object", "properties": {"key": {"type": "string"}}}
    made = Tool.from_schema(
        "lookup", "", schema, _lookup, timeout=2, idempotent=True, retry=Retry()
    )
    copy = pickle.loads(pickle.dumps(made))
    assert copy.options == made.options
    assert copy("k") == "k"


# --- from_schema ------------------------------------------------------------------------------

BFCL_SCHEMA = {
    "type": "dict",
    "properties": {
        "artist": {"type": "string", "description": "Who."},
        "duration": {"type": "integer"},
        "ratio": {"type": "float"},
        "pair": {"type": "tuple", "items": {"type": "integer"}},
        "anything": {"type": "any"},
        "options": {
            "type": "dict",
            "properties": {"loud": {"type": "boolean"}},
            "required": ["loud"],
        },
        "mode": {"type": "string", "enum": ["shuffle", "repeat"]},
        "scores": {"type": "array", "items": {"type": "float"}},
    },
    "required": ["artist", "duration"],
}


def _echo(**kwargs: Any) -> dict[str, Any]:
    return kwargs


def test_from_schema_translates_bfcl_type_words() -> None:
    play = Tool.from_schema("spotify.play", "Play music.", BFCL_SCHEMA, _echo, dialect="bfcl")
    props = play.parameters["properties"]
    assert play.parameters["type"] == "object"
    assert props["ratio"]["type"] == "number"
    assert props["pair"]["type"] == "array"
    assert props["options"]["type"] == "object"
    assert "type" not in props["anything"]
    assert props["scores"]["items"]["type"] == "number"
    assert BFCL_SCHEMA["type"] == "dict"  # the caller's schema is left alone


def test_from_schema_validates_to_plain_values() -> None:
    play = Tool.from_schema("spotify.play", "Play music.", BFCL_SCHEMA, _echo, dialect="bfcl")
    args = {
        "artist": "Maroon 5",
        "duration": 15,
        "ratio": 2,
        "pair": [1, 2],
        "anything": {"x": [1]},
        "options": {"loud": True},
        "mode": "repeat",
        "scores": [1.5, 2],
    }
    assert play.arguments.validate(args) == args
    assert play.arguments.validate('{"artist": "A", "duration": 1}') == {
        "artist": "A",
        "duration": 1,
    }


@pytest.mark.parametrize(
    ("arguments", "where"),
    [
        ('{"artist": "A"}', "duration: missing required argument"),
        ('{"artist": "A", "duration": "long"}', "duration: Input should be a valid integer"),
        ('{"artist": "A", "duration": 1, "mode": "loop"}', "mode: Input should be"),
        ('{"artist": "A", "duration": 1, "options": {}}', "options.loud: missing"),
        ('{"artist": "A", "duration": 1, "pair": [1, "x"]}', "pair[1]: Input should be"),
        ('{"artist": "A", "duration": 1, "extra": 1}', "extra: unexpected argument"),
    ],
)
def test_from_schema_rejects_what_the_schema_forbids(arguments: str, where: str) -> None:
    play = Tool.from_schema("spotify.play", "Play music.", BFCL_SCHEMA, _echo, dialect="bfcl")
    with pytest.raises(ArgumentsError) as info:
        play.arguments.validate(arguments)
    assert where in info.value.message


def test_from_schema_refs_unions_and_non_literal_enums() -> None:
    schema = {
        "type": "object",
        "properties": {
            "where": {"$ref": "#/$defs/Place"},
            "size": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "scale": {"type": "number", "enum": [0.5, 1.5]},
            "tags": {"type": ["string", "null"]},
        },
        "$defs": {"Place": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }
    t = Tool.from_schema("t", "", schema, _echo)
    good = {"where": {"city": "Oslo"}, "size": None, "scale": 1.5, "tags": None}
    assert t.arguments.validate(good) == good
    with pytest.raises(ArgumentsError, match=r"scale: Input should be 0\.5 or 1\.5"):
        t.arguments.validate({"scale": 2.0})
    with pytest.raises(ArgumentsError, match=r"where\.city"):
        t.arguments.validate({"where": {"city": 3}})


def test_from_schema_refuses_non_object_parameters() -> None:
    with pytest.raises(UserError, match="type 'object'"):
        Tool.from_schema("t", "", {"type": "string"}, _echo)
    with pytest.raises(UserError, match="callable"):
        Tool.from_schema("t", "", {}, "not callable")  # type: ignore[arg-type]


def test_from_schema_detects_async_handlers() -> None:
    async def handler(**kwargs: Any) -> None: ...

    assert Tool.from_schema("t", "", {}, handler).is_async
    assert not Tool.from_schema("t", "", {}, _echo).is_async
