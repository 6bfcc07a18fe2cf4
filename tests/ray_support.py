"""One Ray for the whole test session, on loopback only: a local instance or a three-node
``ray.cluster_utils.Cluster``; switching between them restarts Ray, so test modules using the
same kind run together (test_ray.py, then test_ray_cluster.py)."""

from __future__ import annotations

import atexit
import os
import time
from pathlib import Path
from typing import Any, Literal

import pytest

ray: Any = pytest.importorskip("ray")
from ray import cluster_utils  # noqa: E402
from ray._private import ray_constants  # noqa: E402

from toolvolley import tool  # noqa: E402

TESTS = str(Path(__file__).parent)

# Ray picks its node address by asking the OS for the route to a public address unless told
# this "cluster" is single-machine: this flag (despite its name, the only switch in Ray 2.60)
# makes it use 127.0.0.1, so the GCS, raylets and workers bind and talk on loopback only.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray_constants.ENABLE_RAY_CLUSTER = False
# Workers inherit the raylet's environment: let them import the test helper modules too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (TESTS, os.environ.get("PYTHONPATH", "")) if p
)

_INIT = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
# "pool" (steady 1, doomed 2): a call pinned to it can run on either worker node, so it has
# somewhere to go again when the doomed one is removed. "pair": one call per worker node.
STEADY = {"steady": 100, "pool": 1, "pair": 1}
DOOMED = {"doomed": 100, "pool": 2, "pair": 1}


class _Session:
    def __init__(self) -> None:
        self.kind: str | None = None
        self.cluster: Any = None
        self.steady_node: Any = None
        self.doomed_node: Any = None
        atexit.register(self.stop)

    def stop(self) -> None:
        if ray.is_initialized():
            ray.shutdown()
        if self.cluster is not None:
            self.cluster.shutdown()
            self.cluster = None
        self.kind = None

    def local(self) -> None:
        if self.kind != "local":
            self.stop()
            # "local": a new instance, never one another process left running on this machine
            ray.init(address="local", num_cpus=2, _node_ip_address="127.0.0.1", **_INIT)
            self.kind = "local"

    def three_nodes(self) -> Any:
        """Head (1 CPU, the limiter and gate actors) and two workers: "steady" and "doomed"."""
        if self.kind != "cluster":
            self.stop()
            cluster = cluster_utils.Cluster(
                initialize_head=True,
                head_node_args={
                    "num_cpus": 1,
                    "resources": {"head": 1},
                    "include_dashboard": False,
                },
            )
            self.cluster = cluster
            self.steady_node = cluster.add_node(num_cpus=2, resources=STEADY)
            self.doomed_node = cluster.add_node(num_cpus=2, resources=DOOMED)
            cluster.wait_for_nodes()
            ray.init(address=cluster.address, **_INIT)
            self.kind = "cluster"
        return self.cluster

    def doomed(self) -> Any:
        """The worker node a test may remove; started again (about a second) if one was."""
        cluster = self.three_nodes()
        if self.doomed_node not in cluster.worker_nodes:
            self.doomed_node = cluster.add_node(num_cpus=2, resources=DOOMED)
            cluster.wait_for_nodes()
        return self.doomed_node


SESSION = _Session()


class Gate:
    """A named actor the tools report to and wait on: order across processes by events.

    ``enter``/``leave`` around a body meter the bodies running at once, with a timestamped log
    (one actor, one call at a time: the count is exact whatever node the bodies run on)."""

    def __init__(self) -> None:
        import asyncio

        self.started: list[str] = []
        self.nodes: list[str] = []  # where each start ran, in step with started
        self.changed = asyncio.Event()
        self.open = asyncio.Event()
        self.running = 0
        self.peak = 0
        self.log: list[tuple[float, int, str]] = []  # (time.time(), running after, who)

    async def start(self, who: str, node: str = "") -> None:
        self.started.append(who)
        self.nodes.append(node)
        self.changed.set()

    async def enter(self, who: str, node: str) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        self.log.append((time.time(), self.running, who))
        await self.start(who, node)

    async def leave(self, who: str) -> None:
        self.running -= 1
        self.log.append((time.time(), self.running, who))

    async def meter(self) -> dict[str, Any]:
        return {"running": self.running, "peak": self.peak, "log": list(self.log)}

    async def starts(self) -> list[tuple[str, str]]:
        return list(zip(self.started, self.nodes, strict=True))

    async def wait_started(self, n: int) -> list[str]:
        while len(self.started) < n:
            self.changed.clear()
            await self.changed.wait()
        return list(self.started)

    async def release(self) -> None:
        self.open.set()

    async def wait_open(self) -> None:
        await self.open.wait()

    async def count(self) -> int:
        return len(self.started)


def new_gate(name: str, **options: Any) -> Any:
    """A fresh named gate (namespace ``toolvolley-tests``)."""
    remote: Any = ray.remote(Gate)
    return remote.options(
        name=name, namespace="toolvolley-tests", max_concurrency=1000, num_cpus=0, **options
    ).remote()


def gate(name: str) -> Any:
    """Inside a tool: the gate called ``name``."""
    return ray.get_actor(name, namespace="toolvolley-tests")


def node_id() -> str:
    """Inside a task: the id of the node it runs on (as ``Node.node_id``)."""
    return str(ray.get_runtime_context().get_node_id())


BATCH_GATE = "batch-gate"  # fixed: --tools names a module attribute, no arguments


@tool
def hold(word: Literal["alpha", "beta"]) -> str:
    """Hold until the batch gate opens; return the node it ran on.

    Args:
        word: one of "alpha", "beta".
    """
    node = node_id()
    ray.get(gate(BATCH_GATE).start.remote(word, node))
    ray.get(gate(BATCH_GATE).wait_open.remote())
    return node


HELD = [hold]  # toolvolley batch --tools ray_support:HELD


def batch_on_ray(source: Path, out: Path, **changes: Any) -> dict[str, Any]:
    """``run_batch_command``'s options for a fast offline batch on Ray from ``source`` to
    ``out``, with ``changes`` on top."""
    return {
        "input_path": str(source),
        "output": str(out),
        "tools_spec": None,
        "concurrency": 4,
        "max_turns": 10,
        "provider": "offline",
        "base_url": None,
        "model": None,
        "token_rate": 20_000,
        "first_token": 0,
        "latency": 0.01,
        "json_summary": True,
        "ray": "auto",
        **changes,
    }
