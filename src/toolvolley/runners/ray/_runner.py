"""Tools on a Ray cluster: :class:`RayRunner` (Ray tasks) and :class:`RayActorRunner` (one
long-lived actor holding a tool's state). Needs the ``ray`` extra; nothing here imports ray
until a call runs or a tool naming ``"ray"`` is defined.

The Runner promises, as they hold on a cluster:

* **Cancellation.** A call that times out or whose batch is cancelled cancels its Ray task at
  once (``ray.cancel(ref, force=True)``: the worker process running the body is killed, so
  sync work really stops; a task still queued is dropped). An actor method cannot be force
  cancelled: a queued one is dropped, a running one is abandoned and counted in
  :attr:`Runner.abandoned` until it returns.
* **Nothing starts late.** The call's deadline travels with the task as wall-clock time
  (``time.time()``, the one clock two machines share; the runner's ``deadline`` is
  on ``_clock.now()``, which is per machine) and the worker checks it before the body starts.
* **Failures are exceptions.** What the body raised comes back as itself (a ``ToolError``
  keeps its message). A worker, node or actor lost mid-call raises
  :class:`~toolvolley.runners.WorkerLost`, naming the loss; tools marked ``idempotent=True``
  are sent once more first, others never (Ray's own task retries are off, so a body with side
  effects never runs twice unasked).

``max_concurrency_cluster`` bounds a tool's calls running at once across the whole cluster,
shared by every executor and conversation of every driver: a named, detached actor
(``toolvolley-limit:<tool>``, created with ``get_if_exists=True``) acts as the semaphore. Its
slot is taken before the task is submitted and given back when the call ends, however it ends.
A driver killed outright (SIGKILL) while holding slots leaves them taken: kill the limiter
actor (``ray.kill(ray.get_actor(name, namespace="toolvolley"))``) to reset it.

Ray's API is loosely typed; everything that touches it goes through :mod:`._connect`, with
``Any`` at that boundary.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio

from ... import _wording as wording
from ..._clock import now
from ..._errors import WorkerLost
from ..._options import check_count
from .._base import CallContext, Runner, ToolSpec
from ._connect import RayApi, check_ray_installed, connect, connected, ready
from ._remote import NAMESPACE, TooLate, limiter_name
from ._thread import in_ray_thread_blocking

__all__ = ["RayActorRunner", "RayRunner"]

_tokens = itertools.count()
_TOKEN_PREFIX = f"{os.getpid()}-{id(_tokens):x}"


def _lost(tool: ToolSpec, exc: BaseException, where: str) -> WorkerLost:
    detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return WorkerLost(wording.ray_worker_lost(where, tool.name, detail, tool.idempotent))


class _RayBase(Runner):
    """What Ray tasks and actor calls share: the deadline, the cluster limit, loss and retry."""

    max_concurrency_cluster: int | None
    address: str | None
    _where = "worker"

    @classmethod
    def check_named(cls, tool: ToolSpec) -> None:
        check_ray_installed()

    def _submit(self, ray: RayApi, tool: ToolSpec, kwargs: dict[str, Any], wall: float) -> Any:
        raise NotImplementedError

    def _cancel(self, ray: RayApi, ref: Any, call: CallContext) -> None:
        """The call was given up on (its timeout, a cancelled batch): stop its Ray work, and
        set ``call.abandoned`` if its body may go on."""
        raise NotImplementedError

    async def run(self, call: CallContext) -> Any:
        ray = await connected(self.address)
        tool, deadline = call.tool, call.deadline
        wall = math.inf if deadline == math.inf else time.time() + (deadline - now())
        args = dict(call.arguments)
        limiter = self._limiter(ray, tool)
        token = f"{_TOKEN_PREFIX}-{next(_tokens)}"
        if limiter is None:
            return await self._attempts(ray, call, args, wall)
        try:
            acquired = await ray.wait(limiter.acquire.remote(token), lambda: None)
            assert acquired
            value = await self._attempts(ray, call, args, wall)
        except BaseException:
            # A message, not awaited (the call may be cancelled): the slot, or the acquire
            # still waiting for one, is freed when it lands.
            limiter.release.remote(token)
            raise
        await ray.wait(limiter.release.remote(token), lambda: None)  # freed before we answer
        return value

    async def _attempts(
        self, ray: RayApi, call: CallContext, args: dict[str, Any], wall: float
    ) -> Any:
        tool = call.tool
        for attempt in (0, 1):
            ref = self._submit(ray, tool, args, wall)
            try:
                return await ray.wait(ref, functools.partial(self._cancel, ray, ref, call))
            except TooLate:
                await anyio.sleep_forever()  # the call's own timer ends it, as a timeout
            except ray.lost as exc:
                if attempt == 0 and tool.idempotent:
                    continue
                raise _lost(tool, exc, self._where) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _limiter(self, ray: RayApi, tool: ToolSpec) -> Any:
        if self.max_concurrency_cluster is None:
            return None
        cache: dict[str, Any] = self.__dict__.setdefault("_limiters", {})
        handle = cache.get(tool.name)
        if handle is None:
            handle = cache[tool.name] = ray.limiter.options(
                name=limiter_name(tool.name),
                namespace=NAMESPACE,
                get_if_exists=True,
                lifetime="detached",
                num_cpus=0,
                max_concurrency=100_000,
            ).remote(self.max_concurrency_cluster)
        return handle


class RayRunner(_RayBase):
    """Runs each call as a Ray task, sync or async tools alike (an async body runs in its own
    event loop on the worker). Name it in a tool::

        @tool(run_in=RayRunner(num_cpus=2, max_concurrency_cluster=64))
        def render(scene: str) -> bytes: ...

    or use ``run_in="ray"`` for the executor's default one (``RayRunner()``).

    * ``num_cpus``, ``num_gpus``, ``memory`` (bytes), ``runtime_env``, ``resources``: Ray's
      resource options for each task.
    * ``max_concurrency_cluster``: calls of each tool running at once across the cluster.
    * ``address``: the cluster to connect to if this process has not called ``ray.init``
      (``None``: a local Ray, or ``RAY_ADDRESS``).

    The function is shipped by value (cloudpickle), so closures and nested functions work;
    modules it imports must be importable on the workers (``runtime_env`` can ship them).
    """

    name = "ray"

    def __init__(
        self,
        *,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: int | None = None,
        runtime_env: Mapping[str, Any] | None = None,
        resources: Mapping[str, float] | None = None,
        max_concurrency_cluster: int | None = None,
        address: str | None = None,
    ) -> None:
        check_count("max_concurrency_cluster", max_concurrency_cluster)
        options: dict[str, Any] = {"max_retries": 0, "retry_exceptions": False}
        for key, value in (
            ("num_cpus", num_cpus),
            ("num_gpus", num_gpus),
            ("memory", memory),
            ("runtime_env", dict(runtime_env) if runtime_env is not None else None),
            ("resources", dict(resources) if resources is not None else None),
        ):
            if value is not None:
                options[key] = value
        self.options = options
        self.max_concurrency_cluster = max_concurrency_cluster
        self.address = address
        self._remote: Any = None

    def __repr__(self) -> str:
        shown = {
            k: v for k, v in self.options.items() if k not in ("max_retries", "retry_exceptions")
        }
        parts = [f"{k}={v!r}" for k, v in shown.items()]
        if self.max_concurrency_cluster is not None:
            parts.append(f"max_concurrency_cluster={self.max_concurrency_cluster}")
        return f"RayRunner({', '.join(parts)})"

    def _submit(self, ray: RayApi, tool: ToolSpec, kwargs: dict[str, Any], wall: float) -> Any:
        remote = self._remote
        if remote is None:
            remote = self._remote = ray.body.options(**self.options)
        return remote.remote(tool.func, kwargs, wall)

    def _cancel(self, ray: RayApi, ref: Any, call: CallContext) -> None:
        with contextlib.suppress(Exception):  # already finished, or Ray is shutting down
            ray.ray.cancel(ref, force=True)


class RayActorRunner(_RayBase):
    """Runs its tools in one Ray actor that holds their state: ``factory(*args, **kwargs)`` is
    made once, in the actor, and tools read it with :func:`actor_state`. Calls run one at a
    time unless ``max_concurrency`` says otherwise (then the state must be thread-safe).

    ``name`` makes the actor named (namespace ``toolvolley``, ``get_if_exists=True``), so every
    executor and driver on the cluster shares the one state. Resource options as for
    :class:`RayRunner`. A running actor call cannot be force cancelled: a timed-out call is
    abandoned (counted in :attr:`abandoned` until it returns, and its result says it may still
    take effect: ``may_still_take_effect``); a queued one never starts.
    """

    name = "ray-actor"
    _where = "actor"

    def __init__(
        self,
        factory: Callable[..., Any],
        *args: Any,
        name: str | None = None,
        max_concurrency: int = 1,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory: int | None = None,
        runtime_env: Mapping[str, Any] | None = None,
        max_concurrency_cluster: int | None = None,
        address: str | None = None,
        **kwargs: Any,
    ) -> None:
        check_count("max_concurrency", max_concurrency)
        check_count("max_concurrency_cluster", max_concurrency_cluster)
        self.factory = factory
        self.args = args
        self.kwargs = kwargs
        self.actor_name = name
        options: dict[str, Any] = {"max_concurrency": max_concurrency}
        for key, value in (
            ("num_cpus", num_cpus),
            ("num_gpus", num_gpus),
            ("memory", memory),
            ("runtime_env", dict(runtime_env) if runtime_env is not None else None),
        ):
            if value is not None:
                options[key] = value
        if name is not None:
            options.update(name=name, namespace=NAMESPACE, get_if_exists=True)
        self.options = options
        self.max_concurrency_cluster = max_concurrency_cluster
        self.address = address
        self._handle: Any = None
        self._abandoned = 0
        self._count_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RayActorRunner({getattr(self.factory, '__name__', self.factory)!r})"

    @property
    def abandoned(self) -> int:
        with self._count_lock:
            return self._abandoned

    def handle(self) -> Any:
        """The actor's Ray handle (made on first use; connecting to Ray first, if this process
        has not, blocks the caller: a call of the runner never does)."""
        if self._handle is None:
            made = ready() or in_ray_thread_blocking(connect, self.address)
            self._handle = made.actor.options(**self.options).remote(
                self.factory, self.args, self.kwargs
            )
        return self._handle

    def _submit(self, ray: RayApi, tool: ToolSpec, kwargs: dict[str, Any], wall: float) -> Any:
        return self.handle().call.remote(tool.func, kwargs, wall)

    def _cancel(self, ray: RayApi, ref: Any, call: CallContext) -> None:
        with contextlib.suppress(Exception):
            ray.ray.cancel(ref)  # drops it if queued; a running sync method goes on
        future = ref.future()
        if not future.done():
            call.abandoned = True  # it may still take effect: its result says so
            with self._count_lock:
                self._abandoned += 1

            def done(_: Any) -> None:
                with self._count_lock:
                    self._abandoned -= 1

            future.add_done_callback(done)
