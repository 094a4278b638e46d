"""FakeCluster: bitmaps, HyperLogLog, streams and pub/sub through the client and ClusterPubSub.

The byte-for-byte cross-check of these families against a real redis-server is an integration
test: tests/integration/test_fake_fidelity_real.py.
"""

from __future__ import annotations

import threading
from time import monotonic
from typing import Any, Callable, Dict, Iterator, Tuple

import pytest

from clustercore import ClusterPubSub, NodeAddress, RedisCluster, key_slot
from clustercore._net.transport import TransportOptions
from clustercore.errors import ClusterCrossSlotError, ResponseError, WrongTypeError
from clustercore.testing import FakeCluster

from .fakeclient import make_client
from .rawconn import RawConnection


# ------------------------------------------------------------------------------------------------
# Through the client, on a three-primary fake
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def client() -> Iterator[Tuple[FakeCluster, RedisCluster]]:
    with FakeCluster(masters=3, replicas=1) as fake:
        rc, _ = make_client(fake)
        yield fake, rc
        rc.close()


def test_bitmaps_through_the_client(client: Tuple[FakeCluster, RedisCluster]) -> None:
    fake, rc = client
    assert rc.setbit("{u}bits", 7, 1) == 0 and rc.setbit("{u}bits", 7, 1) == 1
    assert rc.getbit("{u}bits", 7) == 1 and rc.getbit("{u}bits", 6) == 0
    assert fake.get("{u}bits") == b"\x01"
    rc.set("{u}other", b"\xf0\x0f")
    assert rc.bitcount("{u}other") == 8 and rc.bitcount("{u}other", 0, 0) == 4
    assert rc.bitcount("{u}other", 4, 11, "BIT") == 0
    assert rc.bitpos("{u}other", 0) == 4 and rc.bitpos("{u}other", 1, 1) == 12
    assert rc.bitop("OR", "{u}dest", "{u}bits", "{u}other") == 2
    assert fake.get("{u}dest") == b"\xf1\x0f"
    assert rc.bitop("NOT", "{u}dest", "{u}bits") == 1 and fake.get("{u}dest") == b"\xfe"
    with pytest.raises(ClusterCrossSlotError):
        rc.execute_command("BITOP", "AND", "{u}dest", "{v}src")
    rc.rpush("{u}list", "x")
    with pytest.raises(WrongTypeError):
        rc.setbit("{u}list", 0, 1)
    with pytest.raises(ResponseError, match=r"^ERR bit offset is not an integer or out of range$"):
        rc.getbit("{u}bits", -1)


def test_hyperloglog_through_the_client(client: Tuple[FakeCluster, RedisCluster]) -> None:
    fake, rc = client
    assert rc.pfadd("{h}a", "x", "y", "z") == 1 and rc.pfadd("{h}a", "x") == 0
    assert rc.pfadd("{h}b", *[f"m{i}" for i in range(500)]) == 1
    assert rc.pfcount("{h}a") == 3 and rc.pfcount("{h}b") == 500  # exact, by design
    assert rc.pfcount("{h}a", "{h}b") == 503
    assert rc.pfmerge("{h}c", "{h}a", "{h}b") is True and rc.pfcount("{h}c") == 503
    assert rc.type("{h}c") == b"string" and fake.get("{h}c").startswith(b"HYLL")
    copy = rc.get("{h}a")  # the bytes are a HyperLogLog wherever they are stored
    rc.set("{h}copy", copy)
    assert rc.pfcount("{h}copy") == 3 and rc.pfadd("{h}copy", "w") == 1
    rc.set("{h}plain", "not a hyperloglog")
    with pytest.raises(WrongTypeError, match="Key is not a valid HyperLogLog string value"):
        rc.pfcount("{h}plain")
    rc.append("{h}copy", "garbage")
    with pytest.raises(ResponseError, match=r"^INVALIDOBJ Corrupted HLL object detected$"):
        rc.pfcount("{h}copy")
    target = next(p for p in fake.primaries() if p is not fake.owner_of("{h}a"))
    fake.migrate([key_slot("{h}a")], target)
    assert rc.pfcount("{h}a", "{h}b") == 503  # moved with its slot (MOVED, then served)


