from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolvolley import Tool, Toolbox, UserError, tool
from toolvolley._toolbox import assign_wire_names

WIRE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _tool(name: str) -> Tool:
    return Tool.from_schema(name, f"The {name} tool.", {"type": "object"}, lambda: name)


@tool
def get_time(zone: str) -> str:
    """Time in a zone."""
    return zone


def test_valid_names_are_kept_and_dotted_names_made_safe() -> None:
    box = Toolbox([get_time, _tool("spotify.play")])
    assert box.wire_name("get_time") == "get_time"
    assert box.wire_name("spotify.play") == "spotify_play"
    assert box.get("spotify_play") is box.get("spotify.play")
    assert "spotify_play" in box
    assert "spotify.play" in box
    assert box.get("missing") is None


def test_clashing_names_get_distinct_wire_names_whatever_the_order() -> None:
    names = ["spotify.play", "spotify_play", "spotify play", "x" * 70, "x" * 70 + ".y"]
    forward = assign_wire_names(names)
    backward = assign_wire_names(list(reversed(names)))
    assert forward == backward
    assert forward["spotify_play"] == "spotify_play"
    assert len(set(forward.values())) == len(names)
    assert all(WIRE.match(wire) for wire in forward.values())


@given(st.lists(st.text(min_size=1, max_size=80), unique=True, max_size=12))
def test_wire_names_are_always_valid_unique_and_reversible(names: list[str]) -> None:
    box = Toolbox([_tool(n) for n in names])
    wires = [box.wire_name(n) for n in names]
    assert all(WIRE.match(w) for w in wires)
    assert len(set(wires)) == len(wires)
    for name, wire in zip(names, wires, strict=True):
        found = box.get(wire)
        assert found is not None
        assert found.name == name


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(UserError, match="share the name"):
        Toolbox([get_time, get_time])
    with pytest.raises(UserError, match="Tool objects"):
        Toolbox([lambda: 1])  # type: ignore[list-item]


def test_wire_formats() -> None:
    box = Toolbox([_tool("spotify.play")])
    params: dict[str, Any] = {"type": "object", "properties": {}}
    assert box.openai_chat_tools() == [
        {
            "type": "function",
            "function": {
                "name": "spotify_play",
                "description": "The spotify.play tool.",
                "parameters": params,
            },
        }
    ]
    assert box.openai_responses_tools() == [
        {
            "type": "function",
            "name": "spotify_play",
            "description": "The spotify.play tool.",
            "parameters": params,
            "strict": False,
        }
    ]
    assert box.anthropic_tools() == [
        {"name": "spotify_play", "description": "The spotify.play tool.", "input_schema": params}
    ]


def test_with_tools_returns_a_new_toolbox() -> None:
    box = Toolbox([get_time])
    bigger = box.with_tools(_tool("other"))
    assert box.names == ("get_time",)
    assert bigger.names == ("get_time", "other")
