"""The Ray runners: :class:`RayRunner` (each call a Ray task) and :class:`RayActorRunner` (one
actor holding a tool's state); public as :mod:`toolvolley.ray`. Nothing here imports ray until
a call runs.

* :mod:`._runner`: the runners (the promises, as they hold on a cluster; the cluster limit).
* :mod:`._remote`: what runs in Ray's workers and actors.
* :mod:`._connect`: importing Ray, connecting, and which of its errors mean a lost worker.
* :mod:`._thread`: the one thread that imports and connects Ray, off the event loop.
"""

from ._connect import RayApi, check_ray_installed, connect_ray, ray_available, require_ray
from ._remote import actor_state, limiter_name
from ._runner import RayActorRunner, RayRunner
from ._thread import in_ray_thread

__all__ = [
    "RayActorRunner",
    "RayApi",
    "RayRunner",
    "actor_state",
    "check_ray_installed",
    "connect_ray",
    "in_ray_thread",
    "limiter_name",
    "ray_available",
    "require_ray",
]
