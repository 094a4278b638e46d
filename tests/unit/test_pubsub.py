"""ClusterPubSub against FakeCluster nodes wrapped with a small pub/sub server (this file's
``PubSubServer``): classic and sharded delivery, handlers, MOVED on SSUBSCRIBE, the server's
own sunsubscribe after a failover, restoring after dropped connections, health checks, the
worker thread and closing."""

from __future__ import annotations

import fnmatch
import importlib
import threading
from dataclasses import FrozenInstanceError
from typing import Any, Dict, List, Optional, Set, Tuple

import pytest

from clustercore import NodeAddress, RedisCluster, key_slot
from clustercore._execution.pubsub import (
    ClusterPubSub,
    PubSubError,
    PubSubLinkInfo,
    PubSubSnapshot,
)
from clustercore._execution.pubsub_state import Restorer, RestoreState, Subscription, SubState
from clustercore._protocol.reply_encoder import encode_reply
from clustercore.errors import ClusterUsageError, DataError, ResponseError
from clustercore.testing import FakeCluster, FakeSession
from clustercore.testing.fake.cluster import FakeNode
from clustercore.testing.fake.net import NO_REPLY, FakeStream

_ACK = {b"SUBSCRIBE": b"subscribe", b"PSUBSCRIBE": b"psubscribe", b"SSUBSCRIBE": b"ssubscribe",
        b"UNSUBSCRIBE": b"unsubscribe", b"PUNSUBSCRIBE": b"punsubscribe",
        b"SUNSUBSCRIBE": b"sunsubscribe"}
_TABLE = {b"SUBSCRIBE": "channels", b"UNSUBSCRIBE": "channels", b"PSUBSCRIBE": "patterns",
          b"PUNSUBSCRIBE": "patterns", b"SSUBSCRIBE": "shard", b"SUNSUBSCRIBE": "shard"}


class PubSubServer:
    """Classic and sharded pub/sub for every node of a FakeCluster (RESP2 pushes)."""

    def __init__(self, fake: FakeCluster) -> None:
        self.fake = fake
        self.sessions: List[Tuple[FakeNode, FakeSession]] = []
        self.published: List[Tuple[bytes, bytes]] = []
        for node in fake.nodes:
            fake.network.add(node.address, _Node(self, node))

    def stream(self, session: FakeSession) -> Optional[FakeStream]:
        for stream in list(self.fake.network.streams):
            if stream.session is session and not stream.closed_by_server:
                return stream
        return None

    def push(self, session: FakeSession, message: Any) -> None:
        stream = self.stream(session)
        if stream is not None:
            stream.push(encode_reply(message, 2))

    @staticmethod
    def subs(session: FakeSession, table: str) -> Set[bytes]:
        found: Set[bytes] = session.state.setdefault(table, set())
        return found

    def deliver(self, channel: bytes, data: bytes, nodes: Optional[Set[NodeAddress]] = None,
                sharded: bool = False) -> int:
        count = 0
        for node, session in list(self.sessions):
            if nodes is not None and node.address not in nodes:
                continue
            if sharded:
                if channel in self.subs(session, "shard"):
                    self.push(session, [b"smessage", channel, data])
                    count += 1
                continue
            if channel in self.subs(session, "channels"):
                self.push(session, [b"message", channel, data])
                count += 1
            for pattern in sorted(self.subs(session, "patterns")):
                if fnmatch.fnmatchcase(channel.decode(), pattern.decode()):
                    self.push(session, [b"pmessage", pattern, channel, data])
                    count += 1
        return count

    def slot_lost(self, node: FakeNode) -> int:
        """What Redis does when ``node`` loses slots: sunsubscribe their shard subscribers."""
        dropped = 0
        for owner, session in list(self.sessions):
            if owner is not node:
                continue
            for channel in sorted(self.subs(session, "shard")):
                if self.fake.owner_of(key_slot(channel)) is not node:
                    self.subs(session, "shard").discard(channel)
                    self.push(session, [b"sunsubscribe", channel,
                                        len(self.subs(session, "shard"))])
                    dropped += 1
        return dropped