def test_streams_through_the_client(client: Tuple[FakeCluster, RedisCluster]) -> None:
    fake, rc = client
    now_ms = round(fake.clock.time() * 1000)
    first = rc.xadd("{st}a", {"f": "1"})
    assert first == b"%d-0" % now_ms  # "*" reads the fake clock
    assert rc.xadd("{st}a", {"f": "2"}) == b"%d-1" % now_ms
    fake.clock.advance(0.005)
    third = rc.xadd("{st}a", {"f": "3", "g": "x"})
    assert third == b"%d-0" % (now_ms + 5)
    assert rc.xlen("{st}a") == 3 and rc.type("{st}a") == b"stream"
    assert [i for i, _ in rc.xrange("{st}a", count=2)] == [first, b"%d-1" % now_ms]
    assert rc.xrevrange("{st}a", count=1) == [(third, {b"f": b"3", b"g": b"x"})]
    rc.xadd("{st}b", {"k": "v"}, id="1-1")
    got = rc.xread({"{st}a": first, "{st}b": "0"})
    assert [(name, [i for i, _ in entries]) for name, entries in got] == [
        (b"{st}a", [b"%d-1" % now_ms, third]), (b"{st}b", [b"1-1"])]
    assert rc.xread({"{st}a": "$"}, block=1000) == []  # the fake never blocks
    assert rc.xgroup_create("{st}a", "workers", id="0") is True
    batch = rc.xreadgroup("workers", "w1", {"{st}a": ">"}, count=2)
    assert [i for i, _ in batch[0][1]] == [first, b"%d-1" % now_ms]
    fake.clock.advance(2)
    summary = rc.xpending("{st}a", "workers")
    assert summary["pending"] == 2 and summary["min"] == first
    assert summary["consumers"] == [{"name": b"w1", "pending": 2}]
    pending = rc.xpending_range("{st}a", "workers", "-", "+", 10)
    assert [p["time_since_delivered"] for p in pending] == [2000, 2000]  # fake clock idle
    assert rc.xack("{st}a", "workers", first) == 1
    assert rc.xtrim("{st}a", maxlen=1, approximate=False) == 2
    assert [i for i, _ in rc.xrange("{st}a")] == [third]
    assert rc.xdel("{st}a", third) == 1 and rc.xlen("{st}a") == 0
    assert rc.exists("{st}a") == 1  # an empty stream is still a key
    assert rc.xadd("{st}none", {"f": "v"}, nomkstream=True) is None
    assert fake.value("{st}b") == [(b"1-1", [b"k", b"v"])]
    target = next(p for p in fake.primaries() if p is not fake.owner_of("{st}b"))
    fake.migrate([key_slot("{st}b")], target)
    assert rc.xrange("{st}b") == [(b"1-1", {b"k": b"v"})]
    rc.set("{st}s", "v")
    with pytest.raises(WrongTypeError):
        rc.xadd("{st}s", {"f": "v"})
    with pytest.raises(ResponseError, match="equal or smaller than the target stream top item"):
        rc.xadd("{st}b", {"f": "v"}, id="1-1")


# ------------------------------------------------------------------------------------------------
# ClusterPubSub on the FakeCluster itself (no pub/sub stand-in)
# ------------------------------------------------------------------------------------------------
def _next_message(ps: ClusterPubSub, timeout: float = 5.0) -> Dict[str, Any]:
    """The next message, waiting at most ``timeout`` real seconds (get_message's own wait)."""
    deadline = monotonic() + timeout
    while monotonic() < deadline:
        message = ps.get_message(timeout=deadline - monotonic())
        if message is not None:
            return message
    raise AssertionError(f"no message within {timeout}s")


def _settle(ps: ClusterPubSub, done: Callable[[], bool], timeout: float = 5.0) -> None:
    """Read (and drop) messages until ``done()``, polling with a deadline."""
    deadline = monotonic() + timeout
    while not done():
        assert monotonic() < deadline, "condition not reached in time"
        ps.get_message(timeout=0.05)


def _channel_on(fake: FakeCluster, node: Any, prefix: str) -> str:
    return next(f"{prefix}{i}" for i in range(10_000) if fake.owner_of(f"{prefix}{i}") is node)


def test_cluster_pubsub_classic_channels_and_patterns(
        client: Tuple[FakeCluster, RedisCluster]) -> None:
    fake, rc = client
    with ClusterPubSub(rc) as ps:
        ps.subscribe("news")
        ps.psubscribe("n*")
        acks = [_next_message(ps), _next_message(ps)]
        assert [(m["type"], m["channel"], m["data"]) for m in acks] == [
            ("subscribe", b"news", 1), ("psubscribe", b"n*", 2)]
        assert ps.get_message(timeout=0.01) is None
        # PUBLISH goes to the channel's slot owner; Redis broadcasts it to every node and
        # counts the receivers on the node it was sent to.
        link = ps.snapshot().classic
        assert link is not None
        expected = 2 if fake.owner_of("news").address == link.node else 0
        assert rc.publish("news", "hello") == expected
        got = [_next_message(ps), _next_message(ps)]
        assert [(m["type"], m["pattern"], m["data"]) for m in got] == [
            ("message", None, b"hello"), ("pmessage", b"n*", b"hello")]
        # Published from another thread while get_message waits: the wait wakes up.
        publisher = threading.Thread(target=rc.publish, args=("nothing-else", "late"))
        publisher.start()
        late = _next_message(ps)
        publisher.join()
        assert (late["type"], late["channel"], late["data"]) == (
            "pmessage", b"nothing-else", b"late")
        ps.unsubscribe("news")
        assert _next_message(ps)["type"] == "unsubscribe"
        rc.publish("news", "unheard by the channel")
        assert _next_message(ps)["type"] == "pmessage"  # the pattern still matches
    assert not any(fake._live_subscribers(n) for n in fake.nodes)  # closed: gone


