"""Three Ray nodes on one machine (``ray.cluster_utils.Cluster``, started once): a node removed
mid-batch costs exactly the calls (or conversations) running on it, each an ``error`` naming the
loss; idempotent calls are sent again and land on a node that survives; the cluster-wide limit
holds across nodes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

from ray_support import BATCH_GATE, SESSION, batch_on_ray, gate, new_gate, node_id, ray
from toolvolley import Executor, ToolCall, tool
from toolvolley.ray import RayRunner, limiter_name
from toolvolley.runners.ray import RayApi


@pytest.fixture(scope="module", autouse=True)
def _three_nodes() -> None:
    SESSION.three_nodes()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def got(ref: Any) -> Any:
    return await RayApi.get().wait(ref, lambda: None)


def _hold(gate_name: str, who: str) -> str:
    ray.get(gate(gate_name).start.remote(who))
    ray.get(gate(gate_name).wait_open.remote())
    return who


@pytest.mark.anyio
async def test_removing_a_node_mid_batch_gives_each_call_one_outcome() -> None:
    name = f"gate-{uuid.uuid4().hex}"
    g = new_gate(name, resources={"head": 0.01})  # on the head node, which stays
    SESSION.doomed()
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
        SESSION.cluster.remove_node(SESSION.doomed())  # kills its raylet and workers
        await got(g.release.remote())
    results = batch.results()
    assert [r.call_id for r in results] == [c.id for c in calls]  # one result each, in order
    assert [r.status for r in results] == ["ok"] * 3 + ["error"] * 3
    assert [r.value for r in results[:3]] == ["s0", "s1", "s2"]  # finished work is kept
    for r in results[3:]:
        assert "failed with WorkerLost: " in r.content
        assert "'doomed' was lost" in r.content


async def _remove(node: Any) -> None:
    """Kill a worker node's raylet and workers (blocking for a moment: not on the loop)."""
    await anyio.to_thread.run_sync(SESSION.cluster.remove_node, node)


def _pinned(gate_name: str, who: str) -> str:
    g = gate(gate_name)
    ray.get(g.start.remote(who, node_id()))
    ray.get(g.wait_open.remote())
    return node_id()


@pytest.mark.anyio
async def test_on_a_removed_node_an_idempotent_call_succeeds_on_its_second_try() -> None:
    """Both calls are pinned by "pool", which the doomed node (2) and the steady one (1, held
    by a blocker at first) have: they start on the doomed node; it is removed. The retry keeps
    the tool's resources and runs on the steady node; the unsafe call is an error, run once."""
    name = f"gate-{uuid.uuid4().hex}"
    g = new_gate(name, resources={"head": 0.01})
    doomed, steady = SESSION.doomed().node_id, SESSION.steady_node.node_id

    def pinned(tool_name: str, idempotent: bool, **resources: float) -> Any:
        runner = RayRunner(num_cpus=0, resources=resources)
        return tool(name=tool_name, run_in=runner, idempotent=idempotent, timeout=60)(_pinned)

    executor = Executor(
        [
            pinned("blocker", False, steady=1, pool=1),
            pinned("safe", True, pool=1),
            pinned("unsafe", False, pool=1),
        ]
    )

    def call(tool_name: str) -> ToolCall:
        return ToolCall(tool_name, tool_name, json.dumps({"gate_name": name, "who": tool_name}))

    batch = executor.batch()
    with anyio.fail_after(60):
        async with batch:
            batch.submit(call("blocker"))
            await got(g.wait_started.remote(1))  # the steady node's "pool" is taken
            batch.submit(call("safe"))
            batch.submit(call("unsafe"))
            await got(g.wait_started.remote(3))
            assert sorted(await got(g.starts.remote())) == [
                ("blocker", steady),
                ("safe", doomed),
                ("unsafe", doomed),
            ]
            await _remove(SESSION.doomed_node)
            await got(g.release.remote())  # the blocker ends: the steady "pool" is free
    results = {r.call_id: r for r in batch.results()}
    assert results["blocker"].status == "ok"
    assert results["safe"].status == "ok", results["safe"].content
    assert results["safe"].value == steady  # the second try ran on a node that survives
    assert results["unsafe"].status == "error"
    assert "failed with WorkerLost: " in results["unsafe"].content
    assert "'unsafe' was lost" in results["unsafe"].content
    starts = await got(g.starts.remote())
    assert [n for who, n in starts if who == "safe"] == [doomed, steady]
    assert [n for who, n in starts if who == "unsafe"] == [doomed]  # never sent again


def _metered(gate_name: str, who: str) -> str:
    g = gate(gate_name)
    ray.get(g.enter.remote(who, node_id()))
    try:
        ray.get(g.wait_open.remote())
    finally:
        ray.get(g.leave.remote(who))
    return node_id()


