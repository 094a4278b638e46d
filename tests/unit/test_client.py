"""RedisCluster's execute loop against FakeCluster: every redirect path, budgets, deadlines,
the idempotency rule, and pool timeouts. No sockets, no real sleeping: the client's sleep
advances the fake cluster's clock."""

from __future__ import annotations

import threading
from typing import Any, List

import pytest

from clustercore import ClusterBlockingConnectionPool, NodeAddress, RedisCluster, key_slot
from clustercore._protocol.reply_encoder import SimpleString
from clustercore.errors import (
    ClusterCrossSlotError,
    ClusterDownError,
    ConnectionError,
    OutcomeUnknownError,
    PoolClosedError,
    PoolTimeoutError,
    RedirectBudgetExceededError,
    RedisClusterException,
    ResponseError,
    TimeoutError,
)
from clustercore.testing import FakeCluster, FakeNetwork, FakeSession
from tests.unit.fakeclient import make_client


def names(commands: List[List[bytes]]) -> List[bytes]:
    return [c[0].upper() for c in commands]


def test_moved_updates_the_slot_and_follows() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set("k", "v")
    slot = key_slot("k")
    old = fake.owner_of(slot)
    target = next(p for p in fake.primaries() if p is not old)
    fake.migrate([slot], target)
    assert rc.get("k") == b"v"  # MOVED from the old owner, then the new one
    assert rc.connection_pool.address_for_slot(slot) == target.address
    fake.clear_commands_seen()
    assert rc.get("k") == b"v"
    assert fake.commands_seen(old) == []  # now routed directly


def test_ask_sends_asking_right_before_the_command_once() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    slot = key_slot("{t}a")
    rc.set("{t}a", "1")
    rc.set("{t}b", "2")
    source = fake.owner_of(slot)
    target = next(p for p in fake.primaries() if p is not source)
    fake.begin_migration([slot], target)
    moved = fake.move_keys(slot, 1)
    assert moved == 1
    fake.clear_commands_seen()
    values = {rc.get("{t}a"), rc.get("{t}b")}
    assert values == {b"1", b"2"}
    seen = names(fake.commands_seen(target))
    assert b"ASKING" in seen and seen[seen.index(b"ASKING") + 1] == b"GET"
    # ASK does not change the slot map: the slot still belongs to the source
    assert rc.connection_pool.address_for_slot(slot) == source.address


def test_ask_to_a_node_not_in_the_slot_map() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set("fresh", "value")
    slot = key_slot("fresh")
    newcomer = fake.add_node()
    assert newcomer.address not in rc.connection_pool.topology.nodes
    fake.begin_migration([slot], newcomer)
    fake.move_keys(slot)
    assert rc.get("fresh") == b"value"  # redis/redis-py#4015: no crash on an unknown target
    # the redirect guard asked for a refresh first: the layout lists the newcomer now
    assert newcomer.address in rc.connection_pool.topology.nodes
    fake.finish_migration([slot], newcomer)
    assert rc.get("fresh") == b"value"
    assert rc.connection_pool.address_for_slot(slot) == newcomer.address


class PingPong:
    """Two nodes that each claim the slot belongs to the other one."""

    def __init__(self, me: NodeAddress, other: NodeAddress) -> None:
        self.me, self.other = me, other

    def handle(self, session: FakeSession, args: List[bytes]) -> Any:
        name = args[0].upper()
        if name == b"CLUSTER" and args[1].upper() == b"SHARDS":
            return ResponseError("ERR unknown subcommand 'SHARDS'")
        if name == b"CLUSTER":
            return [[0, 16383, [self.me.host.encode(), self.me.port, b"id" * 20]]]
        return ResponseError(f"MOVED {key_slot(args[1])} {self.other.host}:{self.other.port}")


def test_redirect_budget_is_enforced() -> None:
    a, b = NodeAddress("127.0.0.1", 31001), NodeAddress("127.0.0.1", 31002)
    net = FakeNetwork()
    net.add(a, PingPong(a, b))
    net.add(b, PingPong(b, a))
    rc = RedisCluster(startup_nodes=[a], transport=net, max_redirects=5)
    with pytest.raises(RedirectBudgetExceededError, match="redirected 5 times"):
        rc.get("x")
    sent = sum(len(s.session.commands) for s in net.streams)
    assert sent <= 5 + 1 + 2  # 6 GETs plus the discovery commands, not an endless loop


