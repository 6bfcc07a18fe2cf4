"""toolvolley: run an LLM's tool calls concurrently, with exactly one answer per call.

::

    from toolvolley import Executor, ToolCall, Toolbox, tool

    @tool
    async def get_weather(city: str) -> dict[str, float]:
        \"\"\"Current weather for a city.\"\"\"
        ...

    executor = Executor(Toolbox([get_weather]), timeout=10)
    results = executor.run_sync([ToolCall("c1", "get_weather", '{"city": "Paris"}')])
"""

import typing

from ._batch import Batch
from ._calls import ToolCall, ToolResult, ToolStatus
from ._errors import (
    MaxTurnsExceeded,
    ModelError,
    SchemaError,
    StreamCutError,
    ToolError,
    ToolvolleyError,
    UserError,
)
from ._events import (
    BatchView,
    CallFinished,
    CallProgress,
    CallReady,
    CallStarted,
    ExecutionHooks,
    StreamUpdate,
    TextDelta,
    TurnEvent,
    TurnFinished,
    TurnStats,
    report_progress,
)
from ._executor import Executor
from ._loop import LoopResult, run_loop, run_turn
from ._many import Outcome, run_many
from ._model import ModelAdapter, ModelResponse, Usage
from ._policies import Hedge, Retry
from ._references import references_prompt
from ._report import BatchReport
from ._result_messages import result_messages
from ._scheduling import Mode, SideEffectsPolicy
from ._timeline import Bar, Timeline, save_timelines, timelines_svg
from ._toolbox import Toolbox
from ._tools import RunIn, Tool, ToolList, tool
from .runners import Runner

if typing.TYPE_CHECKING:
    from .runners import ProcessRunner, ThreadRunner

__all__ = [
    "Bar",
    "Batch",
    "BatchReport",
    "BatchView",
    "CallFinished",
    "CallProgress",
    "CallReady",
    "CallStarted",
    "ExecutionHooks",
    "Executor",
    "Hedge",
    "LoopResult",
    "MaxTurnsExceeded",
    "Mode",
    "ModelAdapter",
    "ModelError",
    "ModelResponse",
    "Outcome",
    "ProcessRunner",
    "Retry",
    "RunIn",
    "Runner",
    "SchemaError",
    "SideEffectsPolicy",
    "StreamCutError",
    "StreamUpdate",
    "TextDelta",
    "ThreadRunner",
    "Timeline",
    "Tool",
    "ToolCall",
    "ToolError",
    "ToolList",
    "ToolResult",
    "ToolStatus",
    "Toolbox",
    "ToolvolleyError",
    "TurnEvent",
    "TurnFinished",
    "TurnStats",
    "Usage",
    "UserError",
    "references_prompt",
    "report_progress",
    "result_messages",
    "run_loop",
    "run_many",
    "run_turn",
    "save_timelines",
    "timelines_svg",
    "tool",
]

__version__ = "0.1.0.dev0"


_LAZY = ("ProcessRunner", "ThreadRunner")  # their modules load on first use


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from . import runners

        return getattr(runners, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
