"""Pipelines and transactions as a state machine over FakeCluster (issue 14, property suite).

``PipelineMachine`` builds plain pipelines of random commands over keys on several slots, and
transactions on one hash tag, interleaved with slot migrations (whole, or left half-way so
keys answer ASK), manual failovers, dropped connections and lost replies (the next reply on a
node's connections is cut after a few bytes, after the request was written). Against a model
of every key it checks:

* results come back in call order, one per queued command, each what the model says that
  command returns at its place in the sequence (a GET after a SET of the same key in the same
  pipeline sees that SET) -- except after a lost reply, when the idempotent commands whose
  replies were lost are re-sent after the whole batch already ran once: a re-sent GET may
  then see a write queued after it (``[GET k, SET k v]`` returns ``[v, True]``), and the model
  accepts any state each key reaches with its commands applied at most once each;
* idempotent commands (SET, GET, DEL) are retried transparently: never an error;
* a non-idempotent command (INCR, APPEND) whose reply was lost yields OutcomeUnknownError and
  is never silently re-sent: the model then accepts both outcomes, and reading the key from
  the fake afterwards must show one of them (a re-send would show it applied twice);
* a transaction is all-or-nothing: afterwards the fake holds either the state before it or the
  state after all of its commands, never a part; it raises only OutcomeUnknownError (the EXEC
  reply was lost: either state) or, while its slot is half-migrated, a cluster error or
  TRYAGAIN (its keys are split between the two nodes; nothing applied);
* pools: nothing in use between steps, per node created - closed == idle + in_use, every
  socket on the fake network an idle pooled connection; none left after close().

Bounded for a shared machine: few examples, short runs (a few seconds in all).
"""

from __future__ import annotations

import random
from typing import Any, Dict, List, Optional, Set, Tuple

from hypothesis import event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from clustercore import RedisCluster, key_slot
from clustercore.errors import (
    ClusterCoreError,
    ClusterError,
    OutcomeUnknownError,
    TryAgainError,
)
from clustercore.testing import FakeCluster
from tests.unit.test_state_machines import check_pool_counts, settle

#: Plain pipelines' keys, on several slots; counters for INCR.
KEYS = ("a", "b", "c", "{u}1", "{u}2", "{v}1")
COUNTERS = ("n", "{u}n", "{v}n")
#: A transaction's keys share the {t} hash tag (one slot).
TXN_KEYS = ("{t}a", "{t}b")
TXN_COUNTERS = ("{t}n",)
ALL_KEYS = KEYS + COUNTERS + TXN_KEYS + TXN_COUNTERS
SLOTS = sorted({key_slot(k) for k in ALL_KEYS})
NON_IDEMPOTENT = ("incr", "append")

#: One queued command: (kind, key, value).
Op = Tuple[str, str, bytes]


def ops_over(keys: Tuple[str, ...], counters: Tuple[str, ...]) -> Any:
    """Strategies of one command on these keys."""
    value = st.binary(min_size=1, max_size=4)
    return st.one_of(
        st.tuples(st.just("set"), st.sampled_from(keys), value),
        st.tuples(st.just("get"), st.sampled_from(keys + counters), st.just(b"")),
        st.tuples(st.just("delete"), st.sampled_from(keys), st.just(b"")),
        st.tuples(st.just("append"), st.sampled_from(keys), value),
        st.tuples(st.just("incr"), st.sampled_from(counters), st.just(b"")),
    )


def queue(pipe: Any, op: Op) -> None:
    kind, key, value = op
    if kind == "set":
        pipe.set(key, value)
    elif kind == "get":
        pipe.get(key)
    elif kind == "delete":
        pipe.delete(key)
    elif kind == "append":
        pipe.append(key, value)
    else:
        pipe.incr(key)


def as_counter(value: Optional[bytes]) -> int:
    return int(value or 0)


