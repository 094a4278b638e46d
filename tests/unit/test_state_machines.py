"""Stateful properties of RedisCluster over FakeCluster, plus the regressions they found.

``ClientMachine`` interleaves single-key commands (SET, GET, INCR, APPEND), split multi-key
commands (MGET, MSET, DEL, EXISTS across slots), scripted faults (every kind of
:mod:`clustercore.testing.strategies`: kills and revivals, freezes, manual and automatic
failovers, migrations step by step, LOADING, CLUSTERDOWN, TRYAGAIN, dropped connections, cut
replies, clock jumps, new nodes), and client lifecycle events (pool reset, disconnect, close and
a new client). After every step it checks:

* data: the fake (which never loses a write) holds exactly what the model says; a read returns
  the last acknowledged write; a failed write was applied at most once, and a failed
  non-idempotent write that was not reported as OutcomeUnknownError was not applied at all;
* errors: only documented types reach the caller, and only those the active faults explain
  (``ALLOWED``); with no fault active every command succeeds, so the redirect budget always
  converges on a healthy cluster; RedirectBudgetExceededError never happens, nor a pool error
  (a lone caller never needs two connections at once, whatever the cap);
* outcome-unknown: only non-idempotent commands raise OutcomeUnknownError, only when a reply
  was lost or a node hung; idempotent commands under cut replies are retried and succeed;
* pools: per node ``created - closed == idle + in_use``, nothing in use between commands, no
  socket open on the fake network that is not an idle pooled connection, none after close().

``test_threads_drive_one_client_while_faults_are_injected`` runs several threads over one
client in lock-step rounds, with a fault applied by the main thread between rounds (or while
the round's commands are in flight), and checks each thread's keys, the shared counters'
bounds, the error types and the pools after joining.

The ``test_bug_*`` tests are the failing examples these properties found, shrunk to a few
lines; each was red until the commit named in its docstring fixed the bug.
"""

from __future__ import annotations

import random
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Type

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from clustercore import RedisCluster, key_slot
from clustercore.errors import (
    BusyLoadingError,
    ClusterCoreError,
    ClusterDownError,
    ConnectionError,
    OutcomeUnknownError,
    PoolError,
    RedirectBudgetExceededError,
    TimeoutError,
    TopologyError,
    TryAgainError,
)
from clustercore.testing import FakeCluster, FakeNetwork
from clustercore.testing.strategies import (
    FAULT_KINDS,
    ClusterLayout,
    Fault,
    faults,
    heal,
    topologies,
)

#: pytest-timeout allows 120 s a test; the nightly profile runs many more examples.
pytestmark = pytest.mark.timeout(max(120, int(settings.default.max_examples * 0.25)))

# --- the key space ------------------------------------------------------------------------------
#: String keys; the {u} and {v} pairs share a slot, so split commands send multi-key parts.
KEYS = ("{u}1", "{u}2", "{v}1", "{v}2", "a", "b", "c")
#: Integer keys for INCR (non-idempotent).
COUNTERS = ("{u}n", "{v}n", "n")
SLOTS = sorted({key_slot(k) for k in KEYS + COUNTERS})
VALUES = st.binary(max_size=6)

#: The fault kinds of clustercore.testing.strategies, by family (one machine rule each).
NODE_FAULTS = ("kill", "revive", "freeze", "unfreeze", "loading", "loaded")
TOPOLOGY_FAULTS = ("failover", "auto_failover", "migrate", "begin_migration", "move_keys",
                   "finish_migration", "add_node")
WIRE_FAULTS = ("drop_connections", "cut_next_reply", "cluster_down", "cluster_up", "tryagain",
               "advance")
assert sorted(NODE_FAULTS + TOPOLOGY_FAULTS + WIRE_FAULTS) == sorted(FAULT_KINDS)

#: Documented error types each kind of fault may legitimately surface (besides
#: OutcomeUnknownError, handled separately). With no fault active, nothing may be raised.
ALLOWED: Dict[str, Tuple[Type[BaseException], ...]] = {
    # refused connects, NodeFailingError cool-downs, CLUSTERDOWN once a primary without a
    # replica is flagged FAIL, and no usable layout when discovery must run
    "kill": (ConnectionError, ClusterDownError, TopologyError),
    # the same plus socket timeouts
    "freeze": (TimeoutError, ConnectionError, ClusterDownError, TopologyError),
    # LOADING outlasting the retry deadline
    "loading": (BusyLoadingError,),
    # CLUSTERDOWN outlasting cluster_down_retry_attempts
    "cluster_down": (ClusterDownError,),
    # a multi-key part whose slot is half migrated answers TRYAGAIN until the deadline
    "migration": (TryAgainError,),
}


