"""Every text the model reads about a call that did not give a plain result, in one place.

A result's ``content`` is what the model sees of a call; a failure's text should say what
happened and what the model may do next. The batch, the references, the runners and the
framework adapters word each case with these functions, so one case reads the same wherever it
arises. Tests assert on these texts: change them here, knowingly.

Two families keep their own module, as each is a grammar of its own: what is wrong with a
call's arguments (``_argument_messages.py``) and where in a return value the JSON writer gave up
(``_content.py``, the reason inside :func:`unserializable`).
"""

from __future__ import annotations

import json

__all__ = [
    "argument_check_failed",
    "cancelled",
    "cancelled_before_start",
    "deadline_passed",
    "duplicate_id",
    "failed_silently",
    "in_doubt",
    "quoted",
    "ray_worker_lost",
    "reference_failed",
    "reference_missing",
    "reference_not_earlier",
    "references_prompt",
    "shared_result",
    "timed_out",
    "tool_failed",
    "unknown_tool",
    "unserializable",
    "value_shape",
    "worker_process_ended",
]


def quoted(text: str) -> str:
    """A name or id the model wrote, quoted and cut short: it may be anything, of any length."""
    shown = repr(text)
    return shown if len(shown) <= 80 else shown[:76] + "...'"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- before the call runs ---------------------------------------------------------------------


def duplicate_id(call_id: str) -> str:
    return (
        f"Duplicate tool call id {quoted(call_id)}: an earlier call in this turn has the "
        "same id, so this one was not run. Give every call its own id."
    )


def unknown_tool(name: str, available: str, withheld: str | None = None) -> str:
    """``available``: the tools' names, comma-separated; ``withheld``: why ``name`` was left out
    of the toolbox, if it was."""
    message = f"Unknown tool {quoted(name)}. Available tools: {available or 'none'}."
    if withheld is not None:
        message += f" {name!r} was left out: {withheld}"
    return message


def argument_check_failed(tool: str, described: str) -> str:
    """The tool's argument check itself raised (``described``: the exception, described)."""
    return f"Tool {tool!r} could not check its arguments: {described}"


# --- the call ended without a plain result ----------------------------------------------------


def tool_failed(tool: str, described: str) -> str:
    """The tool raised (``described``: the exception, described)."""
    return f"Tool {tool!r} failed with {described}"


def failed_silently(tool: str) -> str:
    """A failure whose own text was empty: Anthropic refuses an empty error tool_result."""
    return f"Tool {quoted(tool)} failed without saying why."


def unserializable(tool: str, why: object) -> str:
    """The tool's return value has no JSON form (``why``: an :class:`UnserializableResult`)."""
    return f"Tool {tool!r} {why}; no result can be shown."


_STILL_RUNNING = (
    "; its work could not be stopped and may still take effect. Check whether it did before "
    "calling it again."
)


def timed_out(tool: str, timeout: float, stopped: bool = True, started: bool = True) -> str:
    """``stopped``: False when the body could not be stopped (an abandoned thread);
    ``started``: False when the time ran out before its body started (its start was being
    recorded)."""
    if not started:
        return (
            f"Tool {tool!r} did not start within its {timeout:g} s timeout (its start could not "
            "be recorded in time), so it was not run. Call it again if you still need it."
        )
    if not stopped:
        return f"Tool {tool!r} did not finish within its {timeout:g} s timeout" + _STILL_RUNNING
    return (
        f"Tool {tool!r} did not finish within its {timeout:g} s timeout and was "
        "stopped. Continue without this result, or call it again if it is worth the wait."
    )


def deadline_passed(tool: str, deadline: float, started: bool, stopped: bool = True) -> str:
    if not stopped:
        return f"The batch deadline of {deadline:g} s passed before tool {tool!r} finished" + (
            _STILL_RUNNING
        )
    when = "finished; it was stopped" if started else "could start"
    return (
        f"The batch deadline of {deadline:g} s passed before tool "
        f"{tool!r} {when}. Continue without this result."
    )


