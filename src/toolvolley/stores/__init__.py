"""Stores of call results: the :class:`ResultStore` seam and the stores that plug into it.

``MemoryStore``: identical calls of one batch run once (``Executor(dedupe=True)``). A store is
given to an executor with ``Executor(store=...)``; see ``_base.py`` for what a store is asked,
and when. ``Journal`` (``SQLiteJournal``, ``PostgresJournal``): a durable record of a
conversation's model responses and calls, with which ``run_loop(..., journal=...,
conversation_id=...)`` continues a conversation after a crash without running a call twice
(see ``journal.py``).
"""

from ._base import BatchScope, ResultStore, StoreBatch
from .journal import NOT_DONE, UNKNOWN, Conversation, Journal, Reconciled
from .memory import MemoryStore
from .postgres import PostgresJournal
from .sqlite import SQLiteJournal

__all__ = [
    "NOT_DONE",
    "UNKNOWN",
    "BatchScope",
    "Conversation",
    "Journal",
    "MemoryStore",
    "PostgresJournal",
    "Reconciled",
    "ResultStore",
    "SQLiteJournal",
    "StoreBatch",
]
