"""LangChain: ``pip install 'toolvolley[langchain]'``.

::

    from langchain.agents import create_agent
    from toolvolley.langchain import ToolvolleyMiddleware, tools_from_langchain

    # create_agent: the calls of each model message scheduled together (caps, order, barriers)
    agent = create_agent(model, tools, middleware=[ToolvolleyMiddleware(max_concurrency=3)])

    # LangChain tools under toolvolley's own executor
    executor = Executor(tools_from_langchain([search]), timeout=10)
"""

from ._optional import require

require("langchain.agents", "langchain")

from .integrations._langchain_middleware import ToolvolleyMiddleware  # noqa: E402
from .integrations._langchain_tools import tools_from_langchain  # noqa: E402

__all__ = ["ToolvolleyMiddleware", "tools_from_langchain"]

for _name in __all__:
    globals()[_name].__module__ = __name__  # where users import it from