def test_tryagain_backs_off_then_succeeds() -> None:
    fake = FakeCluster()
    rc, sleeps = make_client(fake)
    rc.mset({"{s}a": 1, "{s}b": 2})
    fake.set_tryagain(key_slot("{s}a"), 2)
    assert rc.mget("{s}a", "{s}b") == [b"1", b"2"]
    assert len(sleeps) == 2 and all(s > 0 for s in sleeps)


def test_cluster_down_is_retried_a_bounded_number_of_times() -> None:
    fake = FakeCluster()
    rc, sleeps = make_client(fake, cluster_down_retry_attempts=2)
    fake.set_cluster_down(True)
    with pytest.raises(ClusterDownError):
        rc.get("k")
    assert len(sleeps) == 2
    fake.set_cluster_down(False)
    assert rc.get("k") is None


def test_loading_gives_up_at_the_deadline() -> None:
    fake = FakeCluster()
    rc, sleeps = make_client(fake, retry_deadline=2.0)
    fake.set_loading(fake.owner_of(key_slot("k")), True)
    with pytest.raises(ResponseError, match="LOADING"):
        rc.get("k")
    assert 0 < sum(sleeps) <= 2.0 and len(sleeps) >= 3


def test_killed_primary_idempotent_command_rides_through_failover() -> None:
    fake = FakeCluster(node_timeout=1.0)
    rc, sleeps = make_client(fake, retry_deadline=5.0)
    rc.set("k", "before")
    owner = fake.owner_of(key_slot("k"))
    replica = owner.replicas[0]
    fake.kill(owner)
    assert rc.get("k") == b"before"  # retried until the fake promoted the replica
    assert rc.connection_pool.address_for_slot(key_slot("k")) == replica.address
    assert 1.0 <= sum(sleeps) < 5.0
    stats = rc.connection_pool.stats()
    assert stats.in_use == 0
    assert stats.refresh_triggers.get("connection failure", 0) >= 1


def test_dead_node_is_not_dialled_on_every_retry() -> None:
    fake = FakeCluster(node_timeout=None)
    rc, sleeps = make_client(fake, retry_deadline=3.0)
    owner = fake.owner_of(key_slot("k"))
    rc.get("k")
    before = fake.network.dials.get(owner.address, 0)
    fake.kill(owner)
    with pytest.raises((ConnectionError, TimeoutError)):
        rc.get("k")
    after = fake.network.dials.get(owner.address, 0) - before
    # the failure mark (1 s cool-down) limits dialling to the first failing dial plus one probe
    # per elapsed second of the 3 s deadline (jittered backoff may land a probe right at 3.0 s),
    # although the command itself was retried more often than that
    assert 1 <= after <= 1 + 3
    assert len(sleeps) > after


def test_non_idempotent_write_with_lost_reply_is_outcome_unknown() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set("n", 10)
    fake.cut_next_reply(fake.owner_of(key_slot("n")), 0)
    with pytest.raises(OutcomeUnknownError) as info:
        rc.incr("n")
    assert info.value.command == "INCRBY"  # redis-py sends incr() as INCRBY
    assert fake.get("n") == b"11"  # it was applied once, and not sent again
    assert rc.get("n") == b"11"


def test_opt_in_retry_of_non_idempotent_commands() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake, retry_non_idempotent=True)
    rc.set("n", 10)
    fake.cut_next_reply(fake.owner_of(key_slot("n")), 0)
    assert rc.incr("n") == 12  # re-sent: applied twice, as the caller asked
    assert fake.get("n") == b"12"


def test_idempotent_command_with_lost_reply_is_retried() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set("k", "v")
    fake.cut_next_reply(fake.owner_of(key_slot("k")), 3)  # cut half-way through the reply
    assert rc.get("k") == b"v"
    assert rc.connection_pool.stats().in_use == 0


