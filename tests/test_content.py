"""What a tool's return value becomes in the text sent back to the model (issue 15, holes 9, 10a).

numpy and mpmath are not dependencies of the library: the doubles below have the same duck-typed
surface (``tolist``, ``__index__``, ``__float__``) as their scalars and arrays, and the tests of
numbers with their own text (issue 26) use the real ones, installed in the dev environment.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime
import decimal
import enum
import fractions
import importlib
import json
import math
import pathlib
import types
import uuid
from typing import Any, NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from toolvolley import Executor, Tool, ToolCall
from toolvolley._content import UnserializableResult, to_content

np: Any = pytest.importorskip("numpy")
mpmath: Any = pytest.importorskip("mpmath")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(content: str) -> Any:
    """``json.loads`` without the NaN/Infinity extension Python accepts by default."""
    return json.loads(content, parse_constant=_refuse_constant)


def strict_json_exact(content: str) -> Any:
    """:func:`strict_json` with every number with a fraction or exponent read exactly."""
    return json.loads(content, parse_constant=_refuse_constant, parse_float=decimal.Decimal)


class MpfLike:
    """Like ``mpmath.mpf``: only ``__float__``."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __float__(self) -> float:
        return self.value


class Int64Like:
    """Like ``numpy.int64``: an integer through ``__index__``, not an ``int`` subclass."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value

    def __float__(self) -> float:
        return float(self.value)


class ArrayLike:
    """Like ``numpy.ndarray``: ``tolist`` gives nested lists of plain values."""

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def tolist(self) -> list[Any]:
        return self.rows


class Opaque:
    """No JSON form at all."""


class Colour(enum.Enum):
    RED = "red"


class Pair(NamedTuple):
    left: int
    right: Any


@dataclasses.dataclass
class Reading:
    where: str
    value: Any


class Report(BaseModel):
    readings: list[Any]


# --- hole 9: number-like and common values --------------------------------------------------


def test_mpmath_like_number_in_a_dict_is_a_json_number() -> None:
    # BFCL's multi-turn `logarithm` backend returns {"result": mpf('2.0')}.
    assert strict_json(to_content({"result": MpfLike(2.0)})) == {"result": 2.0}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Int64Like(7), 7),
        (MpfLike(0.5), 0.5),
        (ArrayLike([[1, 2], [3, 4]]), [[1, 2], [3, 4]]),
        ([Int64Like(1), {"x": MpfLike(1.5)}], [1, {"x": 1.5}]),
        (Reading("lab", Int64Like(3)), {"where": "lab", "value": 3}),
        (Report(readings=[MpfLike(2.5)]), {"readings": [2.5]}),
        (Pair(1, MpfLike(2.0)), [1, 2.0]),
        (ArrayLike([MpfLike(1.0), Int64Like(2)]), [1.0, 2]),
        ({Int64Like(3): "three"}, {"3": "three"}),
        (types.MappingProxyType({"a": Int64Like(1)}), {"a": 1}),
        (range(3), [0, 1, 2]),
    ],
    ids=[
        "index",
        "float",
        "tolist",
        "nested",
        "dataclass",
        "pydantic",
        "namedtuple",
        "tolist-of-number-likes",
        "number-like-key",
        "mapping",
        "range",
    ],
)
def test_number_likes_become_json_values_anywhere(value: Any, expected: Any) -> None:
    assert strict_json(to_content(value)) == expected


def test_common_value_types() -> None:
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    ident = uuid.UUID(int=1)
    value = {
        "when": when,
        "day": when.date(),
        "at": datetime.time(3, 4),
        "id": ident,
        "path": pathlib.PurePosixPath("/tmp/x"),
        "colour": Colour.RED,
        "set": {3},
        "frozen": frozenset({"a"}),
        "non-str keys": {1: "one", 2.5: "half", False: "no"},
        "text": b"plain text",
        "deque": collections.deque([1, 2]),
        "dict keys": {"k": 1}.keys(),
        "dict values": {"k": 1}.values(),
    }
    assert strict_json(to_content(value)) == {
        "when": "2026-01-02T03:04:05Z",
        "day": "2026-01-02",
        "at": "03:04:00",
        "id": str(ident),
        "path": "/tmp/x",
        "colour": "red",
        "set": [3],
        "frozen": ["a"],
        "non-str keys": {"1": "one", "2.5": "half", "false": "no"},
        "text": "plain text",
        "deque": [1, 2],
        "dict keys": ["k"],
        "dict values": [1],
    }


def test_exact_numbers_keep_their_exact_text() -> None:
    # As pydantic writes them: a float would round the value the tool computed.
    value = {"price": decimal.Decimal("19.990"), "third": fractions.Fraction(1, 3)}
    assert strict_json(to_content(value)) == {"price": "19.990", "third": "1/3"}


# --- issue 26: a number with its own text is read as that text ---------------------------------


class TextNumber:
    """A number-like with its own text, as ``mpmath.mpf`` has: ``str`` gives it."""

    def __init__(self, value: float, text: str) -> None:
        self.value = value
        self.text = text

    def __float__(self) -> float:
        return self.value

    def __str__(self) -> str:
        return self.text


@pytest.mark.parametrize(
    ("value", "content"),
    [
        (np.float32(0.1), "0.1"),
        (np.float16(0.1), "0.1"),
        (np.float64(0.1), "0.1"),
        (np.longdouble("0.1"), "0.1"),
        (np.float32(-2.5e-7), "-2.5e-7"),
        (np.float32(3.4e38), "3.4e+38"),
        (np.int8(-5), "-5"),
        (np.uint64(2**64 - 1), "18446744073709551615"),
        (np.bool_(True), "true"),
        ({"x": np.float32(0.1), "y": [np.float16(1.1)]}, '{"x":0.1,"y":[1.1]}'),
        (np.array([0.1, 0.2, 1.0], dtype=np.float32), "[0.1,0.2,1.0]"),
        (np.array([[0.1], [0.3]], dtype=np.float16), "[[0.1],[0.3]]"),
        (np.array(0.1, dtype=np.float32), "0.1"),
        (np.array([0.1, np.nan, np.inf], dtype=np.float32), "[0.1,null,null]"),
        (np.float32(np.nan), "null"),
        ({np.float32(0.1): "a"}, '{"0.1":"a"}'),
        (TextNumber(1.302734375, "1.3"), "1.3"),
        (TextNumber(0.5, "not a number"), "0.5"),  # no JSON number text: its float
        (decimal.Decimal("19.990"), '"19.990"'),  # as before: pydantic's exact text
    ],
    ids=lambda v: f"{type(v).__module__}.{type(v).__name__}" if not isinstance(v, str) else v,
)
def test_a_number_goes_as_the_shortest_text_of_its_own_type(value: Any, content: str) -> None:
    assert to_content(value) == content
    strict_json(content)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_a_float32_array_of_any_shape_or_subclass_keeps_its_shape() -> None:
    cube = np.arange(1, 9, dtype=np.float32).reshape(2, 2, 2) / np.float32(10)
    assert to_content(cube) == "[[[0.1,0.2],[0.3,0.4]],[[0.5,0.6],[0.7,0.8]]]"
    assert to_content(np.zeros((2, 0), dtype=np.float32)) == "[[],[]]"
    matrix = np.matrix([[0.1, 0.2], [0.3, 0.4]], dtype=np.float32)  # its rows are matrices
    assert to_content(matrix) == "[[0.1,0.2],[0.3,0.4]]"
    masked = np.ma.masked_array([0.1, 0.2], mask=[False, True], dtype=np.float32)
    assert to_content(masked) == "[0.1,null]"  # as tolist() writes a masked element


def test_an_mpmath_value_goes_as_its_own_text_at_its_precision() -> None:
    with mpmath.workdps(2):  # BFCL's logarithm(value=20, base=10, precision=2)
        value = mpmath.log(20) / mpmath.log(10)
        assert float(value) == 1.302734375
        assert to_content({"result": value}) == '{"result":1.3}'
    with mpmath.workdps(30):  # more digits than a double has: the text as it is
        third = mpmath.mpf(1) / 3
        assert to_content({"third": third, "list": [third]}) == (
            '{"third":0.333333333333333333333333333333,"list":[0.333333333333333333333333333333]}'
        )
        assert to_content({third: 1}) == '{"0.333333333333333333333333333333":1}'
        assert to_content(mpmath.mpf("inf")) == "null"


def test_a_long_double_keeps_the_digits_a_double_would_lose() -> None:
    third = np.longdouble(1) / np.longdouble(3)
    assert to_content([third]) == f"[{third!s}]"
    assert decimal.Decimal(str(third)) == strict_json_exact(to_content(third))


def test_a_number_with_long_text_in_a_value_pydantic_refuses() -> None:
    # the slow path (a value pydantic cannot write, here bytes that are not text) keeps it too
    with mpmath.workdps(20):
        third = mpmath.mpf(1) / 3
        content = to_content({"blob": b"\xff", "third": third, "r": Reading("x", third)})
    assert content == (
        '{"blob":"/w==","third":0.33333333333333333333,'
        '"r":{"where":"x","value":0.33333333333333333333}}'
    )


def test_a_string_that_looks_like_a_placeholder_stays_a_string() -> None:
    with mpmath.workdps(20):
        third = mpmath.mpf(1) / 3
        content = to_content(["0", third, "1", {"0": third}])
    assert strict_json_exact(content) == [
        "0",
        decimal.Decimal("0.33333333333333333333"),
        "1",
        {"0": decimal.Decimal("0.33333333333333333333")},
    ]


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_a_float32_is_its_own_shortest_text(value: float) -> None:
    number = np.float32(value)
    read = strict_json(to_content(number))
    assert np.float32(read) == number
    assert read == float(str(number))  # numpy's shortest text for a float32


@given(st.floats(width=16, allow_nan=False, allow_infinity=False))
def test_a_float16_array_is_each_elements_own_shortest_text(value: float) -> None:
    numbers = np.array([value, -value], dtype=np.float16)
    assert strict_json(to_content(numbers)) == [float(str(n)) for n in numbers]


def test_bfcl_logarithm_reaches_the_model_as_its_own_text() -> None:
    pytest.importorskip("bfcl_eval", reason="pip install --no-deps bfcl-eval (make test does)")
    config = importlib.import_module("bfcl_eval.constants.executable_backend_config")
    math_api = importlib.import_module(config.CLASS_FILE_PATH_MAPPING["MathAPI"]).MathAPI()
    schema = {
        "type": "object",
        "properties": {
            "value": {"type": "number"},
            "base": {"type": "number"},
            "precision": {"type": "integer"},
        },
        "required": ["value", "base", "precision"],
    }
    tool = Tool.from_schema("logarithm", "", schema, math_api.logarithm)
    arguments = {"value": 20, "base": 10, "precision": 2}
    dps = mpmath.mp.dps
    try:
        (result,) = Executor([tool]).run_sync([ToolCall("c1", "logarithm", arguments)])
    finally:
        mpmath.mp.dps = dps  # the backend sets mpmath's global precision
    assert result.status == "ok"
    assert result.content == '{"result":1.3}'


def test_bytes_that_are_not_text_are_base64() -> None:
    blob = b"\x89PNG\r\n\x1a\n\xff"
    content = to_content({"image": blob, "name": b"logo.png"})
    assert strict_json(content) == {
        "image": base64.b64encode(blob).decode("ascii"),
        "name": "logo.png",
    }


def test_strings_go_as_they_are() -> None:
    assert to_content("NaN, not JSON") == "NaN, not JSON"
    assert to_content("") == ""


# --- only what has no JSON form is refused, and the message says where ------------------------


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (Opaque(), "result is of type Opaque"),
        ({"items": [1, 2, Opaque()]}, 'result["items"][2] is of type Opaque'),
        (Reading("lab", [Opaque()]), "result.value[0] is of type Opaque"),
        ({"m": MpfLike(1.0), "o": {Opaque(): 1}}, 'result["o"] has a key of type Opaque'),
        (Report(readings=[1, Opaque()]), "result.readings[1] is of type Opaque"),
    ],
)
def test_values_without_json_form_are_refused_with_their_place(value: Any, where: str) -> None:
    with pytest.raises(UnserializableResult) as info:
        to_content(value)
    message = str(info.value)
    assert "cannot be written as JSON" in message  # what the executor's result says
    assert where in message


def test_a_cycle_is_refused() -> None:
    loop: dict[str, Any] = {"name": "loop"}
    loop["self"] = [loop]
    with pytest.raises(UnserializableResult, match=r'result\["self"\]\[0\] contains itself'):
        to_content(loop)


def test_a_shared_value_is_not_a_cycle() -> None:
    shared = [MpfLike(1.0)]
    assert strict_json(to_content({"a": shared, "b": shared, "c": b"\xff"})) == {
        "a": [1.0],
        "b": [1.0],
        "c": "/w==",
    }


def test_a_number_like_that_fails_to_convert_is_refused() -> None:
    class Broken:
        def __float__(self) -> float:
            raise OverflowError("too big")

    with pytest.raises(UnserializableResult, match=r'result\["x"\] is of type Broken'):
        to_content({"x": Broken()})


# --- hole 10a: NaN and Infinity ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (math.nan, None),
        ({"a": [1.0, math.inf, -math.inf]}, {"a": [1.0, None, None]}),
        ({"m": MpfLike(math.nan)}, {"m": None}),
        (ArrayLike([math.inf]), [None]),
        (Reading("x", math.nan), {"where": "x", "value": None}),
        ({"bytes": b"\xff", "nan": math.nan}, {"bytes": "/w==", "nan": None}),  # the slow path
    ],
)
def test_non_finite_floats_become_null(value: Any, expected: Any) -> None:
    assert strict_json(to_content(value)) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


@given(json_values)
def test_any_json_value_round_trips_with_non_finite_as_null(value: Any) -> None:
    content = to_content(value)
    if isinstance(value, str):
        assert content == value
    else:
        assert strict_json(content) == _finite(value)


number_likes = st.one_of(
    st.floats().map(MpfLike),
    st.integers().map(Int64Like),
    st.lists(st.floats(), max_size=3).map(ArrayLike),
    st.binary(max_size=4),
    st.decimals(),
)
mixed_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | number_likes,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=5), children, max_size=4)
        | st.builds(Reading, st.text(max_size=3), children)
    ),
    max_leaves=20,
)


@given(mixed_values)
def test_content_of_a_non_string_is_always_strict_json(value: Any) -> None:
    strict_json(to_content(value))


@pytest.mark.parametrize("depth", [300, 5000])
def test_a_value_nested_too_deeply_is_refused(depth: int) -> None:
    value: Any = []
    for _ in range(depth):
        value = [value]
    with pytest.raises(UnserializableResult, match="nested too deeply"):
        to_content(value)