class Possible:
    """What each key may hold: usually one value; several after an OutcomeUnknownError."""

    def __init__(self, model: Dict[str, Optional[bytes]], ops: List[Op],
                 resent: bool = False) -> None:
        self.values: Dict[str, Set[Optional[bytes]]] = {k: {v} for k, v in model.items()}
        #: With a lost reply, the commands after it ran once already when the idempotent
        #: ones among them are re-sent: a re-sent GET may see a later command's write, a
        #: re-sent SET may overwrite a later APPEND. Then each key may be in any state its
        #: commands reach applied in any subset -- but each at most once.
        self.resent = resent
        self.reachable: Dict[str, Set[Optional[bytes]]] = {k: {v} for k, v in model.items()}
        for kind, key, value in ops:
            states = self.reachable[key]
            states |= {self.apply(kind, old, value) for old in states}

    def step(self, op: Op, result: Any) -> None:
        """Check ``result`` (a value, or an exception standing in the results) against what
        ``op`` may return here, and move the possible values on."""
        kind, key, value = op
        before = self.values[key]
        if isinstance(result, OutcomeUnknownError):
            assert kind in NON_IDEMPOTENT, f"OutcomeUnknownError for idempotent {op}: {result}"
            self.values[key] = before | {self.apply(kind, old, value) for old in before}
            return
        assert not isinstance(result, BaseException), f"{op} failed: {result!r}"
        if self.resent:
            self.step_resent(op, result)
            return
        if kind == "set":
            assert result is True, (op, result)
            self.values[key] = {value}
        elif kind == "get":
            assert result in before, f"GET {key} read {result!r}, expected one of {before}"
            self.values[key] = {result}
        elif kind == "delete":
            assert result == (1 if result else 0) and (
                (result == 1 and before - {None}) or (result == 0 and None in before)), (
                op, result, before)
            self.values[key] = {None}
        elif kind == "append":
            after = {self.apply(kind, old, value) for old in before}
            matching = {a for a in after if a is not None and len(a) == result}
            assert matching, f"APPEND {key} returned {result}, expected a length of {after}"
            self.values[key] = matching
        else:
            after = {self.apply(kind, old, value) for old in before}
            assert str(result).encode() in after, f"INCR {key} gave {result}, not in {after}"
            self.values[key] = {str(result).encode()}

    def step_resent(self, op: Op, result: Any) -> None:
        kind, key, _value = op
        reachable = self.reachable[key]
        if kind == "set":
            assert result is True, (op, result)
        elif kind == "get":
            assert result in reachable, f"GET {key} read {result!r}, not in {reachable}"
        elif kind == "delete":
            assert result in (0, 1), (op, result)
        elif kind == "append":
            assert any(v is not None and len(v) == result for v in reachable), (op, result)
        else:
            assert str(result).encode() in reachable, (op, result, reachable)
        self.values[key] = reachable

    @staticmethod
    def apply(kind: str, old: Optional[bytes], value: bytes) -> Optional[bytes]:
        if kind == "append":
            return (old or b"") + value
        if kind == "incr":
            return str(as_counter(old) + 1).encode()
        if kind == "set":
            return value
        if kind == "delete":
            return None
        return old


