"""An MCP server as a subprocess, spoken to over its stdin and stdout.

The SDK's own ``stdio_client`` keeps the process to itself, and a model told only "connection
closed" cannot tell a crash from a clean exit. This transport keeps the process, so a lost
connection is described by what happened to it: its exit code or signal, the last line it wrote
to stderr, or the line on stdout that was not JSON-RPC.
"""

from __future__ import annotations

import collections
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import mcp_types
from mcp.client.stdio import get_default_environment
from mcp.os.posix.utilities import terminate_posix_process_tree
from mcp.shared.message import SessionMessage

from ._outcomes import Fate
from ._transport import Link

__all__ = ["StdioTransport"]

_EXIT_GRACE = 2.0  # seconds a server has to exit once its stdin is closed, then again after SIGTERM
_EXIT_WAIT = 1.0  # seconds a failed call waits to learn the exit code of a server that went away
_STDERR_LINES = 20


@dataclass(frozen=True, slots=True)
class StdioTransport:
    """How to start the server: ``command``, ``args``, and ``env`` over a minimal environment."""

    command: str
    args: tuple[str, ...]
    env: Mapping[str, str] | None = None
    cwd: str | None = None

    @property
    def label(self) -> str:
        return "stdio: " + " ".join([self.command, *self.args])

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[Link]:
        process = await anyio.open_process(
            [self.command, *self.args],
            env={**get_default_environment(), **(self.env or {})},
            cwd=self.cwd,
            stderr=subprocess.PIPE,
            # its own process group: a Ctrl-C meant for us is not the server's to handle, and
            # closing can stop everything it started (see _stop)
            start_new_session=True,
        )
        link = _StdioLink(process)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(link.pump_stdout)
                tg.start_soon(link.pump_stdin)
                tg.start_soon(link.pump_stderr)
                try:
                    yield link
                finally:
                    with anyio.CancelScope(shield=True):
                        await _stop(process)
                    tg.cancel_scope.cancel()
        finally:
            with anyio.move_on_after(_EXIT_GRACE, shield=True):
                await link.close_streams()
                await process.aclose()
            if process.returncode is None:  # the grace ran out: never leave it running
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                with anyio.CancelScope(shield=True):
                    await process.aclose()


@dataclass(eq=False)
class _StdioLink:
    process: anyio.abc.Process
    bad_line: str | None = None
    stdout_closed: bool = False
    stderr_tail: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=_STDERR_LINES)
    )

    def __post_init__(self) -> None:
        self._read_send, self.read_stream = anyio.create_memory_object_stream[
            SessionMessage | Exception
        ](0)
        self.write_stream, self._write_receive = anyio.create_memory_object_stream[SessionMessage](
            0
        )

    @property
    def alive(self) -> bool:
        return not self.stdout_closed and self.process.returncode is None

    async def pump_stdout(self) -> None:
        assert self.process.stdout is not None
        try:
            await self._pump_stdout(self.process.stdout)
        finally:
            self.stdout_closed = True

    async def _pump_stdout(self, stdout: anyio.abc.ByteReceiveStream) -> None:
        async with self._read_send, contextlib.aclosing(_lines(stdout)) as lines:
            async for line in lines:
                if not line.strip():
                    continue
                item: SessionMessage | Exception
                try:
                    message = mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                    item = SessionMessage(message)
                except ValueError as exc:
                    if self.bad_line is None:
                        self.bad_line = line.decode(errors="replace")
                    item = exc
                try:
                    await self._read_send.send(item)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return

    async def pump_stdin(self) -> None:
        assert self.process.stdin is not None
        try:
            async with self._write_receive:
                async for session_message in self._write_receive:
                    message = session_message.message
                    data = message.model_dump_json(by_alias=True, exclude_unset=True)
                    await self.process.stdin.send(data.encode() + b"\n")
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            # The server stopped reading: end the session's input too, so no request waits forever.
            await self._read_send.aclose()

    async def pump_stderr(self) -> None:
        assert self.process.stderr is not None
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            async with contextlib.aclosing(_lines(self.process.stderr)) as lines:
                async for line in lines:
                    if text := line.decode(errors="replace").strip():
                        self.stderr_tail.append(text)

    async def close_streams(self) -> None:
        for stream in (self._read_send, self.read_stream, self.write_stream, self._write_receive):
            await stream.aclose()

    def fate(self, request_id: Any) -> Fate:
        return "answered"  # every message on the read stream is a line the server wrote

    def what_happened(self, request_id: Any) -> str | None:
        return None  # the server's own lines, or nothing

    async def describe_loss(self, error: str) -> str:
        """What became of the server, for a call whose connection closed under it."""
        if self.bad_line is not None:
            return f"wrote a line to stdout that is not JSON-RPC ({_shorten(self.bad_line)!r})"
        with anyio.move_on_after(_EXIT_WAIT):
            await self.process.wait()
        code = self.process.returncode
        if code is None:
            what = "closed its stdout but is still running"
        elif code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            what = f"was killed by {name}"
        else:
            what = f"exited with code {code}"
        if self.stderr_tail:
            what += f" (last stderr line: {_shorten(self.stderr_tail[-1])!r})"
        return what


async def _lines(stream: anyio.abc.ByteReceiveStream) -> AsyncGenerator[bytes, None]:
    # The line so far is kept as the chunks it came in and joined once, when it ends: joining it
    # on every chunk would copy a 32 MB result about 500 times.
    pending: list[bytes] = []
    with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError):
        async for chunk in stream:
            start = 0
            while (end := chunk.find(b"\n", start)) >= 0:
                pending.append(chunk[start:end])
                line = b"".join(pending)
                pending.clear()
                yield line
                start = end + 1
            if start < len(chunk):
                pending.append(chunk[start:])
    if pending:
        yield b"".join(pending)


async def _stop(process: anyio.abc.Process) -> None:
    """Close stdin and give the server time to exit, then SIGTERM, then SIGKILL (MCP's order).

    The signals go to the server's whole process group: started through a wrapper that does not
    exec it (``sh -c``, ``npx``, ``uvx``), the real server is the wrapper's child, and killing the
    wrapper alone would leave it running. Whatever is left in the group once the server exited
    goes the same way.
    """
    if process.stdin is not None:
        with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            await process.stdin.aclose()
    with anyio.move_on_after(_EXIT_GRACE):
        await _exited(process)
    if sys.platform == "win32":  # pragma: no cover - no process groups: the server alone
        for stop in (process.terminate, process.kill):
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    stop()
                with anyio.move_on_after(_EXIT_GRACE):
                    await process.wait()
        return
    # The server's pid is its group's id (start_new_session); the SDK's own escalation: SIGTERM
    # to the group, then SIGKILL to whatever is left of it.
    await terminate_posix_process_tree(process, _EXIT_GRACE)
    with anyio.move_on_after(_EXIT_GRACE):
        await _exited(process)


async def _exited(process: anyio.abc.Process) -> None:
    # Not process.wait(): on asyncio it also waits for the pipes to close, and a child that
    # inherited them (the server behind a wrapper) makes an exited wrapper look alive.
    while process.returncode is None:  # noqa: ASYNC110 - no event says a process exited
        await anyio.sleep(0.01)


def _shorten(text: str, limit: int = 200) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."
