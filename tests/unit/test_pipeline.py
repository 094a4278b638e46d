"""ClusterPipeline against FakeCluster: ordering, splitting, every redirect and failure path,
transactions and WATCH, the one-thread rule, and no leaked connection after any fault.

The client's sleep advances the fake cluster's clock, so nothing really waits."""

from __future__ import annotations

import hashlib
import threading
from typing import Any, Dict, List

import pytest

import clustercore
from clustercore import NodeAddress, RedisCluster, key_slot
from clustercore._execution.pipeline import ClusterPipeline, ConcurrentPipelineError
from clustercore.errors import (
    ClusterCrossSlotError,
    ConnectionError,
    NoScriptError,
    OutcomeUnknownError,
    ProtocolError,
    RedisClusterException,
    ResponseError,
    TimeoutError,
    TooManyConnectionsError,
    WatchError,
    WrongTypeError,
)
from clustercore.testing import FakeCluster, FakeSession
from clustercore.testing.fake.cluster import FakeNode
from tests.unit.fakeclient import make_client


def in_use(rc: RedisCluster) -> int:
    return rc.connection_pool.stats().in_use


def names(fake: FakeCluster, node: Any) -> List[bytes]:
    return [c[0].upper() for c in fake.commands_seen(node)]


def other_primary(fake: FakeCluster, node: FakeNode) -> FakeNode:
    return next(p for p in fake.primaries() if p is not node)


# --- plain pipelines -------------------------------------------------------------------------------
def test_results_come_back_in_call_order_parsed() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    pipe = ClusterPipeline(rc)
    keys = [f"key:{i}" for i in range(60)]
    assert len({fake.owner_of(k).address for k in keys}) == 3
    for i, key in enumerate(keys):
        assert pipe.set(key, i) is pipe  # chaining
        pipe.incr(f"n:{key}")
    pipe.get("key:7").exists("key:1").get("missing")
    assert len(pipe) == 123
    results = pipe.execute()
    assert results[:120] == [True, 1] * 60
    assert results[120:] == [b"7", 1, None]
    assert len(pipe) == 0
    assert in_use(rc) == 0


def test_empty_pipeline_and_context_manager_reset() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    with ClusterPipeline(rc) as pipe:
        assert pipe.execute() == []
        assert bool(pipe) is True
        pipe.set("a", 1)
    assert len(pipe) == 0
    assert fake.get("a") is None  # reset, never sent


def test_split_commands_are_merged_and_atomic_cross_slot_refused_when_queued() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    keys = ["a", "b", "c", "d", "e"]
    assert len({key_slot(k) for k in keys}) == 5
    pipe = ClusterPipeline(rc)
    pipe.mset({k: k.upper() for k in keys}).mget(keys).delete("a", "b", "zz").exists(*keys)
    with pytest.raises(ClusterCrossSlotError):
        pipe.sinter("a", "b")
    with pytest.raises(ClusterCrossSlotError):
        pipe.rename("c", "d")
    assert pipe.execute() == [True, [b"A", b"B", b"C", b"D", b"E"], 2, 3]


def test_fan_out_commands_merge_and_connection_commands_are_refused() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    for i in range(10):
        rc.set(f"k{i}", i)
    pipe = ClusterPipeline(rc)
    pipe.dbsize().keys()
    with pytest.raises(RedisClusterException):
        pipe.execute_command("SUBSCRIBE", "x")
    size, keys = pipe.execute()
    assert size == 10
    assert sorted(keys) == sorted(f"k{i}".encode() for i in range(10))


def test_reads_go_to_replicas_when_the_client_reads_from_them() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake, read_from_replicas=True, read_policy="replicas")
    rc.set("r", "1")
    fake.clear_commands_seen()
    pipe = ClusterPipeline(rc)
    pipe.get("r").set("w", 2)
    assert pipe.execute() == [b"1", True]
    replica = fake.owner_of("r").replicas[0]
    assert b"GET" in names(fake, replica)
    assert b"SET" in names(fake, fake.owner_of("w"))


