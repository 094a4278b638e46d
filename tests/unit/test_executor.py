"""The execution core on its own: routing decisions to addresses, carrying out router steps
(each effect once per round), and the batch runner (reply layouts, errors as values, the
request_sent rule, every connection handed back).

Routing and batches run on a FakeCluster's pool; the step tests use a pool stub that records
what the executor asked of it, so each effect is asserted exactly."""

from __future__ import annotations

import random
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

from clustercore import (
    ClusterConnectionPool,
    NodeAddress,
    RedisCluster,
    RetryPolicy,
    key_slot,
)
from clustercore._commands.specs import Route
from clustercore._execution.executor import Executor, Round
from clustercore._execution.router import Action, Attempt
from clustercore.errors import (
    ConnectionError,
    MovedError,
    OutcomeUnknownError,
    RedisClusterException,
    ResponseError,
    TimeoutError,
    TooManyConnectionsError,
)
from clustercore.testing import FakeCluster, FakeNetwork

A = NodeAddress("10.0.0.1", 7000)
B = NodeAddress("10.0.0.2", 7000)


def fake_pool(fake: FakeCluster, **kwargs: Any) -> ClusterConnectionPool:
    return ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                                 clock=fake.clock, background_refresh=False,
                                 refresh_min_interval=0, **kwargs)


def executor_on(fake: FakeCluster, policy: Optional[RetryPolicy] = None,
                **kwargs: Any) -> Tuple[Executor, List[float]]:
    sleeps: List[float] = []
    executor = Executor(fake_pool(fake, **kwargs), policy or RetryPolicy(),
                        sleep=sleeps.append, rng=random.Random(7))
    return executor, sleeps


class RecordingPool:
    """The part of a cluster pool that carrying out a step touches, recording every call."""

    read_policy = "primary"
    connection_kwargs: Dict[str, Any] = {}

    def __init__(self) -> None:
        self.calls: List[Tuple[Any, ...]] = []
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    def on_moved(self, slot: int, address: NodeAddress) -> None:
        self.calls.append(("on_moved", slot, address))

    def redirect_address(self, address: NodeAddress) -> Optional[NodeAddress]:
        return address  # every redirect target is a known node here

    def mark_failing(self, address: NodeAddress, exc: Optional[BaseException] = None) -> None:
        self.calls.append(("mark_failing", address))

    def request_refresh(self, trigger: str, avoid: Optional[NodeAddress] = None) -> bool:
        self.calls.append(("refresh", trigger, avoid))
        return True


def recording(policy: Optional[RetryPolicy] = None) -> Tuple[Executor, RecordingPool,
                                                             List[float]]:
    pool = RecordingPool()
    sleeps: List[float] = []
    executor = Executor(pool, policy or RetryPolicy(), sleep=sleeps.append,  # type: ignore[arg-type]
                        rng=random.Random(3))
    return executor, pool, sleeps


def reply(text: str, node: NodeAddress = A) -> ResponseError:
    err = ResponseError(text)
    err.node = node
    return err


def lost(exc: Any, node: NodeAddress = A) -> Any:
    exc.request_sent = True
    exc.node = node
    return exc


# --- routing ---------------------------------------------------------------------------------------
def test_locate_maps_every_kind_of_routing_decision() -> None:
    fake = FakeCluster(masters=3, replicas=1)
    executor, _ = executor_on(fake, read_policy="replicas")
    primaries = {p.address for p in fake.primaries()}
    replicas = {r.address for p in fake.primaries() for r in p.replicas}
    slots = [key_slot("a"), key_slot("b"), key_slot("c")]
    owners = [fake.owner_of(s).address for s in slots]
    assert executor.locate(Route.SLOT, slots) == owners
    readers = executor.locate(Route.SLOT, slots, read=True)
    assert [fake.node(r).primary.address for r in readers] == owners  # type: ignore[union-attr]
    assert set(readers) <= replicas
    # a reader to avoid (it was loading, or failed this command) falls back to the primary
    assert executor.locate(Route.SLOT, slots[:1], read=True, avoid=set(readers)) == owners[:1]
    assert set(executor.locate(Route.ALL_PRIMARIES)) == primaries
    assert set(executor.locate(Route.ALL_NODES)) == primaries | replicas
    assert executor.locate(Route.RANDOM_PRIMARY)[0] in primaries
    assert executor.locate(Route.RANDOM_NODE)[0] in primaries | replicas
    assert executor.locate(Route.SLOT)[0] in primaries  # a keyless call: any primary
    # explicit targets (redis-py's target_nodes): one node or a list, in any node spelling
    first = sorted(primaries)[0]
    assert executor.locate(node=f"{first.host}:{first.port}") == [first]
    assert executor.locate(node=[{"host": first.host, "port": first.port}, first]) == [first,
                                                                                        first]
    with pytest.raises(RedisClusterException):
        executor.locate(Route.CONNECTION)


def test_encoding_and_read_policy_come_from_the_pool() -> None:
    fake = FakeCluster()
    executor, _ = executor_on(fake, encoding="latin-1")
    assert executor.encoding == "latin-1" and executor.read_from_replicas is False
    rc = RedisCluster(connection_pool=fake_pool(fake, read_policy="replicas"))
    assert rc.read_from_replicas is True and rc.executor.read_from_replicas is True