def test_pool_timeout_is_not_retried_and_triggers_no_refresh() -> None:
    fake = FakeCluster()
    pool = ClusterBlockingConnectionPool(startup_nodes=fake.startup_nodes,
                                         transport=fake.network, max_connections=1,
                                         timeout=0.05)
    rc = RedisCluster(connection_pool=pool)
    held = pool.get_connection_by_slot(key_slot("k"))
    before = dict(pool.stats().refresh_triggers)
    with pytest.raises(PoolTimeoutError):
        rc.get("k")
    assert dict(pool.stats().refresh_triggers) == before
    pool.release(held)
    assert rc.get("k") is None


def test_cross_slot_atomic_commands_fail_before_sending() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set("a", 1)
    fake.clear_commands_seen()
    with pytest.raises(ClusterCrossSlotError):
        rc.rename("a", "b")
    with pytest.raises(ClusterCrossSlotError):
        rc.msetnx({"x": 1, "y": 2})
    assert all(fake.commands_seen(n) == [] for n in fake.nodes)


def test_split_multi_key_commands_keep_caller_order_one_trip_per_node() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    keys = [f"key:{i}" for i in range(40)]
    assert rc.mset({k: k.upper() for k in keys}) is True
    fake.clear_commands_seen()
    assert rc.mget(*keys, "missing") == [k.upper().encode() for k in keys] + [None]
    for primary in fake.primaries():
        seen = fake.commands_seen(primary)
        slots = {key_slot(c[1]) for c in seen}
        assert len(seen) == len(slots)  # one MGET per slot, all in one write per node
    assert rc.exists(*keys, "missing") == 40
    assert rc.delete(*keys[:10]) == 10
    assert rc.unlink(*keys[10:20]) == 10
    assert rc.touch(*keys) == 20


def test_split_survives_a_moved_slot_mid_way() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    keys = [f"m:{i}" for i in range(20)]
    rc.mset({k: "v" for k in keys})
    slot = key_slot(keys[0])
    target = next(p for p in fake.primaries() if p is not fake.owner_of(slot))
    fake.migrate([slot], target)
    assert rc.mget(*keys) == [b"v"] * 20


def test_fan_out_commands_merge() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.mset({f"f:{i}": i for i in range(30)})
    assert rc.dbsize() == 30 == fake.dbsize()
    assert sorted(rc.keys("f:*")) == sorted(f"f:{i}".encode() for i in range(30))
    assert sorted(rc.scan_iter(match="f:*")) == sorted(rc.keys("f:*"))
    assert rc.ping() is True
    assert rc.flushall() is True
    assert rc.dbsize() == 0


def test_connection_bound_commands_are_refused() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    for args in (("MULTI",), ("WATCH", "k"), ("SUBSCRIBE", "c"), ("SELECT", "1")):
        with pytest.raises(RedisClusterException):
            rc.execute_command(*args)


def test_unknown_command_uses_the_servers_key_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set("spec-key", "x")
    rc.executor.server_specs.clear()
    from clustercore._commands import specs as commands
    from clustercore._execution import client as client_module
    spec = commands.COMMANDS["STRLEN"]
    # narrow the static table: the fast path's one-key index and the general lookup
    monkeypatch.setattr(client_module, "_single_key_spec", lambda word: None)
    try:
        commands._FIRST.pop("STRLEN", None)
        commands._FIRST.pop(b"STRLEN", None)
        commands._FIRST.pop("strlen", None)
        commands._FIRST.pop(b"strlen", None)
        assert commands.lookup(("STRLEN", "spec-key")) is None  # narrowed: only the server knows
        assert rc.execute_command("STRLEN", "spec-key") == 1
        assert "STRLEN" in rc.executor.server_specs  # fetched once and cached
    finally:
        commands._index([spec], commands._FIRST)


