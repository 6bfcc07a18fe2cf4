"""Runners by name: the executor lists no kinds of runner, a built-in one is made (its module
imported) the first time a tool names it, and a runner given by name replaces or adds one."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from toolvolley import Executor, ToolCall, UserError, tool
from toolvolley.runners import CallContext, Runner, consume


def _fresh(code: str) -> str:
    """``code`` run in a fresh interpreter (nothing another test imported is loaded)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_thread_runner_loads_when_an_executor_first_needs_it() -> None:
    code = """
import sys, toolvolley
def loaded():
    return sorted(m for m in sys.modules if m.startswith("toolvolley.runners."))
@toolvolley.tool
def one() -> int:
    return 1
before = loaded()
executor = toolvolley.Executor([one])
print(before, loaded(), executor.run_sync([toolvolley.ToolCall("c", "one", {})])[0].value)
"""
    before = "['toolvolley.runners._base', 'toolvolley.runners._registry']"
    after = before[:-1] + ", 'toolvolley.runners._waiters', 'toolvolley.runners.threads']"
    assert _fresh(code) == f"{before} {after} 1"


def test_a_runner_given_by_a_built_in_name_is_used_and_the_built_in_never_loads() -> None:
    code = """
import sys, toolvolley
from toolvolley.runners import CallContext, Runner, consume
class Inline(Runner):
    async def run(self, call: CallContext) -> object:
        return ["inline", consume(call.tool.func(**call.arguments))]
@toolvolley.tool
def one() -> int:
    return 1
executor = toolvolley.Executor([one], runners={"thread": Inline()})
value = executor.run_sync([toolvolley.ToolCall("c", "one", {})])[0].value
print(value, executor.max_threads, "toolvolley.runners.threads" in sys.modules)
"""
    assert _fresh(code) == "['inline', 1] None False"


class _Tagged(Runner):
    """A runner of a name no built-in has."""

    async def run(self, call: CallContext) -> Any:
        return {"where": "tagged", "value": consume(call.tool.func(**call.arguments))}


def test_a_new_name_is_one_entry_of_runners() -> None:
    @tool(run_in="tagged")
    def one() -> int:
        return 1

    (result,) = Executor([one], runners={"tagged": _Tagged()}).run_sync([ToolCall("c", "one")])
    assert result.value == {"where": "tagged", "value": 1}


def test_an_unknown_name_lists_the_names_the_executor_has() -> None:
    @tool(run_in="gpu")
    def one() -> int:
        return 1

    with pytest.raises(UserError, match=r"no runner of that name \(it has: .*loop, process"):
        Executor([one])
    with pytest.raises(UserError, match=r"it has: .*tagged, thread"):
        Executor([one], runners={"tagged": _Tagged()})