def make_client(fake: FakeCluster, **kwargs: Any) -> RedisCluster:
    """A deterministic client: the fake's clock, inline refreshes, sleeps advance the clock,
    seeded randomness (hypothesis replays an example and must see the same run)."""
    kwargs.setdefault("socket_timeout", 1.0)
    kwargs.setdefault("rng", random.Random(0))  # replica choice, seed order: replayable
    kwargs.setdefault("sleep", fake.clock.advance)
    # CLUSTERDOWN is retried until the deadline by default; each retry refreshes inline, so a
    # machine that keeps the cluster down for many steps caps the count (the second cap the
    # policy offers) to stay well inside the test's time limit
    kwargs.setdefault("cluster_down_retry_attempts", 3)
    rc = RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network,
                      clock=fake.clock, background_refresh=False, refresh_min_interval=0,
                      **kwargs)
    return rc


def settle(rc: RedisCluster) -> None:
    """Wait for discovery probe threads (hedged probes may outlive a refresh by a moment)."""
    rc.connection_pool._discovery.join(2.0)


def check_pool_counts(rc: RedisCluster, fake: FakeCluster) -> None:
    """Per node: created - closed == idle + in_use; nothing in use or waiting between
    commands; the cluster-wide cap holds; every socket open on the fake network is an idle
    pooled connection."""
    stats = rc.connection_pool.stats()
    for node in stats.nodes:
        assert node.created - node.closed == node.idle + node.in_use, node
        assert node.in_use == 0, node
        assert node.waiting == 0, node
    cap = rc.connection_pool.max_connections
    assert cap is None or stats.idle <= cap, f"{stats.idle} connections open, cap {cap}"
    settle(rc)
    assert len(fake.network.streams) == stats.idle, (
        f"{len(fake.network.streams)} sockets open on the fake network, "
        f"{stats.idle} idle pooled connections")


# --- the machine ----------------------------------------------------------------------------------
@st.composite
def client_configs(draw: Any) -> Dict[str, Any]:
    """Client options worth varying: protocol and where reads go."""
    config: Dict[str, Any] = {"protocol": draw(st.sampled_from([2, 3]))}
    reads = draw(st.sampled_from(["primary", "read_from_replicas", "readonly_mode",
                                  "read_policy=replicas"]))
    if reads == "read_from_replicas":
        config["read_from_replicas"] = True
    elif reads == "readonly_mode":
        config["readonly_mode"] = True
    elif reads == "read_policy=replicas":
        config["read_policy"] = "replicas"
    config["retry_deadline"] = draw(st.sampled_from([2.0, 5.0]))
    # a cluster-wide cap, non-blocking or blocking: one caller alone must never hit it
    cap = draw(st.sampled_from([None, None, 1, 2, 3]))
    if cap is not None:
        config["max_connections"] = cap
        if draw(st.booleans()):
            config.update(blocking=True, timeout=0.05)
    return config


class Outcome:
    """What one client call did: its result or its exception."""

    def __init__(self, result: Any = None, error: Optional[BaseException] = None) -> None:
        self.result = result
        self.error = error

    @property
    def ok(self) -> bool:
        return self.error is None


