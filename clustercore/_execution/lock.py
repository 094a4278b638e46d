"""Lock: redis-py 8.1's distributed lock (``rc.lock(name)``) on one slot of a Redis Cluster.

The lock is one key, ``name``, holding a token unique to its holder. Acquire is
``SET name token NX [PX timeout]``; release, extend and reacquire are Lua scripts (compare the
token, then DEL or PEXPIRE) run through the client's :class:`~.script.Script`, so they go to the
primary of the name's slot and a NOSCRIPT answer loads the script on the node that answered
(after a failover the new primary lacks it). ``locked()`` and ``owned()`` read the key from the
slot's *primary*, even with ``read_from_replicas``: a replica's copy may lag behind the SET or
the DEL that decided the lock.

Waiting. ``acquire()`` polls: one SET NX, then (when the lock is held and ``blocking``) a pause
of ``sleep`` seconds -- never a spin -- until the wait's deadline. The clock and the pause are
the client's (``rc.executor.now`` and ``rc.executor.sleep``, injectable through
``RedisCluster(sleep=...)`` and the pool's ``clock``), so tests drive time without threads.
redis-py's ``blocking_timeout=None`` means "as long as the lock is held", which is forever when
the holder crashed while holding a lock without ``timeout``. clustercore keeps every blocking
call finite by default, so ``blocking_timeout=None`` waits at most
:data:`DEFAULT_BLOCKING_TIMEOUT` seconds (60) plus the lock's ``timeout`` when it has one: long
enough to outlast a whole hold of a holder that crashed, and finite for a lock that would never
expire. ``blocking_timeout=math.inf`` is redis-py's unbounded wait, asked for explicitly.

A lost reply to the acquire. ``SET NX`` with a token of our own is idempotent: sent twice, the
second one changes nothing, so clustercore re-sends it when its reply is lost (within the
client's ``retry_deadline``; it is never an OutcomeUnknownError). But the second SET NX then
answers nil -- "held" -- when the first one took the lock for us. So a nil answer is checked:
the key is read from the primary and, when it holds our token, the lock is ours
(``do_acquire`` returns True). When the retries run out, ``acquire()`` raises the
ConnectionError or TimeoutError; the SET may have applied. The token is then kept as this
owner's *pending* token and the next ``acquire()`` (without an explicit ``token``) uses it
again, so a lock taken without our knowing is claimed at once instead of waited on until it
expires (or, without ``timeout``, for ever). A lock claimed so keeps the expiry its first SET
gave it (``reacquire()`` resets it).

What a failover does to a held lock. Redis replicates asynchronously: the primary acknowledges
the SET before any replica has it.

* A graceful ``CLUSTER FAILOVER`` (no FORCE/TAKEOVER) waits until the replica has caught up
  with the primary before swapping roles, so the key, its token and its expiry survive: the
  holder still owns the lock, and ``extend``/``reacquire``/``release`` work on the new primary
  (the scripts are loaded there on their first NOSCRIPT). Commands sent during the swap are
  redirected or retried within ``retry_deadline``.
* A primary that crashes (or ``CLUSTER FAILOVER FORCE``/``TAKEOVER``) may take acknowledged
  writes with it. When the promoted replica already had the key, the lock survives as above;
  when it had not, the promoted replica has no key. The lock is then free, another client
  can acquire it and *two* owners exist. The first one finds out only when it next asks:
  ``owned()`` is False and ``extend``/``reacquire``/``release`` raise LockNotOwnedError. A
  lock never protects work that must not run twice across a crash of its primary.
* ``WAIT 1`` after the acquire (on the same connection) narrows the window -- one replica has
  the key -- but does not close it: the replica that acknowledged need not be the one
  promoted, and the primary can die between SET and WAIT. This Lock does not send WAIT (a
  pooled client cannot tie WAIT to the connection that carried the SET). Work that needs
  mutual exclusion across crashes needs fencing (a number the protected resource checks).

Release, extend and reacquire are scripts, which clustercore never re-sends by itself: a lost
reply is an OutcomeUnknownError. ``release()`` resolves it: when the key still holds our token
the release did not apply and is run once more; otherwise the lock is no longer ours (released
by the lost call, or expired) and release() returns. ``extend``/``reacquire`` raise it
(``owned()`` says whether the lock is still held).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from dataclasses import replace
from types import SimpleNamespace, TracebackType
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Type, Union

from .._commands.specs import CommandSpec, lookup
from .._slots import key_slot
from ..errors import ConnectionError, LockError, LockNotOwnedError, OutcomeUnknownError, TimeoutError

if TYPE_CHECKING:
    from .script import Script

__all__ = ["DEFAULT_BLOCKING_TIMEOUT", "Lock"]

#: Seconds ``acquire()`` waits with ``blocking_timeout=None`` (plus the lock's ``timeout``).
DEFAULT_BLOCKING_TIMEOUT = 60.0

Number = Union[int, float]

logger = logging.getLogger(__name__)

_GET = lookup(["GET"])
assert _GET is not None
#: GET routed as a write: always the slot's primary, whatever the read policy.
_PRIMARY_GET: CommandSpec = replace(_GET, readonly=False)


class _Tokens(threading.local):
    """Per-thread token storage; a thread that never acquired sees None, not AttributeError."""

    token: Optional[bytes] = None
    pending: Optional[bytes] = None


def _lock_error(cls: Type[LockError], message: str, name: Any) -> LockError:
    """``cls(message, lock_name=name)``: redis-py's message and attribute."""
    return cls(message, lock_name=name)


