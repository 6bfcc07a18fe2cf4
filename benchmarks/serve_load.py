"""Load on ``toolvolley serve-model``: many concurrent streaming requests from several processes.

    python benchmarks/serve_load.py                                  # 200 at once, 4 processes
    python benchmarks/serve_load.py --concurrency 500 --rounds 2     # the most it allows

Starts ``serve-model`` on 127.0.0.1 (a free port), runs ``--clients`` client processes that keep
``--concurrency`` streaming Chat Completions requests in flight between them (at most 500) for
``--rounds`` rounds, then stops the server and prints a JSON report:

* ``errors``: requests that did not end with a 200, a finish reason and ``[DONE]`` (should be 0);
* ``added_latency_ms`` p50/p99: the time a client waited beyond the pace the model was asked for
  (``--first-token-s`` + output tokens / ``--token-rate``), i.e. what serving adds under load;
* ``server_cpu_ms_per_request``: the server process's user + system CPU over the run, per request
  (Linux: read from /proc); ``client_cpu_ms_per_request`` the same for the clients, which run on
  the same machine and, when it is short of cores, add latency of their own.
"""

from __future__ import annotations

import argparse
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


async def _one(client: httpx.AsyncClient, url: str, settings: dict[str, float]) -> float | None:
    """One streamed request; the latency it added over the requested pace, or None on error."""
    body = {
        "model": "offline",
        "messages": [{"role": "user", "content": PROMPT}],
        "tools": TOOLS,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    tokens, finished, done = 0, False, False
    try:
        async with client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
            if response.status_code != 200:
                return None
            async for line in response.aiter_lines():
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
    except httpx.HTTPError:
        return None
    elapsed = time.perf_counter() - started
    if not (done and finished and tokens):
        return None
    return elapsed - (settings["first_token_s"] + tokens / settings["token_rate"])


def _client(
    url: str,
    slots: int,
    rounds: int,
    settings: dict[str, float],
    barrier: Any,
    out: Any,
) -> None:
    async def run() -> list[float | None]:
        results: list[float | None] = []
        limits = httpx.Limits(max_connections=slots, max_keepalive_connections=slots)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:

            async def slot() -> None:
                for _ in range(rounds):
                    results.append(await _one(client, url, settings))

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
    parser.add_argument("--concurrency", type=int, default=200, help="requests in flight (<=500)")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--rounds", type=int, default=3, help="requests per in-flight slot")
    parser.add_argument("--token-rate", type=float, default=200.0, help="model tokens a second")
    parser.add_argument("--first-token-s", type=float, default=0.1, help="model first token")
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
         "--token-rate", str(args.token_rate), "--first-token-s", str(args.first_token_s)],
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
                target=_client, args=(url, n, args.rounds, settings, barrier, queue), daemon=True
            )
            for n in shares
        ]
        for worker in workers:
            worker.start()
        barrier.wait(timeout=60)
        cpu_before, started = _cpu_seconds(server.pid), time.perf_counter()
        results: list[float | None] = []
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
    added = sorted(r for r in results if r is not None)
    quantiles = (
        statistics.quantiles(added, n=100, method="inclusive") if len(added) > 1 else added * 99
    )
    return {
        "concurrency": args.concurrency,
        "client_processes": args.clients,
        "requests": len(results),
        "errors": sum(r is None for r in results),
        "wall_s": round(wall, 3),
        "requests_per_s": round(len(results) / wall, 1),
        "model_pace": f"first token {args.first_token_s} s, {args.token_rate:g} tokens/s",
        "added_latency_ms": {
            "p50": round(1000 * statistics.median(added), 1) if added else None,
            "p99": round(1000 * quantiles[98], 1) if added else None,
            "max": round(1000 * added[-1], 1) if added else None,
        },
        "server_cpu_ms_per_request": round(1000 * cpu / max(1, len(results)), 3),
        # The clients share the machine: when they are busy, they add latency the server did not.
        "client_cpu_ms_per_request": round(1000 * client_cpu / max(1, len(results)), 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