class ClientMachine(RuleBasedStateMachine):
    """One client over one FakeCluster, commands and faults interleaved (module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.fake: FakeCluster
        self.rc: RedisCluster
        self.model: Dict[str, Optional[bytes]] = dict.fromkeys(KEYS)
        self.counters: Dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.cluster_down = False
        self.config: Dict[str, Any] = {}

    # --- setup / teardown ---------------------------------------------------------------------
    @initialize(layout=topologies(max_masters=5, max_replicas=2,
                                  node_timeouts=st.sampled_from([1.0, 3.0, 15.0, None])),
                config=client_configs())
    def setup(self, layout: ClusterLayout, config: Dict[str, Any]) -> None:
        self.fake = layout.build()
        self.config = config
        self.rc = make_client(self.fake, **config)

    def teardown(self) -> None:
        rc = getattr(self, "rc", None)
        if rc is None:
            return
        try:
            heal(self.fake)
            self.fake.clock.advance(5)  # past every failure cool-down
            # every acknowledged write is readable through the client once all is well
            for key in KEYS:
                assert rc.get(key) == self.model[key], key
            for key in COUNTERS:
                assert int(rc.get(key) or 0) == self.counters[key], key
            check_pool_counts(rc, self.fake)
        finally:
            rc.close()
        settle(rc)
        assert self.fake.network.streams == [], "sockets left open after close()"

    # --- fault bookkeeping ----------------------------------------------------------------------
    def active_faults(self) -> Set[str]:
        kinds: Set[str] = set()
        for node in self.fake.nodes:
            if not node.alive or node.failed:
                kinds.add("kill")
            if node.frozen:
                kinds.add("freeze")
            if node.loading:
                kinds.add("loading")
        if self.cluster_down:
            kinds.add("cluster_down")
        if self.fake.migrations:
            kinds.add("migration")
        return kinds

    def cut_pending(self) -> bool:
        return any(s.cut_after is not None for s in self.fake.network.streams)

    def half_migrated(self, keys: Sequence[str]) -> bool:
        """Whether two distinct keys of one part share a slot that is being migrated."""
        migrating = self.fake.migrations
        by_slot: Dict[int, Set[str]] = {}
        for key in keys:
            by_slot.setdefault(key_slot(key), set()).add(key)
        return any(len(ks) > 1 and slot in migrating for slot, ks in by_slot.items())

    def readable(self, key: str) -> Tuple[Optional[bytes], ...]:
        """What a read of ``key`` may return: the last acknowledged write; or nothing, when
        reads may go to a replica and the key's slot is being migrated (a Redis 7 replica
        serves its primary's slots locally and knows nothing of the migration, so a key
        already moved to the target reads as missing there, as on a real cluster)."""
        replica_reads = any(self.config.get(o) for o in
                            ("read_from_replicas", "readonly_mode", "read_policy"))
        if replica_reads and key_slot(key) in self.fake.migrations:
            return (self.model[key], None)
        return (self.model[key],)

    def call(self, fn: Callable[[], Any], *, idempotent: bool,
             keys: Sequence[str] = ()) -> Outcome:
        """Run one client call and check that any error is documented and explained."""
        active = self.active_faults()
        cut = self.cut_pending()
        try:
            result = fn()
        except Exception as exc:
            note(f"-> {type(exc).__name__}: {exc} (faults {sorted(active)}, cut={cut})")
            event(f"raised {type(exc).__name__}")
            self.check_error(exc, active, cut, idempotent, keys)
            return Outcome(error=exc)
        return Outcome(result)

    def check_error(self, exc: BaseException, active: Set[str], cut: bool, idempotent: bool,
                    keys: Sequence[str]) -> None:
        assert isinstance(exc, ClusterCoreError), f"undocumented error type {exc!r}"
        assert not isinstance(exc, RedirectBudgetExceededError), (
            f"redirect budget exhausted with faults {sorted(active)}: {exc}")
        assert not isinstance(exc, PoolError), (
            f"pool error for a lone caller (it never needs two connections at once): {exc!r}")
        if isinstance(exc, OutcomeUnknownError):
            assert not idempotent, f"OutcomeUnknownError for an idempotent command: {exc}"
            assert cut or "freeze" in active, (
                f"OutcomeUnknownError without a lost reply or a hung node: {exc}")
            return
        allowed: Tuple[Type[BaseException], ...] = ()
        for kind in active:
            if kind != "migration" or self.half_migrated(keys):
                allowed += ALLOWED[kind]
        assert allowed, (f"{type(exc).__name__} with no fault active that explains it "
                         f"(faults {sorted(active)}, cut reply pending={cut}): {exc}")
        assert isinstance(exc, allowed), (
            f"{type(exc).__name__} is not explained by the active faults {sorted(active)}: {exc}")

    # --- single-key commands ----------------------------------------------------------------------
    @rule(key=st.sampled_from(KEYS), value=VALUES)
    def set(self, key: str, value: bytes) -> None:
        old = self.model[key]
        out = self.call(lambda: self.rc.set(key, value), idempotent=True, keys=[key])
        actual = self.fake.get(key)
        if out.ok:
            assert out.result is True
            assert actual == value
        else:
            assert actual in (old, value), (key, old, value, actual)
        self.model[key] = actual

    @rule(key=st.sampled_from(KEYS))
    def get(self, key: str) -> None:
        out = self.call(lambda: self.rc.get(key), idempotent=True, keys=[key])
        if out.ok:
            assert out.result in self.readable(key), (
                f"read {out.result!r}, last acknowledged write {self.model[key]!r}")

    @rule(key=st.sampled_from(COUNTERS))
    def incr(self, key: str) -> None:
        old = self.counters[key]
        out = self.call(lambda: self.rc.incr(key), idempotent=False, keys=[key])
        actual = int(self.fake.get(key) or 0)
        if out.ok:
            assert out.result == old + 1 == actual, (old, out.result, actual)
        elif isinstance(out.error, OutcomeUnknownError):
            assert actual in (old, old + 1), f"applied {actual - old} times"
        else:
            assert actual == old, f"{type(out.error).__name__} but INCR was applied"
        self.counters[key] = actual

    @rule(key=st.sampled_from(KEYS), suffix=st.binary(min_size=1, max_size=3))
    def append(self, key: str, suffix: bytes) -> None:
        old = self.model[key] or b""
        out = self.call(lambda: self.rc.append(key, suffix), idempotent=False, keys=[key])
        actual = self.fake.get(key)
        if out.ok:
            assert actual == old + suffix and out.result == len(actual), (old, actual)
        elif isinstance(out.error, OutcomeUnknownError):
            assert actual in (self.model[key], old + suffix), (old, suffix, actual)
        else:
            assert actual == self.model[key], f"{type(out.error).__name__} but APPEND applied"
        self.model[key] = actual

    # --- multi-key commands, split by slot --------------------------------------------------------
    @rule(keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=5))
    def mget(self, keys: List[str]) -> None:
        out = self.call(lambda: self.rc.mget(keys), idempotent=True, keys=keys)
        if out.ok:
            assert len(out.result) == len(keys)
            for key, value in zip(keys, out.result):
                assert value in self.readable(key), (key, value, self.model[key])

    @rule(mapping=st.dictionaries(st.sampled_from(KEYS), VALUES, min_size=1, max_size=5))
    def mset(self, mapping: Dict[str, bytes]) -> None:
        out = self.call(lambda: self.rc.mset(mapping), idempotent=True, keys=list(mapping))
        for key, value in mapping.items():
            actual = self.fake.get(key)
            if out.ok:
                assert actual == value, key
            else:
                assert actual in (self.model[key], value), (key, actual)
            self.model[key] = actual

    @rule(keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=5))
    def delete(self, keys: List[str]) -> None:
        existing = {k for k in keys if self.model[k] is not None}
        cut = self.cut_pending()
        out = self.call(lambda: self.rc.delete(*keys), idempotent=True, keys=keys)
        for key in set(keys):
            actual = self.fake.get(key)
            if out.ok:
                assert actual is None, key
            else:
                assert actual in (self.model[key], None), (key, actual)
            self.model[key] = actual
        if out.ok:
            # a part re-sent after a lost reply counts only what that second run deleted
            assert out.result == len(existing) if not cut else out.result <= len(existing)

    @rule(keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=5))
    def exists(self, keys: List[str]) -> None:
        out = self.call(lambda: self.rc.exists(*keys), idempotent=True, keys=keys)
        if out.ok:
            expected = sum(self.model[k] is not None for k in keys)
            if any(None in self.readable(k) for k in keys):
                assert out.result <= expected
            else:
                assert out.result == expected

    # --- faults -------------------------------------------------------------------------------------
    def apply(self, fault: Fault) -> None:
        applied = fault.apply(self.fake)
        note(f"{fault} applied={applied}")
        if applied:
            event(f"fault {fault.kind}")
        if applied and fault.kind in ("cluster_down", "cluster_up"):
            self.cluster_down = fault.kind == "cluster_down"

    # one rule per family, so that faults make up a fair share of the steps
    @rule(fault=faults(NODE_FAULTS, slots=st.sampled_from(SLOTS)))
    def node_fault(self, fault: Fault) -> None:
        self.apply(fault)

    @rule(fault=faults(TOPOLOGY_FAULTS, slots=st.sampled_from(SLOTS)))
    def topology_fault(self, fault: Fault) -> None:
        self.apply(fault)

    @rule(fault=faults(WIRE_FAULTS, slots=st.sampled_from(SLOTS)))
    def wire_fault(self, fault: Fault) -> None:
        self.apply(fault)

    @rule(node=st.integers(0, 255), seconds=st.sampled_from([0.5, 2.0, 16.0]))
    def kill_then_wait(self, node: int, seconds: float) -> None:
        """Automatic failover: the primary dies and the fake clock passes node_timeout."""
        primaries = self.fake.primaries()
        victim = primaries[node % len(primaries)]
        if victim.alive:
            self.fake.kill(victim)
        self.fake.clock.advance(seconds)

    @rule(kind=st.sampled_from(["incr", "append", "get", "set", "mget"]),
          which=st.integers(0, 6), after=st.integers(0, 2), value=VALUES)
    def lost_reply(self, kind: str, which: int, after: int, value: bytes) -> None:
        """On a healthy cluster, the reply to the next command is cut after ``after`` bytes
        (fewer than any reply of these commands has). A non-idempotent command must then
        raise OutcomeUnknownError having been applied exactly once; an idempotent one must
        be re-sent and succeed."""
        if self.active_faults() or self.cut_pending():
            return  # only where the effect is exact
        key = (COUNTERS if kind == "incr" else KEYS)[which % (3 if kind == "incr" else 7)]
        owner = self.fake.owner_of(key)
        self.rc.get(key)  # a pooled connection to the owner, which the command will reuse
        self.fake.cut_next_reply(owner, after)
        cut = [s for s in self.fake.network.connections_to(owner.address)
               if s.cut_after is not None]
        old_value, old_count = self.model[key] if kind != "incr" else None, self.counters.get(key)
        commands: Dict[str, Callable[[], Any]] = {
            "incr": lambda: self.rc.incr(key), "append": lambda: self.rc.append(key, b"!"),
            "get": lambda: self.rc.get(key), "set": lambda: self.rc.set(key, value),
            "mget": lambda: self.rc.mget([key, "a"]),
        }
        idempotent = kind in ("get", "set", "mget")
        out = self.call(commands[kind], idempotent=idempotent, keys=[key])
        fired = any(s.cut_after is None for s in cut)
        event(f"lost reply {kind} fired={fired}")
        if kind == "incr":
            assert old_count is not None
            actual = int(self.fake.get(key) or 0)
            assert actual == old_count + 1, f"INCR applied {actual - old_count} times"
            self.counters[key] = actual
        elif kind == "append":
            actual_bytes = self.fake.get(key)
            assert actual_bytes == (old_value or b"") + b"!", "APPEND not applied exactly once"
            self.model[key] = actual_bytes
        elif kind == "set":
            assert self.fake.get(key) == value
            self.model[key] = value
        if fired and not idempotent:
            assert isinstance(out.error, OutcomeUnknownError), (
                f"{kind}: reply lost after {after} bytes, got {out.error or out.result!r}")
        else:
            assert out.ok, f"{kind} failed although it could be re-sent: {out.error!r}"
            if kind == "get":
                assert out.result == self.model[key]
            elif kind == "mget":
                assert out.result == [self.model[key], self.model["a"]]

    @rule()
    def heal_everything(self) -> None:
        heal(self.fake)
        self.cluster_down = False

    # --- client lifecycle ---------------------------------------------------------------------------
    @rule()
    def reset_pool(self) -> None:
        self.rc.connection_pool.reset()

    @rule()
    def disconnect_pool(self) -> None:
        self.rc.connection_pool.disconnect()

    @rule()
    def close_and_recreate(self) -> None:
        self.rc.close()
        settle(self.rc)
        assert self.fake.network.streams == [], "sockets left open after close()"
        stats = self.rc.connection_pool.stats()
        assert stats.closed and stats.in_use == 0 and stats.idle == 0
        try:
            self.rc = make_client(self.fake, **self.config)
        except Exception as exc:
            self.check_error(exc, self.active_faults(), False, True, ())
            self.rc = make_client(self.fake, init_slot_cache=False, **self.config)

    # --- invariants -------------------------------------------------------------------------------
    @invariant()
    def fake_holds_exactly_the_model(self) -> None:
        if not hasattr(self, "rc"):
            return
        for key in KEYS:
            assert self.fake.get(key) == self.model[key], key
        for key in COUNTERS:
            assert int(self.fake.get(key) or 0) == self.counters[key], key

    @invariant()
    def pool_counts_add_up(self) -> None:
        if hasattr(self, "rc"):
            check_pool_counts(self.rc, self.fake)


# One failure shrunk at a time keeps a red run short (pytest-timeout is 120 s a test).
ClientMachine.TestCase.settings = settings(stateful_step_count=40, report_multiple_bugs=False)
TestClientMachine = ClientMachine.TestCase


# --- several threads, one client, faults between rounds ---------------------------------------------
#: Faults for the threaded property: node and topology events that leave the cluster usable.
THREAD_FAULTS = ("kill", "revive", "freeze", "unfreeze", "drop_connections", "cut_next_reply",
                 "failover", "auto_failover", "advance", "migrate", "begin_migration",
                 "move_keys", "finish_migration", "tryagain")


def _thread_keys(wid: int) -> List[str]:
    return [f"t{wid}:a", f"t{wid}:b", f"{{t{wid}}}x", f"{{t{wid}}}y"]


#: Slots of the workers' keys: migrations and TRYAGAIN are aimed at them.
THREAD_SLOTS = sorted({key_slot(k) for w in range(6) for k in _thread_keys(w)})


class ThreadState:
    """One worker's own keys, its model of them, and what it saw of the shared counters."""

    def __init__(self, wid: int) -> None:
        self.keys = _thread_keys(wid)
        self.model: Dict[str, Optional[bytes]] = dict.fromkeys(self.keys)
        self.incr_acked = 0
        self.incr_unknown = 0
        self.errors: List[BaseException] = []
        self.failures: List[str] = []