class _Node:
    def __init__(self, server: PubSubServer, node: FakeNode) -> None:
        self.server = server
        self.node = node

    def handle(self, session: FakeSession, args: List[bytes]) -> Any:
        name = args[0].upper()
        server = self.server
        if name in _ACK:
            return self._subscription(session, name, args[1:])
        if name == b"PUBLISH":
            server.published.append((args[1], args[2]))
            return server.deliver(args[1], args[2])
        if name == b"SPUBLISH":
            owner = server.fake.owner_of(key_slot(args[1]))
            if owner is not self.node:
                return ResponseError(f"MOVED {key_slot(args[1])} {owner.address}")
            shard = {owner.address} | {r.address for r in owner.replicas}
            return server.deliver(args[1], args[2], shard, sharded=True)
        if name == b"PING" and any(server.subs(session, t) for t in set(_TABLE.values())):
            return [b"pong", b""]
        return self.node.handle(session, args)

    def _subscription(self, session: FakeSession, name: bytes, names: List[bytes]) -> Any:
        server = self.server
        if name == b"SSUBSCRIBE":
            slots = {key_slot(n) for n in names}
            if len(slots) > 1:
                return ResponseError("CROSSSLOT Keys in request don't hash to the same slot")
            owner = server.fake.owner_of(slots.pop())
            if owner is not self.node:
                return ResponseError(f"MOVED {key_slot(names[0])} {owner.address}")
        if (self.node, session) not in server.sessions:
            server.sessions.append((self.node, session))
        table = server.subs(session, _TABLE[name])
        for channel in names:
            if name in (b"SUBSCRIBE", b"PSUBSCRIBE", b"SSUBSCRIBE"):
                table.add(channel)
            else:
                table.discard(channel)
            if name in (b"SSUBSCRIBE", b"SUNSUBSCRIBE"):
                count = len(table)
            else:
                count = len(server.subs(session, "channels")) + len(
                    server.subs(session, "patterns"))
            server.push(session, [_ACK[name], channel, count])
        return NO_REPLY


def setup(**kwargs: Any) -> Tuple[FakeCluster, PubSubServer, RedisCluster]:
    fake = FakeCluster(node_timeout=kwargs.pop("node_timeout", 15.0))
    server = PubSubServer(fake)
    kwargs.setdefault("socket_timeout", 1.0)
    rc = RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network,
                      clock=fake.clock, background_refresh=False, refresh_min_interval=0,
                      sleep=fake.clock.advance, **kwargs)
    return fake, server, rc


def _same_link(a: Optional[PubSubLinkInfo], b: Optional[PubSubLinkInfo]) -> bool:
    """Whether two snapshots show the same connection (not just one to the same node)."""
    return a is not None and b is not None and a.link_id == b.link_id


def owners_node(fake: FakeCluster, channel: bytes) -> NodeAddress:
    """The address of the primary that owns ``channel``'s slot."""
    return fake.owner_of(key_slot(channel)).address


def drain_snapshot(ps: ClusterPubSub) -> PubSubSnapshot:
    """Read what is buffered, then the snapshot."""
    drain(ps)
    return ps.snapshot()


def drain(ps: ClusterPubSub, limit: int = 50) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    for _ in range(limit):
        message = ps.get_message(timeout=0)
        if message is None:
            return out
        out.append(message)
    return out


def channels_on(fake: FakeCluster, count: int) -> List[str]:
    """``count`` channel names whose slots belong to ``count`` different primaries."""
    out: List[str] = []
    owners: Set[NodeAddress] = set()
    for i in range(1000):
        name = f"ch{i}"
        owner = fake.owner_of(key_slot(name)).address
        if owner not in owners:
            owners.add(owner)
            out.append(name)
        if len(out) == count:
            return out
    raise AssertionError("not enough primaries")