# --- carrying out a step -----------------------------------------------------------------------------
def test_moved_updates_the_slot_the_server_named_once_per_round() -> None:
    executor, pool, sleeps = recording()
    seen = Round(pool.now)
    for _ in range(2):
        step = executor.recover(reply("MOVED 42 10.0.0.2:7000"), Attempt(), idempotent=False,
                                command="GET", address=A, slot=7, seen=seen)
        assert step.action is Action.MOVED
    assert pool.calls == [("on_moved", 42, B)]  # the server's slot, once this round
    executor.recover(reply("MOVED 42 10.0.0.2:7000"), Attempt(), idempotent=False,
                     command="GET", address=A, slot=7)
    assert pool.calls[-1] == ("on_moved", 42, B) and len(pool.calls) == 2  # no round: each time
    assert sleeps == []


def test_moved_without_a_slot_is_the_result() -> None:
    executor, pool, _ = recording()
    err = reply("MOVED 42 10.0.0.2:7000")
    with pytest.raises(MovedError) as info:
        executor.recover(err, Attempt(), idempotent=True, command="EVAL", address=A)
    assert info.value is err and pool.calls == []


def test_ask_returns_its_target_and_changes_nothing() -> None:
    executor, pool, sleeps = recording()
    step = executor.recover(reply("ASK 42 10.0.0.2:7000"), Attempt(), idempotent=True,
                            command="GET", address=A, slot=42)
    assert step.action is Action.ASK and step.target == B
    assert pool.calls == [] and sleeps == []


def test_retry_sleeps_unless_the_caller_waits_for_the_round() -> None:
    executor, pool, sleeps = recording()
    step = executor.recover(reply("TRYAGAIN later"), Attempt(), idempotent=True, command="GET",
                            address=A, slot=1)
    assert step.action is Action.RETRY and sleeps == [step.delay] and step.delay > 0
    step = executor.recover(reply("TRYAGAIN later"), Attempt(), idempotent=True, command="GET",
                            address=A, slot=1, wait=False)
    assert step.action is Action.RETRY and len(sleeps) == 1
    assert pool.calls == []  # TRYAGAIN asks for no refresh


def test_refresh_avoids_the_node_only_after_a_socket_failure() -> None:
    executor, pool, _ = recording()
    executor.recover(reply("READONLY demoted"), Attempt(), idempotent=True, command="SET",
                     address=A, slot=1)
    executor.recover(ConnectionError("reset", node=A), Attempt(), idempotent=True,
                     command="SET", address=A)
    # an error reply that is also a connection error (max clients), met while connecting
    executor.recover(reply("ERR max number of clients reached"), Attempt(), idempotent=True,
                     command="SET", address=A, in_reply=False)
    assert pool.calls == [("refresh", "readonly", None), ("refresh", "connection failure", A),
                          ("refresh", "connection failure", A)]


def test_timeouts_mark_the_node_once_per_round() -> None:
    executor, pool, _ = recording()
    seen = Round(pool.now)
    for _ in range(2):
        executor.recover(lost(TimeoutError("timed out")), Attempt(), idempotent=True,
                         command="GET", address=A, wait=False, seen=seen)
    assert pool.calls.count(("mark_failing", A)) == 1


def test_giving_up_raises_the_steps_error_after_its_effects() -> None:
    executor, pool, sleeps = recording()
    err = lost(TimeoutError("timed out"))
    with pytest.raises(OutcomeUnknownError) as info:
        executor.recover(err, Attempt(), idempotent=False, command="INCR", address=A)
    assert info.value.__cause__ is err and info.value.command == "INCR"
    assert pool.calls == [("mark_failing", A)] and sleeps == []


def test_a_failure_without_a_node_is_given_the_address() -> None:
    executor, _, _ = recording()
    err = ConnectionError("refused")
    attempt = Attempt()
    executor.recover(err, attempt, idempotent=True, command="GET", address=A)
    assert err.node == A and A in attempt.avoid


def test_retry_on_timeout_false_raises_the_timeout_and_still_marks_the_node() -> None:
    executor, pool, sleeps = recording(RetryPolicy(retry_on_timeout=False))
    err = lost(TimeoutError("timed out"))
    with pytest.raises(TimeoutError) as info:
        executor.recover(err, Attempt(), idempotent=True, command="GET", address=A)
    assert info.value is err and sleeps == []
    assert pool.calls == [("mark_failing", A)]  # marking also requests the refresh
    step = executor.recover(ConnectionError("reset", node=A), Attempt(), idempotent=True,
                            command="GET", address=A)
    assert step.action is Action.RETRY  # only timeouts are concerned