def _thread_op(rc: RedisCluster, fake: FakeCluster, state: ThreadState, rng: Any,
               wid: int, step: int) -> None:
    """One random command on this thread's keys, checked against its model."""
    op = rng.choice(["set", "get", "mget", "mset", "incr", "append", "delete"])
    keys = rng.sample(state.keys, rng.randint(1, len(state.keys)))
    value = f"{wid}.{step}".encode()
    try:
        if op == "set":
            rc.set(keys[0], value)
            state.model[keys[0]] = value
        elif op == "get":
            got = rc.get(keys[0])
            if got != state.model[keys[0]]:
                state.failures.append(f"GET {keys[0]} -> {got!r}, model {state.model[keys[0]]!r}")
        elif op == "mget":
            got = rc.mget(keys)
            if got != [state.model[k] for k in keys]:
                state.failures.append(f"MGET {keys} -> {got!r}")
        elif op == "mset":
            rc.mset(dict.fromkeys(keys, value))
            for key in keys:
                state.model[key] = value
        elif op == "incr":
            rc.incr(COUNTERS[rng.randrange(len(COUNTERS))])
            state.incr_acked += 1
        elif op == "append":
            length = rc.append(keys[0], b"+")
            state.model[keys[0]] = (state.model[keys[0]] or b"") + b"+"
            if length != len(state.model[keys[0]] or b""):
                state.failures.append(f"APPEND {keys[0]} -> {length}")
        else:
            rc.delete(*keys)
            for key in keys:
                state.model[key] = None
    except Exception as exc:
        state.errors.append(exc)
        if isinstance(exc, OutcomeUnknownError) and op == "incr":
            state.incr_unknown += 1
        elif isinstance(exc, OutcomeUnknownError) and op != "append":
            state.failures.append(f"OutcomeUnknownError for idempotent {op}: {exc}")
        # the keys are this thread's alone: the fake says what happened, which must be
        # "not applied" or "applied once" (for APPEND, once only if the outcome is unknown)
        for key in keys:
            old = state.model[key]
            allowed = {"set": (old, value), "mset": (old, value), "delete": (old, None),
                       "append": ((old, (old or b"") + b"+")
                                  if isinstance(exc, OutcomeUnknownError) else (old,)),
                       }.get(op, (old,))
            actual = fake.get(key)
            if actual not in allowed:
                state.failures.append(f"{op} failed ({exc!r}) and left {key}={actual!r}")
            state.model[key] = actual