def test_cluster_pubsub_sharded_channel_follows_a_failover(
        client: Tuple[FakeCluster, RedisCluster]) -> None:
    fake, rc = client
    primary = fake.primaries()[0]
    channel = _channel_on(fake, primary, "orders")
    with ClusterPubSub(rc, ignore_subscribe_messages=True) as ps:
        ps.ssubscribe(channel)
        _settle(ps, lambda: bool(ps.snapshot().shards) and not any(
            link.pending_acks for link in ps.snapshot().shards))
        assert ps.snapshot().home(channel.encode()) == primary.address
        assert rc.spublish(channel, "before") == 1
        assert _next_message(ps)["data"] == b"before"
        # Another shard's channel on another node's SPUBLISH: MOVED, then delivered nowhere.
        assert rc.spublish(_channel_on(fake, fake.primaries()[1], "other"), "x") == 0
        new = fake.failover(primary)  # the old primary sends sunsubscribe to its subscriber
        _settle(ps, lambda: ps.snapshot().home(channel.encode()) == new.address)
        rc.connection_pool.initialize()  # the publisher learns the new layout
        for i in range(3):
            assert rc.spublish(channel, f"after-{i}") == 1
        assert [_next_message(ps)["data"] for _ in range(3)] == [
            b"after-0", b"after-1", b"after-2"]
        assert ps.restores >= 1
        assert ps.get_message(timeout=0.01) is None


def test_cluster_pubsub_sharded_channel_comes_back_after_a_kill() -> None:
    with FakeCluster(masters=3, replicas=1, node_timeout=1.0) as fake:
        rc, _ = make_client(fake)
        channel = _channel_on(fake, fake.primaries()[1], "alerts")
        old = fake.owner_of(channel)
        with ClusterPubSub(rc, ignore_subscribe_messages=True) as ps:
            ps.ssubscribe(channel)
            _settle(ps, lambda: ps.snapshot().home(channel.encode()) is not None and not any(
                link.pending_acks for link in ps.snapshot().shards))
            fake.kill(old)  # the connection drops; the fake promotes the replica 1 s later
            fake.clock.advance(1.5)
            new = fake.owner_of(channel)
            assert new is not old
            rc.connection_pool.initialize()
            _settle(ps, lambda: ps.snapshot().home(channel.encode()) == new.address and not any(
                link.pending_acks for link in ps.snapshot().shards))
            assert rc.spublish(channel, "back") == 1
            assert _next_message(ps)["data"] == b"back"
        rc.close()


def test_spublish_on_a_replica_reaches_the_whole_shard(fake3: FakeCluster) -> None:
    """A replica serves SPUBLISH/SSUBSCRIBE without READONLY and delivers in its shard; the
    count is of the subscribers on the node that got the SPUBLISH."""
    primary = fake3.primaries()[0]
    replica = primary.replicas[0]
    channel = _channel_on(fake3, primary, "s")
    on_primary, on_replica, publisher = (_raw(fake3, primary), _raw(fake3, replica),
                                         _raw(fake3, replica))
    assert on_primary.command([b"SSUBSCRIBE", channel.encode()])[0].endswith(b":1\r\n")
    assert on_replica.command([b"SSUBSCRIBE", channel.encode()])[0].endswith(b":1\r\n")
    assert publisher.command([b"SPUBLISH", channel.encode(), b"m"]) == [b":1\r\n"]
    message = b"*3\r\n$8\r\nsmessage\r\n$%d\r\n%s\r\n$1\r\nm\r\n" % (len(channel),
                                                                    channel.encode())
    assert on_primary.read() == message and on_replica.read() == message
    other = fake3.primaries()[1]
    assert _raw(fake3, other).command([b"SPUBLISH", channel.encode(), b"m"])[0].startswith(
        b"-MOVED %d " % key_slot(channel))
    # Migrating the slot away unsubscribes the source shard's subscribers.
    fake3.migrate([key_slot(channel)], other)
    notice = b"*3\r\n$12\r\nsunsubscribe\r\n$%d\r\n%s\r\n:0\r\n" % (len(channel),
                                                                   channel.encode())
    assert on_primary.read() == notice and on_replica.read() == notice
    assert on_primary.command([b"PING"]) == [b"+PONG\r\n"]  # no longer subscribed


@pytest.fixture
def fake3() -> Iterator[FakeCluster]:
    with FakeCluster(masters=3, replicas=1) as fake:
        yield fake


def _raw(fake: FakeCluster, node: Any) -> RawConnection:
    stream = fake.network.open(NodeAddress(node.host, node.port), 1.0, TransportOptions())
    return RawConnection(stream.sendall, lambda: stream.recv(65536))
