"""How a journal's records become table rows, and back: the starts (and the results) of one turn
written in one transaction share one row.

A row costs a SQL backend far more than the bytes in it (SQLite: about 2 µs per row inserted
into the keyed table, on top of encoding; PostgreSQL more), so a group commit of a thousand
starts writes one row, not a thousand. Such a row's kind is plural (``"calls"``, ``"starts"``,
``"results"``),
its ``call_id`` a fresh unique token (so no later write can replace it), and its data a JSON
object from each call's id to its record's data, joined from the records' own JSON text, not
encoded again. A group of one is written as a plain row, as are responses. Reading, a pack
becomes its records again; a plain row and a pack may both hold a call (a call started again
after its reconcile check found it not done): their data is the same, and either may be kept.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence

from ._records import Record

__all__ = ["Row", "from_rows", "to_rows"]

Row = tuple[str, int, str, str, str]  # (conversation, turn, call_id, kind, data)

_PACKS = {"call": "calls", "started": "starts", "result": "results"}
_KINDS = {"calls": "call", "starts": "started", "results": "result"}
_encode = json.JSONEncoder(ensure_ascii=False).encode


def to_rows(records: Sequence[Record]) -> list[Row]:
    """The rows that hold ``records``."""
    rows: list[Row] = []
    groups: dict[tuple[str, int, str], list[Record]] = {}
    for r in records:
        if r.kind == "response":
            rows.append((r.conversation, r.turn, r.call_id, r.kind, r.data))
        else:
            groups.setdefault((r.conversation, r.turn, r.kind), []).append(r)
    for (conversation, turn, kind), group in groups.items():
        if len(group) == 1:
            r = group[0]
            rows.append((conversation, turn, r.call_id, kind, r.data))
        else:
            pack = ",".join(f"{_encode(r.call_id)}:{r.data or '0'}" for r in group)
            rows.append((conversation, turn, uuid.uuid4().hex, _PACKS[kind], f"{{{pack}}}"))
    return rows


def from_rows(conversation: str, rows: Iterable[tuple[int, str, str, str]]) -> list[Record]:
    """The records ``conversation``'s rows ``(turn, call_id, kind, data)`` hold."""
    records: list[Record] = []
    for turn, call_id, kind, data in rows:
        single = _KINDS.get(kind)
        if single is None:
            records.append(Record(conversation, turn, call_id, kind, data))  # type: ignore[arg-type]
            continue
        for key, value in json.loads(data).items():
            text = "" if single == "started" else _encode(value)
            records.append(Record(conversation, turn, key, single, text))  # type: ignore[arg-type]
    return records