def test_threads_share_one_client() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    errors: List[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(200):
                rc.incr(f"counter:{i % 7}")
                rc.set(f"t:{n}:{i}", i)
                assert rc.get(f"t:{n}:{i}") == str(i).encode()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sum(int(fake.get(f"counter:{i}") or 0) for i in range(7)) == 8 * 200
    assert rc.connection_pool.stats().in_use == 0


def test_close_fences_calls() -> None:
    """The pool's close() is the final fence (the client's close() follows redis-py and lets
    a later command reopen: see test_client_close_shuts_down_and_a_later_command_reopens)."""
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set("k", "v")
    rc.connection_pool.close()
    with pytest.raises(Exception, match="closed"):
        rc.get("k")


def test_from_url_keeps_options_and_rejects_other_databases() -> None:
    fake = FakeCluster()
    host, port = fake.startup_nodes[0]["host"], fake.startup_nodes[0]["port"]
    url = f"redis://{host}:{port},{host}:{port + 1}/0?decode_responses=true&read_from_replicas=true"
    rc = RedisCluster.from_url(url, transport=fake.network)
    rc.set("u", "v")
    assert rc.get("u") == "v"
    assert rc.read_from_replicas
    with pytest.raises(Exception, match="database 0"):
        RedisCluster.from_url(f"redis://{host}:{port}/1", transport=fake.network)


def test_set_result_callback_replaces_the_merge() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set_result_callback("DBSIZE", lambda command, replies, **kw: sorted(replies))
    assert rc.dbsize() == sorted(p.address.name for p in fake.primaries())


def test_simple_string_replies_round_trip() -> None:
    assert isinstance(SimpleString(b"OK"), bytes)



def test_pools_of_nodes_that_left_the_cluster_are_closed() -> None:
    from clustercore._topology.snapshot import Topology

    fake = FakeCluster()
    rc, _ = make_client(fake)
    pool = rc.connection_pool
    leaving = fake.replicas()[0].address
    conn = pool.get_connection_by_address(leaving)
    pool.release(conn)
    held = pool.get_connection_by_address(fake.primaries()[0].address)
    old = pool.topology
    shards = [s if leaving not in s.replicas else
              type(s)(s.primary, tuple(r for r in s.replicas if r != leaving), s.ranges)
              for s in old.shards]
    pool._publish(Topology(shards, epoch=old.epoch + 1), "test")
    assert leaving not in pool._pools
    assert not conn.is_connected  # its idle socket was closed
    assert not [s for s in fake.network.streams if s.address == leaving]
    assert held.is_connected  # other nodes untouched
    pool.release(held)
    assert rc.get("k") is None


def test_split_command_retries_a_part_whose_reply_was_lost() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    keys = [f"lost:{i}" for i in range(12)]
    rc.mset({k: k for k in keys})
    fake.cut_next_reply(fake.owner_of(key_slot(keys[0])), 2)
    assert rc.mget(*keys) == [k.encode() for k in keys]  # idempotent: re-run, no error
    assert rc.connection_pool.stats().in_use == 0


def test_split_command_rides_through_a_dead_primary() -> None:
    fake = FakeCluster(node_timeout=1.0)
    rc, sleeps = make_client(fake, retry_deadline=5.0)
    keys = [f"dead:{i}" for i in range(12)]
    rc.mset({k: "v" for k in keys})
    fake.kill(fake.owner_of(key_slot(keys[0])))
    assert rc.mget(*keys) == [b"v"] * 12
    assert rc.delete(*keys) == 12
    assert 1.0 <= sum(sleeps) < 5.0
    assert rc.connection_pool.stats().in_use == 0


def test_fan_out_retries_a_node_whose_connection_dropped() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.mset({f"fo:{i}": i for i in range(9)})
    rc.dbsize()  # warm connections everywhere
    fake.drop_connections()
    assert rc.dbsize() == 9


def test_a_read_policy_alone_sends_readonly_and_reads_from_replicas() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake, read_policy="replicas")
    rc.set("rp", "v")
    fake.clear_commands_seen()
    assert rc.get("rp") == b"v"
    replica = fake.owner_of(key_slot("rp")).replicas[0]
    assert [b"GET", b"rp"] in fake.commands_seen(replica)


def test_an_error_reply_is_raised_once_never_re_sent() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set("text", "not a number")
    fake.clear_commands_seen()
    with pytest.raises(ResponseError, match="not an integer"):
        rc.incr("text")
    sent = [c for n in fake.nodes for c in fake.commands_seen(n)]
    assert [c[0] for c in sent] == [b"INCRBY"]


