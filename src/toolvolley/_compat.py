"""Other projects' private APIs that toolvolley relies on, each behind one name here.

A private name may change in any release of its project. Each wrapper's comment names the
version it was checked on; when one moves, this module is the one place to change, and
``tests/test_compat.py`` the test that fails first. Optional projects (mcp, Ray, LangGraph) are
imported inside their wrappers, so importing this module loads none of them.

Not here, because they are not private: ``BaseTool._arun`` (LangChain's documented hook for a
tool's async body) and ``os._exit`` (documented in the standard library).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from anyio._core._eventloop import threadlocals as _anyio_threadlocals

if TYPE_CHECKING:  # for annotations only (import them under TYPE_CHECKING too)
    # The stream types mcp's ClientSession takes (mcp.client._transport re-exports them), and
    # those of its context-carrying memory streams. Checked on mcp 2.3.0.
    from mcp.shared._context_streams import ContextReceiveStream, ContextSendStream
    from mcp.shared._stream_protocols import ReadStream as ReadStream
    from mcp.shared._stream_protocols import WriteStream as WriteStream

__all__ = [
    "MCP_TRANSPORT_HOOKS",
    "RAY_WORKER_LOGGER",
    "botocore_raw_stream",
    "drop_quietly",
    "langgraph_default_error_handler",
    "langgraph_error_content",
    "langgraph_handled_types",
    "local_ray_session",
    "mcp_context_streams",
    "ray_on_this_machine_only",
    "set_thread_token",
    "shut_socket_down",
]


# --- anyio ----------------------------------------------------------------------------------


def set_thread_token(token: object | None) -> None:
    """Tell ``anyio.from_thread`` which event loop this worker thread serves (None: none), as
    anyio's own worker threads do, so a tool's body can call back into the loop without a
    token. Where anyio keeps it: ``anyio._core._eventloop.threadlocals.current_token``, checked
    on anyio 4.16.0 (trio keeps its own record; there a caller passes the token)."""
    if token is None:
        vars(_anyio_threadlocals).pop("current_token", None)  # this thread's own record
    else:
        _anyio_threadlocals.current_token = token


# --- asyncio --------------------------------------------------------------------------------


def drop_quietly(task: asyncio.Task[Any]) -> None:
    """No "Task was destroyed but it is pending!" log when ``task`` is dropped pending with its
    loop (expected of a task that lives as long as the run). ``Task._log_destroy_pending``,
    checked on CPython 3.10 to 3.13 (3.11.7, 3.12.1, 3.13.0); a loop whose tasks lack it
    (another implementation) is left as it is."""
    if hasattr(task, "_log_destroy_pending"):
        task._log_destroy_pending = False


# --- mcp --------------------------------------------------------------------------------------


def mcp_context_streams(
    max_buffer_size: float = 0,
) -> tuple[ContextSendStream[Any], ContextReceiveStream[Any]]:
    """A pair of memory streams that carry each message's context, as the SDK's own transports
    make them (``mcp.shared._context_streams.create_context_streams``, checked on mcp 2.3.0)."""
    from mcp.shared._context_streams import create_context_streams

    streams: tuple[ContextSendStream[Any], ContextReceiveStream[Any]]
    streams = create_context_streams(max_buffer_size)
    return streams


# The SDK's StreamableHTTPTransport methods that toolvolley.mcp._http._Transport overrides or
# calls, to tell a lost request from the server's answer (checked on mcp 2.3.0).
MCP_TRANSPORT_HOOKS = (
    "_handle_post_request",
    "_resolve_abandoned_request",
    "_is_initialization_request",
)


# --- Ray ----------------------------------------------------------------------------------------

# The logger of Ray's worker module, whose SIGTERM warning toolvolley filters (Ray 2.60.0).
RAY_WORKER_LOGGER = "ray._private.worker"


def local_ray_session(ray: Any) -> str | None:
    """The session directory of the Ray that ``ray.init`` started in this process (its raylet is
    among the processes the node owns); None when connected to a running cluster, or when Ray's
    internals have another shape. ``ray._private.worker._global_node`` and
    ``ray._private.ray_constants.PROCESS_TYPE_RAYLET``, checked on Ray 2.60.0."""
    try:
        node = ray._private.worker._global_node
        started = ray._private.ray_constants.PROCESS_TYPE_RAYLET in node.all_processes
        session = str(node.get_session_dir_path())
    except (AttributeError, TypeError):
        return None
    return session if started else None


def ray_on_this_machine_only() -> None:
    """Keep a local Ray on loopback: without it Ray binds to the default route's address, even
    for one machine. ``ray._private.ray_constants.ENABLE_RAY_CLUSTER``, checked on Ray 2.60.0."""
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False


# --- LangGraph --------------------------------------------------------------------------------
# ToolNode's error handling, reused so that toolvolley's node words errors as LangGraph's does.
# langgraph.prebuilt.tool_node, checked on LangGraph 1.2.24.


def langgraph_default_error_handler() -> Callable[[Exception], str]:
    """ToolNode's default ``handle_tool_errors`` (``_default_handle_tool_errors``)."""
    from langgraph.prebuilt.tool_node import _default_handle_tool_errors

    return _default_handle_tool_errors


def langgraph_error_content(error: Exception, flag: Any) -> str:
    """The ToolMessage content ToolNode makes of ``error`` under ``handle_tool_errors=flag``
    (``_handle_tool_error``)."""
    from langgraph.prebuilt.tool_node import _handle_tool_error

    return _handle_tool_error(error, flag=flag)


def langgraph_handled_types(handler: Callable[..., str]) -> tuple[type[Exception], ...]:
    """The exception types a custom handler's annotations say it handles
    (``_infer_handled_types``)."""
    from langgraph.prebuilt.tool_node import _infer_handled_types

    return _infer_handled_types(handler)


# --- botocore ---------------------------------------------------------------------------------
# EventStream keeps the HTTP body it reads (urllib3's HTTPResponse) as _raw_stream; the response
# keeps its socket's shutdown as _sock_shutdown (its public shutdown() refuses once botocore has
# handed the connection back, as it has by then, and shuts only the reading side, so the server
# would go on waiting). Checked on botocore 1.44.18 and urllib3 2.8.0.


def botocore_raw_stream(stream: Any) -> Any:
    """The HTTP body a ``botocore.eventstream.EventStream`` reads, or None."""
    return getattr(stream, "_raw_stream", None)


def shut_socket_down(body: Any) -> None:
    """Shut down (both ways) the socket a urllib3 response reads: a read blocked on it in
    another thread ends at once, and the server sees the connection go. Nothing if the body has
    no socket (the offline model's) or it is shut already."""
    import socket

    shutdown = getattr(body, "_sock_shutdown", None)
    if callable(shutdown):
        with contextlib.suppress(OSError):
            shutdown(socket.SHUT_RDWR)