# --- classic ----------------------------------------------------------------------------------------
def test_classic_subscribe_and_messages_from_every_node() -> None:
    fake, _server, rc = setup()
    ps = ClusterPubSub(rc)
    ps.subscribe("news", "sport")
    acks = drain(ps)
    assert [(m["type"], m["channel"], m["data"]) for m in acks] == [
        ("subscribe", b"news", 1), ("subscribe", b"sport", 2)]
    assert ps.subscribed and set(ps.channels) == {b"news", b"sport"}
    for node in fake.primaries():
        rc._execute_on_node(node.address, "PUBLISH", "news", node.address.name)
    got = drain(ps)
    assert [m["data"].decode() for m in got] == [n.address.name for n in fake.primaries()]
    assert all(m["type"] == "message" and m["pattern"] is None for m in got)
    assert len([s for s in fake.network.streams if s.session.state.get("channels")]) == 1
    ps.close()


def test_closing_the_client_closes_its_pubsub_connections_as_redis_py_does() -> None:
    """redis-py's close() closes in-use connections too, so a pub/sub object left behind
    stops holding its subscriptions on the server (seen in redis-py's own suite: a later
    test's PUBLISH counted the earlier tests' subscribers)."""
    fake, _server, rc = setup()
    ps = rc.pubsub()
    ps.subscribe("news")
    assert [m["type"] for m in drain(ps)] == ["subscribe"]

    def subscribed() -> int:
        return len([s for s in fake.network.streams
                    if not s.closed and s.session.state.get("channels")])

    assert subscribed() == 1
    rc.close()
    assert subscribed() == 0  # the server side dropped the subscription
    assert set(ps.channels) == {b"news"}  # still wanted: a later read subscribes again
    ps.close()


def test_patterns_handlers_and_ignore_subscribe_messages() -> None:
    _fake, _server, rc = setup(decode_responses=True)
    seen: List[Dict[str, Any]] = []
    ps = ClusterPubSub(rc, ignore_subscribe_messages=True)
    ps.psubscribe("user.*")
    ps.subscribe(alerts=seen.append)
    assert drain(ps) == []
    rc.publish("user.1", "hello")
    rc.publish("alerts", "fire")
    message = ps.get_message(timeout=0)
    assert message == {"type": "pmessage", "pattern": "user.*", "channel": "user.1",
                       "data": "hello"}
    assert ps.get_message(timeout=0) is None  # the handler took it
    assert [m["data"] for m in seen] == ["fire"]
    assert set(ps.channels) == {"alerts"} and set(ps.patterns) == {"user.*"}
    ps.unsubscribe()
    ps.punsubscribe("user.*")
    drain(ps)  # subscribed stays True until the acknowledgements are read (redis-py)
    assert not ps.subscribed
    with pytest.raises(DataError):
        ps.subscribe()
    ps.close()


def test_get_message_timeout_returns_none() -> None:
    _fake, _server, rc = setup()
    ps = ClusterPubSub(rc)
    assert ps.get_message(timeout=0.01) is None  # nothing subscribed
    ps.subscribe("quiet")
    drain(ps)
    assert ps.get_message(timeout=0.02) is None
    ps.close()


# --- sharded -----------------------------------------------------------------------------------------
def test_ssubscribe_uses_one_connection_per_slot_owner() -> None:
    fake, _server, rc = setup()
    names = channels_on(fake, 3)
    ps = ClusterPubSub(rc)
    two = "{" + names[0] + "}two"
    ps.ssubscribe(*names, two)
    acks = drain(ps)
    assert sorted(m["channel"] for m in acks) == sorted(
        n.encode() for n in [*names, two])
    assert len(ps.snapshot().shards) == 3
    for name in names:
        assert rc.spublish(name, f"to {name}") == 1
    got = drain(ps)
    assert sorted(m["data"] for m in got) == sorted(f"to {n}".encode() for n in names)
    assert {m["type"] for m in got} == {"smessage"}
    ps.sunsubscribe(names[0])
    assert [m["type"] for m in drain(ps)] == ["sunsubscribe"]
    assert rc.spublish(names[0], "gone") == 0
    ps.close()


def test_ssubscribe_answered_moved_subscribes_on_the_new_owner() -> None:
    fake, _server, rc = setup()
    channel = "moving"
    slot = key_slot(channel)
    source = fake.owner_of(slot)
    target = next(p for p in fake.primaries() if p is not source)
    rc.ping()  # the client has its map ...
    fake.migrate([slot], target)  # ... which is now stale
    ps = ClusterPubSub(rc)
    ps.ssubscribe(channel)
    acks = drain(ps)
    assert [(m["type"], m["channel"]) for m in acks] == [("ssubscribe", b"moving")]
    assert ps.snapshot().home(b"moving") == target.address
    rc.spublish(channel, "here")
    assert [m["data"] for m in drain(ps)] == [b"here"]
    ps.close()


