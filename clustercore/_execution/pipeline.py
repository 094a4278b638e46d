"""ClusterPipeline: buffered commands sent node by node in one round trip, and one-slot
transactions (WATCH / MULTI / EXEC) on the slot's primary.

A plain pipeline groups its commands by node (the slot's primary, or a replica for reads when
the client's read policy allows), writes every node's batch before reading any reply, and
returns the results in call order, each parsed with its command's callback. Splittable
multi-key commands (MGET, MSET, DEL ...) whose keys span slots are split inside the pipeline and
merged back into one result; atomic multi-key commands across slots raise ClusterCrossSlotError
when queued. Fan-out commands (DBSIZE, KEYS, SCRIPT LOAD ...) send one part per node and merge.

Redirects and failures re-run only the commands they hit, after every reply of the round has
been read, as the client's router decides (MOVED, ASK, back off; docs/retries.md): a connection
failure re-sends the commands never written and the idempotent ones, and a non-idempotent
command whose request may have reached the server gets an OutcomeUnknownError. Scripts the
pipeline knows (Script objects called with it, see :mod:`clustercore.script`) are loaded
(SCRIPT LOAD) on each node right before their first EVALSHA there, in the same batch, so no
EVALSHA meets NOSCRIPT. Every checked-out connection is released (all replies read) or
discarded (anything else) before the pipeline waits or returns.

Transactions (``transaction=True``, or ``multi()``) must keep every key in one slot; MULTI ...
EXEC then runs on that slot's primary. ``watch()`` checks out one connection and holds it;
until ``multi()`` commands run at once on it (redis-py's immediate mode). A transaction that the
server refused as a whole (EXEC aborted because its slot moved, is migrating, or the cluster is
down) is re-run on the new owner, since nothing in it can have been applied -- except after
WATCH, whose keys were watched on the old node: that raises WatchError for the caller's retry
loop.

A pipeline belongs to one thread: a second thread that uses it while it has queued commands,
an active WATCH, or a call in progress gets ConcurrentPipelineError instead of mixed replies.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Set, Tuple

from .._address import NodeAddress
from .._commands.api import CommandsMixin
from .._commands.callbacks import pop_never_decode
from .._commands.idempotency import is_idempotent
from .._commands.keys import SINGLE_KEY, slot_of, split_by_slot
from .._commands.merge import merge_split
from .._commands.specs import CommandSpec, Route, has_space, lookup, normalize_args
from .._net.connection import ClusterConnection
from .._slots import key_slot
from ..errors import (
    AskError,
    BusyLoadingError,
    ClusterCoreError,
    ClusterCrossSlotError,
    ClusterDownError,
    ClusterError,
    ConnectionError,
    DataError,
    MovedError,
    PoolError,
    ProtocolError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
    TimeoutError,
    TryAgainError,
    WatchError,
)
from .executor import Batch, Round
from .router import Action, Attempt, outcome_unknown
from .script import Script

if TYPE_CHECKING:
    from .client import RedisCluster

__all__ = ["ClusterPipeline", "ConcurrentPipelineError"]

_SLOT_ROUTES = (Route.SLOT, Route.SLOT_ARG, Route.CHANNEL)
_RANDOM_ROUTES = (Route.RANDOM_PRIMARY, Route.RANDOM_NODE)
#: Replies that say "not here / not now" for the whole slot: nothing was applied.
_ROUTING_ERRORS = (MovedError, AskError, TryAgainError, ClusterDownError, ReadOnlyError,
                   BusyLoadingError)
#: Failures of the socket (the request may or may not have been written).
_IO_ERRORS = (ConnectionError, TimeoutError, ProtocolError)
_UNSET: Any = object()


class ConcurrentPipelineError(RedisClusterException):
    """A pipeline was used by a second thread while it was in use; pipelines are per thread."""


class _Part:
    """One wire command of a queued command (a split MGET has one per slot)."""

    __slots__ = ("address", "args", "ask", "attempt", "command", "indexes", "node", "preload",
                 "reply", "slot")

    def __init__(self, command: _Command, args: Tuple[Any, ...], slot: Optional[int],
                 node: Optional[NodeAddress] = None, indexes: Optional[List[int]] = None) -> None:
        self.command = command
        self.args = args
        self.slot = slot
        self.node = node                      # a fixed target (fan-out part)
        self.indexes = indexes                # key indexes of a split part
        self.reply: Any = None
        self.attempt: Optional[Attempt] = None
        self.ask: Optional[NodeAddress] = None
        self.preload: Any = None              # a script body to SCRIPT LOAD before the command
        self.address: Optional[NodeAddress] = None


class _Command:
    """A queued command: its spec, callback options and wire parts."""

    __slots__ = ("args", "fanout", "name", "options", "parts", "raw", "read", "spec")

    def __init__(self, args: Tuple[Any, ...], options: Dict[str, Any], spec: CommandSpec,
                 read: bool) -> None:
        self.args = args
        #: never_decode: its reply is read as bytes even with decode_responses (DUMP)
        self.raw = pop_never_decode(options) if options else False
        self.options = options
        self.spec = spec
        self.name = spec.name
        self.read = read
        self.fanout = False
        self.parts: List[_Part] = []

    @property
    def idempotent(self) -> bool:
        """Whether a lost reply may be answered by sending it again (asked only on failure)."""
        return is_idempotent(self.spec, self.args)


_get_ident = threading.get_ident
_single_key_spec = SINGLE_KEY.get


class ClusterPipeline(CommandsMixin):
    """Buffered commands for a cluster (redis-py's Pipeline API); see the module docstring."""

    def __init__(self, client: RedisCluster, transaction: bool = False,
                 shard_hint: Any = None) -> None:
        self.client = client
        self.transaction = bool(transaction)
        self.response_callbacks = client.response_callbacks
        self.result_callbacks = client.result_callbacks
        self._queue: List[_Command] = []
        self._scripts: Dict[str, Any] = {}
        self._txn_slot: Optional[int] = None
        self._explicit_multi = False
        self._watch_conn: Optional[ClusterConnection] = None
        self._watch_address: Optional[NodeAddress] = None
        self._watch_ask: Optional[NodeAddress] = None
        self._guard = threading.Lock()
        self._owner: Optional[int] = None
        self._executor = client.executor
        self._encoding = self._executor.encoding

    # --- one thread at a time --------------------------------------------------------------------
    def _enter(self) -> None:
        me = threading.get_ident()
        if not self._guard.acquire(blocking=False):
            raise ConcurrentPipelineError(
                f"this ClusterPipeline is in use by thread {self._owner} and thread {me} "
                "entered it too; a pipeline belongs to one thread (make one per thread)")
        owner = self._owner
        if owner is not None and owner != me and (self._queue or self._watch_conn is not None):
            self._guard.release()
            raise ConcurrentPipelineError(
                f"this ClusterPipeline holds commands queued by thread {owner}; thread {me} "
                "may not add to or run them (make one pipeline per thread)")
        self._owner = me

    def _leave(self) -> None:
        if not self._queue and self._watch_conn is None:
            self._owner = None
        self._guard.release()

    # --- queueing --------------------------------------------------------------------------------
    @property
    def watching(self) -> bool:
        """Whether WATCH is active (commands then run at once until multi())."""
        return self._watch_conn is not None

    def _transactional(self) -> bool:
        return self.transaction or self._explicit_multi or self._watch_conn is not None

    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Queue one command (returns the pipeline); after watch() and before multi(), run it."""
        if self._owner == _get_ident() and self._watch_conn is None and not self._guard.locked():
            # This thread already owns the queue (the owner is cleared whenever the queue
            # empties), so no other thread can enter: queue without taking the guard. (A held
            # guard means this thread is inside execute(), e.g. in a callback: refused below.)
            self._queue.append(self._make_command(args, options))
            return self
        self._enter()
        try:
            command = self._make_command(args, options)
            if self._watch_conn is not None and not self._explicit_multi:
                return self._immediate(command)
            self._queue.append(command)
            return self
        finally:
            self._leave()

    def _make_command(self, args: Tuple[Any, ...], options: Dict[str, Any]) -> _Command:
        executor = self._executor
        try:
            spec = _single_key_spec(args[0])
        except (IndexError, TypeError):  # no arguments; an unhashable first one
            spec = None
        if spec is not None and len(args) > spec.first_key and not (
                self.transaction or self._explicit_multi or self._watch_conn is not None):
            # The fast path (GET, SET, HGET ...): one key where the table says, one part.
            command = _Command(args, options, spec, spec.readonly and executor.read_from_replicas)
            command.parts = [_Part(command, args, key_slot(args[spec.first_key], self._encoding))]
            return command
        if not args:
            raise DataError("no command given")
        spec = lookup(args)
        if spec is None or has_space(args[0]):
            args = normalize_args(args)
            spec = spec or lookup(args) or executor.server_spec(args)
        route = spec.route
        txn = self._transactional()
        command = _Command(args, options, spec,
                           spec.readonly and executor.read_from_replicas and not txn)
        if route in _SLOT_ROUTES:
            try:
                slot = slot_of(spec, args, self._encoding)
            except ClusterCrossSlotError:
                if not spec.split or txn:
                    raise
                command.parts = [_Part(command, sub, s, indexes=ix)
                                 for s, sub, ix in split_by_slot(spec, args, self._encoding)]
                return command
            if txn and slot is not None:
                self._claim_slot(slot, spec.name)
            command.parts = [_Part(command, args, slot)]
        elif route is Route.CONNECTION or route is Route.NODE_ONLY:
            raise RedisClusterException(
                f"{spec.name} cannot be queued in a cluster pipeline (it is bound to one "
                "connection or node; use watch()/multi() for transactions, pubsub() to subscribe)")
        elif route in _RANDOM_ROUTES:
            command.parts = [_Part(command, args, None)]
        elif txn:
            raise RedisClusterException(
                f"{spec.name} goes to several nodes and cannot be part of a transaction")
        else:
            command.fanout = True
            command.parts = [_Part(command, args, None, node=address)
                             for address in executor.locate(route)]
        return command

    def _claim_slot(self, slot: int, name: str) -> None:
        """A transaction's keys must share one slot: remember it, refuse any other."""
        if self._txn_slot is None:
            self._txn_slot = slot
        elif slot != self._txn_slot:
            raise ClusterCrossSlotError(
                f"CROSSSLOT {name} uses slot {slot} but this transaction's keys are in slot "
                f"{self._txn_slot}; a cluster transaction runs on one node: use {{hash tags}}")

    def note_script(self, sha: str, body: Any) -> None:
        """Learn a script's body (a Script called with this pipeline tells it before queueing
        its EVALSHA), so the pipeline loads it on each node before the EVALSHA runs there."""
        self._scripts[sha] = body

    def register_script(self, script: Any) -> Script:
        """A Script whose calls queue EVALSHA here and load the body on NOSCRIPT."""
        return Script(self, script)

    def _execute_on_node(self, node: Any, *args: Any) -> Any:
        raise RedisClusterException("node-targeted calls (scan with target_node ...) cannot be "
                                    "queued in a pipeline; call them on the client")

    def _nodes_for_scan(self) -> List[Any]:
        raise RedisClusterException("SCAN iteration cannot be queued in a pipeline")

    def __len__(self) -> int:
        return len(self._queue)

    def __bool__(self) -> bool:
        return True

    def __enter__(self) -> ClusterPipeline:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.reset()

    def __repr__(self) -> str:
        kind = "transaction" if self._transactional() else "pipeline"
        return f"<ClusterPipeline {kind} queued={len(self._queue)} watching={self.watching}>"

    # --- lifecycle -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Drop the queued commands and any WATCH (its connection goes back to the pool)."""
        self._enter()
        try:
            self._reset_state()
        finally:
            self._leave()

    close = reset

    def _reset_state(self) -> None:
        self._queue = []
        self._scripts = {}
        self._txn_slot = None
        self._explicit_multi = False
        self._drop_watch(unwatch=True)

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
                raise RedisClusterException("Cannot issue a WATCH after a MULTI")
            if not names:
                raise DataError("watch() needs at least one key")
            args = ("WATCH", *names)
            spec = lookup(args)
            assert spec is not None
            slot = slot_of(spec, args, self._encoding)
            assert slot is not None
            self._claim_slot(slot, "WATCH")
            if self._watch_conn is not None:
                command = _Command(args, {}, spec, False)
                command.parts = [_Part(command, args, slot)]
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
                raise RedisClusterException("Cannot issue nested calls to MULTI")
            if self._queue:
                raise RedisClusterException(
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
            except _IO_ERRORS as exc:
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
        except _IO_ERRORS as exc:
            executor.recover(exc, attempt, idempotent=idempotent, command=name, address=address,
                             in_reply=False)
            return None, address

    def _immediate(self, command: _Command) -> Any:
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
        except _ROUTING_ERRORS as exc:
            moving = self._moving_while_watching(exc)
            self._drop_watch(unwatch=True)
            raise moving from exc
        except ResponseError:
            raise  # the connection is in sync and keeps its WATCH
        except _IO_ERRORS as exc:
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

    def _lost_while_watching(self, exc: ClusterCoreError, command: Optional[_Command],
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

    # --- running ---------------------------------------------------------------------------------
    def execute(self, raise_on_error: bool = True) -> List[Any]:
        """Send everything queued; the results in call order (errors raised or returned)."""
        self._enter()
        try:
            if self._watch_conn is not None or (
                    self._transactional() and (self._queue or self._explicit_multi)):
                if not self._queue and not self._explicit_multi:
                    return []
                return self._execute_transaction(raise_on_error)
            if not self._queue:
                return []
            return self._execute_pipeline(raise_on_error)
        finally:
            try:
                self._reset_state()
            finally:
                self._leave()

    def _max_rounds(self) -> int:
        """A hard cap on rounds; the router's budgets and deadline normally end a loop first."""
        policy = self._executor.policy
        cap = max(policy.backoff.cap, 1e-3)
        return policy.max_redirects + 16 + int(4 * policy.deadline / cap)

    def _execute_pipeline(self, raise_on_error: bool) -> List[Any]:
        queue = self._queue
        executor = self._executor
        pending = [p for c in queue for p in c.parts]
        loaded: Set[Tuple[NodeAddress, str]] = set()
        for _ in range(self._max_rounds()):
            groups, batches = self._group(pending, loaded)
            # one round: every node's batch written, then every reply read (executor)
            results = executor.run_batches(batches, all_errors_as_values=True)
            for (_address, parts), replies in zip(groups, results):
                for part, reply in zip(parts, replies):
                    part.reply = reply
            pending, delay = self._triage(pending)
            if not pending:
                break
            if delay > 0:
                executor.sleep(delay)
        else:
            for part in pending:
                part.reply = ClusterError(
                    f"{part.command.name} still failing after {self._max_rounds()} rounds")
        return self._collect(queue, raise_on_error)

    def _group(self, parts: Sequence[_Part], loaded: Set[Tuple[NodeAddress, str]],
               ) -> Tuple[List[Tuple[NodeAddress, List[_Part]]], List[Batch]]:
        """Parts by node, in address order (a fixed order: no lock-order cycles), and each
        node's batch (with a reply layout when a part needs SCRIPT LOAD / ASKING first or is
        read undecoded). A part that cannot be routed gets the error as its reply."""
        slotted: Tuple[List[_Part], List[_Part]] = ([], [])  # writes, reads: routed in bulk
        for part in parts:
            if part.ask is not None:
                part.address = part.ask
            elif part.node is not None:
                part.address = part.node
            elif part.slot is not None and (part.attempt is None or not part.attempt.avoid):
                slotted[part.command.read].append(part)
            else:
                part.address = self._locate(part)  # keyless, or a read that must avoid a node
        for read, routed in enumerate(slotted):
            if routed:
                try:
                    addresses: Sequence[Optional[NodeAddress]] = self._executor.locate(
                        Route.SLOT, [p.slot for p in routed if p.slot is not None],
                        read=bool(read))
                except ClusterCoreError:  # an uncovered slot: find the parts it concerns
                    addresses = [self._locate(part) for part in routed]
                for part, address in zip(routed, addresses):
                    part.address = address
        by_node: Dict[NodeAddress, List[_Part]] = {}
        for part in parts:
            address = part.address
            if address is not None:
                group = by_node.get(address)
                if group is None:
                    by_node[address] = [part]
                else:
                    group.append(part)
        groups = sorted(by_node.items())
        scripts = self._scripts
        batches: List[Batch] = []
        for address, members in groups:
            commands: List[Tuple[Any, ...]] = []
            layout: Optional[List[Tuple[int, bool]]] = None
            for n, part in enumerate(members):
                skip = 0
                if scripts and part.command.name == "EVALSHA" and len(part.args) > 1:
                    # SCRIPT LOAD a known script right before its first EVALSHA on a node, so
                    # no EVALSHA meets NOSCRIPT (and none has to run out of order on a retry)
                    sha = _text(part.args[1])
                    body = scripts.get(sha)
                    if body is not None and (address, sha) not in loaded:
                        loaded.add((address, sha))
                        part.preload = body  # kept: a retry of this part loads it again
                if part.preload is not None:
                    commands.append(("SCRIPT", "LOAD", part.preload))
                    skip += 1
                if part.ask is not None:
                    commands.append(("ASKING",))
                    skip += 1
                commands.append(part.args)
                raw = part.command.raw
                if layout is None and (skip or raw):
                    layout = [(0, False)] * n
                if layout is not None:
                    layout.append((skip, raw))
            batches.append((address, commands, layout))
        return groups, batches

    def _locate(self, part: _Part) -> Optional[NodeAddress]:
        """Route one part alone; a routing failure becomes its reply (None returned)."""
        try:
            return self._executor.locate(
                part.command.spec.route, () if part.slot is None else (part.slot,),
                read=part.command.read, avoid=part.attempt.avoid if part.attempt else ())[0]
        except ClusterCoreError as exc:
            part.reply = exc
            return None

    def _triage(self, parts: Sequence[_Part]) -> Tuple[List[_Part], float]:
        """Decide each failed part's fate (the executor carries it out, each effect once per
        round); returns the parts to send again and the one pause, the longest asked for."""
        executor = self._executor
        again: List[_Part] = []
        delay = 0.0
        seen: Optional[Round] = None  # made at the first failure (most rounds have none)
        for part in parts:
            reply = part.reply
            if not isinstance(reply, ClusterCoreError):
                continue
            address = part.address
            if address is None:
                continue  # could not be routed: final
            if isinstance(reply, ResponseError) and not isinstance(reply, _ROUTING_ERRORS):
                continue  # an ordinary error reply is the command's result
            command = part.command
            if part.attempt is None:
                part.attempt = Attempt()
            if seen is None:
                seen = Round(executor.now())
            part.ask = None
            try:
                step = executor.recover(reply, part.attempt, idempotent=command.idempotent,
                                        command=command.name, address=address, slot=part.slot,
                                        wait=False, seen=seen)
            except ClusterCoreError as final:  # the router gave up: that is its result
                part.reply = final
                continue
            if step.action is Action.ASK:
                part.ask = step.target
            delay = max(delay, step.delay)
            again.append(part)
        return again, delay

    def _collect(self, queue: Sequence[_Command], raise_on_error: bool) -> List[Any]:
        results: List[Any] = []
        append = results.append
        first_error: Optional[BaseException] = None
        callbacks = self._callbacks()
        found: Dict[str, Any] = {}
        for command in queue:
            parts = command.parts
            if len(parts) == 1 and not command.fanout and parts[0].indexes is None:
                reply = parts[0].reply  # the common case, inlined
                if isinstance(reply, BaseException):
                    if first_error is None:
                        first_error = reply
                    append(reply)
                    continue
                name = command.name
                callback = found.get(name, _UNSET)
                if callback is _UNSET:
                    callback = found[name] = callbacks.get(name)
                append(reply if callback is None else callback(reply, **command.options))
                continue
            value = self._result(command)
            if first_error is None and isinstance(value, BaseException):
                first_error = value
            append(value)
        if first_error is not None and raise_on_error:
            raise first_error
        return results

    def _result(self, command: _Command) -> Any:
        parts = command.parts
        if command.fanout:
            parsed: Dict[str, Any] = {}
            for part in parts:
                assert part.node is not None
                reply = part.reply
                parsed[part.node.name] = reply if isinstance(reply, BaseException) else (
                    self._parse_reply(command.name, reply,
                                      **{"current_host": part.node.host, **command.options}))
            try:
                return self._merge_results(command.name, command.spec.merge, parsed,
                                           **command.options)
            except ClusterCoreError as exc:
                return exc
        try:  # a split command (_collect handles the one-part commands itself)
            merged = merge_split(command.spec, [(p.indexes or [], p.reply) for p in parts])
        except ClusterCoreError as exc:
            return exc
        return self._parse_reply(command.name, merged, **command.options)

    # --- transactions: MULTI ... EXEC ------------------------------------------------------------
    def _execute_transaction(self, raise_on_error: bool) -> List[Any]:
        executor = self._executor
        pool = executor.pool
        queue = self._queue
        idempotent = all(c.idempotent for c in queue)
        scripts = {sha: body for sha, body in self._scripts.items()
                   if any(c.name == "EVALSHA" and _text(c.args[1]) == sha for c in queue)}
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
            except _IO_ERRORS as exc:
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
                raise multi_reply
            pool.release(conn)  # EXEC (run or refused) ended the transaction and any WATCH
            if isinstance(exec_reply, list):
                if raw_exec:
                    exec_reply = self._decode_exec(conn, queue, exec_reply, address)
                return self._txn_results(queue, exec_reply, raise_on_error, address)
            if exec_reply is None:
                raise WatchError("Watched variable changed.")
            queued = replies[first + 1:-1]
            cause = next((r for r in queued if isinstance(r, _ROUTING_ERRORS)), None)
            if cause is None and isinstance(exec_reply, _ROUTING_ERRORS):
                cause = exec_reply
            if cause is None:
                raise next((r for r in queued if isinstance(r, ResponseError)), exec_reply)
            if watched:
                raise self._moving_while_watching(cause) from cause
            # refused as a whole (nothing applied): follow MOVED/ASK or back off, or raise
            step = executor.recover(cause, attempt, idempotent=True, command="EXEC",
                                    address=address, slot=self._txn_slot)
            ask = step.target if step.action is Action.ASK else None
        raise ClusterError(f"transaction gave up after {self._max_rounds()} attempts")

    @staticmethod
    def _decode_exec(conn: ClusterConnection, queue: Sequence[_Command], replies: List[Any],
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

    def _txn_results(self, queue: Sequence[_Command], replies: List[Any], raise_on_error: bool,
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
                results.append(reply)
            else:
                results.append(self._parse_reply(command.name, reply, **command.options))
        if first_error is not None and raise_on_error:
            raise first_error
        return results


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)