def test_error_replies_raise_after_every_reply_or_are_returned() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.lpush("list", "x")
    pipe = ClusterPipeline(rc)
    pipe.set("before", 1).incr("list").set("after", 2)
    with pytest.raises(WrongTypeError):
        pipe.execute()
    assert fake.get("after") == b"2"  # the whole pipeline ran first
    pipe.set("before", 1).incr("list").set("after", 3)
    results = pipe.execute(raise_on_error=False)
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], WrongTypeError)
    assert in_use(rc) == 0


# --- redirects ----------------------------------------------------------------------------------------
def test_moved_reruns_only_the_moved_commands_and_updates_the_map() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set("m", "old")
    slot = key_slot("m")
    source = fake.owner_of(slot)
    target = other_primary(fake, source)
    fake.migrate([slot], target)
    fake.clear_commands_seen()
    pipe = ClusterPipeline(rc)
    pipe.get("m").incr("cnt").set("m", "new")
    assert pipe.execute() == [b"old", 1, True]
    assert fake.get("m") == b"new"
    assert fake.get("cnt") == b"1"  # not re-sent
    assert rc.connection_pool.address_for_slot(slot) == target.address
    assert names(fake, source).count(b"GET") == 1
    assert names(fake, target).count(b"SET") == 1
    assert in_use(rc) == 0


def test_ask_sends_asking_then_the_command_to_the_target() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    slot = key_slot("{t}a")
    rc.set("{t}a", "1")
    rc.set("{t}b", "2")
    source = fake.owner_of(slot)
    target = other_primary(fake, source)
    fake.begin_migration([slot], target)
    assert fake.move_keys(slot, 1) == 1  # {t}a moved
    fake.clear_commands_seen()
    pipe = ClusterPipeline(rc)
    pipe.get("{t}a").get("{t}b")
    assert pipe.execute() == [b"1", b"2"]
    seen = names(fake, target)
    assert seen[seen.index(b"ASKING") + 1] == b"GET"
    assert rc.connection_pool.address_for_slot(slot) == source.address  # ASK changes no map


def test_tryagain_backs_off_and_retries() -> None:
    fake = FakeCluster()
    rc, sleeps = make_client(fake)
    rc.mset({"{s}a": 1, "{s}b": 2})
    fake.set_tryagain(key_slot("{s}a"), count=2)
    pipe = ClusterPipeline(rc)
    pipe.mget("{s}a", "{s}b").get("other")
    assert pipe.execute() == [[b"1", b"2"], None]
    assert len(sleeps) == 2


# --- failures and the idempotency rule -----------------------------------------------------------
def test_reply_lost_after_write_non_idempotent_is_unknown_idempotent_is_retried() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    node = fake.owner_of("c")
    assert fake.owner_of("s") is node or True
    rc.get("c")  # open a connection to the node
    fake.cut_next_reply(node, after_bytes=0)
    pipe = ClusterPipeline(rc)
    pipe.incr("c").get("c")
    results = pipe.execute(raise_on_error=False)
    assert isinstance(results[0], OutcomeUnknownError)
    assert results[1] == b"1"      # the read was sent again on a new connection
    assert fake.get("c") == b"1"   # INCR ran exactly once
    assert in_use(rc) == 0
    fake.cut_next_reply(node, after_bytes=0)
    pipe.incr("c")
    with pytest.raises(OutcomeUnknownError):
        pipe.execute()
    assert in_use(rc) == 0


def test_commands_never_written_are_retried_after_a_failover() -> None:
    fake = FakeCluster(node_timeout=1.0)
    rc, _ = make_client(fake)
    rc.set("k", "0")
    old = fake.owner_of("k")
    fake.kill(old)  # connections drop; new ones are refused
    pipe = ClusterPipeline(rc)
    pipe.incr("k").get("k")
    assert pipe.execute() == [1, b"1"]
    assert fake.owner_of("k") is not old
    assert in_use(rc) == 0


