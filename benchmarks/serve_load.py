"""Load on ``toolvolley serve-model``: many concurrent streaming requests from several processes.

    python benchmarks/serve_load.py                                  # 200 at once, 4 processes
    python benchmarks/serve_load.py --concurrency 500 --rounds 2     # the most it allows

Starts ``serve-model`` on 127.0.0.1 (a free port), runs ``--clients`` client processes that keep
``--concurrency`` streaming Chat Completions requests in flight between them (at most 500) for
``--rounds`` rounds, then stops the server and prints a JSON report. Each request in flight has
its own keep-alive connection, spoken by a small hand-written HTTP/1.1 client: httpx cost six
times the server's CPU a request, so the clients, not the server, set the latency.

* ``errors``: requests that did not end with a 200, a finish reason and ``[DONE]`` (should be 0),
  and ``error_kinds`` saying what happened to them. A client too slow to send its next request
  within uvicorn's 5 s keep-alive finds its connection closed (``EndOfStream`` on a connection
  reused after 5 s idle): what the httpx clients met at 500 in flight;
* ``added_latency_ms`` p50/p99: the time a client waited beyond the pace the model was asked for
  (``--first-token`` + output tokens / ``--token-rate``), i.e. what serving adds under load;
  ``added_latency_ms_by_round`` the same per round: the first round's requests all arrive at
  once, later ones as earlier requests end;
* ``server_cpu_ms_per_request``: the server process's user + system CPU over the run, per request
  (Linux: read from /proc); ``client_cpu_ms_per_request`` the same for the clients, which run on
  the same machine and, when it is short of cores, add latency of their own.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

import anyio
import anyio.abc
import httpx

MAX_CONCURRENCY = 500
PROMPT = "What's the weather in Seoul, Tokyo and Paris?"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name"}},
                "required": ["city"],
            },
        },
    }
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` so far (Linux /proc; 0.0 where there is none)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Connection:
    """One keep-alive HTTP/1.1 connection, spoken by hand.

    httpx cost the clients 6-10 ms of CPU a streamed request here (six times the server's), so
    on a 2-core machine the clients, not the server, set the latency; this costs a fraction.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.stream: anyio.abc.SocketStream | None = None
        self.buffer = bytearray()
        self.idle_since = 0.0

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """The status and the whole (de-chunked) body."""
        if self.stream is None:
            self.stream = await anyio.connect_tcp(self.host, self.port)
            self.buffer.clear()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        await self.stream.send(head.encode() + body)
        status_line, *lines = (await self._until(b"\r\n\r\n")).split(b"\r\n")
        headers = dict(line.lower().split(b": ", 1) for line in lines)
        if headers.get(b"transfer-encoding") == b"chunked":
            parts = []
            while size := int((await self._until(b"\r\n")).split(b";")[0], 16):
                parts.append(await self._exactly(size + 2))
            await self._until(b"\r\n")  # no trailers
            content = b"".join(part[:-2] for part in parts)
        else:
            content = await self._exactly(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection") == b"close":
            await self.close()
        self.idle_since = time.perf_counter()
        return int(status_line.split()[1]), content

    async def close(self) -> None:
        if self.stream is not None:
            await self.stream.aclose()
            self.stream = None

    async def _fill(self) -> None:
        assert self.stream is not None
        self.buffer += await self.stream.receive(65536)

    async def _until(self, separator: bytes) -> bytes:
        while (at := self.buffer.find(separator)) < 0:
            await self._fill()
        found = bytes(self.buffer[:at])
        del self.buffer[: at + len(separator)]
        return found

    async def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            await self._fill()
        found = bytes(self.buffer[:size])
        del self.buffer[:size]
        return found


async def _one(connection: _Connection, settings: dict[str, float]) -> float | str:
    """One streamed request: the latency it added over the requested pace, or what went wrong."""
    body = json.dumps(
        {
            "model": "offline",
            "messages": [{"role": "user", "content": PROMPT}],
            "tools": TOOLS,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    ).encode()
    reused = connection.stream is not None
    idle = time.perf_counter() - connection.idle_since
    started = time.perf_counter()
    try:
        with anyio.fail_after(120):
            status, content = await connection.post("/v1/chat/completions", body)
    except (OSError, anyio.EndOfStream, anyio.BrokenResourceError, TimeoutError) as exc:
        await connection.close()
        where = f"a connection reused after {idle:.1f} s idle" if reused else "a new connection"
        return f"{type(exc).__name__} on {where}"
    elapsed = time.perf_counter() - started
    if status != 200:
        return f"HTTP {status}"
    tokens, finished, done = 0, False, False
    for line in content.decode().split("\n"):  # every event parsed, as a client would
        if not line.startswith("data: "):
            continue
        if line == "data: [DONE]":
            done = True
            continue
        chunk = json.loads(line[6:])
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
        if any(c.get("finish_reason") for c in chunk.get("choices", [])):
            finished = True
    if not (done and finished and tokens):
        return "stream ended without a finish reason, usage and [DONE]"
    return elapsed - (settings["first_token_s"] + tokens / settings["token_rate"])


def _client(
    port: int,
    slots: int,
    rounds: int,
    settings: dict[str, float],
    barrier: Any,
    out: Any,
) -> None:
    async def run() -> list[tuple[int, float | str]]:
        results: list[tuple[int, float | str]] = []  # (round, what _one returned)

        async def slot() -> None:  # one connection per request in flight, kept alive
            connection = _Connection("127.0.0.1", port)
            try:
                for round_ in range(rounds):
                    results.append((round_, await _one(connection, settings)))
            finally:
                await connection.close()

        barrier.wait()  # every process starts at once
        async with anyio.create_task_group() as group:
            for _ in range(slots):
                group.start_soon(slot)
        return results

    cpu_before = time.process_time()
    results = anyio.run(run)
    out.put((results, time.process_time() - cpu_before))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the default)")
    parser.add_argument("--concurrency", type=int, default=200, help="requests in flight (<=500)")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--rounds", type=int, default=3, help="requests per in-flight slot")
    parser.add_argument("--token-rate", type=float, default=200.0, help="model tokens a second")
    parser.add_argument(
        "--first-token", dest="first_token_s", type=float, default=0.1, help="model first token"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        parser.error(f"--concurrency must be from 1 to {MAX_CONCURRENCY}")
    if not 1 <= args.clients <= args.concurrency or args.rounds < 1:
        parser.error("--clients must be from 1 to --concurrency, and --rounds at least 1")
    settings = {"first_token_s": args.first_token_s, "token_rate": args.token_rate}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "toolvolley", "serve-model", "--port", str(port),
         "--token-rate", str(args.token_rate), "--first-token", str(args.first_token_s)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/v1/models", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("serve-model did not start") from None
                time.sleep(0.05)
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(args.clients + 1)
        queue = context.Queue()
        shares = [args.concurrency // args.clients] * args.clients
        for i in range(args.concurrency % args.clients):
            shares[i] += 1
        workers = [
            context.Process(
                target=_client, args=(port, n, args.rounds, settings, barrier, queue), daemon=True
            )
            for n in shares
        ]
        for worker in workers:
            worker.start()
        barrier.wait(timeout=60)
        cpu_before, started = _cpu_seconds(server.pid), time.perf_counter()
        results: list[tuple[int, float | str]] = []
        client_cpu = 0.0
        for _ in workers:
            got, spent = queue.get(timeout=600)
            results += got
            client_cpu += spent
        wall = time.perf_counter() - started
        cpu = _cpu_seconds(server.pid) - cpu_before
        for worker in workers:
            worker.join(30)
    finally:
        server.terminate()
        server.wait(10)
    added = sorted(r for _, r in results if isinstance(r, float))
    failures = collections.Counter(r for _, r in results if isinstance(r, str))
    return {
        "concurrency": args.concurrency,
        "client_processes": args.clients,
        "requests": len(results),
        "errors": sum(failures.values()),
        "error_kinds": dict(failures.most_common()),
        "wall_s": round(wall, 3),
        "requests_per_s": round(len(results) / wall, 1),
        "model_pace": f"first token {args.first_token_s} s, {args.token_rate:g} tokens/s",
        "added_latency_ms": _latencies(added),
        # The first round's requests all arrive at once; later rounds arrive as earlier ones end.
        "added_latency_ms_by_round": [
            _latencies(sorted(r for n, r in results if n == round_ and isinstance(r, float)))
            for round_ in range(args.rounds)
        ],
        "server_cpu_ms_per_request": round(1000 * cpu / max(1, len(results)), 3),
        # The clients share the machine: when they are busy, they add latency the server did not.
        "client_cpu_ms_per_request": round(1000 * client_cpu / max(1, len(results)), 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def _latencies(added: list[float]) -> dict[str, float | None]:
    """p50, p99 and max of sorted seconds, in milliseconds."""
    if not added:
        return {"p50": None, "p99": None, "max": None}
    quantiles = (
        statistics.quantiles(added, n=100, method="inclusive") if len(added) > 1 else added * 99
    )
    return {
        "p50": round(1000 * statistics.median(added), 1),
        "p99": round(1000 * quantiles[98], 1),
        "max": round(1000 * added[-1], 1),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
