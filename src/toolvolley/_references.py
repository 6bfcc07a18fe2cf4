"""References between the calls of one response: ``"$1"``, ``"$1.capital"``.

With ``Executor(references=True)`` an argument may name the result of an earlier call of the
same batch by its 1-based position, so a model can write a dependent call in the same parallel
response instead of waiting a turn for the first result::

    get_capital(country="France")                       # call 1
    get_weather(city="$1.capital")                      # call 2: runs once call 1 has its result

The rules, in one place:

* **Only a whole string value is a reference**: ``"$1"`` or ``"$1.path.to.field"`` (a list item
  by its index: ``"$1.items.0"``), anywhere in the arguments, nested objects and lists included.
  A string that merely contains one (``"see $1"``) is left as it is, and so is an object key.
  There is no escape, which is why references are opt-in: leave them off when ``"$1"`` may be a
  real value.
* A reference forward, to the call itself, or to position 0 is ``invalid_arguments`` when the
  call is submitted; it never runs.
* A call with references is a scheduling policy: its turn (:class:`ReferenceTurn`) waits for the
  calls it names to have their results, then for the scheduler's own turn (barriers, limits).
  References point backwards only, so the waits form a graph without cycles: nothing deadlocks.
* The value substituted is the referenced result's ``value`` when it is plain JSON data (dict,
  list, str, number, bool), otherwise its ``content`` parsed as JSON (the text itself when it is
  not JSON). The arguments are validated against the tool's schema only then.
* A reference to a call that did not succeed gives an ``error`` result naming that call; a field
  that is not there gives an ``error`` naming the path. Neither runs the tool.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _wording as wording
from ._calls import ToolCall, ToolResult, ToolStatus
from ._schema import ArgumentsError
from ._wording import references_prompt

if TYPE_CHECKING:
    from ._results import Slot
    from ._scheduling import AdmissionLike
    from ._tools import Tool

__all__ = [
    "ReferenceTurn",
    "Unresolved",
    "plan_references",
    "references_prompt",
    "resolve",
    "resolved_arguments",
    "waits_for",
]

_REFERENCE = re.compile(r"\$([0-9]+)((?:\.[^.]+)*)")
_PLAIN = (dict, list, str, int, float, bool)


class Unresolved(Exception):
    """A call whose references could not be filled in: it ends with ``status`` and ``message``
    without running."""

    def __init__(self, status: ToolStatus, message: str, cause: BaseException | None = None):
        super().__init__(message)
        self.status: ToolStatus = status
        self.message = message
        self.cause = cause


def plan_references(call: ToolCall, index: int) -> tuple[dict[str, Any], tuple[int, ...]] | None:
    """The parsed arguments and the 0-based indices they refer to, or None when ``call`` has no
    references (or arguments that are not a JSON object: normal validation reports those).

    Raises :class:`ArgumentsError` for a reference that is not to an earlier call.
    """
    raw = call.arguments
    if isinstance(raw, str):
        if "$" not in raw:
            return None
        try:
            arguments = json.loads(raw)
        except ValueError:
            return None
    else:
        arguments = dict(raw)
    if not isinstance(arguments, dict):
        return None
    found: set[int] = set()
    _collect(arguments, found)
    if not found:
        return None
    position = index + 1
    bad = sorted(n for n in found if not 1 <= n < position)
    if bad:
        raise ArgumentsError(wording.reference_not_earlier(bad, position))
    return arguments, tuple(sorted(n - 1 for n in found))


def waits_for(
    slots: Sequence[Slot], indices: tuple[int, ...], make_event: Callable[[], Any]
) -> tuple[Any, ...]:
    """Events set when each of the calls at ``indices`` has its result (none for those that
    already have it): what a call that refers to them waits for."""
    events = []
    for i in indices:
        slot = slots[i]
        if slot.result is None:
            if slot.done is None:
                slot.done = make_event()
            events.append(slot.done)
    return tuple(events)


def resolved_arguments(slot: Slot, slots: Sequence[Slot], tool: Tool) -> dict[str, Any]:
    """``slot``'s arguments with its references filled in from the results of ``slots``,
    validated against ``tool``'s schema (else :class:`Unresolved`)."""
    assert slot.arguments is not None

    def result_at(index: int) -> ToolResult:
        result = slots[index].result
        assert result is not None, "a reference is resolved only after its call has a result"
        return result

    arguments = resolve(slot.arguments, result_at)
    try:
        return tool.arguments.validate(arguments)
    except ArgumentsError as exc:
        raise Unresolved("invalid_arguments", exc.message, exc.cause) from exc


def _collect(value: Any, found: set[int]) -> None:
    if isinstance(value, str):
        match = _REFERENCE.fullmatch(value)
        if match is not None:
            found.add(int(match.group(1)))
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)


def resolve(
    arguments: Mapping[str, Any],
    result_of: Callable[[int], ToolResult],
) -> dict[str, Any]:
    """``arguments`` with every reference replaced by the value it names.

    ``result_of(i)`` is the result of the call at 0-based index ``i`` (which has one by now).
    Raises :class:`Unresolved` for a failed call or a missing field.
    """
    return {key: _substitute(value, result_of, key) for key, value in arguments.items()}


def _substitute(value: Any, result_of: Callable[[int], ToolResult], where: str) -> Any:
    if isinstance(value, str):
        match = _REFERENCE.fullmatch(value)
        if match is None:
            return value
        return _lookup(value, int(match.group(1)), match.group(2), result_of, where)
    if isinstance(value, dict):
        return {k: _substitute(v, result_of, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, result_of, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _lookup(
    text: str, position: int, path: str, result_of: Callable[[int], ToolResult], where: str
) -> Any:
    result = result_of(position - 1)
    if result.status != "ok":
        raise Unresolved(
            "error",
            wording.reference_failed(
                where, text, position, result.name, result.call_id, result.status, result.content
            ),
        )
    current = _value_of(result)
    walked = f"${position}"
    for part in path.split(".")[1:]:
        walked += f".{part}"
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            shape = wording.value_shape(current)
            raise Unresolved(
                "error",
                wording.reference_missing(where, text, position, result.name, walked, shape),
            )
    return current


def _value_of(result: ToolResult) -> Any:
    if type(result.value) in _PLAIN:
        return result.value
    try:
        return json.loads(result.content)
    except ValueError:
        return result.content


class ReferenceTurn:
    """The turn of a call with references: wait for the referenced calls' results (their
    ``done`` events, set when each has its result), then for the scheduler's ``inner`` turn.

    While it waits for references it holds no place in any limit, so a dependent call never
    keeps the calls it waits for from starting.
    """

    __slots__ = ("_events", "_inner")

    waits = True

    def __init__(self, inner: AdmissionLike, events: tuple[Any, ...]) -> None:
        self._inner = inner
        self._events = events

    async def wait(self, owner: object) -> None:
        for event in self._events:
            await event.wait()
        if self._inner.waits:
            await self._inner.wait(owner)

    def release(self, owner: object) -> None:
        if self._inner.waits:
            self._inner.release(owner)

    def finish(self) -> None:
        self._inner.finish()
