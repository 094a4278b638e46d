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

Transactions (``transaction=True``, or ``multi()``): WATCH / MULTI / EXEC on one slot's primary,
in transaction.py (TransactionMixin). The error ``execute()`` raises carries redis-py's prefix
"Command # N (command) of pipeline caused error: " (pipeline_command.annotate_exception);
with ``raise_on_error=False`` errors stand in the results as the server sent them. redis-py's
ClusterPipeline is a RedisCluster subclass: the client's names it inherits (node API,
``pipeline()``, ``transaction()`` ...) are forwarded to ``pipe.client`` (pipeline_client.py).

A pipeline belongs to one thread: a second thread that uses it while it has queued commands,
an active WATCH, or a call in progress gets ConcurrentPipelineError instead of mixed replies.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Set, Tuple

from .._address import NodeAddress
from .._commands.keys import SINGLE_KEY, slot_of, split_by_slot
from .._commands.merge import merge_split
from .._commands.specs import Route, has_space, lookup, normalize_args
from .._net.connection import ClusterConnection
from .._slots import key_slot
from ..errors import (
    ClusterCoreError,
    ClusterCrossSlotError,
    ClusterError,
    ClusterUsageError,
    CrossSlotTransactionError,
    ResponseError,
)
from .executor import Batch, CatchUp, Round
from .pipeline_client import ClientNames, blocked_in_pipeline
from .pipeline_command import (
    ROUTING_ERRORS,
    Command,
    ConcurrentPipelineError,
    Part,
    PipelineCommand,
    annotate_exception,
    text_of,
)
from .router import Action, Attempt
from .script import Script
from .transaction import TransactionMixin

if TYPE_CHECKING:
    from .client import RedisCluster

__all__ = ["ClusterPipeline", "ConcurrentPipelineError", "PipelineCommand"]

_SLOT_ROUTES = (Route.SLOT, Route.SLOT_ARG, Route.CHANNEL)
_RANDOM_ROUTES = (Route.RANDOM_PRIMARY, Route.RANDOM_NODE)
_UNSET: Any = object()


_get_ident = threading.get_ident
_single_key_spec = SINGLE_KEY.get


