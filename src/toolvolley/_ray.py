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
  keeps its message). A worker, node or actor lost mid-call raises :class:`RayWorkerLost`,
  naming the loss; tools marked ``idempotent=True`` are sent once more first, others never
  (Ray's own task retries are off, so a body with side effects never runs twice unasked).

``max_concurrency_cluster`` bounds a tool's calls running at once across the whole cluster,
shared by every executor and conversation of every driver: a named, detached actor
(``toolvolley-limit:<tool>``, created with ``get_if_exists=True``) acts as the semaphore. Its
slot is taken before the task is submitted and given back when the call ends, however it ends.
A driver killed outright (SIGKILL) while holding slots leaves them taken: kill the limiter
actor (``ray.kill(ray.get_actor(name, namespace="toolvolley"))``) to reset it.

Ray's API is loosely typed; everything that touches it goes through the few functions below,
with ``Any`` at that boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import inspect
import itertools
import logging
import math
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeVar

import anyio

from . import _process_guard
from . import _wording as wording
from ._clock import now
from ._errors import UserError
from ._optional import require
from ._options import check_count
from ._ray_thread import in_ray_thread, in_ray_thread_blocking, wait_future
from ._runners import Runner, ToolSpec, consume
from ._threads import START_MARGIN

__all__ = [
    "RayActorRunner",
    "RayRunner",
    "RayWorkerLost",
    "actor_state",
    "check_ray_installed",
    "limiter_name",
    "require_ray",
]

T = TypeVar("T")

NAMESPACE = "toolvolley"
_tokens = itertools.count()
_TOKEN_PREFIX = f"{os.getpid()}-{id(_tokens):x}"


def require_ray() -> Any:
    """The ``ray`` module, or ImportError with ``pip install 'toolvolley[ray]'``."""
    return require("ray", "ray")


def ray_available() -> bool:
    """Whether ray can be imported, without importing it (it takes about a second)."""
    if "ray" in sys.modules:
        return sys.modules["ray"] is not None
    return _ray_installed()


@functools.cache
def _ray_installed() -> bool:
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        return False


def check_ray_installed() -> None:
    """Raise ImportError with the install command if ray is missing (at tool definition)."""
    if not ray_available():
        raise ImportError("run_in='ray' needs Ray; install it with pip install 'toolvolley[ray]'")


class RayWorkerLost(Exception):
    """The worker, node or actor running a call was lost before it answered."""


class _TooLate(Exception):
    """The call's deadline passed before a worker could start it; it did not start."""


def limiter_name(tool_name: str) -> str:
    """The name of the cluster-wide limiter actor of ``tool_name`` (namespace ``toolvolley``)."""
    return f"toolvolley-limit:{tool_name}"


# --- the worker side ----------------------------------------------------------------------


def _body(func: Callable[..., Any], kwargs: dict[str, Any], wall_deadline: float) -> Any:
    """Run the body where the task landed, lazy parts consumed, unless it is already too late."""
    if time.time() >= wall_deadline - START_MARGIN:
        raise _TooLate
    value = func(**kwargs)
    if inspect.isawaitable(value) or isinstance(value, AsyncIterator):
        return asyncio.run(_settle(value))
    return consume(value)


async def _settle(value: Any) -> Any:
    if isinstance(value, AsyncIterator):
        return [item async for item in value]
    value = await value
    if isinstance(value, AsyncIterator):
        return [item async for item in value]
    return consume(value)


_STATE: Any = None
_STATE_SET = False


def actor_state(kind: type[T]) -> T:
    """Inside a tool running on a :class:`RayActorRunner`: the actor's state object (what its
    factory made), checked to be a ``kind``::

        counter = RayActorRunner(Counter)

        @tool(run_in=counter)
        def add(k: int) -> int:
            return actor_state(Counter).add(k)
    """
    if not _STATE_SET:
        raise UserError("actor_state() is only available in a tool running on a RayActorRunner.")
    if not isinstance(_STATE, kind):
        raise UserError(f"The actor's state is a {type(_STATE).__name__}, not a {kind.__name__}.")
    return _STATE


class _ToolActor:
    """The actor of a :class:`RayActorRunner`: holds the state and runs the tools' bodies."""

    def __init__(self, factory: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]):
        global _STATE, _STATE_SET
        _STATE = factory(*args, **kwargs)
        _STATE_SET = True

    def call(self, func: Callable[..., Any], kwargs: dict[str, Any], wall_deadline: float) -> Any:
        return _body(func, kwargs, wall_deadline)

    def pid(self) -> int:
        return os.getpid()


