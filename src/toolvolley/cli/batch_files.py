"""The files of ``toolvolley batch``: the input, checked whole before any work, and the output,
owned by one run at a time.

* **Input**: every line is read and checked before the first conversation starts (UTF-8, one
  UTF-8 BOM at the start allowed; a JSON object with ``"prompt"`` or ``"messages"``; ids unique,
  a line without ``"id"`` taking its line number). A bad line is one :class:`BatchInputError`
  naming the file and line. The prompts are then read again lazily, and only the lines that were
  checked run.
* **Output**: opened ``O_APPEND`` and locked (``flock``, exclusive, not waiting): a second run on
  the same file is refused, naming the holder's pid where the system says it (Linux). Its lines,
  an earlier run's work, are checked too; a trailing line cut mid-write is cut away (one that
  only lacks its newline is completed).
* **Lines out** are strict UTF-8 JSON: a lone surrogate (a valid JSON escape, but no UTF-8
  character) is written as its ``\\uXXXX`` escape, so it reads back as it came in.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._many import Outcome, Prompt
from .options import check_output

__all__ = ["BatchInputError", "Input", "Output", "json_line", "read_done", "same_file"]

_FSYNC_EVERY_S = 1.0
_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")


class BatchInputError(ValueError):
    """An input, output or ``--tools`` the batch cannot use; the message is the whole story."""


def json_line(value: Any) -> bytes:
    """``value`` as one line of UTF-8 JSON, lone surrogates escaped (as JSON allows)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    # Outside its strings JSON text is ASCII, so every surrogate here is inside a string.
    return (_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n").encode()


def _key(id_: Any) -> str:
    return json.dumps(id_)  # ASCII: surrogates escaped


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _object(raw: bytes, number: int) -> dict[str, Any] | None:
    """One line as a JSON object (``None`` when blank); a ValueError says why it is not one."""
    if number == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
        ) from None
    if not text.strip():
        return None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg}: column {exc.colno})") from None
    except RecursionError:
        raise ValueError("not JSON (nested too deeply)") from None
    except ValueError as exc:  # NaN, or an integer too long to convert
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"not a JSON object but {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    kinds = {
        dict: "an object",
        list: "an array",
        str: "a string",
        int: "a number",
        float: "a number",
    }
    return kinds.get(type(value), type(value).__name__)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as f:
        yield from enumerate(f, 1)


class Input:
    """The input file, checked whole: ``pending(done)`` counts, ``prompts(done)`` reads again."""

    def __init__(self, path: str) -> None:
        self.label = path
        self.path = Path(path)
        self.ids: dict[str, int] = {}  # id (as JSON text) -> its line
        try:
            mode = self.path.stat().st_mode
            if stat.S_ISDIR(mode):
                raise BatchInputError(f"{path} is a directory, not a JSONL file")
            if not stat.S_ISREG(mode):  # a pipe could not be read a second time
                raise BatchInputError(
                    f"{path} is not a regular file: the input is read twice (checked whole, "
                    "then run); save it to a file first"
                )
            for number, raw in _lines(self.path):
                item = self._item(raw, number)
                if item is not None:
                    self.ids[_key(item[0])] = number
        except OSError as exc:
            raise BatchInputError(f"cannot read {path}: {exc.strerror}") from None

    def pending(self, done: set[str]) -> int:
        return sum(1 for key in self.ids if key not in done)

    def prompts(self, done: set[str]) -> Iterator[tuple[Any, Prompt]]:
        """The checked lines whose id is not in ``done``, read again one at a time."""
        run = {number for key, number in self.ids.items() if key not in done}
        changed = f"{self.label} changed while the batch ran"
        for number, raw in _lines(self.path):
            if number not in run:
                continue
            run.discard(number)
            try:
                item = self._item(raw, number, check_unique=False)
            except BatchInputError as exc:
                raise BatchInputError(f"{changed}: {exc}") from None
            if item is None or self.ids.get(_key(item[0])) != number:
                raise BatchInputError(f"{changed} (line {number})")
            yield item
        if run:
            raise BatchInputError(f"{changed} (line {min(run)} is gone)")

    def _item(
        self, raw: bytes, number: int, check_unique: bool = True
    ) -> tuple[Any, Prompt] | None:
        try:
            item = _object(raw, number)
            if item is None:
                return None
            id_, prompt = _id(item, number), _prompt(item)
        except ValueError as exc:
            raise BatchInputError(f"{self.label} line {number}: {exc}") from None
        if check_unique and (first := self.ids.get(_key(id_))) is not None:
            derived = "id" not in item or id_ == first  # a line number standing in for an id
            note = " (a line without an id takes its line number)" if derived else ""
            raise BatchInputError(
                f"{self.label} line {number}: id {_key(id_)} is also the id of line {first}"
                f"{note}; ids must be unique"
            )
        return id_, prompt


def _id(item: dict[str, Any], number: int) -> Any:
    id_ = item.get("id", number)
    if isinstance(id_, bool) or not isinstance(id_, (str, int)):
        raise ValueError(f'"id" must be a string or an integer, not {_kind(id_)}')
    return id_