def test_frozen_node_times_out_without_leaking() -> None:
    fake = FakeCluster(node_timeout=None)
    rc, _ = make_client(fake, retry_deadline=0.5)
    rc.set("f", "1")
    node = fake.owner_of("f")
    other = next(k for k in (f"o{i}" for i in range(100)) if fake.owner_of(k) is not node)
    fake.freeze(node)
    pipe = ClusterPipeline(rc)
    pipe.get("f").incr("f").set(other, "ok")
    results = pipe.execute(raise_on_error=False)
    assert isinstance(results[0], (TimeoutError, ConnectionError))
    assert isinstance(results[1], OutcomeUnknownError)
    assert results[2] is True
    assert in_use(rc) == 0
    fake.unfreeze(node)
    fake.clock.advance(2)  # past the node's failure cool-down
    assert rc.get("f") == b"1"


def test_pool_errors_are_results_and_nothing_leaks() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake, max_connections=1, max_connections_per_node=True)
    rc.set("{w}k", 1)
    holder = ClusterPipeline(rc, transaction=True)
    holder.watch("{w}k")  # holds the only connection to that node
    pipe = ClusterPipeline(rc)
    pipe.get("{w}k")
    results = pipe.execute(raise_on_error=False)
    assert isinstance(results[0], TooManyConnectionsError)
    holder.reset()
    assert in_use(rc) == 0