class PipelineMachine(RuleBasedStateMachine):
    """One client over one FakeCluster: pipelines, transactions and faults (module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.fake: FakeCluster
        self.rc: RedisCluster
        self.model: Dict[str, Optional[bytes]] = dict.fromkeys(ALL_KEYS)

    @initialize(masters=st.integers(2, 4), protocol=st.sampled_from([2, 3]))
    def setup(self, masters: int, protocol: int) -> None:
        self.fake = FakeCluster(masters=masters, replicas=1)
        self.rc = RedisCluster(
            startup_nodes=self.fake.startup_nodes, transport=self.fake.network,
            clock=self.fake.clock, sleep=self.fake.clock.advance, background_refresh=False,
            refresh_min_interval=0, socket_timeout=1.0, retry_deadline=5.0,
            protocol=protocol, rng=random.Random(0))

    def teardown(self) -> None:
        rc = getattr(self, "rc", None)
        if rc is None:
            return
        try:
            for slot in list(self.fake.migrations):
                _source, target = self.fake.migrations[slot]
                self.fake.move_keys(slot)
                self.fake.finish_migration(slot, target)
            for key in ALL_KEYS:  # every acknowledged write readable once all is well
                assert rc.get(key) == self.model[key], key
            check_pool_counts(rc, self.fake)
        finally:
            rc.close()
        settle(rc)
        assert self.fake.network.streams == [], "sockets left open after close()"

    # --- helpers ----------------------------------------------------------------------------
    def cut_pending(self) -> bool:
        return any(s.cut_after is not None for s in self.fake.network.streams)

    def resolve(self, possible: Possible, keys: Set[str]) -> None:
        """Read what the fake holds: it must be one of the possible values; the model learns."""
        for key in keys:
            actual = self.fake.get(key)
            assert actual in possible.values[key], (
                f"{key} holds {actual!r}, possible {possible.values[key]}")
            self.model[key] = actual

    # --- pipelines and transactions ---------------------------------------------------------
    @rule(ops=st.lists(ops_over(KEYS, COUNTERS), min_size=1, max_size=8))
    def pipeline(self, ops: List[Op]) -> None:
        cut = self.cut_pending()
        pipe = self.rc.pipeline(transaction=False)
        for op in ops:
            queue(pipe, op)
        results = pipe.execute(raise_on_error=False)
        note(f"pipeline {ops} -> {results!r} (cut pending={cut})")
        assert len(results) == len(ops), "one result per queued command"
        possible = Possible(self.model, ops, resent=cut)
        for op, result in zip(ops, results):  # in call order
            if isinstance(result, OutcomeUnknownError):
                assert cut, f"OutcomeUnknownError without a lost reply: {op}"
                event("pipeline: outcome unknown")
            possible.step(op, result)
        self.resolve(possible, {key for _kind, key, _value in ops})

    @rule(ops=st.lists(ops_over(TXN_KEYS, TXN_COUNTERS), min_size=1, max_size=5))
    def transaction(self, ops: List[Op]) -> None:
        cut = self.cut_pending()
        half_migrated = key_slot(TXN_KEYS[0]) in self.fake.migrations
        keys = {key for _kind, key, _value in ops}
        before = {k: self.model[k] for k in keys}
        # a transaction of idempotent commands whose EXEC reply was lost is run again: its
        # results then describe the second run (DEL 0 after the first run deleted)
        possible = Possible(self.model, ops, resent=cut)
        pipe = self.rc.pipeline(transaction=True)
        for op in ops:
            queue(pipe, op)
        try:
            results = pipe.execute(raise_on_error=False)
        except OutcomeUnknownError as exc:
            note(f"transaction {ops} -> {exc!r}")
            assert cut, f"OutcomeUnknownError without a lost reply: {exc}"
            event("transaction: outcome unknown")
            after = dict(before)
            for kind, key, value in ops:
                after[key] = Possible.apply(kind, after[key], value)
            actual = {k: self.fake.get(k) for k in keys}
            assert actual in (before, after), f"partly applied: {actual}, {before} / {after}"
            self.model.update(actual)
            return
        except ClusterCoreError as exc:
            note(f"transaction {ops} -> {exc!r}")
            assert half_migrated and isinstance(exc, (ClusterError, TryAgainError)), (
                f"transaction failed with no fault to explain it: {exc!r}")
            event("transaction: refused during a migration")
            assert {k: self.fake.get(k) for k in keys} == before, "a refused EXEC applied"
            return
        note(f"transaction {ops} -> {results!r}")
        assert len(results) == len(ops)
        for op, result in zip(ops, results):
            possible.step(op, result)
        self.resolve(possible, keys)

    # --- faults --------------------------------------------------------------------------------
    def target_for(self, slot: int, pick: int) -> Any:
        owner = self.fake.owner_of(slot)
        others = [p for p in self.fake.primaries() if p is not owner]
        return others[pick % len(others)]

    @rule(slot=st.sampled_from(SLOTS), pick=st.integers(0, 3))
    def migrate(self, slot: int, pick: int) -> None:
        if slot in self.fake.migrations:
            return
        self.fake.migrate(slot, self.target_for(slot, pick))  # the client's map is now stale

    @rule(slot=st.sampled_from(SLOTS), pick=st.integers(0, 3), count=st.integers(0, 2))
    def begin_migration(self, slot: int, pick: int, count: int) -> None:
        if slot in self.fake.migrations:
            return
        self.fake.begin_migration(slot, self.target_for(slot, pick))
        self.fake.move_keys(slot, count)  # some keys already moved: ASK for those

    @rule(data=st.data())
    def finish_migration(self, data: Any) -> None:
        if not self.fake.migrations:
            return
        slot = data.draw(st.sampled_from(sorted(self.fake.migrations)))
        _source, target = self.fake.migrations[slot]
        self.fake.move_keys(slot)  # the rest of its keys, then the slot changes hands
        self.fake.finish_migration(slot, target)

    @rule(pick=st.integers(0, 3))
    def failover(self, pick: int) -> None:
        primaries = self.fake.primaries()
        self.fake.failover(primaries[pick % len(primaries)])

    @rule()
    def drop_connections(self) -> None:
        self.fake.drop_connections()

    @rule(key=st.sampled_from(ALL_KEYS), after=st.sampled_from([0, 3, 9, 20, 40]))
    def lose_next_reply(self, key: str, after: int) -> None:
        """The next reply on the connections to ``key``'s owner is cut after ``after`` bytes
        (a pipeline's batch: some replies arrive, the rest are lost)."""
        owner = self.fake.owner_of(key)
        self.rc.get(key)  # an idle pooled connection to the owner, for the next command
        self.fake.cut_next_reply(owner, after)

    # --- invariants ----------------------------------------------------------------------------
    @invariant()
    def fake_holds_the_model(self) -> None:
        if hasattr(self, "rc"):
            for key in ALL_KEYS:
                assert self.fake.get(key) == self.model[key], key

    @invariant()
    def pool_counts_add_up(self) -> None:
        if hasattr(self, "rc"):
            check_pool_counts(self.rc, self.fake)


PipelineMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=15, deadline=None, report_multiple_bugs=False)
TestPipelineMachine = PipelineMachine.TestCase