def test_never_decode_both_spellings_and_plain_dict_callbacks() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake, decode_responses=True)
    plain, _ = make_client(fake)
    plain.set("bin", b"\xff\x00")
    assert rc.execute_command("GET", "bin", never_decode=True) == b"\xff\x00"
    assert rc.execute_command("GET", "bin", NEVER_DECODE=[]) == b"\xff\x00"  # redis-py's
    rc.set("txt", "\u00e9")
    assert rc.get("txt") == "\u00e9"
    # a user may replace the callbacks with a plain mapping (upper-case names)
    rc.response_callbacks = {"GET": lambda reply, **options: ("seen", reply)}
    assert rc.get("txt") == ("seen", "\u00e9")
    assert rc.connection_pool.stats().in_use == 0


def test_addresses_for_slots_agrees_with_address_for_slot() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake, read_from_replicas=True)
    pool = rc.connection_pool
    slots = [0, 1, 5460, 5461, 10922, 10923, 16383, key_slot("k")]
    assert pool.addresses_for_slots(slots) == [pool.address_for_slot(s) for s in slots]
    assert pool.addresses_for_slots(slots) == [fake.owner_of(s).address for s in slots]
    readers = pool.addresses_for_slots(slots, True)  # a reader per slot, by the read policy
    for slot, address in zip(slots, readers):
        owner = fake.owner_of(slot)
        assert address in [owner.address, *[r.address for r in owner.replicas]]


def test_moved_updates_the_slot_the_server_names_not_the_clients_hash(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """If the client ever hashed a key differently from the server (an encoding mismatch), the
    MOVED reply's own slot is what moves in the map: following the client's slot would hand a
    slot it never asked about to another node and misroute every key there."""
    fake = FakeCluster()
    rc, _ = make_client(fake, retry_deadline=0.5)
    true_slot = key_slot("k")
    wrong_slot = next(s for s in range(16384)
                      if fake.owner_of(s).address != fake.owner_of(true_slot).address)
    wrong_owner = fake.owner_of(wrong_slot).address
    from clustercore._execution import client as client_module
    monkeypatch.setattr(client_module, "key_slot", lambda key, encoding="utf-8": wrong_slot)
    with pytest.raises(RedirectBudgetExceededError):
        rc.get("k")  # keeps landing on the wrong node: fails loudly after the redirect budget
    pool = rc.connection_pool
    assert pool.address_for_slot(wrong_slot) == wrong_owner  # not corrupted
    assert pool.address_for_slot(true_slot) == fake.owner_of(true_slot).address


def test_unknown_encoding_fails_at_construction() -> None:
    fake = FakeCluster()
    for bad in ({"encoding": "no-such-codec"}, {"encoding_errors": "no-such-handler"}):
        with pytest.raises(RedisClusterException, match="encoding"):
            RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network, **bad)


# --- retry_on_timeout ----------------------------------------------------------------------------
def test_a_hung_node_is_retried_after_the_refresh_by_default() -> None:
    fake = FakeCluster(node_timeout=1.0)
    rc, sleeps = make_client(fake, retry_deadline=5.0)
    rc.set("k", "before")
    owner = fake.owner_of(key_slot("k"))
    replica = owner.replicas[0]
    fake.freeze(owner)  # accepts connections, never answers: reads time out
    assert rc.get("k") == b"before"  # timed out, then retried on the promoted replica
    assert rc.connection_pool.address_for_slot(key_slot("k")) == replica.address
    assert sleeps and fake.network.waited >= 1.0  # waited out a socket timeout, backed off
    assert rc.connection_pool.stats().in_use == 0


def test_retry_on_timeout_false_raises_the_first_timeout() -> None:
    fake = FakeCluster(node_timeout=1.0)
    rc, sleeps = make_client(fake, retry_deadline=5.0, retry_on_timeout=False)
    assert rc.retry.retry_on_timeout is False
    assert rc.connection_pool.connection_kwargs["retry_on_timeout"] is False  # pool sees it too
    rc.set("k", "before")
    owner = fake.owner_of(key_slot("k"))
    fake.freeze(owner)
    before = rc.connection_pool.stats().refresh_triggers.get("connection failure", 0)
    with pytest.raises(TimeoutError):
        rc.get("k")
    assert sleeps == []  # not retried: no backoff
    stats = rc.connection_pool.stats()
    assert stats.refresh_triggers.get("connection failure", 0) > before  # refresh requested
    assert next(n for n in stats.nodes if n.address == owner.address).failing  # still suspect
    assert stats.in_use == 0



