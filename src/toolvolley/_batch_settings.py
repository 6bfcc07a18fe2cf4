"""What a batch reads of the executor that made it: :class:`BatchSettings`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ._scheduling import Mode, SideEffectsPolicy
    from ._toolbox import Toolbox
    from ._tools import Tool
    from .runners._base import Runner

__all__ = ["BatchSettings"]


class BatchSettings(Protocol):
    """What a batch reads of the executor that made it (an :class:`Executor` is one)."""

    @property
    def toolbox(self) -> Toolbox: ...

    @property
    def mode(self) -> Mode: ...

    @property
    def timeout(self) -> float | None: ...

    @property
    def deadline(self) -> float | None: ...

    @property
    def max_concurrency(self) -> int | None: ...

    @property
    def references(self) -> bool: ...

    @property
    def dedupe(self) -> bool: ...

    @property
    def side_effects(self) -> SideEffectsPolicy: ...

    def route(self, tool: Tool) -> Runner | None: ...
