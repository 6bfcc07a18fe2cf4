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

from . import _events
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
from ._events import ExecutionHooks
from ._executor import Executor
from ._loop import LoopResult, run_loop, run_turn
from ._many import Outcome, run_many
from ._model import Message, ModelAdapter, ModelResponse, Usage
from ._policies import Hedge, Retry
from ._references import references_prompt
from ._result_messages import result_messages
from ._scheduling import Mode, SideEffectsPolicy
from ._sources import ToolSource
from ._toolbox import Toolbox
from ._tools import RunIn, Tool, ToolList, tool

__all__ = [
    "Batch",
    "ExecutionHooks",
    "Executor",
    "Hedge",
    "LoopResult",
    "MaxTurnsExceeded",
    "Message",
    "Mode",
    "ModelAdapter",
    "ModelError",
    "ModelResponse",
    "Outcome",
    "Retry",
    "RunIn",
    "SchemaError",
    "SideEffectsPolicy",
    "StreamCutError",
    "Tool",
    "ToolCall",
    "ToolError",
    "ToolList",
    "ToolResult",
    "ToolSource",
    "ToolStatus",
    "Toolbox",
    "ToolvolleyError",
    "Usage",
    "UserError",
    "references_prompt",
    "result_messages",
    "run_loop",
    "run_many",
    "run_turn",
    "tool",
]

__version__ = "0.1.0.dev0"

# Names that left the root, and where they live now: ``toolvolley.TextDelta`` says so rather than
# working on (a root of about thirty names is one a reader can take in).
_MOVED = {
    **dict.fromkeys((n for n in _events.__all__ if n not in __all__), "toolvolley.events"),
    **dict.fromkeys(
        ("Bar", "BatchReport", "Timeline", "save_timelines", "timelines_svg"), "toolvolley.observe"
    ),
    **dict.fromkeys(("ProcessRunner", "Runner", "ThreadRunner"), "toolvolley.runners"),
}


def __getattr__(name: str) -> object:
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module 'toolvolley' has no attribute {name!r}")
    raise AttributeError(f"toolvolley.{name} has moved to {home}: from {home} import {name}")