def test_assigning_a_new_retry_policy_takes_effect_on_the_next_command() -> None:
    """``rc.retry`` is the executor's policy: replacing it (policies are frozen values) changes
    what the next command does, as it did before the execution core existed."""
    fake = FakeCluster(node_timeout=1.0)
    rc, sleeps = make_client(fake, retry_deadline=5.0)
    rc.retry = rc.retry.with_(retry_on_timeout=False)
    assert rc.executor.policy is rc.retry and rc.retry.retry_on_timeout is False
    rc.set("k", "before")
    fake.freeze(fake.owner_of(key_slot("k")))
    with pytest.raises(TimeoutError):
        rc.get("k")
    assert sleeps == []
    with pytest.raises(TypeError, match="RetryPolicy"):
        rc.retry = 3  # type: ignore[assignment]


def test_node_targeted_calls_take_a_host_port_list_as_one_node() -> None:
    """``target_node=[host, port]`` names one node (regression: the execution core once read
    such a list as a list of nodes and failed)."""
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set("k", "v")
    owner = fake.owner_of(key_slot("k")).address
    cursor, keys = rc.scan(0, target_node=[owner.host, owner.port])
    assert keys == [b"k"] and cursor == 0
    assert rc.executor.locate(node=[owner.host, owner.port]) == [owner]
    assert rc.executor.locate(node=[owner, owner.name]) == [owner, owner]

def test_retry_on_timeout_comes_from_the_keywords_the_pool_or_the_url() -> None:
    fake = FakeCluster()
    assert make_client(fake)[0].retry.retry_on_timeout is True  # absent: the default
    assert make_client(fake, retry_on_timeout=None)[0].retry.retry_on_timeout is True
    assert make_client(fake, retry_on_timeout=True)[0].retry.retry_on_timeout is True
    pool = ClusterBlockingConnectionPool(startup_nodes=fake.startup_nodes,
                                         transport=fake.network, retry_on_timeout=False)
    assert RedisCluster(connection_pool=pool).retry.retry_on_timeout is False
    rc = RedisCluster.from_url("redis://127.0.0.1:30001/0?retry_on_timeout=false",
                               transport=fake.network)
    assert rc.retry.retry_on_timeout is False


def test_retry_on_timeout_false_does_not_retry_a_fan_out_part() -> None:
    fake = FakeCluster(node_timeout=None)
    results = {}
    for retry in (True, False):
        rc, _ = make_client(fake, retry_on_timeout=retry)
        rc.dbsize()  # connections to every primary
        frozen = fake.primaries()[0]
        fake.freeze(frozen)
        waited = fake.network.waited
        with pytest.raises((TimeoutError, ConnectionError)):
            rc.dbsize()
        results[retry] = fake.network.waited - waited
        fake.unfreeze(frozen)
        fake.clock.advance(2)  # past the failure cool-down
        rc.close()
    assert results[False] == 1.0  # one socket timeout, no second try on a fresh connection
    assert results[True] > results[False]


# --- close(): redis-py's semantics on the client, a final fence on the pool ----------------------
def test_client_close_shuts_down_and_a_later_command_reopens() -> None:
    """redis-py's client stays usable after close() (its test fixtures close it in a ``with``
    block and flush the database afterwards): clustercore's close() is an ordered shutdown --
    every socket closed, stats say closed -- and the next command reopens the pool."""
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.set("k", "v")
    with rc:
        assert rc.get("k") == b"v"
    stats = rc.connection_pool.stats()
    assert stats.closed and stats.in_use == 0 and stats.idle == 0
    assert fake.network.streams == []  # nothing left open
    assert rc.get("k") == b"v"  # reopened: fresh node pools, the known layout
    assert not rc.connection_pool.closed
    assert rc.dbsize() == 1 and rc.pipeline().get("k").execute() == [b"v"]
    rc.close()
    rc.close()  # twice is fine
    assert rc.mget("k", "k") == [b"v", b"v"]
    rc.connection_pool.close()  # the pool's own close() is final
    with pytest.raises(PoolClosedError):
        rc.get("k")
    rc.close()  # closing the client after that does not make the pool reopenable again
    with pytest.raises(PoolClosedError):
        rc.get("k")