def test_failover_unsubscribe_from_the_server_is_restored_silently() -> None:
    fake, server, rc = setup()
    channel = channels_on(fake, 1)[0]
    ps = ClusterPubSub(rc)
    ps.ssubscribe(channel)
    drain(ps)
    old = fake.owner_of(key_slot(channel))
    new = fake.failover(old)
    assert server.slot_lost(old) == 1
    assert drain(ps) == []  # the sunsubscribe notice is handled, not reported
    assert ps.snapshot().home(channel.encode()) == new.address
    assert rc.spublish(channel, "after") == 1
    assert [m["data"] for m in drain(ps)] == [b"after"]
    assert ps.restores >= 1
    ps.close()


# --- restoring after connection loss ---------------------------------------------------------------
def test_dropped_connections_are_restored_without_the_caller() -> None:
    fake, _server, rc = setup()
    shard_channel = channels_on(fake, 1)[0]
    ps = ClusterPubSub(rc)
    ps.subscribe("classic")
    ps.psubscribe("p.*")
    ps.ssubscribe(shard_channel)
    drain(ps)
    fake.drop_connections()
    assert ps.get_message(timeout=0) is None  # notices the EOFs, subscribes again
    drain(ps)
    assert ps.restores >= 1
    rc.publish("classic", "1")
    rc.publish("p.x", "2")
    rc.spublish(shard_channel, "3")
    assert sorted(m["data"] for m in drain(ps)) == [b"1", b"2", b"3"]
    ps.close()


def test_killed_node_subscriptions_come_back_after_failover() -> None:
    fake, _server, rc = setup(node_timeout=1.0)
    channel = channels_on(fake, 1)[0]
    ps = ClusterPubSub(rc)
    ps.ssubscribe(channel)
    drain(ps)
    old = fake.owner_of(key_slot(channel))
    fake.kill(old)
    assert ps.get_message(timeout=0) is None
    fake.clock.advance(2)  # the fake promotes a replica
    new = fake.owner_of(key_slot(channel))
    assert new is not old
    rc.connection_pool.initialize()
    for _ in range(100):  # restore attempts back off in real time: poll with a deadline
        ps.get_message(timeout=0.05)
        if ps.snapshot().home(channel.encode()) == new.address:
            break
    assert ps.snapshot().home(channel.encode()) == new.address
    rc.spublish(channel, "back")
    assert [m["data"] for m in drain(ps)] == [b"back"]
    ps.close()


def test_health_check_drops_a_silent_connection() -> None:
    fake, _server, rc = setup()
    ps = ClusterPubSub(rc, health_check_interval=0.01)
    ps.subscribe("hc")
    drain(ps)
    link = ps.snapshot().classic
    assert link is not None
    fake.freeze(link.node)
    for _ in range(200):
        ps.get_message(timeout=0.01)
        if not _same_link(ps.snapshot().classic, link):
            break
    assert not _same_link(ps.snapshot().classic, link)
    fake.unfreeze(link.node)
    ps.close()


def test_subscribe_error_is_raised_from_get_message() -> None:
    _fake, server, rc = setup()
    ps = ClusterPubSub(rc)
    ps.subscribe("ok")
    drain(ps)
    session = next(s for _node, s in server.sessions if b"ok" in server.subs(s, "channels"))
    # An error reply that answers nothing this object sent (no request is outstanding).
    server.push(session, ResponseError("CROSSSLOT Keys in request don't hash to the same slot"))
    with pytest.raises(ResponseError):
        ps.get_message(timeout=0)
    ps.close()


