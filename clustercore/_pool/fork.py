"""Fork safety at no cost per command: a counter that a forked child bumps.

Sockets, locks and threads belong to the process that made them: a child of ``os.fork()`` (a
pre-forking web server's worker) must neither write to the parent's sockets nor wait on a lock
that a parent thread held at the moment of the fork. ``os.register_at_fork`` bumps
:data:`fork_generation` in every child; a cluster pool remembers the value it was built (or last
restarted) under and compares it on each checkout -- one list index, no system call. On a
mismatch the pool starts over in the child: new locks, empty node pools and budget, new
maintenance thread; the parent's connections are dropped, never reused. The comparison is of
fork generations, not process ids (``os.getpid()`` is a system call on every checkout).
"""

from __future__ import annotations

import os
import threading
from typing import List

__all__ = ["fork_generation", "restart_lock"]

#: ``fork_generation[0]`` counts the forks between the first process and this one. A list, so
#: the hot path reads it with one global load and one index (no function call).
fork_generation: List[int] = [0]

# Serialises the restarts of pools in one process (two threads of a child may notice the fork
# at once; the second must find the restart done). Replaced in every child, since a parent
# thread may have held it at the instant of the fork.
_restart_locks: List[threading.Lock] = [threading.Lock()]


def restart_lock() -> threading.Lock:
    """The lock a pool holds while it starts over after a fork (re-checking, under it, that
    no other thread has done so already)."""
    return _restart_locks[0]


def _after_fork_in_child() -> None:
    fork_generation[0] += 1
    _restart_locks[0] = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
