"""The transaction half of ClusterPipeline: WATCH on a held connection, redis-py's immediate
mode, MULTI ... EXEC on one slot's primary, and the errors a moving slot or a lost connection
turn into.

A transaction keeps every key in one slot (``_claim_slot``); MULTI ... EXEC then runs on that
slot's primary in one round trip. ``watch()`` checks out one connection and holds it; until
``multi()`` commands run at once on it. A transaction the server refused as a whole (EXEC
aborted because its slot moved, is migrating, or the cluster is down) is re-run on the new
owner, since nothing in it can have been applied -- except after WATCH, whose keys were watched
on the old node: that raises WatchError for the caller's retry loop. Errors raised from EXEC
carry redis-py's "Command # N (...) of pipeline caused error" prefix (0 is the MULTI).

``TransactionMixin`` is a base of ClusterPipeline (pipeline.py), split out to keep each module
small; it holds no state of its own beyond the pipeline's fields declared below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple

from .._address import NodeAddress
from .._commands.api import CommandsMixin
from .._commands.keys import slot_of
from .._commands.specs import Route, lookup
from .._net.connection import ClusterConnection
from ..errors import (
    ClusterCoreError,
    ClusterCrossSlotError,
    ClusterError,
    ClusterUsageError,
    CrossSlotTransactionError,
    DataError,
    MovedError,
    PoolError,
    ProtocolError,
    ResponseError,
    WatchError,
)
from .pipeline_command import (
    IO_ERRORS,
    ROUTING_ERRORS,
    Command,
    Part,
    annotate_exception,
    text_of,
)
from .router import Action, Attempt, outcome_unknown

if TYPE_CHECKING:
    from .executor import Executor

__all__ = ["TransactionMixin"]


class TransactionMixin(CommandsMixin):
    """WATCH / MULTI / EXEC for ClusterPipeline (see the module docstring)."""

    _queue: List[Command]
    _scripts: dict  # type: ignore[type-arg]
    _txn_slot: Optional[int]
    _txn_error: Optional[CrossSlotTransactionError]
    _explicit_multi: bool
    _watch_conn: Optional[ClusterConnection]
    _watch_address: Optional[NodeAddress]
    _watch_ask: Optional[NodeAddress]
    _executor: Executor
    _encoding: Any

    def _enter(self) -> None:
        raise NotImplementedError  # the pipeline's one-thread guard (pipeline.py)

    def _leave(self) -> None:
        raise NotImplementedError

    def _transactional(self) -> bool:
        raise NotImplementedError

    def _claim_slot(self, slot: int, name: str, defer: bool = False) -> None:
        """A transaction's keys must share one slot: remember it, refuse any other.

        ``defer`` (a command buffered for MULTI ... EXEC): the refusal is kept and raised by
        ``execute()`` before anything is sent, where redis-py raises it; a command that runs
        at once (WATCH, the immediate mode) is refused here."""
        if self._txn_slot is None:
            self._txn_slot = slot
        elif slot != self._txn_slot:
            error = CrossSlotTransactionError(
                "All keys involved in a cluster transaction must map to the same slot: "
                f"{name} uses slot {slot} but this transaction's keys are in slot "
                f"{self._txn_slot} (a cluster transaction runs on one node: use {{hash tags}})")
            if not defer:
                raise error
            if self._txn_error is None:
                self._txn_error = error

    def _drop_watch(self, unwatch: bool) -> None:
        """Hand the WATCH connection back: UNWATCH first when keys may still be watched."""
        conn, self._watch_conn = self._watch_conn, None
        self._watch_address = self._watch_ask = None
        if conn is None:
            return
        pool = self._executor.pool
        if not unwatch:
            pool.release(conn)
            return
        try:
            conn.execute("UNWATCH")
        except BaseException as exc:
            pool.discard(conn)  # a broken or refused UNWATCH: never reuse that connection
            if not isinstance(exc, ClusterCoreError):
                raise
            return
        pool.release(conn)

    # --- transactions: watch / multi / unwatch ---------------------------------------------------
    def watch(self, *names: Any) -> bool:
        """WATCH keys (one slot) on a held connection; commands then run at once until multi()."""
        self._enter()
        try:
            if self._explicit_multi:
                raise ClusterUsageError("Cannot issue a WATCH after a MULTI")
            if not names:
                raise DataError("watch() needs at least one key")
            args = ("WATCH", *names)
            spec = lookup(args)
            assert spec is not None
            try:
                slot = slot_of(spec, args, self._encoding)
            except ClusterCrossSlotError as exc:
                raise CrossSlotTransactionError(
                    f"WATCH - all keys must map to the same key slot ({exc})") from None
            assert slot is not None
            self._claim_slot(slot, "WATCH")
            if self._watch_conn is not None:
                command = Command(args, {}, spec, False)
                command.parts = [Part(command, args, slot)]
                self._immediate(command)
            else:
                self._open_watch(args, slot)
            return True
        finally:
            self._leave()

    def multi(self) -> None:
        """Start buffering the transaction (after watch(), or to make any pipeline one)."""
        self._enter()
        try:
            if self._explicit_multi:
                raise ClusterUsageError("Cannot issue nested calls to MULTI")
            if self._queue:
                raise ClusterUsageError(
                    "Commands without an initial WATCH have already been issued")
            self._explicit_multi = True
        finally:
            self._leave()

    def unwatch(self) -> bool:
        """UNWATCH and give the held connection back."""
        self._enter()
        try:
            self._drop_watch(unwatch=True)
            if not self._queue:
                self._txn_slot = None
            return True
        finally:
            self._leave()

    def discard(self) -> None:
        """Drop a transaction's queued commands and any WATCH (redis-py's discard(); a plain
        pipeline, which has no transaction to discard, raises ClusterUsageError)."""
        if not self._transactional():
            raise ClusterUsageError(
                "method discard() is not supported outside of transactional context")
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError  # pipeline.py

    def _open_watch(self, args: Tuple[Any, ...], slot: int) -> None:
        """Check out the slot owner's connection and WATCH on it, following redirects."""
        executor = self._executor
        pool = executor.pool
        attempt = Attempt()
        ask: Optional[NodeAddress] = None
        for _ in range(self._max_rounds()):
            conn, address = self._checkout(slot, ask, attempt, True, "WATCH")
            if conn is None:
                continue
            try:
                if ask is None:
                    conn.execute(*args)
                else:
                    conn.send_commands((("ASKING",), args))
                    conn.read_reply()
                    conn.read_response()
            except ResponseError as exc:
                pool.release(conn)  # a refused WATCH watches nothing
                step = executor.recover(exc, attempt, idempotent=True, command="WATCH",
                                        address=address, slot=slot)
                ask = step.target if step.action is Action.ASK else None
                continue
            except IO_ERRORS as exc:
                pool.discard(conn)
                executor.recover(exc, attempt, idempotent=True, command="WATCH",
                                 address=address, in_reply=False)
                continue
            except BaseException:
                pool.discard(conn)
                raise
            self._watch_conn, self._watch_address, self._watch_ask = conn, address, ask
            return
        raise ClusterError(f"WATCH on slot {slot} gave up after {self._max_rounds()} attempts")

    def _checkout(self, slot: Optional[int], ask: Optional[NodeAddress], attempt: Attempt,
                  idempotent: bool, name: str) -> Tuple[Optional[ClusterConnection], NodeAddress]:
        """A connection to the ASK target, else the slot's primary (any primary without a
        slot); after a connection failure (carried out: backed off, or raised) None: again."""
        executor = self._executor
        address = ask or executor.locate(Route.SLOT, () if slot is None else (slot,))[0]
        try:
            return executor.pool.get_connection_by_address(address), address
        except PoolError:
            raise
        except IO_ERRORS as exc:
            executor.recover(exc, attempt, idempotent=idempotent, command=name, address=address,
                             in_reply=False)
            return None, address

    def _immediate(self, command: Command) -> Any:
        """Run one command at once on the WATCH connection (redis-py's immediate mode)."""
        conn = self._watch_conn
        assert conn is not None
        pool = self._executor.pool
        args = command.parts[0].args
        try:
            if self._watch_ask is None:
                reply = conn.execute(*args, disable_decoding=command.raw)
            else:
                conn.send_commands((("ASKING",), args))
                conn.read_reply()
                reply = conn.read_response(disable_decoding=command.raw)
        except ROUTING_ERRORS as exc:
            moving = self._moving_while_watching(exc)
            self._drop_watch(unwatch=True)
            raise moving from exc
        except ResponseError:
            raise  # the connection is in sync and keeps its WATCH
        except IO_ERRORS as exc:
            self._watch_conn = self._watch_address = self._watch_ask = None
            pool.discard(conn)
            raise self._lost_while_watching(exc, command) from exc
        except BaseException:
            self._watch_conn = None
            pool.discard(conn)
            raise
        return self._parse_reply(command.name, reply, **command.options)

    def _moving_while_watching(self, cause: ResponseError) -> WatchError:
        """The error for a slot refused as moving while keys were watched (the map learns a
        MOVED's owner, for the slot the server named): nothing was applied."""
        if isinstance(cause, MovedError):
            self._executor.pool.on_moved(cause.slot_id, cause.target)
        return WatchError(f"slot {self._txn_slot} is moving ({cause.code}) while keys were "
                          "watched; nothing was applied: retry the transaction from watch()")

    def _lost_while_watching(self, exc: ClusterCoreError, command: Optional[Command],
                             ) -> ClusterCoreError:
        """The error for a connection lost while keys were watched: outcome unknown for a
        non-idempotent command that was sent, else a WatchError (retry from watch())."""
        policy = self._executor.policy
        name = command.name if command is not None else "EXEC"
        idempotent = command.idempotent if command is not None else all(
            c.idempotent for c in self._queue)
        if exc.request_sent and not idempotent and not policy.retry_non_idempotent:
            return outcome_unknown(exc, name)
        return WatchError(f"the connection to {exc.node} failed while keys were watched "
                          f"({exc}); retry the transaction from watch()")

    def _max_rounds(self) -> int:
        """A hard cap on rounds; the router's budgets and deadline normally end a loop first."""
        policy = self._executor.policy
        cap = max(policy.backoff.cap, 1e-3)
        return policy.max_redirects + 16 + int(4 * policy.deadline / cap)

    # --- transactions: MULTI ... EXEC ------------------------------------------------------------
    def _execute_transaction(self, raise_on_error: bool) -> List[Any]:
        if self._txn_error is not None:
            raise self._txn_error  # queued keys in two slots: nothing is sent
        executor = self._executor
        pool = executor.pool
        queue = self._queue
        idempotent = all(c.idempotent for c in queue)
        scripts = {sha: body for sha, body in self._scripts.items()
                   if any(c.name == "EVALSHA" and text_of(c.args[1]) == sha for c in queue)}
        attempt = Attempt()
        watched = self._watch_conn is not None
        ask = self._watch_ask
        for _ in range(self._max_rounds()):
            if watched:
                conn, address = self._watch_conn, self._watch_address
                assert conn is not None and address is not None
                self._watch_conn = self._watch_address = self._watch_ask = None
            else:
                conn, address = self._checkout(self._txn_slot, ask, attempt, idempotent, "EXEC")
                if conn is None:
                    continue
            commands: List[Tuple[Any, ...]] = [("SCRIPT", "LOAD", b) for b in scripts.values()]
            if ask is not None:
                commands.append(("ASKING",))
            first = len(commands)
            commands.append(("MULTI",))
            commands.extend(c.parts[0].args for c in queue)
            commands.append(("EXEC",))
            # with decode_responses and a never_decode command (DUMP) queued, EXEC's reply is
            # read undecoded and the other commands' results are decoded after (_decode_exec)
            raw_exec = conn.decode_responses and any(c.raw for c in queue)
            try:
                conn.send_commands(commands)
                replies = [conn.read_reply() for _ in commands[:-1]]
                replies.append(conn.read_reply(disable_decoding=raw_exec))
            except IO_ERRORS as exc:
                pool.discard(conn)
                if exc.node is None:
                    exc.node = address
                exc.request_sent = True
                if watched:
                    raise self._lost_while_watching(exc, None) from exc
                executor.recover(exc, attempt, idempotent=idempotent, command="EXEC",
                                 address=address, in_reply=False)
                continue
            except BaseException:
                pool.discard(conn)
                raise
            multi_reply, exec_reply = replies[first], replies[-1]
            if isinstance(multi_reply, ResponseError):
                pool.discard(conn)  # no transaction started: WATCHes may linger on it
                annotate_exception(multi_reply, 0, ("MULTI",))
                raise multi_reply
            pool.release(conn)  # EXEC (run or refused) ended the transaction and any WATCH
            if isinstance(exec_reply, list):
                if raw_exec:
                    exec_reply = self._decode_exec(conn, queue, exec_reply, address)
                return self._txn_results(queue, exec_reply, raise_on_error, address)
            if exec_reply is None:
                raise WatchError("Watched variable changed.")
            queued = replies[first + 1:-1]
            cause = next((r for r in queued if isinstance(r, ROUTING_ERRORS)), None)
            if cause is None and isinstance(exec_reply, ROUTING_ERRORS):
                cause = exec_reply
            if cause is None:  # EXECABORT: the first command the server refused says why
                for number, reply in enumerate(queued, 1):
                    if isinstance(reply, ResponseError):
                        annotate_exception(reply, number, queue[number - 1].args)
                        raise reply
                raise exec_reply
            if watched:
                raise self._moving_while_watching(cause) from cause
            # refused as a whole (nothing applied): follow MOVED/ASK or back off, or raise
            step = executor.recover(cause, attempt, idempotent=True, command="EXEC",
                                    address=address, slot=self._txn_slot)
            ask = step.target if step.action is Action.ASK else None
        raise ClusterError(f"transaction gave up after {self._max_rounds()} attempts")

    @staticmethod
    def _decode_exec(conn: ClusterConnection, queue: Sequence[Command], replies: List[Any],
                     address: NodeAddress) -> List[Any]:
        """Decode the results of an EXEC read undecoded, except the never_decode commands'.
        (Only the connection's encoding settings are used: it may be back in the pool.)"""
        if len(replies) != len(queue):
            return replies  # _txn_results reports the mismatch
        try:
            return [r if c.raw else conn.decode_reply(r) for c, r in zip(queue, replies)]
        except UnicodeError as exc:
            raise ProtocolError(f"cannot decode a transaction result with "
                                f"{conn.encoding!r}: {exc}", node=address) from exc

    def _txn_results(self, queue: Sequence[Command], replies: List[Any], raise_on_error: bool,
                     address: NodeAddress) -> List[Any]:
        if len(replies) != len(queue):
            raise ProtocolError(f"EXEC returned {len(replies)} replies for {len(queue)} commands",
                                node=address)
        results: List[Any] = []
        first_error: Optional[BaseException] = None
        for command, reply in zip(queue, replies):
            if isinstance(reply, ResponseError):
                if reply.node is None:
                    reply.node = address
                if first_error is None:
                    first_error = reply
                    if raise_on_error:
                        annotate_exception(reply, len(results) + 1, command.args)
                results.append(reply)
            else:
                results.append(self._parse_reply(command.name, reply, **command.options))
        if first_error is not None and raise_on_error:
            raise first_error
        return results