class ClusterPipeline(TransactionMixin, ClientNames):
    """Buffered commands for a cluster (redis-py's ClusterPipeline API); see the module
    docstring. ``transaction=True`` makes it a one-slot MULTI/EXEC transaction; redis-py's
    ``shard_hint`` is refused as redis-py refuses it (deprecated in cluster mode)."""

    def __init__(self, client: RedisCluster, transaction: Optional[bool] = None,
                 shard_hint: Any = None) -> None:
        if shard_hint:
            raise ClusterUsageError("shard_hint is deprecated in cluster mode")
        self.client = client
        self._transaction = bool(transaction)
        self.response_callbacks = client.response_callbacks
        self.result_callbacks = client.result_callbacks
        self._queue: List[Command] = []
        self._scripts: Dict[str, Any] = {}
        self._txn_slot: Optional[int] = None
        self._txn_error: Optional[CrossSlotTransactionError] = None
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
        return self._transaction or self._explicit_multi or self._watch_conn is not None

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

    # redis-py's item access, queued like the commands it stands for (each returns the
    # pipeline; ``in`` is therefore always true, as on redis-py's cluster pipeline)
    def __getitem__(self, name: Any) -> Any:
        return self.execute_command("GET", name)

    def __setitem__(self, name: Any, value: Any) -> None:
        self.execute_command("SET", name, value)

    def __delitem__(self, name: Any) -> None:
        self.execute_command("DEL", name)

    def __contains__(self, name: Any) -> bool:
        return bool(self.execute_command("EXISTS", name))

    def eval(self, *args: Any) -> Any:
        """EVAL queued like any command (redis-py's cluster pipeline refuses it): ``script,
        numkeys, *keys_and_args``, keys in one slot; ClusterUsageError without a script and
        numkeys, as redis-py's stub raises its RedisClusterException."""
        if len(args) < 2:
            raise ClusterUsageError(
                f"eval() in a cluster pipeline needs script and numkeys; got {args!r}")
        return self.execute_command("EVAL", *args)

    def pipeline_execute_command(self, *args: Any, **options: Any) -> Any:
        """Stage one command (redis-py's name for execute_command on a pipeline)."""
        return self.execute_command(*args, **options)

    def immediate_execute_command(self, *args: Any, **options: Any) -> Any:
        """Run one command now and return its result: on the WATCH connection while keys
        are watched (before multi()), else through the client; nothing is queued."""
        self._enter()
        try:
            if self._watch_conn is not None and not self._explicit_multi:
                return self._immediate(self._make_command(args, options))
        finally:
            self._leave()
        return self.client.execute_command(*args, **options)

    @property
    def command_stack(self) -> List[PipelineCommand]:
        """The queued commands in call order, as ``PipelineCommand(args, options, position)``
        snapshots (redis-py-cluster's and redis-py's Pipeline shape; redis-py 8.1's
        ClusterPipeline keeps an always-empty list under this name)."""
        return [PipelineCommand(c.args, c.options, n) for n, c in enumerate(self._queue)]

    @property
    def parent_execute_command(self) -> Any:
        """The client's execute_command (redis-py: the RedisCluster method its pipeline
        falls back to); runs at once, outside the pipeline."""
        return self.client.execute_command

    def annotate_exception(self, exception: BaseException, number: int,
                           command: Sequence[Any]) -> None:
        """Prefix ``exception``'s message with "Command # {number} ({command}) of pipeline
        caused error: " as redis-py does (execute() does it to the error it raises)."""
        annotate_exception(exception, number, command)

    def _make_command(self, args: Tuple[Any, ...], options: Dict[str, Any]) -> Command:
        executor = self._executor
        try:
            spec = _single_key_spec(args[0])
        except (IndexError, TypeError):  # no arguments; an unhashable first one
            spec = None
        if spec is not None and len(args) > spec.first_key and not (
                self._transaction or self._explicit_multi or self._watch_conn is not None):
            # The fast path (GET, SET, HGET ...): one key where the table says, one part.
            command = Command(args, options, spec, spec.readonly and executor.read_from_replicas)
            command.parts = [Part(command, args, key_slot(args[spec.first_key], self._encoding))]
            return command
        if not args:
            raise ClusterUsageError("Unable to determine command to use (no arguments)")
        spec = lookup(args)
        if spec is None or has_space(args[0]):
            args = normalize_args(args)
            spec = spec or lookup(args) or executor.server_spec(args)
        if options and "target_nodes" in options:
            return self._targeted(args, options, spec)
        route = spec.route
        txn = self._transactional()
        command = Command(args, options, spec,
                           spec.readonly and executor.read_from_replicas and not txn)
        if route in _SLOT_ROUTES:
            try:
                slot = slot_of(spec, args, self._encoding)
            except ClusterCrossSlotError:
                if not spec.split or txn:
                    raise
                command.parts = [Part(command, sub, s, indexes=ix)
                                 for s, sub, ix in split_by_slot(spec, args, self._encoding)]
                return command
            if txn and slot is not None:
                self._claim_slot(slot, spec.name, defer=not (
                    self._watch_conn is not None and not self._explicit_multi))
            command.parts = [Part(command, args, slot)]
        elif route is Route.CONNECTION or route is Route.NODE_ONLY:
            raise ClusterUsageError(
                f"{spec.name} cannot be queued in a cluster pipeline (it is bound to one "
                "connection or node; use watch()/multi() for transactions, pubsub() to subscribe)")
        elif route in _RANDOM_ROUTES:
            command.parts = [Part(command, args, None)]
        elif txn:
            raise ClusterUsageError(
                f"{spec.name} goes to several nodes and cannot be part of a transaction")
        else:
            command.fanout = True
            command.parts = [Part(command, args, None, node=address)
                             for address in executor.locate(route)]
        return command

    def _targeted(self, args: Tuple[Any, ...], options: Dict[str, Any],
                  spec: Any) -> Command:
        """A command with redis-py's ``target_nodes=``: one part for that one node (as in
        redis-py's pipeline, several targets are refused: run those on the client)."""
        targets = options.pop("target_nodes")
        if self._transactional():
            raise ClusterUsageError(
                f"{spec.name} with target_nodes cannot be part of a transaction (its node is "
                "the slot's primary)")
        addresses = self._executor.locate(spec.route, node=targets)
        if not addresses:
            raise ClusterUsageError(f"No targets were found to execute {args} command on")
        if len(addresses) > 1:
            raise ClusterUsageError(f"Too many targets for command {args}")
        command = Command(args, options, spec, False)
        command.parts = [Part(command, args, None, node=addresses[0])]
        return command

    def note_script(self, sha: str, body: Any) -> None:
        """Learn a script's body (a Script called with this pipeline tells it before queueing
        its EVALSHA), so the pipeline loads it on each node before the EVALSHA runs there."""
        self._scripts[sha] = body

    def register_script(self, script: Any) -> Script:
        """A Script whose calls queue EVALSHA here and load the body on NOSCRIPT."""
        return Script(self, script)

    def _execute_on_node(self, node: Any, *args: Any) -> Any:
        raise ClusterUsageError("node-targeted calls (scan with target_node ...) cannot be "
                                    "queued in a pipeline; call them on the client")

    def _nodes_for_scan(self) -> List[Any]:
        raise ClusterUsageError("SCAN iteration cannot be queued in a pipeline")

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
        self._txn_error = None
        self._explicit_multi = False
        self._drop_watch(unwatch=True)

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

    def _execute_pipeline(self, raise_on_error: bool) -> List[Any]:
        queue = self._queue
        executor = self._executor
        pending = [p for c in queue for p in c.parts]
        loaded: Set[Tuple[NodeAddress, str]] = set()
        started = executor.now()  # the retry deadline counts from here, reads included
        within: Optional[float] = None  # the first round waits socket_timeout
        for _ in range(self._max_rounds()):
            groups, batches = self._group(pending, loaded)
            # one round: every node's batch written, then every reply read (executor)
            results = executor.run_batches(batches, all_errors_as_values=True, within=within)
            for (_address, parts), replies in zip(groups, results):
                for part, reply in zip(parts, replies):
                    part.reply = reply
            pending, delay, catch_up = self._triage(pending, started)
            if pending:  # a retry round waits at most what is left of the deadline
                within = executor.round_budget(started, delay)
            if not pending:
                break
            if delay > 0:
                executor.sleep(delay)
            if catch_up is not None:  # a part's last try after a node failure
                executor.catch_up(*catch_up)
        else:
            for part in pending:
                part.reply = ClusterError(
                    f"{part.command.name} still failing after {self._max_rounds()} rounds")
        return self._collect(queue, raise_on_error)

    def _group(self, parts: Sequence[Part], loaded: Set[Tuple[NodeAddress, str]],
               ) -> Tuple[List[Tuple[NodeAddress, List[Part]]], List[Batch]]:
        """Parts by node, in address order (a fixed order: no lock-order cycles), and each
        node's batch (with a reply layout when a part needs SCRIPT LOAD / ASKING first or is
        read undecoded). A part that cannot be routed gets the error as its reply."""
        slotted: Tuple[List[Part], List[Part]] = ([], [])  # writes, reads: routed in bulk
        executor = self._executor
        read_your_writes = executor.written_at is not None
        for part in parts:
            if part.ask is not None:
                part.address = part.ask
            elif part.node is not None:
                part.address = part.node
            elif part.slot is not None and (part.attempt is None or not part.attempt.avoid):
                replica = part.command.read
                if read_your_writes:  # a write routed here comes before later reads of its slot
                    if replica:
                        replica = executor.replica_read_ok(part.slot)
                    elif not part.command.spec.readonly:
                        executor.note_write(part.slot)
                slotted[replica].append(part)
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
        by_node: Dict[NodeAddress, List[Part]] = {}
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
                    sha = text_of(part.args[1])
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

    def _locate(self, part: Part) -> Optional[NodeAddress]:
        """Route one part alone; a routing failure becomes its reply (None returned)."""
        try:
            return self._executor.locate(
                part.command.spec.route, () if part.slot is None else (part.slot,),
                read=part.command.read, avoid=part.attempt.avoid if part.attempt else ())[0]
        except ClusterCoreError as exc:
            part.reply = exc
            return None

    def _triage(self, parts: Sequence[Part], started: float,
                ) -> Tuple[List[Part], float, Optional[CatchUp]]:
        """Decide each failed part's fate (the executor carries it out, each effect once per
        round); returns the parts to send again, the one pause (the longest asked for) and,
        when a part's next try is its last after a node failure, the catch-up refresh to run
        after the pause (:meth:`Executor.catch_up`)."""
        executor = self._executor
        again: List[Part] = []
        delay = 0.0
        seen: Optional[Round] = None  # made at the first failure (most rounds have none)
        for part in parts:
            reply = part.reply
            if not isinstance(reply, ClusterCoreError):
                continue
            address = part.address
            if address is None:
                continue  # could not be routed: final
            if isinstance(reply, ResponseError) and not isinstance(reply, ROUTING_ERRORS):
                continue  # an ordinary error reply is the command's result
            command = part.command
            if part.attempt is None:
                part.attempt = Attempt(started=started)
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
        return again, delay, None if seen is None else seen.catch_up

    def _collect(self, queue: Sequence[Command], raise_on_error: bool) -> List[Any]:
        """The results in call order; with ``raise_on_error`` the first error, annotated with
        its command's number and text as redis-py does, is raised instead."""
        results: List[Any] = []
        append = results.append
        first_error: Optional[BaseException] = None
        first_at = 0
        callbacks = self._callbacks()
        found: Dict[str, Any] = {}
        for command in queue:
            parts = command.parts
            if len(parts) == 1 and not command.fanout and parts[0].indexes is None:
                reply = parts[0].reply  # the common case, inlined
                if isinstance(reply, BaseException):
                    if first_error is None:
                        first_error, first_at = reply, len(results)
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
                first_error, first_at = value, len(results)
            append(value)
        if first_error is not None and raise_on_error:
            annotate_exception(first_error, first_at + 1, queue[first_at].args)
            raise first_error
        return results

    def _result(self, command: Command) -> Any:
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


# The commands redis-py's ClusterPipeline blocks in cluster mode and clustercore has no method
# for: the same stub (clustercore queues the others it blocks, e.g. MGET, KEYS, DBSIZE, routed
# as on the client).
for _name in ("config", "script", "slowlog", "sentinel", "sentinel_get_master_addr_by_name",
              "sentinel_master", "sentinel_masters", "sentinel_monitor", "sentinel_remove",
              "sentinel_sentinels", "sentinel_set", "sentinel_slaves"):
    if not hasattr(ClusterPipeline, _name):
        setattr(ClusterPipeline, _name, blocked_in_pipeline(_name))
del _name