def test_keyboard_interrupt_mid_read_discards_every_held_connection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    pipe = ClusterPipeline(rc)
    for i in range(30):
        pipe.set(f"x{i}", i)
    from clustercore import ClusterConnection
    original = ClusterConnection.read_replies
    calls = {"n": 0}

    def flaky(self: ClusterConnection, count: int, into: List[Any]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the first node's batch was read; the others are still held
            into.append(b"partial")
            raise KeyboardInterrupt
        original(self, count, into)

    monkeypatch.setattr(ClusterConnection, "read_replies", flaky)
    with pytest.raises(KeyboardInterrupt):
        pipe.execute()
    assert calls["n"] == 2
    assert in_use(rc) == 0


# --- one thread per pipeline ---------------------------------------------------------------------------
def test_a_second_thread_cannot_add_to_or_run_another_threads_pipeline() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    pipe = ClusterPipeline(rc)
    pipe.set("a", 1)
    errors: List[BaseException] = []

    def other() -> None:
        for call in (lambda: pipe.get("a"), pipe.execute):
            try:
                call()
            except ConcurrentPipelineError as exc:
                errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(10)
    assert len(errors) == 2
    assert pipe.execute() == [True]
    # Once empty, the pipeline may be handed to another thread.
    done = threading.Event()
    thread = threading.Thread(target=lambda: (pipe.set("b", 2).execute(), done.set()))
    thread.start()
    thread.join(10)
    assert done.is_set()


def test_entering_a_pipeline_while_another_thread_is_inside_fails_loudly() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set("g", "v")
    inside, release = threading.Event(), threading.Event()
    pipe = ClusterPipeline(rc)

    def slow_callback(response: Any, **options: Any) -> Any:
        inside.set()
        assert release.wait(10)
        return response

    rc.set_response_callback("GET", slow_callback)
    results: List[Any] = []
    thread = threading.Thread(target=lambda: results.append(pipe.get("g").execute()))
    thread.start()
    assert inside.wait(10)
    with pytest.raises(ConcurrentPipelineError):
        pipe.set("h", 1)
    release.set()
    thread.join(10)
    assert results == [[b"v"]]
    assert in_use(rc) == 0


# --- transactions ------------------------------------------------------------------------------------
def test_transaction_runs_multi_exec_on_the_slot_owner() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    pipe = ClusterPipeline(rc, transaction=True)
    pipe.set("{u}a", 1).incr("{u}a").mget("{u}a", "{u}b").get("{u}a")
    assert pipe.execute() == [True, 2, [b"2", None], b"2"]
    seen = names(fake, fake.owner_of("{u}a"))
    start = seen.index(b"MULTI")
    assert seen[start:start + 6] == [b"MULTI", b"SET", b"INCRBY", b"MGET", b"GET", b"EXEC"]
    assert in_use(rc) == 0


def test_transaction_keys_in_several_slots_fail_before_anything_is_sent() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    pipe = ClusterPipeline(rc, transaction=True)
    pipe.set("{a}1", 1)
    fake.clear_commands_seen()
    pipe.set("{b}1", 1)  # queued; execute() refuses the transaction, as redis-py's does
    with pytest.raises(ClusterCrossSlotError):
        pipe.mget("{a}1", "{b}1")  # one command across slots: refused at once
    with pytest.raises(RedisClusterException):
        pipe.dbsize()
    with pytest.raises(ClusterCrossSlotError, match="must map to the same slot") as info:
        pipe.execute()
    # redis-py's CrossSlotTransactionError for a transaction across slots (a subclass)
    assert isinstance(info.value, clustercore.CrossSlotTransactionError)
    assert "{b}1" not in str(info.value) and "SET uses slot" in str(info.value)
    assert all(names(fake, n) == [] for n in fake.nodes)
    pipe.set("{a}1", 2)  # the refused queue was dropped; the pipeline is usable again
    assert pipe.execute() == [True]
    with pytest.raises(clustercore.CrossSlotTransactionError, match="WATCH - all keys"):
        pipe.watch("{a}1", "{b}1")


def test_transaction_answered_moved_reruns_on_the_new_owner_once() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    slot = key_slot("{m}x")
    rc.set("{m}x", "0")
    source = fake.owner_of(slot)
    target = other_primary(fake, source)
    fake.migrate([slot], target)  # the client's map is now stale
    pipe = ClusterPipeline(rc, transaction=True)
    pipe.incr("{m}x").get("{m}x")
    assert pipe.execute() == [1, b"1"]
    assert fake.get("{m}x") == b"1"
    assert b"EXEC" in names(fake, source) and b"EXEC" in names(fake, target)
    assert in_use(rc) == 0


def test_transaction_with_a_queued_syntax_error_raises_it() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    pipe = ClusterPipeline(rc, transaction=True)
    pipe.set("{e}a", 1).execute_command("SET", "{e}a")
    with pytest.raises(ResponseError, match="wrong number"):
        pipe.execute()
    assert fake.get("{e}a") is None
    assert in_use(rc) == 0


def test_transaction_reply_lost_is_outcome_unknown_and_not_resent() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.get("{l}x")
    node = fake.owner_of("{l}x")
    fake.cut_next_reply(node, after_bytes=3)
    pipe = ClusterPipeline(rc, transaction=True)
    pipe.incr("{l}x").get("{l}x")
    with pytest.raises(OutcomeUnknownError):
        pipe.execute()
    assert fake.get("{l}x") == b"1"
    assert in_use(rc) == 0


def test_watch_immediate_mode_then_multi_exec() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set("{w}bal", "10")
    with ClusterPipeline(rc, transaction=True) as pipe:
        assert pipe.watch("{w}bal") is True
        assert pipe.watching
        balance = int(pipe.get("{w}bal"))  # runs at once
        assert in_use(rc) == 1
        pipe.multi()
        pipe.set("{w}bal", balance - 3)
        assert pipe.execute() == [True]
    assert fake.get("{w}bal") == b"7"
    assert in_use(rc) == 0


def test_watch_conflict_raises_watch_error() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set("{w}k", "1")
    pipe = ClusterPipeline(rc)
    pipe.watch("{w}k")
    rc.set("{w}k", "2")  # another client writes the watched key
    pipe.multi()
    pipe.set("{w}k", "3")
    with pytest.raises(WatchError):
        pipe.execute()
    assert fake.get("{w}k") == b"2"
    assert in_use(rc) == 0


def test_watch_rules_and_unwatch() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    pipe = ClusterPipeline(rc, transaction=True)
    with pytest.raises(ClusterCrossSlotError):
        pipe.watch("{a}1", "{b}1")
    pipe.watch("{a}1")
    with pytest.raises(ClusterCrossSlotError):
        pipe.get("{b}1")
    pipe.watch("{a}2")  # more keys of the same slot, on the same connection
    assert pipe.unwatch() is True
    assert not pipe.watching
    assert in_use(rc) == 0
    pipe.multi()
    with pytest.raises(RedisClusterException):
        pipe.multi()
    with pytest.raises(RedisClusterException):
        pipe.watch("{a}1")
    pipe.reset()


def test_watch_follows_moved_but_a_move_while_watching_is_a_watch_error() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    slot = key_slot("{v}k")
    source = fake.owner_of(slot)
    target = other_primary(fake, source)
    fake.migrate([slot], target)
    pipe = ClusterPipeline(rc, transaction=True)
    pipe.watch("{v}k")  # MOVED, then WATCH on the new owner
    assert rc.connection_pool.address_for_slot(slot) == target.address
    fake.migrate([slot], source)
    pipe.multi()
    pipe.set("{v}k", 1)
    with pytest.raises(WatchError):
        pipe.execute()
    assert in_use(rc) == 0
    assert rc.connection_pool.address_for_slot(slot) == source.address


def test_connection_lost_while_watching_is_a_watch_error() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    pipe = ClusterPipeline(rc, transaction=True)
    pipe.watch("{d}k")
    fake.drop_connections(fake.owner_of("{d}k"))
    with pytest.raises(WatchError):
        pipe.get("{d}k")
    assert not pipe.watching
    assert in_use(rc) == 0


# --- scripts --------------------------------------------------------------------------------------
class ScriptingNode:
    """Wraps a fake node with a per-node script cache: SCRIPT LOAD, EVALSHA (returns b'ran')."""

    def __init__(self, node: FakeNode) -> None:
        self.node = node
        self.cache: Dict[str, bytes] = {}

    def handle(self, session: FakeSession, args: List[bytes]) -> Any:
        name = args[0].upper()
        if name == b"SCRIPT" and args[1].upper() == b"LOAD":
            sha = hashlib.sha1(args[2]).hexdigest()
            self.cache[sha] = args[2]
            return sha.encode()
        if name == b"EVALSHA" and "multi" not in session.state:
            if args[1].decode() not in self.cache:
                return ResponseError("NOSCRIPT No matching script. Please use EVAL.")
            return b"ran"
        return self.node.handle(session, args)


def with_scripting(fake: FakeCluster) -> Dict[NodeAddress, ScriptingNode]:
    servers = {n.address: ScriptingNode(n) for n in fake.nodes}
    for address, server in servers.items():
        fake.network.add(address, server)
    return servers


def test_scripts_in_a_pipeline_are_loaded_on_the_node_that_lacks_them() -> None:
    fake = FakeCluster()
    servers = with_scripting(fake)
    rc, _ = make_client(fake)
    pipe = ClusterPipeline(rc)
    script = pipe.register_script("return 1")
    script(keys=["s1"])
    script(keys=["s2"])
    pipe.evalsha("f" * 40, 1, "s3")  # unknown body: NOSCRIPT stays its result
    results = pipe.execute(raise_on_error=False)
    assert results[:2] == [b"ran", b"ran"]
    assert isinstance(results[2], NoScriptError)
    loaded = {a for a, s in servers.items() if script.sha in s.cache}
    assert loaded == {fake.owner_of("s1").address, fake.owner_of("s2").address}
    assert in_use(rc) == 0


def test_a_pool_smaller_than_the_node_count_never_deadlocks_a_pipeline() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake, max_connections=1, blocking=True, timeout=5.0)
    pipe = ClusterPipeline(rc)
    keys = [f"small:{i}" for i in range(30)]
    assert len({fake.owner_of(k).address for k in keys}) == 3
    for key in keys:
        pipe.set(key, key)
    for key in keys:
        pipe.get(key)
    assert pipe.execute() == [True] * 30 + [k.encode() for k in keys]
    assert in_use(rc) == 0