@settings(deadline=None)
@given(layout=topologies(max_masters=4, max_replicas=1,
                         node_timeouts=st.sampled_from([1.0, 3.0, None])),
       threads=st.integers(2, 6), rounds=st.integers(1, 8),
       schedule=st.lists(faults(THREAD_FAULTS, slots=st.sampled_from(THREAD_SLOTS)),
                         max_size=8),
       mid_round=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_threads_drive_one_client_while_faults_are_injected(
        layout: ClusterLayout, threads: int, rounds: int, schedule: List[Fault],
        mid_round: bool, seed: int) -> None:
    """Rounds: every thread runs one command on its own keys (INCR on shared counters), then
    the main thread applies the next fault -- or, with ``mid_round``, applies it while the
    threads' commands are in flight (timing then varies; every check holds for any timing)."""
    fake = layout.build()
    rc = make_client(fake, retry_deadline=3.0)
    states = [ThreadState(w) for w in range(threads)]
    barrier = threading.Barrier(threads + 1)
    crashed: List[BaseException] = []

    def worker(wid: int) -> None:
        rng = random.Random(seed + wid)
        try:
            for step in range(rounds):
                barrier.wait(30)
                _thread_op(rc, fake, states[wid], rng, wid, step)
                barrier.wait(30)
        except BaseException as exc:  # a broken barrier or a bug in the op: reported below
            crashed.append(exc)

    workers = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    for w in workers:
        w.start()
    try:
        for step in range(rounds):
            barrier.wait(30)
            if mid_round and step < len(schedule):
                schedule[step].apply(fake)
            barrier.wait(30)
            if not mid_round and step < len(schedule):
                schedule[step].apply(fake)
    finally:
        for w in workers:
            w.join(60)
    assert not crashed, crashed
    assert not any(w.is_alive() for w in workers)
    for state in states:
        assert not state.failures, state.failures
        for exc in state.errors:
            event(f"error: {type(exc).__name__}")
            assert isinstance(exc, ClusterCoreError), f"undocumented {exc!r}"
            assert not isinstance(exc, (RedirectBudgetExceededError, PoolError)), exc
    check_pool_counts(rc, fake)
    # once everything is healed, every acknowledged write is readable through the client
    heal(fake)
    fake.clock.advance(5)
    for state in states:
        for key, value in state.model.items():
            assert rc.get(key) == value, key
    acked = sum(s.incr_acked for s in states)
    unknown = sum(s.incr_unknown for s in states)
    total = sum(int(fake.get(k) or 0) for k in COUNTERS)
    assert acked <= total <= acked + unknown, (acked, unknown, total)
    check_pool_counts(rc, fake)
    rc.close()
    settle(rc)
    assert fake.network.streams == []


# --- regressions: the failing examples the properties found ------------------------------------------
def test_bug_split_read_with_a_cut_reply_is_not_retried() -> None:
    """BUG (client.py RedisCluster._run_on_nodes/_split, up to 861c029; fixed in 891ea5e):
    a connection error of one node's part of a split command escaped as is, skipping the
    retry policy: an idempotent MGET whose reply was cut half-way raised ConnectionError
    instead of being re-sent (a single-key GET in the same situation is retried)."""
    fake = FakeCluster(masters=2, replicas=0)
    rc = make_client(fake)
    keys = ["a", "b"]
    assert fake.owner_of("a") is not fake.owner_of("b")
    rc.mset({k: "v" for k in keys})
    fake.cut_next_reply(fake.owner_of("a"), 2)
    assert rc.mget(keys) == [b"v", b"v"]
    check_pool_counts(rc, fake)
    rc.close()


def test_bug_split_command_right_after_a_node_recovers() -> None:
    """BUG (same place and fix): found by ClientMachine, shrunk to: the only primary is
    killed, a GET fails (the node's pool is marked failing for its 1 s cool-down), the node
    is revived, and a DEL over two slots raised NodeFailingError at once instead of backing
    off past the cool-down as single-key commands do."""
    fake = FakeCluster(masters=1, replicas=0, node_timeout=1.0)
    rc = make_client(fake, retry_deadline=2.0)
    rc.set("{u}1", "x")
    fake.kill(fake.nodes[0])
    fake.clock.advance(0.5)
    try:
        rc.get("{u}1")
    except (ConnectionError, ClusterDownError):
        pass
    heal(fake)
    assert rc.delete("{u}1", "{v}1") == 1
    check_pool_counts(rc, fake)
    rc.close()


class LateEOFNetwork(FakeNetwork):
    """The liveness check of an idle connection passes although the server has just closed
    it (its FIN arrives after the check): the next write fails."""

    def idle_check(self, stream: Any) -> Callable[[], bool]:
        return lambda: False


def test_bug_split_write_failure_then_refused_reconnect_discards_twice() -> None:
    """BUG (client.py RedisCluster._run_on_nodes, up to 861c029; fixed in 891ea5e): when
    sending a node's batch failed, the connection was discarded and a new one checked out;
    when that checkout failed too (the node is down), the error handler discarded the first
    connection again. The node's pool then counted in_use=-1 and closed > created, and its
    cap was off by one for good. Reachable whenever a node dies between checkout and write
    (another thread's fault, or the race this network simulates)."""
    fake = FakeCluster(masters=3, replicas=1, network=LateEOFNetwork())
    rc = make_client(fake)
    keys = ["a", "b", "c", "d", "e"]
    rc.mset({k: k for k in keys})
    fake.kill(fake.owner_of("a"))
    try:
        rc.mget(keys)
    except (ConnectionError, TimeoutError, ClusterDownError):
        pass
    for node in rc.connection_pool.stats().nodes:
        assert node.in_use == 0, node
        assert node.created - node.closed == node.idle, node
    rc.close()


def test_bug_read_policy_without_readonly_mode_loops_on_moved() -> None:
    """BUG (client.py RedisCluster.__init__ / cluster_pool.py ClusterConnectionPool, up to
    2e298e6): on a
    healthy cluster, ``RedisCluster(read_policy="replicas")`` routes reads to replicas over
    connections that never sent READONLY (the plain ClusterConnectionPool has
    readonly=False). Every replica answers MOVED to its primary, on_moved changes nothing
    (the primary already owns the slot), the next attempt picks a replica again, and the
    read ends in RedirectBudgetExceededError after 16 redirects. Found by ClientMachine:
    setup(masters=1, replicas=1, config={'read_policy': 'replicas'}) then exists(['{u}1']).
    Fixed in 2985c47 (any read policy but "primary" implies READONLY)."""
    fake = FakeCluster(masters=1, replicas=1)
    rc = make_client(fake, read_policy="replicas")
    rc.set("k", "v")
    assert rc.get("k") == b"v"
    assert rc.exists("{u}1") == 0
    rc.close()


# --- the worked examples of docs/testing.md run as written ------------------------------------------
def test_docs_testing_examples_run() -> None:
    """Every ```python block of docs/testing.md, run in order as one module, then every
    test_* function it defines (so the guide never drifts from the API)."""
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)
    assert blocks, "no python examples found in docs/testing.md"
    namespace: Dict[str, Any] = {"__name__": "docs_testing"}
    exec(compile("\n".join(blocks), str(doc), "exec"), namespace)
    tests = [fn for name, fn in namespace.items() if name.startswith("test_") and callable(fn)]
    assert len(tests) >= 3
    for test in tests:
        test()


