"""LangGraph's ``ToolNode``, its calls run by toolvolley: ``pip install 'toolvolley[langgraph]'``.

::

    from toolvolley.langgraph import ToolNode   # was: from langgraph.prebuilt import ToolNode

    tool_node = ToolNode([search, fetch_page], timeout=30, max_concurrency=4)

Everything else about the node is LangGraph's own (see :class:`ToolNode`).
"""

from ._optional import require

require("langgraph.prebuilt", "langgraph")
require("langchain_core", "langgraph")

from .integrations._langgraph import ToolNode, ToolTimeoutError  # noqa: E402

__all__ = ["ToolNode", "ToolTimeoutError"]

for _name in __all__:
    globals()[_name].__module__ = __name__  # where users import it from
