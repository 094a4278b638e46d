"""The multiplexed mode: one connection per node shared by every thread (docs/multiplexed.md).

Two levels. :class:`MultiplexedConnection` alone, over a FakeNetwork whose server can hold its
replies back (``GatedEcho``): replies matched in order under many threads, a deadline that
abandons a call and drops its late reply, a lost connection failing every call with the right
``request_sent``, close() waking waiters. Then the client: ``RedisCluster(multiplexed=True)``
on a FakeCluster, where a lost reply is an OutcomeUnknownError for SET and a retry for GET, a
forked child opens its own shared connection, and the commands that need a connection of their
own (blocking, transactions, pipelines) still get one.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest

from clustercore import (
    ClusterConnectionPool,
    MultiplexedClusterConnectionPool,
    NodeAddress,
    RedisCluster,
)
from clustercore._net.connection import ClusterConnection
from clustercore._net.multiplex import MultiplexedConnection, SharedConnection
from clustercore._pool.multiplexed import multiplexed_pool_class
from clustercore._protocol.reply_encoder import encode_reply
from clustercore.errors import (
    ConnectionError,
    OutcomeUnknownError,
    RedisClusterConfigError,
    ResponseError,
    TimeoutError,
)
from clustercore.testing import FakeCluster, FakeNetwork
from clustercore.testing.fake.net import NO_REPLY, FakeSession, FakeStream

ADDRESS = NodeAddress("127.0.0.1", 31001)
WAIT = 10.0  # seconds any test wait may take before it counts as a hang


class GatedEcho:
    """A server answering ``ECHO x`` with ``x`` (and ``FAIL`` with an error reply); while the
    gate is closed it holds its replies back, in order, until :meth:`release`."""

    def __init__(self, network: FakeNetwork) -> None:
        self.network = network
        self.cond = threading.Condition()
        self.held: List[Any] = []
        self.gated = False
        self.seen = 0

    def handle(self, session: FakeSession, args: List[bytes]) -> Any:
        reply: Any = ResponseError("ERR failed") if args[0] == b"FAIL" else args[1]
        with self.cond:
            self.seen += 1
            if self.gated:
                self.held.append(reply)
                self.cond.notify_all()
                return NO_REPLY
        return reply

    def wait_held(self, n: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.held) >= n, WAIT), self.held

    def release(self, n: Optional[int] = None) -> None:
        """Send the first ``n`` held replies (all by default) in one push."""
        with self.cond:
            batch = self.held[:n] if n is not None else list(self.held)
            del self.held[:len(batch)]
        data = b"".join(encode_reply(r, 2) for r in batch)
        self.stream().push(data)

    def stream(self) -> FakeStream:
        (stream,) = self.network.connections_to(ADDRESS)
        return stream


def shared(timeout: Optional[float] = 5.0,
           ) -> Tuple[MultiplexedConnection, GatedEcho, List[BaseException]]:
    network = FakeNetwork()
    server = GatedEcho(network)
    network.add(ADDRESS, server)
    conn = ClusterConnection(ADDRESS.host, ADDRESS.port, transport=network,
                             socket_timeout=timeout)
    conn.connect()
    broken: List[BaseException] = []
    mux = MultiplexedConnection(conn, on_broken=lambda m, e: broken.append(e))
    return mux, server, broken


def run_threads(n: int, target: Any) -> List[BaseException]:
    """Run ``target(i)`` in n threads; return what they raised (joined with a deadline)."""
    errors: List[BaseException] = []

    def body(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 3)
        assert not t.is_alive(), "a thread hung"
    return errors


def poll(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, what
        threading.Event().wait(0.002)


# --- the connection alone -----------------------------------------------------------------------
@pytest.mark.parametrize("timeout", [5.0, None], ids=["deadline", "no-deadline"])
def test_replies_are_matched_in_order_under_many_threads(timeout: Optional[float]) -> None:
    """(Without a deadline the reader blocks in recv once its head is written.)"""
    mux, server, broken = shared(timeout)
    got: Dict[int, List[bytes]] = {}

    def work(i: int) -> None:
        got[i] = [mux.execute(("ECHO", f"{i}:{n}")) for n in range(150)]

    assert run_threads(24, work) == []
    for i in range(24):
        assert got[i] == [f"{i}:{n}".encode() for n in range(150)]
    assert server.seen == 24 * 150 and mux.commands == 24 * 150 and not broken
    assert len(server.network.connections_to(ADDRESS)) == 1


def test_replies_held_back_and_released_in_batches_reach_their_callers() -> None:
    """The server answers in bursts, so callers pile up: writes coalesce, the reader role is
    handed from thread to thread, and each caller still gets its own reply."""
    mux, server, _ = shared()
    server.gated = True
    done = threading.Event()

    def releaser() -> None:
        while not done.is_set():
            with server.cond:
                server.cond.wait_for(lambda: server.held or done.is_set(), 0.05)
            if server.held:
                server.release()

    pusher = threading.Thread(target=releaser, daemon=True)
    pusher.start()
    got: Dict[int, List[Any]] = {}

    def work(i: int) -> None:
        out = []
        for n in range(60):
            out.append(mux.execute(("ECHO", f"{i}:{n}") if n % 7 else ("FAIL", "x")))
        got[i] = out

    try:
        assert run_threads(16, work) == []
    finally:
        done.set()
        pusher.join(WAIT)
    for i in range(16):
        for n, reply in enumerate(got[i]):
            if n % 7:
                assert reply == f"{i}:{n}".encode()
            else:
                assert isinstance(reply, ResponseError)
    assert mux.in_flight == 0 and not mux.broken


def test_a_caller_past_its_deadline_is_abandoned_and_its_late_reply_dropped() -> None:
    mux, server, broken = shared(timeout=0.2)
    server.gated = True
    with pytest.raises(TimeoutError) as caught:
        mux.execute(("ECHO", "late"))
    assert caught.value.request_sent is True
    assert not mux.broken and mux.in_flight == 1  # still in step: the reply is owed
    server.release()  # the late reply arrives
    server.gated = False
    assert mux.execute(("ECHO", "next")) == b"next"  # not b"late"
    assert mux.in_flight == 0 and not broken


def test_a_waiting_follower_times_out_while_another_thread_reads() -> None:
    mux, server, _ = shared(timeout=0.3)
    server.gated = True
    results: Dict[int, Any] = {}

    def first(_: int) -> None:
        try:
            results[0] = mux.execute(("ECHO", "one"))
        except TimeoutError as exc:  # it waits as long as the second: it times out too
            results[0] = exc

    t = threading.Thread(target=first, args=(0,), daemon=True)
    t.start()
    server.wait_held(1)
    with pytest.raises(TimeoutError):
        mux.execute(("ECHO", "two"))  # a follower, or the reader after the first gave up
    t.join(WAIT)
    assert isinstance(results[0], TimeoutError) and not mux.broken
    server.release()
    server.gated = False
    assert mux.execute(("ECHO", "three")) == b"three"


def test_nothing_for_two_deadlines_gives_the_connection_up() -> None:
    mux, server, broken = shared(timeout=0.15)
    server.gated = True
    with pytest.raises(TimeoutError):
        mux.execute(("ECHO", "a"))
    with pytest.raises(TimeoutError):
        mux.execute(("ECHO", "b"))  # the first reply is now two deadlines overdue
    assert mux.broken and len(broken) == 1
    with pytest.raises(ConnectionError) as refused:
        mux.execute(("ECHO", "c"))
    assert refused.value.request_sent is False


def test_a_lost_connection_fails_every_call_in_flight_as_sent() -> None:
    mux, server, broken = shared()
    server.gated = True
    errors: List[BaseException] = []

    def work(i: int) -> None:
        try:
            mux.execute(("ECHO", str(i)))
        except ConnectionError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(5)]
    for t in threads:
        t.start()
    server.wait_held(5)
    server.release(2)  # two answered, three lost
    poll(lambda: mux.in_flight == 3, "the first two replies were not read")
    server.stream().drop()
    for t in threads:
        t.join(WAIT)
    assert len(errors) == 3 and all(e.request_sent for e in errors)
    assert mux.broken and len(broken) == 1


def test_eof_on_an_idle_connection_fails_the_next_command_as_not_sent() -> None:
    mux, server, _ = shared()
    assert mux.execute(("ECHO", "x")) == b"x"
    server.stream().drop()  # the server closed the idle client
    with pytest.raises(ConnectionError) as caught:
        mux.execute(("ECHO", "y"))
    assert caught.value.request_sent is False
    assert server.seen == 1  # "y" never reached the server


def test_close_wakes_every_waiter_with_connection_error() -> None:
    mux, server, broken = shared(timeout=30.0)  # waits in wait_readable, not the fake recv
    server.gated = True
    errors = []

    def work(i: int) -> None:
        try:
            mux.execute(("ECHO", str(i)))
        except ConnectionError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    server.wait_held(4)
    mux.close()
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive()
    assert len(errors) == 4 and mux.broken and len(broken) == 1
    assert not mux.connection.is_connected


def test_a_command_that_cannot_be_encoded_is_refused_before_anything_is_queued() -> None:
    mux, _, _ = shared()
    with pytest.raises(Exception) as caught:
        mux.execute(("ECHO", {"not": "encodable"}))
    assert "dict" in str(caught.value) or "encod" in str(caught.value).lower()
    assert mux.in_flight == 0
    assert mux.execute(("ECHO", "fine")) == b"fine"


def test_the_handle_reads_a_batch_with_decoding_chosen_per_reply() -> None:
    network = FakeNetwork()
    server = GatedEcho(network)
    network.add(ADDRESS, server)
    conn = ClusterConnection(ADDRESS.host, ADDRESS.port, transport=network, socket_timeout=5,
                             decode_responses=True)
    conn.connect()
    handle = SharedConnection(MultiplexedConnection(conn))
    handle.send_commands([("ECHO", "a"), ("FAIL", "x"), ("ECHO", "b")])
    assert handle.read_reply() == "a"
    assert isinstance(handle.read_reply(), ResponseError)
    assert handle.read_reply(disable_decoding=True) == b"b"
    assert handle.execute("ECHO", "c") == "c"
    with pytest.raises(ResponseError):
        handle.execute("FAIL", "y")


# --- the client ---------------------------------------------------------------------------------
def mux_client(fake: FakeCluster, **kwargs: Any) -> RedisCluster:
    sleeps: List[float] = []
    return RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network,
                        multiplexed=True, socket_timeout=5, sleep=sleeps.append, **kwargs)


def test_a_multiplexed_client_shares_one_connection_per_node_across_threads() -> None:
    fake = FakeCluster()
    rc = mux_client(fake)
    try:
        assert isinstance(rc.connection_pool, MultiplexedClusterConnectionPool)
        for i in range(50):  # opens every node's shared connection (50 keys hit all three)
            rc.get(f"warm:{i}")
        opened = fake.network.opened

        def work(i: int) -> None:
            for n in range(100):
                key = f"t{i}:{n}"
                assert rc.set(key, key) is True
                assert rc.get(key) == key.encode()

        assert run_threads(16, work) == []
        assert fake.network.opened == opened  # no new connection during the load
        pool = rc.connection_pool
        muxes = [pool.shared_connection(a) for a in pool.topology.primaries]
        assert all(m is not None for m in muxes)
        assert sum(m.commands for m in muxes if m is not None) >= 16 * 200
    finally:
        rc.close()


def test_a_reply_lost_in_flight_makes_incr_outcome_unknown_and_get_retried() -> None:
    """(SET is a converging write here, retried like GET: INCR is the non-idempotent one.)"""
    fake = FakeCluster()
    rc = mux_client(fake)
    try:
        rc.set("n", 1)
        owner = fake.owner_of("n")
        fake.cut_next_reply(owner, 0)  # the INCR arrives and runs, its reply is lost
        with pytest.raises(OutcomeUnknownError):
            rc.incr("n")
        assert fake.get("n") == b"2"  # it did run: the caller was right not to re-send
        assert rc.get("n") == b"2"  # on a new shared connection
        fake.cut_next_reply(owner, 0)
        assert rc.get("n") == b"2"  # GET is idempotent: retried on a new connection
        fake.cut_next_reply(owner, 0)
        assert rc.set("n", 5) is True  # so is SET (a converging write)
        assert fake.get("n") == b"5"
    finally:
        rc.close()


def test_a_connection_closed_while_idle_lets_even_an_incr_be_retried() -> None:
    fake = FakeCluster()
    rc = mux_client(fake)
    try:
        rc.set("k", 1)
        fake.drop_connections(fake.owner_of("k"))
        assert rc.incr("k") == 2  # nothing was sent on the dead connection: INCR is safe
        assert fake.get("k") == b"2"
    finally:
        rc.close()


def test_commands_that_hold_a_connection_do_not_use_the_shared_one() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    rc = mux_client(fake)
    try:
        rc.rpush("list", "a")
        pool = rc.connection_pool
        (address,) = pool.topology.primaries
        mux = pool.shared_connection(address)
        assert mux is not None
        before = mux.commands
        assert rc.blpop(["list"], timeout=1) == (b"list", b"a")
        pipe = rc.pipeline()
        pipe.set("p", 1).get("p")
        assert pipe.execute() == [True, b"1"]
        rc.transaction(lambda p: p.set("t", 2), "t")
        assert fake.get("t") == b"2"
        assert mux.commands == before  # none of them went over the shared connection
        rc.get("p")
        assert mux.commands == before + 1
    finally:
        rc.close()


def test_close_gives_the_shared_connections_up_and_the_client_reopens() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    rc = mux_client(fake)
    rc.set("a", 1)
    pool = rc.connection_pool
    (address,) = pool.topology.primaries
    first = pool.shared_connection(address)
    assert first is not None
    rc.close()
    assert first.broken and not first.connection.is_connected
    assert rc.get("a") == b"1"  # RedisCluster.close() leaves the client usable
    second = pool.shared_connection(address)
    assert second is not None and second is not first
    rc.close()


def test_multiplexed_needs_a_multiplexed_pool_and_variants_keep_their_base() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    plain = ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network)
    try:
        with pytest.raises(RedisClusterConfigError, match="multiplexed"):
            RedisCluster(connection_pool=plain, multiplexed=True)
    finally:
        plain.close()
    from clustercore import ClusterReadOnlyConnectionPool
    variant = multiplexed_pool_class(ClusterReadOnlyConnectionPool)
    assert issubclass(variant, ClusterReadOnlyConnectionPool)
    assert issubclass(variant, MultiplexedClusterConnectionPool)
    assert multiplexed_pool_class(ClusterReadOnlyConnectionPool) is variant
    assert multiplexed_pool_class(variant) is variant


def child_exit_code(pid: int) -> int:
    deadline = time.monotonic() + WAIT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.WEXITSTATUS(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("the forked child hung")
        threading.Event().wait(0.01)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_opens_its_own_shared_connection() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    rc = mux_client(fake)
    try:
        rc.set("a", 1)
        pool = rc.connection_pool
        (address,) = pool.topology.primaries
        parent_mux = pool.shared_connection(address)
        assert parent_mux is not None
        deadline = time.monotonic() + 5
        while any(t.name.startswith("clustercore-probe") for t in threading.enumerate()):
            assert time.monotonic() < deadline, "discovery probes still running"
            threading.Event().wait(0.005)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                got = rc.get("a")
                child_mux = pool.shared_connection(address)
                ok = (got == b"1" and child_mux is not None and child_mux is not parent_mux
                      and parent_mux.connection.is_connected and not parent_mux.broken
                      and parent_mux.commands == 1)
                code = 0 if ok else 2
            finally:
                os._exit(code)
        assert child_exit_code(pid) == 0
        assert rc.get("a") == b"1"
        assert pool.shared_connection(address) is parent_mux and parent_mux.commands == 2
    finally:
        rc.close()


def test_a_foreign_connection_class_is_refused_by_name() -> None:
    class Foreign:
        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

    fake = FakeCluster(masters=1, replicas=0)
    with pytest.raises(RedisClusterConfigError, match="Foreign"):
        MultiplexedClusterConnectionPool(startup_nodes=fake.startup_nodes,
                                         transport=fake.network, connection_class=Foreign)


def test_the_handle_bounds_a_call_by_the_callers_nearer_deadline() -> None:
    """The executor's retry deadline (execute_within / set_timeout) abandons just that call."""
    mux, server, _ = shared(timeout=5.0)
    handle = SharedConnection(mux)
    assert handle.socket_timeout == 5.0
    server.gated = True
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        handle.execute_within(("ECHO", "slow"), 0.1)
    handle.set_timeout(0.1)
    handle.send_commands([("ECHO", "slower")])
    with pytest.raises(TimeoutError):
        handle.read_reply()
    assert time.monotonic() - started < 4.0  # neither waited out the connection's 5 s
    assert not mux.broken
    server.release()
    server.gated = False
    assert SharedConnection(mux).execute("ECHO", "after") == b"after"
