"""A well-behaved server that counts its handlers, so tests can see what reached it.

``slow`` records, per ``group``, how many of its handlers are running now and the most that ran
at once; ``stats`` reports them. A handler cancelled by ``notifications/cancelled`` leaves the
count through its ``finally``, so a count that stays up means cancellations did not arrive.
"""

from __future__ import annotations

import base64
import collections
import json
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ImageContent, TextContent, ToolAnnotations
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).parents[1]))  # run as a script: find the package
from mcp_servers._serve import serve

server = MCPServer("counting", log_level="WARNING")
running: collections.Counter[str] = collections.Counter()
most: collections.Counter[str] = collections.Counter()
finished: collections.Counter[str] = collections.Counter()
cancelled: collections.Counter[str] = collections.Counter()


@server.tool(annotations=ToolAnnotations(read_only_hint=True), structured_output=False)
def echo(text: str) -> str:
    """Say the text back."""
    return text


@server.tool(
    annotations=ToolAnnotations(destructive_hint=False, idempotent_hint=True),
    structured_output=False,
)
async def slow(seconds: float, group: str) -> str:
    """Sleep, counting the handlers of ``group`` that are running."""
    running[group] += 1
    most[group] = max(most[group], running[group])
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        cancelled[group] += 1
        raise
    finally:
        running[group] -= 1
    finished[group] += 1
    return f"slept {seconds}"


live: collections.defaultdict[str, list[list[int]]] = collections.defaultdict(list)
order: collections.defaultdict[str, list[str]] = collections.defaultdict(list)


async def _beside(group: str, count: int, tag: str) -> None:
    """Count this handler in ``group`` and wait until it has run beside ``count - 1`` others
    at some moment (a sibling that already finished still counts)."""
    running[group] += 1
    most[group] = max(most[group], running[group])
    order[group].append(f"+{tag}")
    peak = [0]
    live[group].append(peak)
    for other in live[group]:
        other[0] = max(other[0], running[group])
    try:
        while peak[0] < count:  # noqa: ASYNC110 - other requests' handlers move the count
            await anyio.sleep(0.005)
    finally:
        live[group].remove(peak)
        running[group] -= 1
        order[group].append(f"-{tag}")


@server.tool(annotations=ToolAnnotations(read_only_hint=True), structured_output=False)
async def look(group: str, until: int, tag: str) -> str:
    """Read-only: wait until ``until`` handlers of ``group`` have run at once (this included)."""
    await _beside(group, until, tag)
    return "looked"


@server.tool(annotations=ToolAnnotations(destructive_hint=True), structured_output=False)
async def wipe(group: str, until: int, tag: str) -> str:
    """Destructive: like ``look``, answering how many handlers of ``group`` were running when
    it started."""
    before = running[group]
    await _beside(group, until, tag)
    return f"{before} running before"


@server.tool(annotations=ToolAnnotations(read_only_hint=True), structured_output=False)
def history(group: str) -> str:
    """The starts (``+tag``) and ends (``-tag``) of ``look`` and ``wipe`` in ``group``."""
    return " ".join(order[group])


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def stats(group: str) -> dict[str, int]:
    """Handlers of ``group``: running now, most at once, finished, cancelled."""
    return {
        "running": running[group],
        "most": most[group],
        "finished": finished[group],
        "cancelled": cancelled[group],
    }


@server.tool()
def fail(message: str) -> str:
    """Fail with the message (an isError result)."""
    raise ToolError(message)


class Forecast(BaseModel):
    city: str
    celsius: float


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def forecast(city: str) -> Forecast:
    """A structured result, with an output schema."""
    return Forecast(city=city, celsius=21.5)


@server.tool(structured_output=False)
def picture() -> list[Any]:
    """Text and a 4-byte image."""
    return [
        TextContent(type="text", text="a tiny picture"),
        ImageContent(type="image", data=base64.b64encode(b"PNG!").decode(), mime_type="image/png"),
    ]