# --- never_decode in pipelines and transactions (DUMP payloads with decode_responses) --------------
def test_never_decode_in_pipelines_and_transactions() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake, decode_responses=True)
    plain, _ = make_client(fake)
    plain.set("{k}bin", b"\xff\xfe\x00x")
    plain.set("{k}txt", "h\u00e9")
    for transaction in (False, True):
        pipe = rc.pipeline(transaction=transaction)
        pipe.execute_command("GET", "{k}bin", never_decode=True)
        pipe.get("{k}txt")
        pipe.execute_command("GET", "{k}bin", NEVER_DECODE=[])  # redis-py's spelling
        assert pipe.execute() == [b"\xff\xfe\x00x", "h\u00e9", b"\xff\xfe\x00x"]
    assert in_use(rc) == 0


def test_transaction_result_that_cannot_be_decoded_is_a_protocol_error() -> None:
    """EXEC read undecoded for a never_decode command; another result that is not UTF-8 is a
    ProtocolError naming the node, and the connection (in sync: EXEC was read) goes back."""
    fake = FakeCluster()
    rc, _ = make_client(fake, decode_responses=True)
    plain, _ = make_client(fake)
    plain.set("{k}bin", b"\xff")
    plain.set("{k}bad", b"\xc3(")
    pipe = rc.pipeline(transaction=True)
    pipe.execute_command("GET", "{k}bin", never_decode=True)
    pipe.get("{k}bad")
    with pytest.raises(ProtocolError) as info:
        pipe.execute()
    assert info.value.node == fake.owner_of(key_slot("{k}bin")).address
    stats = rc.connection_pool.stats()
    assert stats.in_use == 0 and stats.idle >= 1
    assert rc.get("{k}missing") is None  # and the client goes on working


