"""Stores of call results: the :class:`ResultStore` seam and the stores that plug into it.

``MemoryStore``: identical calls of one batch run once (``Executor(dedupe=True)``). A store is
given to an executor with ``Executor(store=...)``; see ``_base.py`` for what a store is asked,
and when.
"""

from ._base import BatchScope, ResultStore, StoreBatch
from .memory import MemoryStore

__all__ = ["BatchScope", "MemoryStore", "ResultStore", "StoreBatch"]
