"""Ray at the boundary: importing it (:func:`require_ray`), connecting (:func:`connected`,
:func:`connect_ray`), the remote wrappers (:class:`RayApi`) and which of Ray's errors mean a
lost worker. Ray's API is loosely typed; everything that touches it goes through here, with
``Any`` at that boundary.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from ... import _compat
from ..._optional import require
from .._guard import watch_ray
from .._registry import installed
from ._remote import Limiter, ToolActor, TooLate, body
from ._thread import in_ray_thread, wait_future

__all__ = [
    "RayApi",
    "check_ray_installed",
    "connect",
    "connect_ray",
    "connected",
    "ray_available",
    "ready",
    "require_ray",
]


def require_ray() -> Any:
    """The ``ray`` module, or ImportError with ``pip install 'toolvolley[ray]'``."""
    return require("ray", "ray")


def ray_available() -> bool:
    """Whether ray can be imported, without importing it (it takes about a second)."""
    return installed("ray")


def check_ray_installed() -> None:
    """Raise ImportError with the install command if ray is missing (at tool definition)."""
    if not ray_available():
        raise ImportError("run_in='ray' needs Ray; install it with pip install 'toolvolley[ray]'")


class RayApi:
    """The Ray module and the remote wrappers, made once per process on first use."""

    _lock = threading.Lock()
    _made: RayApi | None = None

    def __init__(self) -> None:
        ray = self.ray = require_ray()
        self.body = ray.remote(body)
        self.actor = ray.remote(ToolActor)
        self.limiter = ray.remote(Limiter)
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
    def get(cls) -> RayApi:
        made = cls._made
        if made is None:
            with cls._lock:
                made = cls._made = cls._made or RayApi()
        return made

    async def wait(self, ref: Any, on_cancel: Callable[[], None]) -> Any:
        """The value of ``ref``, awaited without blocking the loop (asyncio or trio); if the
        waiting task is cancelled, ``on_cancel`` runs at once and the cancellation propagates.
        A task error comes out as the exception the body raised."""
        try:
            return await wait_future(ref.future(), on_cancel)
        except self.task_error as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, TooLate):
                raise TooLate from None
            if isinstance(cause, Exception) and not isinstance(cause, self.lost):
                raise cause from None
            raise


def connect(address: str | None) -> RayApi:
    """Import Ray and connect if this process has not (``address``: as for ``ray.init``).
    Blocking: in the Ray thread (:mod:`._thread`)."""
    ray = RayApi.get()
    if not ray.ray.is_initialized():
        ray.ray.init(address=address, include_dashboard=False, log_to_driver=False)
        _guard_local_ray(ray.ray)
    return ray


def _guard_local_ray(ray: Any) -> None:
    """If ``ray.init`` started a local Ray, what it runs is killed with the program, even a
    SIGKILLed one (:mod:`toolvolley.runners._guard`). Linux; Ray's internals (2.60), so any
    other shape is left alone."""
    if not sys.platform.startswith("linux"):
        return
    session = _compat.local_ray_session(ray)
    if session is not None and os.path.isabs(session):  # else a running cluster: not ours
        with contextlib.suppress(OSError):  # no guard: Ray still works, its exit still stops it
            watch_ray(session)


def ready() -> RayApi | None:
    made = RayApi._made
    return made if made is not None and made.ray.is_initialized() else None


async def connected(address: str | None) -> RayApi:
    """Ray, imported and connected, without blocking the loop: at once once it is."""
    made = ready()
    return made if made is not None else await in_ray_thread(connect, address)


def connect_ray(ray: RayApi, address: str) -> float:
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
            # Otherwise Ray binds to the address of the default route, even for one machine.
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
            _compat.ray_on_this_machine_only()
            # address="local": a new instance, never another process's cluster on this machine
            ray.ray.init(address="local", _node_ip_address="127.0.0.1", **options)
        _guard_local_ray(ray.ray)
    return float(ray.ray.cluster_resources().get("CPU", 1.0))