def test_queueing_from_a_callback_during_execute_is_refused() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    pipe = ClusterPipeline(rc)
    rc.set_response_callback("GET", lambda reply, **options: pipe.set("x", 1))
    pipe.get("a")
    pipe.get("b")
    with pytest.raises(ConcurrentPipelineError):
        pipe.execute()
    assert in_use(rc) == 0


def test_retry_on_timeout_false_makes_a_timeout_the_commands_result() -> None:
    outcome = {}
    for retry in (True, False):
        fake = FakeCluster(node_timeout=1.0)
        rc, sleeps = make_client(fake, retry_deadline=5.0, retry_on_timeout=retry)
        rc.set("f", "1")
        fake.freeze(fake.owner_of("f"))
        results = ClusterPipeline(rc).get("f").execute(raise_on_error=False)
        outcome[retry] = (results[0], len(sleeps))
        assert in_use(rc) == 0
    assert outcome[True][0] == b"1" and outcome[True][1] > 0  # retried after the failover
    assert isinstance(outcome[False][0], TimeoutError) and outcome[False][1] == 0


# --- redis-py parity: command_stack, annotated errors, the pipeline's redis-py names ------------
def test_command_stack_lists_the_queue_in_redis_py_shape() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    pipe = rc.pipeline()
    assert pipe.command_stack == [] and len(pipe) == 0 and bool(pipe) is True
    pipe.set("a", 1).mget("a", "b", "c").pipeline_execute_command("GET", "a")
    stack = pipe.command_stack
    assert [c.position for c in stack] == [0, 1, 2]
    assert [c.args for c in stack] == [("SET", "a", 1), ("MGET", "a", "b", "c"), ("GET", "a")]
    assert all(c.options == {} and c.result is None for c in stack)
    stack.clear()  # a snapshot: the queue is unchanged
    assert len(pipe) == 3
    assert pipe.execute() == [True, [b"1", None, None], b"1"]
    assert pipe.command_stack == []


def test_the_raised_error_is_annotated_as_redis_py_does() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.lpush("list", "x")
    pipe = rc.pipeline()
    pipe.set("before", 1).incr("list").incr("list")
    with pytest.raises(WrongTypeError) as info:
        pipe.execute()
    assert str(info.value) == (  # redis-py's incr() sends INCRBY key 1 too
        "Command # 2 (INCRBY list 1) of pipeline caused error: WRONGTYPE Operation against a "
        "key holding the wrong kind of value")
    assert info.value.code == "WRONGTYPE"
    # raise_on_error=False: the errors stand in their places, as the server sent them
    pipe.set("before", 1).incr("list")
    results = pipe.execute(raise_on_error=False)
    assert isinstance(results[1], WrongTypeError)
    assert str(results[1]).startswith("WRONGTYPE")


