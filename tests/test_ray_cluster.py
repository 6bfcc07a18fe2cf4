"""Three Ray nodes on one machine (``ray.cluster_utils.Cluster``, started once): a node removed
mid-batch costs exactly the calls running on it, each an ``error`` naming the loss."""

from __future__ import annotations

import uuid

import pytest

from ray_support import SESSION, gate, new_gate, ray
from toolvolley import Executor, ToolCall, tool
from toolvolley._ray import _Ray
from toolvolley.ray import RayRunner


@pytest.fixture(scope="module", autouse=True)
def _three_nodes() -> None:
    SESSION.three_nodes()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def got(ref: object) -> object:
    return await _Ray.get().wait(ref, lambda: None)


def _hold(gate_name: str, who: str) -> str:
    ray.get(gate(gate_name).start.remote(who))
    ray.get(gate(gate_name).wait_open.remote())
    return who


@pytest.mark.anyio
async def test_removing_a_node_mid_batch_gives_each_call_one_outcome() -> None:
    name = f"gate-{uuid.uuid4().hex}"
    g = new_gate(name, resources={"head": 0.01})  # on the head node, which stays
    steady = tool(name="steady", run_in=RayRunner(num_cpus=0, resources={"steady": 1}))(_hold)
    doomed = tool(name="doomed", run_in=RayRunner(num_cpus=0, resources={"doomed": 1}))(_hold)
    executor = Executor([steady, doomed])
    calls = [
        *(
            ToolCall(f"s{i}", "steady", f'{{"gate_name": "{name}", "who": "s{i}"}}')
            for i in range(3)
        ),
        *(
            ToolCall(f"d{i}", "doomed", f'{{"gate_name": "{name}", "who": "d{i}"}}')
            for i in range(3)
        ),
    ]
    batch = executor.batch()
    async with batch:
        for call in calls:
            batch.submit(call)
        await got(g.wait_started.remote(6))  # every body is running on its node
        cluster = SESSION.cluster
        node = next(n for n in cluster.worker_nodes if "doomed" in str(n._ray_params.resources))
        cluster.remove_node(node)  # kills its raylet and workers
        await got(g.release.remote())
    results = batch.results()
    assert [r.call_id for r in results] == [c.id for c in calls]  # one result each, in order
    assert [r.status for r in results] == ["ok"] * 3 + ["error"] * 3
    assert [r.value for r in results[:3]] == ["s0", "s1", "s2"]  # finished work is kept
    for r in results[3:]:
        assert "RayWorkerLost" in r.content
        assert "'doomed' was lost" in r.content