def _ask_tryagain_scenario(retry_deadline: float, finish_after: float) -> Any:
    """A two-key MGET on a slot whose migration finishes ``finish_after`` seconds (fake
    clock) after the call starts; returns the reply or the exception."""
    fake = FakeCluster(masters=2, replicas=0)
    slot = key_slot("{t}a")
    source = fake.owner_of(slot)
    target = next(p for p in fake.primaries() if p is not source)

    def sleep(seconds: float) -> None:  # ``start`` is bound below, before the first sleep
        fake.clock.advance(seconds)
        if fake.clock() - start >= finish_after and slot in fake.migrations:
            fake.finish_migration([slot], target)

    rc = make_client(fake, retry_deadline=retry_deadline, sleep=sleep)
    rc.set("{t}a", "1")
    fake.begin_migration([slot], target)
    fake.move_keys(slot)  # {t}a is on the target, {t}b exists nowhere: TRYAGAIN there
    start = fake.clock()
    try:
        return rc.mget("{t}a", "{t}b")
    except ClusterCoreError as exc:
        return exc
    finally:
        rc.close()


def test_bug_ask_then_tryagain_burns_the_redirect_budget() -> None:
    """BUG (router.next_step with client.py RedisCluster._execute_slot): during a migration a
    multi-key command whose keys are split between source and target (or partly missing)
    gets ASK from the source, then TRYAGAIN from the target. The retry goes back to the
    source, which answers ASK again, and every ASK counts toward max_redirects (16): after
    about 4.6 s of backoff the command fails with RedirectBudgetExceededError ("TTL
    exhausted"), although retry_deadline is 10 s and the migration finishes at 6 s. TRYAGAIN
    is documented as "back off and retry" under the deadline; the redirect budget should
    not cut it short (and the error should then be TryAgainError). Found by ClientMachine:
    begin_migration of the {u} slot, MSET {u}1 (created on the target through ASK), then
    EXISTS {u}2 {u}1. Up to ef831e9; fixed in 2907b39 (a back-off-and-retry cycle restarts
    the redirect budget)."""
    assert _ask_tryagain_scenario(retry_deadline=10.0, finish_after=6.0) == [b"1", None]