# --- introspection and the restoring state machine -------------------------------------------------
def test_snapshot_shows_links_acknowledgements_and_what_waits() -> None:
    fake, _server, rc = setup()
    names = channels_on(fake, 2)
    ps = ClusterPubSub(rc)
    ps.subscribe("a")
    ps.psubscribe("p.*")
    ps.ssubscribe(*names)
    sent = ps.snapshot()
    assert sent.classic is not None
    assert (sent.classic.channels, sent.classic.patterns) == ((b"a",), (b"p.*",))
    assert sent.classic.pending_acks == 2 and not sent.acknowledged  # nothing read yet
    owners = {fake.owner_of(key_slot(n)).address: n.encode() for n in names}
    assert {link.node: link.shard_channels for link in sent.shards} == {
        node: (name,) for node, name in owners.items()}
    assert [link.node for link in sent.shards] == sorted(owners)
    assert len({link.link_id for link in sent.links}) == 3
    assert not sent.waiting and sent.next_restore_in is None and sent.restores == 0
    acked = drain_snapshot(ps)
    assert acked.acknowledged and acked.classic is not None and acked.classic.pending_acks == 0
    with pytest.raises(FrozenInstanceError):  # a value to keep or log, not a handle
        sent.restores = 1  # type: ignore[misc]

    # Kill the owner of a sharded channel whose node does not carry the classic link.
    classic_node = acked.classic.node
    lost, kept = sorted((n.encode() for n in names),
                        key=lambda n: owners_node(fake, n) == classic_node)
    fake.kill(owners_node(fake, lost))
    assert ps.get_message(timeout=0) is None  # EOF: parked; the node refuses the new connection
    after = ps.snapshot()
    assert after.waiting_shard_channels == (lost,) and after.home(lost) is None
    assert after.next_restore_in is not None and after.next_restore_in >= 0
    assert after.restores >= 1
    assert [link.shard_channels for link in after.shards] == [(kept,)]
    assert after.classic == acked.classic  # the classic link is untouched
    ps.close()
    closed = ps.snapshot()
    assert closed.closed and closed.classic is None and closed.shards == ()
    assert not closed.waiting


def test_a_lost_classic_link_is_replaced_on_another_node() -> None:
    fake = FakeCluster(masters=2, replicas=0)
    PubSubServer(fake)
    rc = RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network,
                      clock=fake.clock, background_refresh=False, refresh_min_interval=0,
                      sleep=fake.clock.advance, socket_timeout=1.0)
    ps = ClusterPubSub(rc)
    ps.subscribe("a")
    ps.psubscribe("p.*")
    before = drain_snapshot(ps).classic
    for restores in range(1, 9):  # two nodes: a random pick would stay on the lost one by luck
        assert before is not None
        fake.drop_connections(before.node)
        assert ps.get_message(timeout=0) is None  # EOF, then a pass opens a new link
        after = drain_snapshot(ps)
        assert after.classic is not None and not _same_link(after.classic, before)
        assert after.classic.node != before.node  # the node whose link was lost is avoided
        assert (after.classic.channels, after.classic.patterns) == ((b"a",), (b"p.*",))
        assert after.acknowledged and not after.waiting and after.restores == restores
        before = after.classic
    ps.close()


def test_restorer_plans_at_once_then_backs_off_and_resets_on_success() -> None:
    calls: List[int] = []

    def backoff(attempt: int) -> float:
        calls.append(attempt)
        return 10.0 * (attempt + 1)

    restorer = Restorer()
    assert restorer.state is RestoreState.IDLE and restorer.due(0.0)
    restorer.plan(100.0, backoff)
    assert (restorer.state, restorer.due_at, calls) == (RestoreState.PLANNED, 100.0, [])
    restorer.plan(105.0, backoff)  # planned already, and earlier: kept (the delay is drawn)
    assert (restorer.due_at, restorer.attempts, calls) == (100.0, 1, [0])
    assert not restorer.due(99.0) and restorer.due(100.0)
    restorer.start()
    assert restorer.state is RestoreState.IDLE
    restorer.plan(101.0, backoff)  # the pass failed: back off
    assert (restorer.due_at, restorer.attempts) == (111.0, 2)
    restorer.start()
    restorer.plan(112.0, backoff)
    assert (restorer.due_at, restorer.attempts) == (132.0, 3)
    restorer.succeeded()  # acknowledged while a later pass is planned ...
    restorer.plan(115.0, backoff)  # ... so the next failure plans at once: the earlier wins
    assert (restorer.state, restorer.due_at, restorer.attempts) == (
        RestoreState.PLANNED, 115.0, 1)