# --- batches -----------------------------------------------------------------------------------------
def test_batches_return_results_per_command_in_order_with_error_replies_as_values() -> None:
    fake = FakeCluster()
    executor, _ = executor_on(fake)
    a, b = fake.primaries()[0].address, fake.primaries()[1].address
    key_a = next(k for k in (f"k{i}" for i in range(200)) if fake.owner_of(k).address == a)
    key_b = next(k for k in (f"k{i}" for i in range(200)) if fake.owner_of(k).address == b)
    out = executor.run_batches([(a, [("SET", key_a, "1"), ("INCR", key_a), ("NOPE",)], None),
                                (b, [("GET", key_b)], None)])
    assert out[0][:2] == [b"OK", 2] and isinstance(out[0][2], ResponseError)
    assert out[1] == [None]
    assert executor.pool.stats().in_use == 0


def test_a_layout_skips_preamble_replies_and_reads_raw_where_asked() -> None:
    fake = FakeCluster()
    executor, _ = executor_on(fake, decode_responses=True)
    a = fake.primaries()[0].address
    key = next(k for k in (f"k{i}" for i in range(200)) if fake.owner_of(k).address == a)
    commands = [("SET", key, "v"), ("PING",), ("GET", key), ("GET", key)]
    out = executor.run_batches([(a, commands, [(0, False), (1, True), (0, False)])])
    assert out == [["OK", b"v", "v"]]  # PING's reply skipped; the middle GET read undecoded


def test_connection_failures_are_values_pool_errors_are_raised_unless_asked() -> None:
    fake = FakeCluster()
    executor, _ = executor_on(fake, max_connections=1)
    a, b = fake.primaries()[0].address, fake.primaries()[1].address
    fake.kill(fake.node(b))
    out = executor.run_batches([(b, [("PING",), ("PING",)], None)])
    assert [type(r) for r in out[0]] == [ConnectionError, ConnectionError]
    assert out[0][0].node == b and not out[0][0].request_sent  # nothing was sent
    holder = executor.pool.get_connection_by_address(a)  # the only connection allowed
    with pytest.raises(TooManyConnectionsError):
        executor.run_batches([(a, [("PING",)], None)])
    out = executor.run_batches([(a, [("PING",)], [(0, False)])], all_errors_as_values=True)
    assert isinstance(out[0][0], TooManyConnectionsError)
    executor.pool.release(holder)
    assert executor.pool.stats().in_use == 0


class LateEOFNetwork(FakeNetwork):
    """The liveness check of an idle connection passes although the server closed it: the
    next write fails."""

    def idle_check(self, stream: Any) -> Callable[[], bool]:
        return lambda: False


@pytest.mark.parametrize("count", [1, 2])
def test_a_failed_write_may_have_delivered_only_earlier_whole_commands(count: int) -> None:
    fake = FakeCluster(network=LateEOFNetwork())
    executor, _ = executor_on(fake)
    a = fake.primaries()[0].address
    assert executor.run_batches([(a, [("PING",)], None)]) == [[b"PONG"]]
    fake.drop_connections()
    out = executor.run_batches([(a, [("PING",)] * count, None)])
    assert all(isinstance(r, ConnectionError) for r in out[0]) and len(out[0]) == count
    # one command written in part never ran; of several, the first ones may have
    assert out[0][0].request_sent is (count > 1)
    assert executor.pool.stats().in_use == 0


def test_a_failed_read_keeps_the_replies_read_and_marks_the_rest_sent() -> None:
    fake = FakeCluster()
    executor, _ = executor_on(fake)
    a = fake.primaries()[0].address
    executor.run_batches([(a, [("PING",)], None)])
    fake.cut_next_reply(fake.node(a), 0)
    out = executor.run_batches([(a, [("PING",), ("PING",)], None)])
    assert all(isinstance(r, ConnectionError) and r.request_sent for r in out[0])
    stats = executor.pool.stats()
    assert stats.in_use == 0 and stats.created - stats.closed_connections == stats.idle


def test_a_small_pool_never_deadlocks_a_batch_round() -> None:
    fake = FakeCluster(masters=3, replicas=0)
    executor, _ = executor_on(fake, max_connections=1, timeout=0.1)
    batches: List[Any] = [(p.address, [("PING",)], None) for p in fake.primaries()]
    assert executor.run_batches(batches) == [[b"PONG"]] * 3  # read one before the next checkout
    assert executor.pool.stats().in_use == 0


def test_an_interrupt_mid_read_discards_every_connection_held(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeCluster(masters=3, replicas=0)
    executor, _ = executor_on(fake)
    batches: List[Any] = [(p.address, [("PING",)], None) for p in fake.primaries()]
    executor.run_batches(batches)
    from clustercore._net.connection import ClusterConnection

    def interrupted(self: Any, count: int, into: List[Any]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ClusterConnection, "read_replies", interrupted)
    with pytest.raises(KeyboardInterrupt):
        executor.run_batches(batches)
    stats = executor.pool.stats()
    assert stats.in_use == 0 and stats.closed_connections >= 3


# --- scripts -----------------------------------------------------------------------------------------
def test_loading_a_script_on_one_node_needs_the_client_not_a_pipeline() -> None:
    fake = FakeCluster()
    rc = RedisCluster(connection_pool=fake_pool(fake))
    script = rc.register_script("return 1")
    with pytest.raises(RedisClusterException, match="pipeline"):
        script.load(rc.pipeline(), fake.primaries()[0].address)