def _seconds(value: Any, what: str, *, allow_none: bool = False, allow_inf: bool = False,
             positive: bool = False) -> Optional[float]:
    """``value`` as float seconds, or a TypeError/ValueError naming the bad value."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if math.isnan(seconds) or (math.isinf(seconds) and not (allow_inf and seconds > 0)):
        raise ValueError(f"{what} must be a finite number of seconds, got {value!r}")
    if seconds < 0 or (positive and seconds == 0):
        raise ValueError(f"{what} must be {'> 0' if positive else '>= 0'} seconds, got {value!r}")
    return seconds


def _millis(value: Any, what: str) -> int:
    """Positive seconds as whole milliseconds (at least 1), or an error naming the value."""
    seconds = _seconds(value, what, positive=True)
    assert seconds is not None
    ms = int(seconds * 1000)
    if ms < 1:
        raise ValueError(f"{what} must be at least 0.001 seconds, got {value!r}")
    return ms


class Lock:
    """A distributed lock on the key ``name`` (redis-py's Lock interface; module docstring).

    ``timeout``: seconds the lock lives unless extended (None: until released). ``sleep``:
    seconds between tries while it is held. ``blocking``: whether ``acquire()`` waits.
    ``blocking_timeout``: the longest wait (None: :data:`DEFAULT_BLOCKING_TIMEOUT` plus
    ``timeout``; ``math.inf``: no limit). ``thread_local``: each thread sees only its own token
    (False: one token shared by every thread, for a lock released by another thread).
    ``raise_on_release_error``: leaving ``with`` raises when the lock was no longer owned
    (False: it is ignored).
    """

    LUA_RELEASE_SCRIPT = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('DEL', KEYS[1])
        end
        return 0
    """
    # ARGV: token, milliseconds, "1" to replace the remaining time or "0" to add to it
    LUA_EXTEND_SCRIPT = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then
            return 0
        end
        local remaining = redis.call('PTTL', KEYS[1])
        if remaining < 0 then
            return 0
        end
        local ttl = tonumber(ARGV[2])
        if ARGV[3] == '0' then
            ttl = ttl + remaining
        end
        redis.call('PEXPIRE', KEYS[1], ttl)
        return 1
    """
    # ARGV: token, milliseconds
    LUA_REACQUIRE_SCRIPT = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then
            return 0
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return 1
    """

    lua_release: Script
    lua_extend: Script
    lua_reacquire: Script

    def __init__(self, redis: Any, name: Any, timeout: Optional[Number] = None,
                 sleep: Number = 0.1, blocking: bool = True,
                 blocking_timeout: Optional[Number] = None, thread_local: bool = True,
                 raise_on_release_error: bool = True) -> None:
        self.redis = redis
        self.name = name
        if timeout is not None:
            _millis(timeout, "timeout")
        self.timeout: Optional[Number] = timeout
        _seconds(sleep, "sleep", positive=True)
        self.sleep: Number = sleep
        self.blocking = bool(blocking)
        _seconds(blocking_timeout, "blocking_timeout", allow_none=True, allow_inf=True)
        self.blocking_timeout: Optional[Number] = blocking_timeout
        self.thread_local = bool(thread_local)
        self.raise_on_release_error = raise_on_release_error
        #: Token storage: ``local.token`` is the held token (None: not held by this owner).
        self.local: Any = _Tokens() if self.thread_local else SimpleNamespace(token=None,
                                                                               pending=None)
        executor = getattr(redis, "executor", None)
        self._executor = executor
        self._encoding: str = getattr(executor, "encoding", "utf-8")
        self._now: Callable[[], float] = executor.now if executor is not None else time.monotonic
        self._pause: Callable[[float], None] = (executor.sleep if executor is not None
                                                else time.sleep)
        self.register_scripts()

    def register_scripts(self) -> None:
        """Make this lock's three scripts (``lua_release``, ``lua_extend``, ``lua_reacquire``)
        from the ``LUA_*_SCRIPT`` bodies, so a subclass may change them."""
        self.lua_release = self.redis.register_script(self.LUA_RELEASE_SCRIPT)
        self.lua_extend = self.redis.register_script(self.LUA_EXTEND_SCRIPT)
        self.lua_reacquire = self.redis.register_script(self.LUA_REACQUIRE_SCRIPT)

    def __repr__(self) -> str:
        return f"<Lock {self.name!r} timeout={self.timeout!r}>"

    # --- with ----------------------------------------------------------------------------------
    def __enter__(self) -> Lock:
        if self.acquire():
            return self
        raise _lock_error(LockError, "Unable to acquire lock within the time specified",
                          self.name)

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc_value: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        try:
            self.release()
        except LockError:
            if self.raise_on_release_error:
                raise
            logger.warning("Lock %r was unlocked or no longer owned when exiting the context "
                           "manager", self.name)

    # --- acquire -------------------------------------------------------------------------------
    def acquire(self, sleep: Optional[Number] = None, blocking: Optional[bool] = None,
                blocking_timeout: Optional[Number] = None,
                token: Optional[Union[str, bytes, int, float]] = None) -> bool:
        """Take the lock; True once held, False when ``blocking`` is off or the wait ran out.

        Arguments left None take the lock's settings. ``token`` is the value stored in the key
        (default: a fresh random one, or the pending token of an acquire whose outcome was
        unknown: see the module docstring)."""
        pause = self.sleep if sleep is None else sleep
        _seconds(pause, "sleep", positive=True)
        if blocking is None:
            blocking = self.blocking
        wait = self.blocking_timeout if blocking_timeout is None else blocking_timeout
        wait = _seconds(wait, "blocking_timeout", allow_none=True, allow_inf=True)
        if wait is None:
            wait = DEFAULT_BLOCKING_TIMEOUT + (0.0 if self.timeout is None else self.timeout)
        if token is not None:
            value = self._encode(token)
        else:
            value = self.local.pending or uuid.uuid4().hex.encode()
        deadline = self._now() + wait
        while True:
            try:
                acquired = self.do_acquire(value)
            except (ConnectionError, TimeoutError):
                self.local.pending = value  # the SET may have applied: claim it next time
                raise
            self.local.pending = None
            if acquired:
                self.local.token = value
                return True
            if not blocking:
                return False
            remaining = deadline - self._now()
            if remaining <= 0:
                return False
            self._pause(min(float(pause), remaining))

    def do_acquire(self, token: Union[str, bytes]) -> bool:
        """One try: SET NX (with PX timeout); True when the key now holds ``token``.

        A nil answer is checked against the primary's copy: a re-sent SET NX whose first
        attempt took the lock answers nil too."""
        px = None if self.timeout is None else _millis(self.timeout, "timeout")
        if self.redis.set(self.name, token, nx=True, px=px):
            return True
        return self._stored() == self._encode(token)

    # --- state ---------------------------------------------------------------------------------
    def locked(self) -> bool:
        """Whether anyone holds the lock (read from the slot's primary)."""
        return self._stored() is not None

    def owned(self) -> bool:
        """Whether this owner (this thread, with ``thread_local``) holds the lock."""
        token = self.local.token
        return token is not None and self._stored() == token

    # --- release, extend, reacquire ------------------------------------------------------------
    def release(self) -> None:
        """Give the lock up; LockError when this owner does not hold it, LockNotOwnedError when
        it expired or was taken by another in the meantime."""
        token = self.local.token
        if token is None:
            raise _lock_error(LockError, "Cannot release a lock that's not owned or is already "
                              "unlocked.", self.name)
        self.local.token = None
        self.do_release(token)

    def do_release(self, expected_token: bytes) -> None:
        """Compare-and-delete ``expected_token``; LockNotOwnedError when the key holds another."""
        try:
            released = self._run(self.lua_release, [expected_token])
        except OutcomeUnknownError:
            if self._stored() != expected_token:
                return  # released by the lost call, or expired: either way not ours any more
            released = self._run(self.lua_release, [expected_token])
        if not released:
            raise _lock_error(LockNotOwnedError, "Cannot release a lock that's no longer owned",
                              self.name)

    def extend(self, additional_time: Number, replace_ttl: bool = False) -> bool:
        """Add ``additional_time`` seconds to the remaining time (``replace_ttl``: set it to
        that); True, or LockError (not held, no timeout) / LockNotOwnedError (lost)."""
        if self.local.token is None:
            raise _lock_error(LockError, "Cannot extend an unlocked lock", self.name)
        if self.timeout is None:
            raise _lock_error(LockError, "Cannot extend a lock with no timeout", self.name)
        return self.do_extend(additional_time, replace_ttl)

    def do_extend(self, additional_time: Number, replace_ttl: bool) -> bool:
        """The extend script; True, or LockNotOwnedError when the key holds another token."""
        if replace_ttl:
            ms = _millis(additional_time, "additional_time")
        else:
            seconds = _seconds(additional_time, "additional_time")
            assert seconds is not None
            ms = int(seconds * 1000)
        if not self._run(self.lua_extend, [self.local.token, ms, "1" if replace_ttl else "0"]):
            raise _lock_error(LockNotOwnedError, "Cannot extend a lock that's no longer owned",
                              self.name)
        return True

    def reacquire(self) -> bool:
        """Reset the remaining time to ``timeout``; True, or LockError / LockNotOwnedError."""
        if self.local.token is None:
            raise _lock_error(LockError, "Cannot reacquire an unlocked lock", self.name)
        if self.timeout is None:
            raise _lock_error(LockError, "Cannot reacquire a lock with no timeout", self.name)
        return self.do_reacquire()

    def do_reacquire(self) -> bool:
        """The reacquire script; True, or LockNotOwnedError when the key holds another token."""
        ms = _millis(self.timeout, "timeout")
        if not self._run(self.lua_reacquire, [self.local.token, ms]):
            raise _lock_error(LockNotOwnedError, "Cannot reacquire a lock that's no longer "
                              "owned", self.name)
        return True

    # --- helpers -------------------------------------------------------------------------------
    def _run(self, script: Script, args: List[Any]) -> bool:
        return bool(script(keys=[self.name], args=args, client=self.redis))

    def _encode(self, token: Any) -> bytes:
        """A token as the bytes the server stores."""
        if isinstance(token, bytes):
            return token
        if isinstance(token, str):
            return token.encode(self._encoding)
        if isinstance(token, (int, float)) and not isinstance(token, bool):
            return repr(token).encode()
        raise TypeError(f"a lock token must be str, bytes, int or float, got {token!r}")

    def _stored(self) -> Optional[bytes]:
        """The key's value on the slot's primary, as bytes (None: not held by anyone)."""
        executor = self._executor
        if executor is None:
            value = self.redis.get(self.name)
        else:
            args = ("GET", self.name)
            value = executor.run_slot(args, key_slot(self.name, self._encoding), _PRIMARY_GET)
        return None if value is None else self._encode(value)