def test_subscriptions_change_state_only_through_place_and_park() -> None:
    restorer = Restorer()
    sub = Subscription("ssubscribe", b"ch", None)
    link = object()
    restorer.park(sub, avoid=NodeAddress("10.0.0.1", 1), announce=True)
    assert sub.state is SubState.WAITING and list(restorer.waiting) == [sub]
    restorer.park(sub)  # parked again: the hints stay until a placing uses them
    assert sub.avoid == NodeAddress("10.0.0.1", 1) and sub.announce
    restorer.place(sub, link)  # type: ignore[arg-type]
    assert sub.state is SubState.PLACED and sub.link is link and not restorer.waiting
    restorer.park(sub)
    restorer.forget(sub)
    assert not restorer.waiting and sub.link is None


# --- threads and lifecycle --------------------------------------------------------------------------
def test_run_in_thread_calls_handlers_and_stop_joins() -> None:
    fake, _server, rc = setup()
    ps = ClusterPubSub(rc)
    with pytest.raises(PubSubError):
        ps.subscribe("nohandler")
        ps.run_in_thread()
    ps.unsubscribe("nohandler")
    got = threading.Event()
    received: List[bytes] = []

    def handler(message: Dict[str, Any]) -> None:
        received.append(message["data"])
        got.set()

    channel = channels_on(fake, 1)[0]
    ps.ssubscribe(**{channel: handler})
    thread = ps.run_in_thread(sleep_time=0.01, daemon=True)
    for i in range(200):  # the worker subscribes asynchronously: publish until one arrives
        rc.spublish(channel, str(i))
        if got.wait(0.01):
            break
    thread.stop()
    assert not thread.is_alive()
    assert received
    assert not ps.subscribed  # the worker closes the pub/sub object on exit


def test_close_closes_the_dedicated_connections() -> None:
    fake, _server, rc = setup()
    before = len(fake.network.streams)
    with ClusterPubSub(rc) as ps:
        ps.subscribe("a")
        ps.ssubscribe(*channels_on(fake, 2))
        assert len(fake.network.streams) == before + 3
        assert rc.connection_pool.stats().in_use == 0  # not pool connections
    assert len(fake.network.streams) == before
    with pytest.raises(PubSubError):
        ps.subscribe("again")


# --- redis-py parity: where the classic link lives, node=, ping, sharded reads ---------------------
def test_classic_link_lives_on_the_first_channels_slot_owner() -> None:
    fake, _server, rc = setup()
    first, second = channels_on(fake, 2)
    ps = ClusterPubSub(rc)
    ps.subscribe(first)
    ps.subscribe(second)
    assert drain_snapshot(ps).classic is not None
    snap = ps.snapshot()
    assert snap.classic is not None and snap.classic.node == owners_node(fake, first)
    assert snap.classic.channels == (first.encode(), second.encode())  # one link, as redis-py
    patterns = ClusterPubSub(rc)
    patterns.psubscribe("p.*")  # a pattern first: its own slot's owner (redis-py hashes it too)
    link = drain_snapshot(patterns).classic
    assert link is not None and link.node == owners_node(fake, b"p.*")
    ps.close()
    patterns.close()


def test_classic_link_follows_the_slot_owner_after_a_failover() -> None:
    fake, server, rc = setup()
    channel = channels_on(fake, 1)[0]
    ps = ClusterPubSub(rc, ignore_subscribe_messages=True)
    ps.subscribe(channel, "other")
    ps.psubscribe("p.*")
    before = drain_snapshot(ps).classic
    assert before is not None and before.node == owners_node(fake, channel)
    old = fake.owner_of(key_slot(channel))
    new = fake.failover(old)
    assert drain_snapshot(ps).classic == before  # nothing tells it until the map changes
    rc.connection_pool.initialize()  # the pool publishes the new layout
    after = drain_snapshot(ps)
    assert after.classic is not None and after.classic.node == new.address
    assert not _same_link(after.classic, before)
    assert (after.classic.channels, after.classic.patterns) == (
        (channel.encode(), b"other"), (b"p.*",))
    assert after.acknowledged and not after.waiting and after.restores == 1
    # the old subscription was closed first: one session per name, no duplicate delivery
    holders = [s for _n, s in server.sessions if channel.encode() in server.subs(s, "channels")
               and server.stream(s) is not None]
    assert len(holders) == 1
    rc.publish(channel, "once")
    rc.publish("p.x", "pattern")
    assert [m["data"] for m in drain(ps)] == [b"once", b"pattern"]
    ps.close()