class _Limiter:
    """A cluster-wide counting semaphore (an async actor: many waiters at once).

    ``release(token)`` for a token that has not acquired yet (its caller gave up while
    waiting) makes that ``acquire`` return False whenever it arrives, so no slot leaks.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held: set[str] = set()
        self.dropped: set[str] = set()
        self.peak = 0
        self.cond = asyncio.Condition()

    async def acquire(self, token: str) -> bool:
        async with self.cond:
            while len(self.held) >= self.limit and token not in self.dropped:
                await self.cond.wait()
            if token in self.dropped:
                self.dropped.discard(token)
                return False
            self.held.add(token)
            self.peak = max(self.peak, len(self.held))
            return True

    async def release(self, token: str) -> None:
        async with self.cond:
            if token in self.held:
                self.held.discard(token)
            else:
                self.dropped.add(token)
            self.cond.notify_all()

    async def wait_idle(self) -> None:
        """Return once no slot is held (e.g. every release sent has landed)."""
        async with self.cond:
            while self.held:
                await self.cond.wait()

    async def stats(self) -> dict[str, int]:
        return {"limit": self.limit, "held": len(self.held), "peak": self.peak}


# --- Ray at the boundary --------------------------------------------------------------------


class _Ray:
    """The Ray module and the remote wrappers, made once per process on first use."""

    _lock = threading.Lock()
    _made: _Ray | None = None

    def __init__(self) -> None:
        ray = self.ray = require_ray()
        self.body = ray.remote(_body)
        self.actor = ray.remote(_ToolActor)
        self.limiter = ray.remote(_Limiter)
        exc = ray.exceptions
        self.lost: tuple[type[BaseException], ...] = tuple(
            getattr(exc, name)
            for name in (
                "WorkerCrashedError",
                "NodeDiedError",
                "LocalRayletDiedError",
                "ActorDiedError",
                "ActorUnavailableError",
                "ObjectLostError",
                "OwnerDiedError",
                "RaySystemError",
            )
            if hasattr(exc, name)
        )
        self.task_error: type[BaseException] = exc.RayTaskError

    @classmethod
    def get(cls) -> _Ray:
        made = cls._made
        if made is None:
            with cls._lock:
                made = cls._made = cls._made or _Ray()
        return made

    async def wait(self, ref: Any, on_cancel: Callable[[], None]) -> Any:
        """The value of ``ref``, awaited without blocking the loop (asyncio or trio); if the
        waiting task is cancelled, ``on_cancel`` runs at once and the cancellation propagates.
        A task error comes out as the exception the body raised."""
        try:
            return await wait_future(ref.future(), on_cancel)
        except self.task_error as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, _TooLate):
                raise _TooLate from None
            if isinstance(cause, Exception) and not isinstance(cause, self.lost):
                raise cause from None
            raise


def _connect(address: str | None) -> _Ray:
    """Import Ray and connect if this process has not (``address``: as for ``ray.init``).
    Blocking: in the Ray thread (:mod:`toolvolley._ray_thread`)."""
    ray = _Ray.get()
    if not ray.ray.is_initialized():
        ray.ray.init(address=address, include_dashboard=False, log_to_driver=False)
        _guard_local_ray(ray.ray)
    return ray


def _guard_local_ray(ray: Any) -> None:
    """If ``ray.init`` started a local Ray, what it runs is killed with the program, even a
    SIGKILLed one (:mod:`toolvolley._process_guard`). Linux; Ray's internals (2.60), so any
    other shape is left alone."""
    if not sys.platform.startswith("linux"):
        return
    try:
        node = ray._private.worker._global_node
        started = ray._private.ray_constants.PROCESS_TYPE_RAYLET in node.all_processes
        session = str(node.get_session_dir_path())
    except (AttributeError, TypeError):
        return
    if started and os.path.isabs(session):  # else connected to a running cluster: not ours
        with contextlib.suppress(OSError):  # no guard: Ray still works, its exit still stops it
            _process_guard.watch_ray(session)


def _ready() -> _Ray | None:
    made = _Ray._made
    return made if made is not None and made.ray.is_initialized() else None


async def connected(address: str | None) -> _Ray:
    """Ray, imported and connected, without blocking the loop: at once once it is."""
    made = _ready()
    return made if made is not None else await in_ray_thread(_connect, address)


def connect_ray(ray: _Ray, address: str) -> float:
    """Connect for ``run_many(ray=...)`` (blocking: in async code, in the Ray thread with
    ``in_ray_thread``); the cluster's CPUs.

    ``"auto"``: ``RAY_ADDRESS`` if set, else a new local Ray bound to 127.0.0.1 (a local
    instance serves this machine only); anything else is an address for ``ray.init``.
    """
    if not ray.ray.is_initialized():
        # Ray's own start-up warnings would break the command's one-line output.
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
        }
        if address != "auto":
            ray.ray.init(address=address, **options)
        elif os.environ.get("RAY_ADDRESS"):
            ray.ray.init(**options)
        else:
            from ray._private import ray_constants

            # Otherwise Ray binds to the address of the default route, even for one machine.
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
            ray_constants.ENABLE_RAY_CLUSTER = False
            # address="local": a new instance, never another process's cluster on this machine
            ray.ray.init(address="local", _node_ip_address="127.0.0.1", **options)
        _guard_local_ray(ray.ray)
    return float(ray.ray.cluster_resources().get("CPU", 1.0))


def _lost(tool: ToolSpec, exc: BaseException, where: str) -> RayWorkerLost:
    detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return RayWorkerLost(wording.ray_worker_lost(where, tool.name, detail, tool.idempotent))


class _RayBase(Runner):
    """What Ray tasks and actor calls share: the deadline, the cluster limit, loss and retry."""

    max_concurrency_cluster: int | None
    address: str | None
    _where = "worker"

    def check(self, tool: ToolSpec) -> None:
        check_ray_installed()

    def _submit(self, ray: _Ray, tool: ToolSpec, kwargs: dict[str, Any], wall: float) -> Any:
        raise NotImplementedError

    def _cancel(self, ray: _Ray, ref: Any) -> None:
        raise NotImplementedError

    async def run(self, tool: ToolSpec, kwargs: Mapping[str, Any], deadline: float) -> Any:
        ray = await connected(self.address)
        wall = math.inf if deadline == math.inf else time.time() + (deadline - now())
        args = dict(kwargs)
        limiter = self._limiter(ray, tool)
        token = f"{_TOKEN_PREFIX}-{next(_tokens)}"
        if limiter is None:
            return await self._attempts(ray, tool, args, wall)
        try:
            acquired = await ray.wait(limiter.acquire.remote(token), lambda: None)
            assert acquired
            value = await self._attempts(ray, tool, args, wall)
        except BaseException:
            # A message, not awaited (the call may be cancelled): the slot, or the acquire
            # still waiting for one, is freed when it lands.
            limiter.release.remote(token)
            raise
        await ray.wait(limiter.release.remote(token), lambda: None)  # freed before we answer
        return value

    async def _attempts(self, ray: _Ray, tool: ToolSpec, args: dict[str, Any], wall: float) -> Any:
        for attempt in (0, 1):
            ref = self._submit(ray, tool, args, wall)
            try:
                return await ray.wait(ref, functools.partial(self._cancel, ray, ref))
            except _TooLate:
                await anyio.sleep_forever()  # the call's own timer ends it, as a timeout
            except ray.lost as exc:
                if attempt == 0 and tool.idempotent:
                    continue
                raise _lost(tool, exc, self._where) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _limiter(self, ray: _Ray, tool: ToolSpec) -> Any:
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

    def _submit(self, ray: _Ray, tool: ToolSpec, kwargs: dict[str, Any], wall: float) -> Any:
        remote = self._remote
        if remote is None:
            remote = self._remote = ray.body.options(**self.options)
        return remote.remote(tool.func, kwargs, wall)

    def _cancel(self, ray: _Ray, ref: Any) -> None:
        with contextlib.suppress(Exception):  # already finished, or Ray is shutting down
            ray.ray.cancel(ref, force=True)


class RayActorRunner(_RayBase):
    """Runs its tools in one Ray actor that holds their state: ``factory(*args, **kwargs)`` is
    made once, in the actor, and tools read it with :func:`actor_state`. Calls run one at a
    time unless ``max_concurrency`` says otherwise (then the state must be thread-safe).

    ``name`` makes the actor named (namespace ``toolvolley``, ``get_if_exists=True``), so every
    executor and driver on the cluster shares the one state. Resource options as for
    :class:`RayRunner`. A running actor call cannot be force cancelled: a timed-out call is
    abandoned (counted in :attr:`abandoned` until it returns); a queued one never starts.
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
            made = _ready() or in_ray_thread_blocking(_connect, self.address)
            self._handle = made.actor.options(**self.options).remote(
                self.factory, self.args, self.kwargs
            )
        return self._handle

    def _submit(self, ray: _Ray, tool: ToolSpec, kwargs: dict[str, Any], wall: float) -> Any:
        return self.handle().call.remote(tool.func, kwargs, wall)

    def _cancel(self, ray: _Ray, ref: Any) -> None:
        with contextlib.suppress(Exception):
            ray.ray.cancel(ref)  # drops it if queued; a running sync method goes on
        future = ref.future()
        if not future.done():
            with self._count_lock:
                self._abandoned += 1

            def done(_: Any) -> None:
                with self._count_lock:
                    self._abandoned -= 1

            future.add_done_callback(done)