@pytest.mark.anyio
async def test_the_cluster_wide_limit_holds_across_nodes_and_executors() -> None:
    """One tool, two executors with runners of their own: B's calls run on the two worker
    nodes ("pair": one each), A's on the head. Limit 2: B's two hold both slots, A's wait."""
    tool_name = f"spread_{uuid.uuid4().hex[:8]}"
    name = f"gate-{uuid.uuid4().hex}"
    g = new_gate(name, resources={"head": 0.01})
    nodes = {SESSION.cluster.head_node.node_id, SESSION.steady_node.node_id}
    nodes.add(SESSION.doomed().node_id)

    def spread(**resources: float) -> Executor:
        runner = RayRunner(num_cpus=0, resources=resources, max_concurrency_cluster=2)
        return Executor([tool(name=tool_name, run_in=runner, timeout=60)(_metered)])

    on_head, on_workers = spread(head=0.01), spread(pair=1)

    def calls(prefix: str) -> list[ToolCall]:
        args = [json.dumps({"gate_name": name, "who": f"{prefix}{i}"}) for i in range(3)]
        return [ToolCall(f"{prefix}{i}", tool_name, a) for i, a in enumerate(args)]

    values: dict[str, list[Any]] = {}

    async def run(key: str, executor: Executor) -> None:
        results = await executor.run(calls(key))
        values[key] = [r.value if r.status == "ok" else r.content for r in results]

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run, "w", on_workers)
            first = await got(g.wait_started.remote(2))  # two of w0..w2, on the worker nodes
            assert len({n for _, n in await got(g.starts.remote())}) == 2, first
            tg.start_soon(run, "h", on_head)
            # Nothing to await for a call that must not start: give it a bounded chance.
            with anyio.move_on_after(2):
                await got(g.wait_started.remote(3))
            meter = await got(g.meter.remote())
            assert meter["running"] == 2, meter["log"]
            limiter = ray.get_actor(limiter_name(tool_name), namespace="toolvolley")
            assert (await got(limiter.stats.remote()))["held"] == 2
            await got(g.release.remote())
    assert set(values["h"]) == {SESSION.cluster.head_node.node_id}
    assert set(values["w"]) <= nodes - {SESSION.cluster.head_node.node_id}
    meter = await got(g.meter.remote())
    assert meter["peak"] == 2, meter["log"]  # never more than 2 bodies at once, 3 nodes
    assert meter["running"] == 0
    assert len(meter["log"]) == 12  # each of the 6 bodies entered and left once
    assert {n for _, n in await got(g.starts.remote())} == nodes
    with anyio.fail_after(20):
        await got(limiter.wait_idle.remote())
    assert await got(limiter.stats.remote()) == {"limit": 2, "held": 0, "peak": 2}


def test_a_node_removed_mid_batch_on_ray_fails_its_conversations_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``toolvolley batch --ray`` (``run_many(ray=...)``) with two conversations per chunk and
    one chunk per CPU, so two chunks run on the doomed node: when it is removed, their four
    conversations are recorded failed naming the loss, once each; every other line is whole."""
    import threading

    from toolvolley.cli.batch import run_batch_command

    g = new_gate(BATCH_GATE, resources={"head": 0.01})  # fixed name: the --tools module's
    try:
        doomed = SESSION.doomed().node_id
        cpus = int(ray.cluster_resources()["CPU"])
        in_flight = 2 * cpus  # every chunk task gets a CPU of its own: all start at once
        source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
        ids = [f"c{i}" for i in range(in_flight + 4)]
        source.write_text(
            "".join(
                json.dumps({"id": x, "prompt": f"say {('alpha', 'beta')[i % 2]}"}) + "\n"
                for i, x in enumerate(ids)
            )
        )
        codes: list[int] = []
        batch = threading.Thread(
            target=lambda: codes.append(
                run_batch_command(
                    **batch_on_ray(
                        source,
                        out,
                        tools_spec="ray_support:HELD",
                        concurrency=in_flight,
                        max_turns=4,
                    )
                )
            )
        )
        batch.start()
        try:
            ray.get(g.wait_started.remote(in_flight), timeout=90)
            on_doomed = [n for _, n in ray.get(g.starts.remote(), timeout=10)].count(doomed)
            assert on_doomed == 4  # two chunks of two on its two CPUs
            SESSION.cluster.remove_node(SESSION.doomed_node)
        finally:
            ray.get(g.release.remote(), timeout=10)
            batch.join(timeout=90)
        assert not batch.is_alive()
        assert codes == [0]
        summary = json.loads(capsys.readouterr().out)
        data = out.read_bytes()
        assert data.endswith(b"\n")  # no partial line
        rows = [json.loads(line) for line in data.splitlines()]
        assert sorted(r["id"] for r in rows) == sorted(ids)  # every id exactly once
        failed = [r for r in rows if not r["ok"]]
        assert len(failed) == on_doomed == summary["failed"]
        for r in failed:
            assert r["error"].startswith("WorkerLost: the Ray worker running this conversation")
            assert "not run again" in r["error"]
            assert r["final_text"] is None
        for r in rows:
            if r["ok"]:
                assert r["final_text"]
                assert [(c["name"], c["status"]) for c in r["tool_calls"]] == [("hold", "ok")]
                answers = [m for m in r["transcript"] if m.get("role") == "tool"]
                assert len(answers) == 1
                assert doomed not in answers[0]["content"]  # it ran on a node that stayed
        assert summary["conversations"] == len(ids)
    finally:
        ray.kill(g)