@server.tool(structured_output=False)
async def progress(steps: int, ctx: Context) -> str:
    """Report progress ``steps`` times, then answer."""
    for step in range(1, steps + 1):
        await ctx.report_progress(step, steps, f"step {step}")
    return "done"


@server.tool()
async def add_tool(name: str, ctx: Context) -> str:
    """Add a tool called ``name`` and tell the client the list changed."""

    def added() -> str:
        return f"I am {name}"

    server.add_tool(
        added, name=name, description=f"Added at run time: {name}", structured_output=False
    )
    await ctx.session.send_tool_list_changed()
    return f"added {name}"


@server.tool()
def http_500() -> str:
    """Never runs: over HTTP the wrapper below answers its request with a 500."""
    return "unreachable"


answered_by_status: collections.Counter[str] = collections.Counter()


@server.tool()
def http_404() -> str:
    """Over HTTP the wrapper below takes this call (counted) and answers it with HTTP 404 and a
    JSON-RPC error for its id, as a server mapping a "not found" to the status would."""
    return "unreachable"


@server.tool()
def http_502() -> str:
    """Over HTTP the wrapper below takes this call (counted), then answers HTTP 502 with no
    JSON-RPC in the body, as a proxy whose upstream went away mid-call would."""
    return "unreachable"


@server.tool(annotations=ToolAnnotations(read_only_hint=True), structured_output=False)
def status_calls(name: str) -> str:
    """How many calls of ``http_404`` or ``http_502`` the wrapper took."""
    return str(answered_by_status[name])


cut_short = {"waiting": 0, "sent": 0}


@server.tool()
def http_cut_short(how: str) -> str:
    """Over HTTP the wrapper below takes this call and, once an ``after_cut_short`` call is
    running, answers with a JSON body that cannot be read: ``how="cut"``, the connection closes
    before its last byte; ``how="gzip"``, it says it is gzip-encoded and is not."""
    return "unreachable"


@server.tool(structured_output=False)
async def after_cut_short() -> str:
    """Answer once the wrapper has cut an ``http_cut_short`` answer short."""
    cut_short["waiting"] += 1
    while not cut_short["sent"]:  # noqa: ASYNC110 - the wrapper moves it
        await anyio.sleep(0.01)
    return "answered after the cut"


def fail_http_500(app: Any) -> Any:
    """Answer any POST that calls ``http_500`` with HTTP 500, as a broken proxy would (and
    ``http_404``, ``http_502``, ``http_cut_short`` as their docstrings say)."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if b'"http_500"' in body:
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b"proxy error"})
            return
        called = json.loads(body) if body else None
        params = called.get("params") if isinstance(called, dict) else None
        name = params.get("name") if isinstance(params, dict) else None
        if name == "http_cut_short" and isinstance(params, dict):
            while not cut_short["waiting"]:  # noqa: ASYNC110 - a sibling's handler moves it
                await anyio.sleep(0.01)
            headers = [(b"content-type", b"application/json")]
            if (params.get("arguments") or {}).get("how") == "gzip":
                headers.append((b"content-encoding", b"gzip"))
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": b'{"jsonrpc": "2.0"}'})
                cut_short["sent"] += 1
                return
            headers.append((b"content-length", b"100"))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"jsonrpc"', "more_body": True})
            cut_short["sent"] += 1
            return  # uvicorn closes the connection: the body never ends
        if isinstance(called, dict) and name in ("http_404", "http_502"):
            answered_by_status[name] += 1
            error = {"code": -32002, "message": f"{name}: no such record"}
            answer = json.dumps({"jsonrpc": "2.0", "id": called["id"], "error": error}).encode()
            status, headers = 404, [(b"content-type", b"application/json")]
            if name == "http_502":
                status, answer, headers = 502, b"bad gateway", []
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": answer})
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await app(scope, replay, send)

    return wrapped


if __name__ == "__main__":
    serve(server, wrap=fail_http_500)