# --- clustercore.testing.strategies itself ------------------------------------------------------------
@settings(deadline=None, max_examples=max(10, settings.default.max_examples // 2))
@given(layout=topologies(), schedule=st.lists(faults(), max_size=6))
def test_topologies_build_the_layout_they_describe(layout: ClusterLayout,
                                                   schedule: List[Fault]) -> None:
    assert 1 <= layout.masters <= 100 and 0 <= layout.replicas <= 2
    assert layout.ranges[0][0] == 0 and layout.ranges[-1][1] == 16383
    for (_, last, _), (first, _, _) in zip(layout.ranges, layout.ranges[1:]):
        assert first == last + 1  # contiguous, no gap, no overlap
    fake = layout.build()
    primaries = fake.primaries()
    assert len(primaries) == layout.masters
    assert len(fake.nodes) == layout.masters * (1 + layout.replicas)
    for first, last, index in layout.ranges:
        for slot in {first, (first + last) // 2, last}:
            assert fake.owner_of(slot) is primaries[index]
    for fault in schedule:  # any schedule applies to any layout (or is skipped)
        assert fault.apply(fake) in (True, False)
    heal(fake)
    assert all(n.alive and not n.frozen and not n.loading for n in fake.nodes)
    assert fake.migrations == {}


def test_testing_package_imports_without_hypothesis() -> None:
    """Only clustercore.testing.strategies needs hypothesis (a dev dependency)."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "import clustercore.testing\n"
            "from clustercore.testing import FakeCluster\n"
            "FakeCluster()\n"
            "try:\n"
            "    import clustercore.testing.strategies\n"
            "except ImportError as exc:\n"
            "    assert 'pip install hypothesis' in str(exc), exc\n"
            "else:\n"
            "    raise SystemExit('strategies imported without hypothesis')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


def _ask_loading_scenario(finish_after: Optional[float]) -> Any:
    """A GET of a key the migrating source no longer has, while the target is LOADING until
    ``finish_after`` seconds (fake clock; None: for good); the reply or the exception."""
    fake = FakeCluster(masters=2, replicas=0)
    slot = key_slot("{u}1")
    target = next(p for p in fake.primaries() if p is not fake.owner_of(slot))

    def sleep(seconds: float) -> None:  # ``start`` is bound below, before the first sleep
        fake.clock.advance(seconds)
        if finish_after is not None and fake.clock() - start >= finish_after:
            fake.set_loading(target, False)

    rc = make_client(fake, retry_deadline=10.0, sleep=sleep)
    fake.begin_migration([slot], target)
    fake.set_loading(target, True)
    start = fake.clock()
    try:
        return rc.get("{u}1")
    except ClusterCoreError as exc:
        return exc
    finally:
        check_pool_counts(rc, fake)
        rc.close()


def test_bug_ask_then_loading_burns_the_redirect_budget() -> None:
    """BUG (same cause and fix as the TRYAGAIN case): found by the nightly ClientMachine
    run, shrunk to: the target of a migration is LOADING; a GET of a key the source no longer
    has gets ASK, then LOADING from the target (ASKING has no ``loading`` flag), then ASK
    again from the source... Before 2907b39 the 17th ASK raised RedirectBudgetExceededError
    after about 5 s, whatever the deadline (10 s here). Now: BusyLoadingError at the
    deadline, or the reply when the target finishes loading in time (at 6 s)."""
    assert isinstance(_ask_loading_scenario(None), BusyLoadingError)
    assert _ask_loading_scenario(6.0) is None
