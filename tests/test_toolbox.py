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


def test_a_hashed_wire_name_never_takes_another_tools_own_name() -> None:
    # "a.b" and "a:b" both become "a_b", so each gets a hash suffix; "a.b"'s is 2e7336dc, and
    # "a_b_2e7336dc" is a third tool's own (valid, kept) name. An MCP server can arrange this.
    names = ["a.b", "a:b", "a_b_2e7336dc"]
    box = Toolbox([_tool(n) for n in names])
    wires = box.wire_names
    assert len(set(wires)) == 3, wires
    assert box.wire_name("a_b_2e7336dc") == "a_b_2e7336dc"
    for name in names:
        found = box.get(box.wire_name(name))
        assert found is not None
        assert found.name == name
    assert [t["name"] for t in box.anthropic_tools()] == list(wires)


def test_a_changed_name_never_takes_a_hashed_one() -> None:
    # "a.b_2e7336dc" is made safe as "a_b_2e7336dc": the hash suffix "a.b" would get.
    names = ["a.b", "a:b", "a.b_2e7336dc"]
    forward = assign_wire_names(names)
    assert len(set(forward.values())) == 3, forward
    assert forward == assign_wire_names(list(reversed(names)))


_NAME_PARTS = st.sampled_from(["a", "b", "_", ".", ":", "-", " ", "2e7336dc", "6783a31e"])


@st.composite
def _clashing_names(draw: st.DrawFn) -> list[str]:
    """Names built from few parts, plus the hashed wire names some of them would get, as tools'
    own names: the sets an adversary picks to make wire names collide."""
    base = draw(st.lists(st.lists(_NAME_PARTS, min_size=1, max_size=6).map("".join), max_size=8))
    first = assign_wire_names(list(dict.fromkeys(base)))
    stolen = draw(st.lists(st.sampled_from(sorted(first.values()) or ["x"]), max_size=4))
    return list(dict.fromkeys([*base, *stolen]))


@given(_clashing_names())
def test_wire_names_are_unique_across_the_toolbox_whatever_the_names(names: list[str]) -> None:
    assigned = assign_wire_names(names)
    wires = list(assigned.values())
    assert all(WIRE.match(w) for w in wires)
    assert len(set(wires)) == len(wires)
    for name, wire in assigned.items():
        # A wire name is the tool's own name or no tool's own name at all.
        assert wire == name or wire not in assigned
    assert assigned == assign_wire_names(list(reversed(names)))
    box = Toolbox([_tool(n) for n in names])
    for name in names:
        found = box.get(box.wire_name(name))
        assert found is not None
        assert found.name == name
