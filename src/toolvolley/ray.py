"""Tools on a Ray cluster: ``pip install 'toolvolley[ray]'``.

::

    from toolvolley import Executor, tool
    from toolvolley.ray import RayRunner

    @tool(run_in=RayRunner(num_cpus=1, max_concurrency_cluster=64), timeout=60)
    def render(scene: str) -> str: ...

    @tool(run_in="ray")  # the executor's default RayRunner()
    def resize(url: str, width: int) -> str: ...

Importing this module does not import ray; the first call does (and connects with
``ray.init()`` if the program has not).
"""

from ._errors import WorkerLost
from .runners.ray import RayActorRunner, RayRunner, actor_state, limiter_name

RayWorkerLost = WorkerLost
"""The name :class:`~toolvolley.runners.WorkerLost` had here when only the Ray runners raised it."""

__all__ = [
    "RayActorRunner",
    "RayRunner",
    "RayWorkerLost",
    "WorkerLost",
    "actor_state",
    "limiter_name",
]