def cancelled(tool: str, stopped: bool = True) -> str:
    """``stopped``: False when the body could not be stopped (an abandoned thread or actor
    call)."""
    if not stopped:
        return f"The call to {tool!r} was cancelled before it finished" + _STILL_RUNNING
    return f"The call to {tool!r} was cancelled before it finished; no result is available."


def cancelled_before_start(tool: str) -> str:
    return f"The call to {tool!r} was cancelled before it started; no result is available."


def worker_process_ended(exit_code: object) -> str:
    """A process runner's worker died mid-call (``exit_code``: its code, or how it ended)."""
    return f"The worker process ended (exit code {exit_code}) before it answered."


def ray_worker_lost(where: str, tool: str, detail: str, resent: bool) -> str:
    """The Ray ``where`` (worker, node, actor) running a call was lost; ``resent``: the call was
    sent again once (an idempotent tool)."""
    return f"the Ray {where} running {tool!r} was lost before it answered ({detail})" + (
        "; it was sent again once, as the tool is idempotent" if resent else ""
    )


def in_doubt(tool: str, why: str | None = None) -> str:
    """After a crash: the call had started and its result was never recorded (``why``: what a
    reconcile check said, if it failed)."""
    return (
        f"The call to {tool!r} was interrupted by a crash after it started, and its result was "
        "not recorded: it may or may not have taken effect. Check whether it did (e.g. look the "
        "effect up with another tool, or ask the user) before calling it again."
        + (f" (Its reconcile check failed: {why})" if why else "")
    )


def shared_result(first_id: str, content: str) -> str:
    """An identical call's timeout, given to a call that shared it (``Executor(dedupe=True)``)."""
    return (
        f"Same call as {first_id} (same tool and arguments), run once for both; "
        f"its result: {content}"
    )


# --- references (``Executor(references=True)``) -----------------------------------------------

_MAX_SHOWN = 300


def references_prompt() -> str:
    """Instruction text that tells a model how to write references (add it to the system
    prompt when the executor has ``references=True``)."""
    return (
        "When one tool call needs the result of another call in the same response, you do not "
        "have to wait for it: write all the calls at once, and in place of the value write a "
        'reference to the earlier call by its position in your response, "$1" for the first '
        'call, "$2" for the second, and so on. "$1" stands for the whole result of call 1; '
        '"$1.capital" for its field "capital"; "$1.items.0" for the first item of its list '
        '"items". A reference must be the entire string value of an argument, e.g. '
        '{"city": "$1.capital"}, and may only name a call written before it. Calls that refer '
        "to others run as soon as those have finished; if a referenced call fails, the calls "
        "that depend on it are not run and say so."
    )


def reference_not_earlier(bad: list[int], position: int) -> str:
    names = ", ".join(f"${n}" for n in bad)
    return (
        f"References {names} do not name an earlier call: this is call {position} of the "
        f"response, so it may refer to $1 to ${position - 1} only"
        + (" (there is none before it)" if position == 1 else "")
        + ". Write the calls it depends on before it, or give the value itself."
    )


def reference_failed(
    where: str, text: str, position: int, name: str, call_id: str, status: str, content: str
) -> str:
    return (
        f"Argument {where!r} refers to {text}, but call {position} ({name}, id "
        f"{call_id!r}) did not succeed ({status}): {_cut(content, _MAX_SHOWN)} "
        "This call was not run; call it again with the value itself if you can."
    )


def reference_missing(
    where: str, text: str, position: int, name: str, walked: str, shape: str
) -> str:
    """``shape``: what the value there is instead (from :func:`value_shape`)."""
    return (
        f"Argument {where!r} refers to {text}, but the result of call {position} "
        f"({name}) has no {walked}: {shape}. This call was not run."
    )


def value_shape(value: object) -> str:
    if isinstance(value, dict):
        keys = ", ".join(map(str, list(value)[:20])) or "none"
        return f"its fields are {keys}"
    if isinstance(value, list):
        return f"it is a list of {len(value)} items"
    return f"it is {_cut(json.dumps(value, default=str), _MAX_SHOWN)}"
