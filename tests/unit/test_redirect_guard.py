"""Issue 14, security item 2: the redirect guard.

A MOVED or ASK naming a node that no cluster layout lists is not followed: the client asks for
a refresh and retries until the deadline (the node may have just joined), and never dials the
named node -- so it never receives the command, nor AUTH with the password. Reproduced before
the guard: a "node" on another loopback address received ``AUTH s3cret`` and the caller's SET.
"""

from __future__ import annotations

import random
from typing import Any, List, Tuple

import pytest

from clustercore import NodeAddress, RedisCluster, key_slot
from clustercore.errors import AskError, MovedError, UnknownRedirectTargetError
from clustercore.testing import FakeCluster, FakeNetwork, FakeSession
from tests.unit.fakeclient import make_client

ME = NodeAddress("127.0.0.1", 31101)
ROGUE = NodeAddress("127.0.0.2", 31199)


class Redirector:
    """One node that owns every slot in its own layout but answers keyed commands with a
    redirect (``kind`` MOVED or ASK) to ``target``: a node it never lists."""

    def __init__(self, me: NodeAddress, target: NodeAddress, kind: str = "MOVED") -> None:
        self.me, self.target, self.kind = me, target, kind
        self.keyed = 0

    def handle(self, session: FakeSession, args: List[bytes]) -> Any:
        from clustercore.errors import ResponseError
        name = args[0].upper()
        if name == b"CLUSTER" and args[1].upper() == b"SHARDS":
            return ResponseError("ERR unknown subcommand 'SHARDS'")
        if name == b"CLUSTER":
            return [[0, 16383, [self.me.host.encode(), self.me.port, b"id" * 20]]]
        if name in (b"AUTH", b"HELLO", b"READONLY", b"CLIENT", b"PING"):
            return b"OK"
        self.keyed += 1
        return ResponseError(f"{self.kind} {key_slot(args[1])} {self.target.host}:"
                             f"{self.target.port}")


class Recorder:
    """The rogue node: answers everything, records every command it got."""

    def __init__(self) -> None:
        self.commands: List[Tuple[bytes, ...]] = []

    def handle(self, session: FakeSession, args: List[bytes]) -> Any:
        self.commands.append(tuple(args))
        return b"OK"


def _setup(kind: str, **kwargs: Any) -> Tuple[RedisCluster, FakeNetwork, Recorder, List[float]]:
    net = FakeNetwork()
    net.add(ME, Redirector(ME, ROGUE, kind))
    rogue = Recorder()
    net.add(ROGUE, rogue)
    sleeps: List[float] = []
    now = [1000.0]

    def clock() -> float:
        return now[0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    rc = RedisCluster(startup_nodes=[ME], transport=net, password="s3cret", clock=clock,
                      sleep=sleep, background_refresh=False, refresh_min_interval=0,
                      rng=random.Random(5), **kwargs)
    return rc, net, rogue, sleeps


@pytest.mark.parametrize("kind", ["MOVED", "ASK"])
def test_a_redirect_to_an_unlisted_node_is_never_dialled(kind: str) -> None:
    rc, net, rogue, sleeps = _setup(kind, retry_deadline=1.0)
    with pytest.raises(UnknownRedirectTargetError) as caught:
        rc.set("k", "v")
    error = caught.value
    assert error.target == ROGUE and error.node == ME
    assert isinstance(error.__cause__, MovedError if kind == "MOVED" else AskError)
    assert "127.0.0.2:31199" in str(error) and "s3cret" not in str(error)
    assert net.dials.get(ROGUE, 0) == 0 and rogue.commands == []  # no AUTH, no SET
    assert sleeps and sum(sleeps) <= 1.0  # retried (refreshing) until the deadline
    assert rc.connection_pool.address_for_slot(key_slot("k")) == ME  # the map kept
    triggers = rc.connection_pool.stats().refresh_triggers
    assert triggers.get("redirect to unknown node", 0) >= 1


def test_the_opt_out_follows_any_redirect() -> None:
    # (ASK: a MOVED would be followed too, but the refresh it triggers maps the slot back)
    rc, net, rogue, _sleeps = _setup("ASK", follow_unknown_redirects=True)
    assert rc.connection_pool.follow_unknown_redirects is True
    assert rc.set("k", "v") is True  # the rogue answered OK
    assert net.dials.get(ROGUE, 0) >= 1
    assert (b"SET", b"k", b"v") in rogue.commands
    assert any(c[0].upper() == b"AUTH" and b"s3cret" in c for c in rogue.commands)  # why: the guard


def test_the_opt_out_also_comes_from_a_url() -> None:
    net = FakeNetwork()
    net.add(ME, Redirector(ME, ROGUE))
    rc = RedisCluster.from_url(f"redis://{ME.host}:{ME.port}/0?follow_unknown_redirects=true",
                               transport=net)
    assert rc.connection_pool.follow_unknown_redirects is True


def test_on_moved_does_not_map_a_slot_to_an_unlisted_node() -> None:
    """Transactions and pub/sub call on_moved directly: the pool guards it too."""
    fake = FakeCluster()
    rc, _ = make_client(fake)
    pool = rc.connection_pool
    owner = pool.address_for_slot(100)
    pool.on_moved(100, ROGUE)
    assert pool.address_for_slot(100) == owner
    assert pool.redirect_address(ROGUE) is None
    assert pool.redirect_address(owner) == owner