def test_sharded_channel_follows_a_slot_moved_to_another_shard() -> None:
    fake, _server, rc = setup()
    channel = channels_on(fake, 1)[0]
    slot = key_slot(channel)
    ps = ClusterPubSub(rc, ignore_subscribe_messages=True)
    ps.ssubscribe(channel)
    drain(ps)
    source = fake.owner_of(slot)
    target = next(p for p in fake.primaries() if p is not source)
    fake.migrate([slot], target)  # the fake sends no sunsubscribe: only the layout tells
    rc.connection_pool.initialize()
    assert drain_snapshot(ps).home(channel.encode()) == target.address
    assert rc.spublish(channel, "moved") == 1
    assert [m["data"] for m in drain(ps)] == [b"moved"]
    ps.close()


def test_node_fixes_the_classic_link_and_bad_nodes_are_refused() -> None:
    fake, _server, rc = setup()
    channel = channels_on(fake, 1)[0]
    other = next(n.address for n in fake.primaries() if n.address != owners_node(fake, channel))
    for ps in (ClusterPubSub(rc, node=other), ClusterPubSub(rc, host=other.host, port=other.port),
               ClusterPubSub(rc, node=rc.get_node(host=other.host, port=other.port))):
        ps.subscribe(channel)
        link = drain_snapshot(ps).classic
        assert link is not None and link.node == other
        assert ps.get_pubsub_node().name == other.name  # the client's ClusterNode
        assert ps.node == ps.get_pubsub_node()
        assert ps.get_redis_connection() is not None
        ps.close()
    with pytest.raises(DataError, match="host requires passing a port"):
        ClusterPubSub(rc, host=other.host)
    with pytest.raises(ClusterUsageError, match="doesn't exist in the cluster"):
        ClusterPubSub(rc, node=NodeAddress("10.9.9.9", 1))
    with pytest.raises(DataError, match="not a node"):
        ClusterPubSub(rc, node=object())
    with pytest.raises(DataError, match="push_handler_func"):
        ClusterPubSub(rc, push_handler_func=print)
    ps = ClusterPubSub(rc)
    assert ps.get_pubsub_node() is None and ps.connection is None
    ps.subscribe(channel)
    ps.set_pubsub_node(rc, node=other)  # an open link moves to the node given
    link = drain_snapshot(ps).classic
    assert link is not None and link.node == other and link.channels == (channel.encode(),)
    assert ps.connection is not None
    ps.close()


def test_ping_answers_through_get_message() -> None:
    _fake, _server, rc = setup()
    ps = ClusterPubSub(rc, ignore_subscribe_messages=True)
    ps.ping()  # before any subscription: a link is opened for it
    assert ps.get_message(timeout=0.5) == {"type": "pong", "pattern": None, "channel": None,
                                           "data": b""}
    ps.subscribe("pinged")
    ps.ping("hi")
    assert ps.get_message(timeout=0.5) == {"type": "pong", "pattern": None, "channel": None,
                                           "data": b""}  # the fake server's subscribed PONG
    ps.execute_command("PING")
    assert drain(ps)[0]["type"] == "pong"
    with pytest.raises(PubSubError, match="GET"):
        ps.execute_command("GET", "k")
    ps.close()