def test_annotation_shortens_long_commands_to_100_characters() -> None:
    exc = ResponseError("ERR boom")
    ClusterPipeline.annotate_exception(None, exc, 7, ("SET", b"k" * 300, 1))  # type: ignore
    text = str(exc)
    head = "Command # 7 ("
    assert text.startswith(head) and text.endswith(") of pipeline caused error: ERR boom")
    shown = text[len(head):text.index(") of pipeline")]
    assert len(shown) <= 100 and shown.endswith("...")
    assert isinstance(exc, ResponseError) and exc.message.endswith("ERR boom")


def test_transaction_errors_are_annotated_and_returned_in_place() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.lpush("{t}list", "x")
    pipe = rc.pipeline(transaction=True)
    pipe.set("{t}a", 1).incr("{t}list").get("{t}a")
    with pytest.raises(WrongTypeError) as info:
        pipe.execute()
    assert str(info.value).startswith("Command # 2 (INCR")
    assert fake.get("{t}a") == b"1"  # a run-time error rolls nothing back
    pipe.set("{t}a", 2).incr("{t}list").get("{t}a")
    results = pipe.execute(raise_on_error=False)
    assert results[0] is True and results[2] == b"2"
    assert isinstance(results[1], WrongTypeError) and str(results[1]).startswith("WRONGTYPE")
    assert in_use(rc) == 0


def test_pipeline_signature_and_shard_hint_as_redis_py() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    assert repr(ClusterPipeline(rc, transaction=None)).startswith("<ClusterPipeline pipeline")
    with pytest.raises(RedisClusterException, match="shard_hint is deprecated"):
        ClusterPipeline(rc, shard_hint="x")
    pipe = rc.pipeline()
    again = pipe.pipeline()  # redis-py's pipeline is a client: it makes pipelines too
    assert isinstance(again, ClusterPipeline) and again is not pipe and again.client is rc
    assert pipe.parent_execute_command("SET", "p", 1) is True and fake.get("p") == b"1"
    assert callable(pipe.transaction)


def test_discard_and_immediate_execute_command() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    plain = rc.pipeline()
    plain.set("x", 1)
    with pytest.raises(RedisClusterException, match="outside of transactional context"):
        plain.discard()
    assert len(plain) == 1
    assert plain.immediate_execute_command("SET", "now", 5) is True  # not queued
    assert fake.get("now") == b"5" and len(plain) == 1
    plain.reset()
    pipe = rc.pipeline(transaction=True)
    pipe.watch("{d}k")
    assert pipe.immediate_execute_command("SET", "{d}k", "v") is True
    assert names(fake, fake.owner_of("{d}k")).count(b"WATCH") == 1
    pipe.multi()
    pipe.set("{d}k", "w")
    pipe.discard()
    assert len(pipe) == 0 and not pipe.watching and in_use(rc) == 0
    assert fake.get("{d}k") == b"v"


def test_target_nodes_in_a_pipeline_goes_to_that_one_node() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    primary = fake.primaries()[1]
    pipe = rc.pipeline()
    pipe.execute_command("PING", target_nodes=primary.address)
    pipe.set("k", 1)
    assert pipe.execute() == [True, True]
    assert b"PING" in names(fake, primary)
    with pytest.raises(RedisClusterException, match="Too many targets"):
        pipe.execute_command("PING", target_nodes=[p.address for p in fake.primaries()])
    with pytest.raises(RedisClusterException, match="transaction"):
        rc.pipeline(transaction=True).execute_command("PING", target_nodes=primary.address)


def test_blocked_and_unimplemented_names_raise_as_in_redis_py() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    pipe = rc.pipeline()
    with pytest.raises(RedisClusterException, match="pipelined function slowlog is blocked"):
        pipe.slowlog()
    with pytest.raises(RedisClusterException, match="not implemented"):
        pipe.load_scripts()
    with pytest.raises(RedisClusterException, match="not implemented"):
        pipe.script_load_for_pipeline()
    assert {"DISCARD", "EXEC", "UNWATCH"} == pipe.UNWATCH_COMMANDS
    assert pipe.refresh_table_asap is False
