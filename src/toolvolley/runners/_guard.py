"""What is killed when the program dies, even outright: :func:`watch`, :func:`forget`,
:func:`watch_ray`.

A worker process leads a process group of its own, and the pool kills that group whenever it
is done with the worker. But when the program itself dies outright (SIGKILL, a crash), nothing
of it runs: on Linux the kernel kills the worker with it (``PR_SET_PDEATHSIG``), while what the
worker's tool started (a subprocess, and its children) went to init and lived on; elsewhere the
busy worker lived on too. A local Ray the program started fares the same: the kernel kills its
raylet with the program, and Ray's dashboard and runtime-env agents lived on (Ray 2.60; they
see the raylet die, and hang). So one small process per program, the guard, keeps what to kill
(the workers' groups, told of each as its worker starts and as it is reaped; the local Rays'
sessions) and waits for the end of its pipe, which only the program holds open: when the
program ends, however it ends, the guard kills every group still in its set and every Ray
process holding a file of one of those sessions open (Linux), and exits.

The guard is the program's child, started when first needed, and a session of its own: Ctrl-C
and a terminal's hangup go to the program, not to it, and it is reaped as the program exits,
after Ray's own shutdown. A process that leaves its worker's group on purpose
(``start_new_session=True``, ``setsid``, ``setpgid``, a daemon) is not followed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import threading

__all__ = ["forget", "watch", "watch_ray"]

# Run with -I -S: no site, no PYTHON* variables, nothing a startup hook could print or break.
# Lines: "+N" a group to kill, "-N" one not to, "sDIR" a Ray session whose processes to kill:
# Ray's own ("ray::" titles) holding a file of that session open. Not their environment: Ray's
# process titles overwrite it.
_CODE = """
import os, signal
groups, sessions, rest = set(), [], b""
while True:
    data = os.read(0, 65536)
    if not data:
        break
    *lines, rest = (rest + data).split(b"\\n")
    for line in lines:
        if line[:1] == b"+":
            groups.add(int(line[1:]))
        elif line[:1] == b"-":
            groups.discard(int(line[1:]))
        else:
            sessions.append(os.fsdecode(line[1:]) + "/")
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
def holds_a_file_of(pid, prefixes):
    fds = "/proc/" + pid + "/fd/"
    for fd in os.listdir(fds):
        try:
            if os.readlink(fds + fd).startswith(prefixes):
                return True
        except OSError:
            pass
    return False
for name in os.listdir("/proc") if sessions else ():
    if name.isdigit() and int(name) != os.getpid():
        try:
            with open("/proc/" + name + "/cmdline", "rb") as f:
                ray_process = f.read().startswith(b"ray::")
            if ray_process and holds_a_file_of(name, tuple(sessions)):
                os.kill(int(name), signal.SIGKILL)
        except OSError:
            pass
"""


class _Guard:
    """The guard process and the write end of its pipe (never blocking the caller)."""

    def __init__(self, groups: bytes) -> None:
        read, self.write = os.pipe()  # not inheritable: no worker holds it open
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _CODE],
                stdin=read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except BaseException:
            os.close(self.write)
            raise
        finally:
            os.close(read)
        os.set_blocking(self.write, False)
        if not self.tell(groups):  # a new pipe has room for thousands
            self.retire()
            raise OSError("the process guard did not take the workers' groups")

    def tell(self, lines: bytes) -> bool:
        """Whether the guard took ``lines`` (a few bytes: one write, never split)."""
        try:
            return os.write(self.write, lines) == len(lines)
        except OSError:  # it died (a broken pipe), or stopped reading (a full pipe)
            return False

    def retire(self) -> None:
        """Killed first, so that closing its pipe cannot make it kill the groups."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()
        os.close(self.write)


# Reentrant: a pool closed by the garbage collector forgets its workers wherever it runs
_lock = threading.RLock()
_guard: _Guard | None = None
_groups: set[int] = set()
_sessions: set[str] = set()


def watch(group: int) -> None:
    """A worker's group, to be killed if the program dies before :func:`forget`."""
    with _lock:
        _groups.add(group)
        try:
            _tell(b"+%d\n" % group)
        except BaseException:  # no guard could be started: the caller kills the worker
            _groups.discard(group)
            raise


def forget(group: int) -> None:
    """The worker of ``group`` is reaped: its number may be reused from now on."""
    with _lock:
        _groups.discard(group)
        if _guard is not None:
            # A guard that cannot be replaced now is started again by the next watch()
            with contextlib.suppress(OSError):
                _tell(b"-%d\n" % group)


def watch_ray(session_dir: str) -> None:
    """A local Ray this program started: what it runs is killed if the program dies before
    Ray's own shutdown at exit has stopped it (Linux). Its processes are found by the files of
    its session they hold open (``session_dir``, unique to that Ray: never another's, even
    once its pids are reused)."""
    if "\n" in session_dir:
        return  # not one line of the guard's
    with _lock:
        _sessions.add(session_dir)
        _tell(b"s%s\n" % os.fsencode(session_dir))


def _tell(line: bytes) -> None:
    global _guard
    if _guard is not None and _guard.tell(line):
        return
    if _guard is not None:  # it was killed, or hangs: a new one, told every group
        _guard.retire()
        _guard = None
    if _groups or _sessions:
        told = [b"+%d\n" % g for g in _groups] + [b"s%s\n" % os.fsencode(s) for s in _sessions]
        _guard = _Guard(b"".join(told))


def _at_exit() -> None:
    """The program ends: the guard's pipe is closed here (it kills any group left: a worker of a
    loop still running in a daemon thread) and the guard reaped, not left to init."""
    global _guard
    with _lock:
        guard, _guard = _guard, None
        if guard is not None:
            os.close(guard.write)
            with contextlib.suppress(subprocess.TimeoutExpired):
                guard.process.wait(5)


# Registered on import, before any Ray this program starts registers its shutdown: exit
# handlers run last first, so the guard's end comes after Ray's (which it would disturb).
atexit.register(_at_exit)


def _after_fork_in_child() -> None:
    """A forked child has no workers of its own yet: its pools start their own guard. The
    parent's guard goes on with the parent (only the child's copy of its pipe is closed)."""
    global _guard, _lock
    _lock = threading.RLock()
    if _guard is not None:
        with contextlib.suppress(OSError):
            os.close(_guard.write)
        _guard.process.returncode = 0  # not this process's child: never to be waited for
        _guard = None
    _groups.clear()
    _sessions.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
