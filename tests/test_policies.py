"""Retries and hedged calls for idempotent tools: every attempt counted, none after the call."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from toolvolley import (
    ExecutionHooks,
    Executor,
    Hedge,
    Retry,
    Tool,
    ToolCall,
    ToolError,
    ToolResult,
    UserError,
    tool,
)
from toolvolley.observe import Timeline
from toolvolley.runners.policies import HEDGE_LOST, PolicyRunner

pytestmark = pytest.mark.every_runtime

NO_WAIT = Retry(attempts=3, backoff=0, max_backoff=1, jitter=False)


def flaky(failures: int, error: Exception, *, idempotent: bool = True, **options: Any) -> Tool:
    """An async tool that raises ``error`` on its first ``failures`` invocations."""
    calls: list[int] = []

    async def fetch() -> str:
        calls.append(len(calls))
        await anyio.lowlevel.checkpoint()
        if len(calls) <= failures:
            raise error
        return f"fetched on try {len(calls)}"

    made = Tool.from_schema(
        "fetch", "Fetch.", {"type": "object"}, fetch, idempotent=idempotent, **options
    )
    made.func.calls = calls  # type: ignore[attr-defined]
    return made


def invocations(t: Tool) -> int:
    return len(t.func.calls)  # type: ignore[attr-defined]


# --- retries --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_retried_call_answers_and_shows_every_attempt() -> None:
    fetch = flaky(2, ConnectionError("reset"), retry=NO_WAIT)
    (result,) = await Executor([fetch]).run([ToolCall("c1", "fetch")])
    assert result.status == "ok"
    assert result.content == "fetched on try 3"
    assert result.attempts == 3
    assert result.attempt_errors == ("ConnectionError: reset", "ConnectionError: reset")
    assert "(3 attempts)" in Timeline.from_results([result]).render()


@pytest.mark.anyio
async def test_retries_stop_at_the_cap_and_the_last_error_answers() -> None:
    fetch = flaky(5, TimeoutError("slow upstream"), retry=NO_WAIT)
    (result,) = await Executor([fetch]).run([ToolCall("c1", "fetch")])
    assert result.status == "error"
    assert "TimeoutError: slow upstream" in result.content
    assert (result.attempts, len(result.attempt_errors), invocations(fetch)) == (3, 2, 3)


@pytest.mark.anyio
async def test_an_error_the_policy_does_not_name_is_not_retried() -> None:
    fetch = flaky(1, ValueError("bad input"), retry=NO_WAIT)
    (result,) = await Executor([fetch]).run([ToolCall("c1", "fetch")])
    assert (result.status, result.attempts, invocations(fetch)) == ("error", 1, 1)


@pytest.mark.anyio
async def test_the_executor_policy_applies_to_idempotent_tools_only() -> None:
    once = flaky(1, ConnectionError("reset"), idempotent=False).with_options(name="once")
    again = flaky(1, ConnectionError("reset")).with_options(name="again")
    executor = Executor([once, again], retry=NO_WAIT)
    results = await executor.run([ToolCall("c1", "once"), ToolCall("c2", "again")])
    assert [(r.status, r.attempts) for r in results] == [("error", 1), ("ok", 2)]


def test_a_policy_on_a_tool_that_is_not_idempotent_is_refused_when_defined() -> None:
    with pytest.raises(UserError, match="not idempotent"):
        flaky(0, ConnectionError(), idempotent=False, retry=NO_WAIT)
    with pytest.raises(UserError, match="not idempotent"):

        @tool(hedge=Hedge(after=1))
        async def write() -> None: ...


@pytest.mark.parametrize(
    "options",
    [
        {"attempts": 0},
        {"attempts": True},
        {"backoff": -1},
        {"backoff": 3, "max_backoff": 2},
        {"jitter": 1},
        {"on": (BaseException,)},
        {"on": ()},
        {"on": ConnectionError},
    ],
)
def test_retry_is_checked_when_built(options: dict[str, Any]) -> None:
    with pytest.raises(UserError):
        Retry(**options)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"after": 0},
        {"percentile": 100},
        {"after": 1, "max_share": 0},
        {"after": 1, "window": 0},
    ],
)
def test_hedge_is_checked_when_built(options: dict[str, Any]) -> None:
    with pytest.raises(UserError):
        Hedge(**options)


def test_backoff_doubles_up_to_the_cap_and_jitter_stays_under_it() -> None:
    fixed = Retry(backoff=0.1, max_backoff=0.3, jitter=False)
    assert [fixed.delay(n) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.3, 0.3]
    jittered = Retry(backoff=0.1, max_backoff=0.3)
    assert all(0 <= jittered.delay(3) <= 0.3 for _ in range(100))


@pytest.mark.anyio
async def test_a_backoff_that_would_pass_the_timeout_is_not_slept() -> None:
    patient = Retry(attempts=3, backoff=60, max_backoff=60, jitter=False)
    fetch = flaky(5, ConnectionError("reset"), retry=patient, timeout=30)
    with anyio.fail_after(10):
        (result,) = await Executor([fetch]).run([ToolCall("c1", "fetch")])
    assert (result.status, result.attempts, invocations(fetch)) == ("error", 1, 1)


@pytest.mark.anyio
async def test_the_timeout_holds_for_all_attempts_and_none_starts_after_it() -> None:
    starts: list[int] = []

    async def fetch() -> str:
        starts.append(len(starts))
        if len(starts) == 1:
            raise TimeoutError("upstream")
        await anyio.sleep_forever()
        raise AssertionError

    slow = Tool.from_schema(
        "fetch", "Fetch.", {"type": "object"}, fetch, idempotent=True, retry=NO_WAIT, timeout=0.2
    )
    (result,) = await Executor([slow]).run([ToolCall("c1", "fetch")])
    assert result.status == "timeout"
    assert (result.attempts, result.attempt_errors) == (2, ("TimeoutError: upstream",))
    for _ in range(20):
        await anyio.lowlevel.checkpoint()
    assert len(starts) == 2


@pytest.mark.anyio
async def test_sync_tools_in_threads_are_retried() -> None:
    count = [0]

    def read() -> int:
        count[0] += 1
        if count[0] < 3:
            raise ConnectionError("refused")
        return count[0]

    sync = Tool.from_schema("read", "Read.", {"type": "object"}, read, idempotent=True)
    (result,) = await Executor([sync], retry=NO_WAIT).run([ToolCall("c1", "read")])
    assert (result.status, result.value, result.attempts) == ("ok", 3, 3)


@pytest.mark.anyio
async def test_spans_carry_each_failed_attempt() -> None:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    fetch = flaky(1, ConnectionError("reset"), retry=NO_WAIT)
    await Executor([fetch], tracing=provider).run([ToolCall("c1", "fetch")])
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "execute_tool fetch"]
    assert span.attributes is not None
    assert span.attributes["toolvolley.attempts"] == 2
    assert [e.name for e in span.events] == ["toolvolley.attempt_failed"]
    assert span.events[0].attributes == {
        "toolvolley.attempt": 1,
        "error.message": "ConnectionError: reset",
    }


# --- hedges ---------------------------------------------------------------------------------


def hedged(release: anyio.Event, log: list[str], **options: Any) -> Tool:
    """The first copy of each call waits for ``release``; a hedge answers at once."""

    async def lookup(key: int) -> str:
        copy = "hedge" if any(entry == f"start {key}" for entry in log) else "first"
        log.append(f"start {key}")
        try:
            if copy == "first":
                await release.wait()
            return f"{copy} answered {key}"
        except BaseException:
            log.append(f"cancelled {key}")
            raise

    schema = {"type": "object", "properties": {"key": {"type": "integer"}}}
    return Tool.from_schema("lookup", "Look up.", schema, lookup, idempotent=True, **options)


@pytest.mark.anyio
async def test_a_slow_call_is_hedged_and_the_loser_cancelled() -> None:
    log: list[str] = []
    release = anyio.Event()
    lookup = hedged(release, log, hedge=Hedge(after=0.01, max_share=1))
    with anyio.fail_after(10):
        (result,) = await Executor([lookup]).run([ToolCall("c1", "lookup", {"key": 1})])
    assert result.status == "ok"
    assert result.content == "hedge answered 1"
    assert (result.attempts, result.attempt_errors) == (2, (HEDGE_LOST,))
    assert log == ["start 1", "start 1", "cancelled 1"]


Body = Callable[[], Awaitable[str]]


def two_copies(first: Body, hedge: Body, after: float = 0.01) -> Tool:
    """A hedged tool whose first copy runs ``first`` and whose hedge copy runs ``hedge``."""
    started: list[str] = []

    async def lookup() -> str:
        started.append("hedge" if started else "first")
        return await (hedge if len(started) == 2 else first)()

    return Tool.from_schema(
        "lookup", "Look up.", {"type": "object"}, lookup, idempotent=True,
        hedge=Hedge(after=after, max_share=1),
    )  # fmt: skip


@pytest.mark.anyio
async def test_a_hedge_copy_failing_fast_does_not_beat_a_slower_copy_that_succeeds() -> None:
    """A failure answers only when no other copy is still running: the first success wins."""
    hedge_failed = anyio.Event()

    async def slow_success() -> str:
        await hedge_failed.wait()
        return "first answered"

    async def fast_failure() -> str:
        hedge_failed.set()
        raise ConnectionError("reset")

    lookup = two_copies(slow_success, fast_failure)
    with anyio.fail_after(10):
        (result,) = await Executor([lookup]).run([ToolCall("c1", "lookup")])
    assert (result.status, result.value) == ("ok", "first answered")
    assert (result.attempts, result.attempt_errors) == (2, ("ConnectionError: reset",))


@pytest.mark.anyio
async def test_a_first_copy_failing_while_its_hedge_runs_waits_for_the_hedge() -> None:
    hedge_started, first_failed = anyio.Event(), anyio.Event()

    async def failure_once_hedged() -> str:
        await hedge_started.wait()
        first_failed.set()
        raise ConnectionError("reset")

    async def success_after_it() -> str:
        hedge_started.set()
        await first_failed.wait()
        return "hedge answered"

    lookup = two_copies(failure_once_hedged, success_after_it)
    with anyio.fail_after(10):
        (result,) = await Executor([lookup]).run([ToolCall("c1", "lookup")])
    assert (result.status, result.value) == ("ok", "hedge answered")
    assert (result.attempts, result.attempt_errors) == (2, ("ConnectionError: reset",))


@pytest.mark.anyio
async def test_when_every_copy_fails_the_last_failure_answers() -> None:
    hedge_failed = anyio.Event()

    async def slow_failure() -> str:
        await hedge_failed.wait()
        raise ToolError("the first copy failed too")

    async def fast_failure() -> str:
        hedge_failed.set()
        raise ConnectionError("reset")

    lookup = two_copies(slow_failure, fast_failure)
    with anyio.fail_after(10):
        (result,) = await Executor([lookup]).run([ToolCall("c1", "lookup")])
    assert (result.status, result.content) == ("error", "the first copy failed too")
    assert (result.attempts, result.attempt_errors) == (2, ("ConnectionError: reset",))


@pytest.mark.anyio
async def test_a_failure_before_the_hedge_starts_answers_at_once_without_a_hedge() -> None:
    async def failure() -> str:
        raise ConnectionError("reset")

    async def never() -> str:
        raise AssertionError("the hedge must not start after the only copy failed")

    lookup = two_copies(failure, never, after=3600)
    with anyio.fail_after(10):
        (result,) = await Executor([lookup]).run([ToolCall("c1", "lookup")])
    assert (result.status, result.attempts, result.attempt_errors) == ("error", 1, ())
    assert "ConnectionError: reset" in result.content


class Finished(ExecutionHooks):
    def __init__(self, wanted: int) -> None:
        self.results: list[ToolResult] = []
        self.enough = anyio.Event()
        self.wanted = wanted

    def call_finished(self, result: ToolResult) -> None:
        self.results.append(result)
        if len(self.results) == self.wanted:
            self.enough.set()


@pytest.mark.anyio
async def test_hedges_stay_within_their_share_of_calls() -> None:
    log: list[str] = []
    release = anyio.Event()
    lookup = hedged(release, log, hedge=Hedge(after=0.001, max_share=0.5))
    heard = Finished(2)
    with anyio.fail_after(10):
        async with Executor([lookup]).batch(hooks=[heard]) as batch:
            for key in range(4):
                batch.submit(ToolCall(f"c{key}", "lookup", {"key": key}))
            await heard.enough.wait()  # two calls answered by their hedges
            await anyio.sleep(0.05)  # the other two hedge timers have long fired (and been refused)
            release.set()
    results = batch.results()
    assert sorted(r.attempts for r in results) == [1, 1, 2, 2]
    assert sum(entry.startswith("start") for entry in log) == 6


@pytest.mark.anyio
async def test_a_hedged_call_still_times_out_as_a_whole_and_nothing_starts_after() -> None:
    log: list[str] = []
    never = anyio.Event()

    async def lookup(key: int) -> str:
        log.append("start")
        await never.wait()
        return "never"

    schema = {"type": "object", "properties": {"key": {"type": "integer"}}}
    hung = Tool.from_schema(
        "lookup",
        "Look up.",
        schema,
        lookup,
        idempotent=True,
        timeout=0.2,
        hedge=Hedge(after=0.01, max_share=1),
        retry=Retry(attempts=5, backoff=0, max_backoff=1, on=(TimeoutError,)),
    )
    with anyio.fail_after(10):
        (result,) = await Executor([hung]).run([ToolCall("c1", "lookup", {"key": 1})])
    assert result.status == "timeout"
    assert result.attempts == 2
    for _ in range(20):
        await anyio.lowlevel.checkpoint()
    assert log == ["start", "start"]


@pytest.mark.anyio
async def test_a_cancelled_batch_cancels_both_copies() -> None:
    log: list[str] = []
    never = anyio.Event()
    lookup = hedged(never, log, hedge=Hedge(after=0.001, max_share=1))
    never_hedge = lookup.with_options(hedge=Hedge(after=3600, max_share=1))
    with anyio.fail_after(10):
        with anyio.CancelScope() as scope:
            async with Executor([never_hedge]).batch() as batch:
                batch.submit(ToolCall("c1", "lookup", {"key": 1}))
                while log != ["start 1"]:
                    await anyio.lowlevel.checkpoint()
                scope.cancel()
    (result,) = batch.results()
    assert result.status == "cancelled"
    assert log == ["start 1", "cancelled 1"]


@pytest.mark.anyio
async def test_a_sync_tool_is_hedged_in_another_thread() -> None:
    gate = threading.Event()
    count = [0]
    lock = threading.Lock()

    def read() -> str:
        with lock:
            count[0] += 1
            mine = count[0]
        if mine == 1:
            gate.wait(10)
            return "first"
        return "hedge"

    sync = Tool.from_schema(
        "read",
        "Read.",
        {"type": "object"},
        read,
        idempotent=True,
        hedge=Hedge(after=0.01, max_share=1),  # one call: a smaller share would forbid the hedge
    )
    executor = Executor([sync], hedge=Hedge(after=3600))  # the tool's own policy wins
    try:
        with anyio.fail_after(10):
            (result,) = await executor.run([ToolCall("c1", "read")])
    finally:
        gate.set()
    assert (result.status, result.value, result.attempts) == ("ok", "hedge", 2)


def test_the_hedge_threshold_follows_recent_latencies() -> None:
    policy = Hedge(percentile=90, min_samples=10, after=5)
    runner = PolicyRunner(Executor([]).runner_for(flaky(0, ValueError())), None, policy)
    assert runner._threshold(policy) == 5  # too few samples: the fixed time
    runner.latencies.extend(float(n) for n in range(1, 11))
    assert runner._threshold(policy) == 9.0


@pytest.mark.anyio
async def test_the_hedge_budget_is_a_ceiling_from_the_first_call() -> None:
    """max_share=0.05: the first slow call would make hedges 100% of the calls, so it is not
    hedged; no share of hedges ever passes the budget."""
    bodies: list[int] = []
    release = anyio.Event()

    @tool(idempotent=True, hedge=Hedge(after=0.01, max_share=0.05))
    async def slow() -> str:
        bodies.append(1)
        await release.wait()
        return "done"

    async def let_go() -> None:
        await anyio.sleep(0.1)  # past the hedge threshold: a hedge would have started by now
        release.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(let_go)
        (result,) = await Executor([slow]).run([ToolCall("1", "slow")])
    assert result.status == "ok"
    assert result.attempts == 1
    assert len(bodies) == 1


def test_retry_refuses_none_for_its_seconds() -> None:
    with pytest.raises(UserError, match=r"Retry\.backoff must be a number of seconds"):
        Retry(backoff=None)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"Retry\.max_backoff must be a number of seconds"):
        Retry(max_backoff=None)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_the_hedge_budget_is_counted_over_the_recent_window_not_saved_up() -> None:
    """A long run of fast calls must not bank a budget that a sudden slowdown then spends at
    once (a hedge storm on a backend that has just slowed down): with ``window=4`` and
    ``max_share=0.5``, at most 2 of the 4 slow calls are hedged, however many fast calls came
    before."""
    release = anyio.Event()
    started: list[str] = []

    async def lookup(key: int, slow: bool) -> str:
        copy = "hedge" if f"start {key}" in started else "first"
        started.append(f"start {key}")
        if slow and copy == "first":
            await release.wait()
        return f"{copy} answered {key}"

    schema = {
        "type": "object",
        "properties": {"key": {"type": "integer"}, "slow": {"type": "boolean"}},
    }
    policy = Hedge(after=0.05, max_share=0.5, window=4)
    made = Tool.from_schema("lookup", "Look up.", schema, lookup, idempotent=True, hedge=policy)
    executor = Executor([made])
    fast = await executor.run(
        [ToolCall(f"f{k}", "lookup", {"key": k, "slow": False}) for k in range(8)]
    )
    assert [r.attempts for r in fast] == [1] * 8
    heard = Finished(2)
    with anyio.fail_after(10):
        async with executor.batch(hooks=[heard]) as batch:
            for key in range(100, 104):
                batch.submit(ToolCall(f"s{key}", "lookup", {"key": key, "slow": True}))
            await heard.enough.wait()  # two slow calls answered by their hedges
            await anyio.sleep(0.2)  # the other two hedge timers have long fired (and been refused)
            release.set()
    assert sorted(r.attempts for r in batch.results()) == [1, 1, 2, 2]
    slow_bodies = [s for s in started if int(s.split()[1]) >= 100]
    assert len(slow_bodies) == 6  # 4 first copies, 2 hedges


@pytest.mark.anyio
@pytest.mark.parametrize(("window", "most"), [(200, 10), (1000, 50)])
async def test_a_burst_larger_than_the_window_gets_at_most_max_share_of_the_window(
    window: int, most: int
) -> None:
    """As the README says: 1,000 slow calls at once, at the defaults (window 200), get at most
    0.05 x 200 = 10 hedges; window=1000 allows 50."""
    release, enough = anyio.Event(), anyio.Event()
    bodies = [0]

    async def lookup(key: int) -> int:
        bodies[0] += 1
        if bodies[0] == 1000 + most:
            enough.set()  # every first copy, and as many hedges as the budget allows
        await release.wait()
        return key

    schema = {"type": "object", "properties": {"key": {"type": "integer"}}}
    policy = Hedge(after=0.01, max_share=0.05, window=window)
    made = Tool.from_schema("lookup", "Look up.", schema, lookup, idempotent=True, hedge=policy)
    with anyio.fail_after(30):
        async with Executor([made]).batch() as batch:
            for key in range(1000):
                batch.submit(ToolCall(f"c{key}", "lookup", {"key": key}))
            await enough.wait()
            await anyio.sleep(0.1)  # room for more hedges to (wrongly) start
            release.set()
    assert sum(r.attempts - 1 for r in batch.results()) == most