def _prompt(item: dict[str, Any]) -> Prompt:
    if "messages" in item:
        messages = item["messages"]
        wanted = '"messages" must be a list of message objects'
        if not isinstance(messages, list):
            raise ValueError(f"{wanted}, not {_kind(messages)}")
        if not messages:
            raise ValueError(f"{wanted}, not empty")
        for index, message in enumerate(messages, 1):
            if not isinstance(message, dict):
                raise ValueError(f"{wanted} (message {index} is {_kind(message)})")
        return messages
    if "prompt" not in item:
        raise ValueError('no "prompt" or "messages"')
    prompt = item["prompt"]
    if not isinstance(prompt, str):
        raise ValueError(f'"prompt" must be a string, not {_kind(prompt)}')
    return prompt


class Output:
    """The output file, locked for this run: ``done`` holds the ids already in it, ``write``
    appends a whole line with one ``os.write``, fsynced at most once a second and at close."""

    def __init__(self, path: str, input_file: Input | None = None) -> None:
        self.label = path
        self.path = target = Path(path)
        if not target.exists():
            check_output("-o", path)
        elif target.is_dir():
            raise BatchInputError(f"-o {path} is a directory, not a file")
        elif not stat.S_ISREG(target.stat().st_mode):
            raise BatchInputError(f"-o {path} is not a regular file (resuming reads it back)")
        try:
            self.fd = os.open(target, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise BatchInputError(f"cannot open -o {path}: {exc.strerror}") from None
        try:
            if input_file is not None and same_file(target, input_file.path):
                raise BatchInputError(
                    f"-o {path} is the input file {input_file.label}; "
                    "write the output to another file"
                )
            self._lock()
            self.done = self._read_done()
        except BaseException:
            os.close(self.fd)
            raise
        self.synced = time.monotonic()

    def __enter__(self) -> Output:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            os.fsync(self.fd)
        finally:
            os.close(self.fd)  # and the lock with it

    def _lock(self) -> None:
        if sys.platform == "win32":  # no flock: one run at a time is up to the user there
            return
        import fcntl

        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _flock_holder(os.fstat(self.fd).st_ino)
            who = f" (pid {holder})" if holder is not None else ""
            raise BatchInputError(
                f"another toolvolley batch{who} is writing {self.label}; "
                "wait for it to finish or write to another file"
            ) from None
        except OSError as exc:  # a file system without locks: refused rather than unguarded
            raise BatchInputError(f"cannot lock -o {self.label}: {exc.strerror}") from None

    def _read_done(self) -> set[str]:
        """The ids already written; a trailing line without its newline (the machine went down
        mid-write) is cut away once every whole line has been checked."""
        with open(self.fd, "rb", closefd=False) as f:
            data = f.read()
        end = data.rfind(b"\n") + 1
        done: set[str] = set()
        for number, raw in enumerate(data[:end].splitlines(), 1):
            try:
                id_ = _done_id(raw, number)
            except ValueError as exc:
                raise BatchInputError(
                    f"{self.label} line {number}: {exc}; it is an earlier run's output: fix or "
                    "delete that line"
                ) from None
            if id_ is not None:
                done.add(id_)
        if end != len(data):
            try:  # a whole line that only lacks its newline (edited by hand) is kept
                tail = _done_id(data[end:], data.count(b"\n") + 1)
            except ValueError:
                tail = None
            if tail is not None:
                os.write(self.fd, b"\n")
                done.add(tail)
            else:
                os.ftruncate(self.fd, end)
            os.fsync(self.fd)
        return done

    def write(self, outcome: Outcome) -> None:
        line = json_line(outcome.as_json())
        try:
            written = os.write(self.fd, line)
            if written != len(line):  # never seen on a regular file; a cut line is cut on resume
                short = f"only {written} of {len(line)} bytes of a line were written"
                raise OSError(0, f"{short} (is the disk full?)")
            now = time.monotonic()
            if now - self.synced >= _FSYNC_EVERY_S:
                os.fsync(self.fd)
                self.synced = now
        except OSError as exc:
            raise BatchInputError(f"cannot write {self.label}: {exc.strerror}") from None


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one existing file (links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _done_id(raw: bytes, number: int) -> str | None:
    """The id (as JSON text) of one output line, ``None`` for a blank one."""
    item = _object(raw, number)
    if item is None:
        return None
    if "id" not in item:
        raise ValueError('no "id"')
    return _key(item["id"])


def read_done(path: Path) -> set[str]:
    """The ids (as JSON text) already in the output ``path``, as a run would find them."""
    with Output(str(path)) as output:
        return output.done


def _flock_holder(inode: int) -> int | None:
    """The pid holding a ``flock`` on the file with this inode, if /proc/locks says (Linux)."""
    try:
        text = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        # "1: FLOCK  ADVISORY  WRITE 4242 00:2b:1311 0 EOF" ("1: -> FLOCK ..." is a waiter)
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].rpartition(":")[2] == str(inode):
            return int(fields[4]) if fields[4].isdigit() else None
    return None