def test_subscribed_and_pending_unsubscribes_follow_the_calls() -> None:
    _fake, _server, rc = setup()
    ps = ClusterPubSub(rc)
    assert not ps.subscribed and not ps.subscribed_event.is_set()
    ps.execute_command("SUBSCRIBE", "a", "b")
    assert ps.subscribed and ps.subscribed_event.is_set()  # right after the call (redis-py)
    drain(ps)
    ps.unsubscribe(["a", "b"])
    assert ps.pending_unsubscribe_channels == {b"a", b"b"}
    # redis-py: still subscribed until the unsubscribe acknowledgements are read
    assert ps.subscribed and ps.subscribed_event.is_set()
    assert [m["channel"] for m in drain(ps)] == [b"a", b"b"]
    assert ps.pending_unsubscribe_channels == set()
    assert not ps.subscribed and not ps.subscribed_event.is_set()
    ps.reset()  # reset keeps the object usable; close does not
    ps.subscribe("c")
    assert ps.channels == {b"c": None}
    ps.close()
    with pytest.raises(PubSubError):
        ps.subscribe("d")


def test_get_sharded_message_reads_sharded_kinds_and_keeps_the_rest() -> None:
    fake, _server, rc = setup()
    first, second = channels_on(fake, 2)
    ps = ClusterPubSub(rc)
    ps.subscribe("classic")
    ps.ssubscribe(first, second)
    acks = [ps.get_sharded_message(timeout=0.5) for _ in range(2)]
    assert sorted(m["channel"] for m in acks if m) == sorted([first.encode(), second.encode()])
    rc.publish("classic", "c")
    rc.spublish(first, "1")
    rc.spublish(second, "2")
    target = rc.get_node(host=owners_node(fake, second).host, port=owners_node(fake, second).port)
    got = ps.get_sharded_message(ignore_subscribe_messages=True, timeout=0.5,
                                 target_node=target)
    assert got is not None and (got["type"], got["data"]) == ("smessage", b"2")
    got = ps.get_sharded_message(timeout=0.5)
    assert got is not None and got["data"] == b"1"
    assert ps.get_sharded_message(timeout=0) is None
    rest = drain(ps)  # the classic messages stayed queued for get_message
    assert [(m["type"], m["data"]) for m in rest] == [("subscribe", 1), ("message", b"c")]
    ps.close()


def test_redis_py_subscription_objects_disconnect_and_run_in_thread_arguments() -> None:
    typing = importlib.import_module("redis.typing")  # dev dependency: fail, never skip
    _fake, _server, rc = setup()
    seen: List[Any] = []
    ps = ClusterPubSub(rc, ignore_subscribe_messages=True)
    ps.subscribe(typing.Subscription("objs", seen.append))
    assert ps.channels == {b"objs": seen.append}
    drain(ps)
    ps.disconnect()  # connections closed, subscriptions kept and restored by the next read
    assert ps.subscribed and ps.connection is None
    drain(ps)
    assert ps.snapshot().classic is not None and ps.restores == 1
    rc.publish("objs", "x")
    assert drain(ps) == [] and [m["data"] for m in seen] == [b"x"]
    assert ps.handle_message([b"message", b"objs", b"y"]) is None and len(seen) == 2
    assert ps.handle_message([b"subscribe", b"objs", 1]) is None  # ignored acknowledgement
    thread = ps.run_in_thread(sleep_time=0.01, daemon=True, pubsub=ps, sharded_pubsub=True)
    thread.stop()
    assert not thread.is_alive() and thread.sharded_pubsub


def test_subscribed_stays_true_until_the_last_unsubscribe_is_read() -> None:
    """redis-py's test_subscribe_property_with_channels: resubscribing before the
    unsubscribe acknowledgement is read keeps ``subscribed`` True throughout."""
    _fake, _server, rc = setup()
    ps = ClusterPubSub(rc)
    ps.subscribe("a")
    assert [m["type"] for m in drain(ps)] == ["subscribe"]
    ps.unsubscribe()
    assert ps.subscribed
    ps.subscribe("b")
    assert [m["type"] for m in drain(ps)] == ["unsubscribe", "subscribe"]
    assert ps.subscribed
    ps.unsubscribe()
    assert ps.subscribed
    assert [m["type"] for m in drain(ps)] == ["unsubscribe"]
    assert not ps.subscribed and not ps.subscribed_event.is_set()
    ps.ssubscribe("s")
    drain(ps)
    ps.sunsubscribe()
    assert ps.subscribed
    assert [m["type"] for m in drain(ps)] == ["sunsubscribe"]
    assert not ps.subscribed
    ps.close()
