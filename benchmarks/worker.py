"""One benchmark run of one client, in its own interpreter; prints one JSON object on stdout.

Run by ``benchmarks/run.py`` with the Python of the client's own virtualenv, e.g.::

    benchmarks/.venvs/redis8/bin/python benchmarks/worker.py --client redis-py \\
        --workload get_1t --ops 20000 --nodes 127.0.0.1:7000,127.0.0.1:7001

Standard library only (plus the client under test; the raw-socket floor uses hiredis.Reader
when it imports), so the same file runs under clustercore's venv, redis-py 8.x's, redis-py
5.0.8's and redis-py-cluster 2.1.3's.

Every client is driven by the same loop over the same pre-generated inputs (keys, values,
slots and GET/SET mixes come from ``--seed``); only the client call differs.  Each run has:

* a warm-up (connections opened, topology known; not timed; the first replies are checked
  against the preloaded values);
* the timed pass: wall time, ``time.process_time()`` (CPU of the whole worker process, all
  threads) and one ``perf_counter_ns`` latency per operation (per pipeline / per MGET / per
  construction for the batched and cold workloads);
* a separate, shorter pass under ``sys.setprofile`` (and ``threading.setprofile``) counting
  Python-level call events and C-level call events per operation.

Bounded: every timed loop stops after ``--ops`` operations or ``--max-seconds`` seconds,
whichever comes first, and reports how many operations it did.
"""

from __future__ import annotations

import argparse
import binascii
import gc
import itertools
import json
import os
import random
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKLOADS = (
    "get_1t", "set_1t", "get_8t", "get_64t", "pipeline_100", "mget_100", "connect_cold",
    "pool_checkout_1t", "pool_checkout_8t",
)
#: What one "operation" is, per workload (for the rate's unit).
UNITS = {"pipeline_100": "cmds", "mget_100": "keys"}
#: What the raw-socket floor (RawSocketAdapter) runs; the others are n/a for it.
FLOOR_WORKLOADS = ("get_1t", "set_1t", "get_8t", "get_64t", "pipeline_100", "mget_100")
BATCH = 100
THREADS = 8
#: Threads of the multi-threaded workloads.
THREADS_OF = {"get_8t": THREADS, "get_64t": 64, "pool_checkout_8t": THREADS}


class NotAvailable(Exception):
    """The client has no such feature (reported as "n/a", not as a failure)."""


def key_name(i: int) -> bytes:
    return b"key:%d" % i


def value_of(i: int, size: int) -> bytes:
    """The preloaded value of key i: deterministic, so SETs never change the data set."""
    head = b"v%07d:" % i
    return head + b"x" * (size - len(head))


def key_slot(key: bytes) -> int:
    """Redis Cluster hash slot (CRC16-XMODEM; the keys here have no hash tags)."""
    return binascii.crc_hqx(key, 0) % 16384


# ------------------------------------------------------------------------------------------
# Client adapters: each returns plain callables bound to the client under test, so the loop
# adds the same (tiny) overhead to every client.


class Adapter:
    name = "?"
    version = "?"
    parser = "?"

    def __init__(self, nodes: Sequence[Tuple[str, int]]) -> None:
        self.nodes = list(nodes)

    def make(self) -> Any:
        raise NotImplementedError

    def close(self, client: Any) -> None:
        client.close()

    def get(self, client: Any) -> Callable[[bytes], Any]:
        return client.get

    def set(self, client: Any) -> Callable[[bytes, bytes], Any]:
        return client.set

    def mget(self, client: Any) -> Callable[[List[bytes]], Any]:
        return client.mget

    def pipeline(self, client: Any) -> Callable[[], Any]:
        if not hasattr(client, "pipeline"):
            raise NotAvailable(f"{type(client).__module__}.{type(client).__name__} has no pipeline()")
        return client.pipeline

    def checkout(self, client: Any) -> Tuple[Callable[[int], Any], Callable[[Any], None]]:
        """(get_connection_by_slot, release) for a warm pooled connection."""
        raise NotImplementedError

    def thread_gets(self, client: Any, n: int) -> List[Callable[[bytes], Any]]:
        """get_8t: the GET callable of each of n threads (a client is shared by all of them)."""
        return [self.get(client)] * n


def export_clustercore(rev: str, dest: str) -> str:
    """Extract clustercore/ as of git revision ``rev`` into ``dest``; return the full sha.

    Lets a run measure a committed revision rather than a working tree that other people may
    be editing while the benchmark runs."""
    import subprocess
    import tarfile

    sha = subprocess.run(["git", "rev-parse", "--verify", rev + "^{commit}"], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout.strip()
    archive = os.path.join(dest, "src.tar")
    subprocess.run(["git", "archive", "--format=tar", "-o", archive, sha, "clustercore"],
                   cwd=REPO, check=True, capture_output=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.name.startswith("/") or ".." in member.name.split("/"):
                raise RuntimeError(f"unexpected path in git archive: {member.name}")
        tar.extractall(dest)
    os.remove(archive)
    return sha


class ClustercoreAdapter(Adapter):
    name = "clustercore"
    #: Where to import clustercore from (``--clustercore-path``); default: this checkout.
    path = REPO

    def __init__(self, nodes: Sequence[Tuple[str, int]]) -> None:
        super().__init__(nodes)
        sys.path.insert(0, self.path)
        import clustercore
        # HIREDIS_AVAILABLE, wherever the revision being measured keeps it (run.py
        # --clustercore-rev). Oldest layout first: the editable install resolves a missing
        # clustercore._protocol to this checkout's, which an old revision must not pick up.
        try:  # before the packages
            from clustercore import resp  # type: ignore[attr-defined]
        except ImportError:
            try:
                from clustercore._protocol import hiredis as resp
            except ImportError:  # before the codec was split
                from clustercore._protocol import resp

        self.mod = clustercore
        self.version = clustercore.__version__
        self.source = os.path.dirname(os.path.dirname(os.path.abspath(clustercore.__file__)))
        self.parser = "hiredis" if resp.HIREDIS_AVAILABLE else "python"

    def make(self) -> Any:
        return self.mod.RedisCluster(startup_nodes=[{"host": h, "port": p} for h, p in self.nodes])

    def checkout(self, client: Any) -> Tuple[Callable[[int], Any], Callable[[Any], None]]:
        pool = client.connection_pool
        return pool.get_connection_by_slot, pool.release


class ClustercoreMuxAdapter(ClustercoreAdapter):
    """clustercore in multiplexed mode: one shared connection per node (docs/multiplexed.md)."""

    name = "clustercore-mux"

    def make(self) -> Any:
        return self.mod.RedisCluster(startup_nodes=[{"host": h, "port": p} for h, p in self.nodes],
                                     multiplexed=True)


class RedisPyAdapter(Adapter):
    """redis-py's own cluster client (redis.cluster.RedisCluster), 4.1 and later."""

    name = "redis-py"

    def __init__(self, nodes: Sequence[Tuple[str, int]]) -> None:
        super().__init__(nodes)
        import redis
        import redis.cluster

        self.redis = redis
        self.version = redis.__version__
        try:
            from redis.utils import HIREDIS_AVAILABLE
        except ImportError:  # pragma: no cover
            HIREDIS_AVAILABLE = False
        self.parser = "hiredis" if HIREDIS_AVAILABLE else "python"

    def make(self) -> Any:
        from redis.cluster import ClusterNode, RedisCluster

        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in self.nodes])

    def mget(self, client: Any) -> Callable[[List[bytes]], Any]:
        # redis-py's cluster mget() refuses keys of several slots; mget_nonatomic splits them.
        return client.mget_nonatomic

    def checkout(self, client: Any) -> Tuple[Callable[[int], Any], Callable[[Any], None]]:
        # The closest equivalent of get_connection_by_slot: slot -> primary node -> that node's
        # redis.ConnectionPool (rc.get_redis_connection(node).connection_pool) -> get_connection.
        import inspect

        nm = client.nodes_manager
        node_of = nm.get_node_from_slot
        for node in client.get_nodes():
            client.get_redis_connection(node)
        param = inspect.signature(
            client.get_redis_connection(client.get_nodes()[0]).connection_pool.get_connection
        ).parameters.get("command_name")
        needs_name = param is not None and param.default is inspect.Parameter.empty
        get_redis = client.get_redis_connection

        if needs_name:  # redis-py 5.x: get_connection(command_name, *keys, **options)
            def get(slot: int) -> Any:
                pool = get_redis(node_of(slot)).connection_pool
                return pool, pool.get_connection("GET")
        else:  # redis-py 6+: get_connection() (the name is deprecated)
            def get(slot: int) -> Any:
                pool = get_redis(node_of(slot)).connection_pool
                return pool, pool.get_connection()

        def release(pair: Any) -> None:
            pair[0].release(pair[1])

        return get, release


class RedisPyClusterAdapter(Adapter):
    """redis-py-cluster 2.1.3 (rediscluster.RedisCluster, on redis-py 3.5.3)."""

    name = "redis-py-cluster"

    def __init__(self, nodes: Sequence[Tuple[str, int]]) -> None:
        super().__init__(nodes)
        import redis
        import redis.connection
        import rediscluster

        self.mod = rediscluster
        self.version = f"{rediscluster.__version__} (redis {redis.__version__})"
        self.parser = "hiredis" if redis.connection.HIREDIS_AVAILABLE else "python"

    def make(self) -> Any:
        return self.mod.RedisCluster(startup_nodes=[{"host": h, "port": p} for h, p in self.nodes])

    def close(self, client: Any) -> None:
        client.connection_pool.disconnect()

    def checkout(self, client: Any) -> Tuple[Callable[[int], Any], Callable[[Any], None]]:
        pool = client.connection_pool
        return pool.get_connection_by_slot, pool.release


class _RespCounter:
    """Fallback when hiredis is not importable: splits +, -, :, $ replies (all GET/SET return).

    Same interface as ``hiredis.Reader`` (feed(), gets() -> reply or False when incomplete)."""

    __slots__ = ("buf", "pos")

    def __init__(self) -> None:
        self.buf = b""
        self.pos = 0

    def feed(self, data: bytes) -> None:
        self.buf = self.buf[self.pos:] + data
        self.pos = 0

    def gets(self) -> Any:
        buf, pos = self.buf, self.pos
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return False
        kind = buf[pos:pos + 1]
        if kind == b"$":
            n = int(buf[pos + 1:end])
            if n < 0:
                self.pos = end + 2
                return None
            stop = end + 2 + n + 2
            if len(buf) < stop:
                return False
            self.pos = stop
            return buf[end + 2:stop - 2]
        if kind in (b"+", b":"):
            self.pos = end + 2
            return buf[pos + 1:end]
        if kind == b"-":
            self.pos = end + 2
            return RuntimeError(buf[pos + 1:end].decode(errors="replace"))
        raise RuntimeError(f"unexpected reply {buf[pos:pos + 60]!r}")


def _reader_class() -> Any:
    """hiredis.Reader when it imports in this venv, else the minimal _RespCounter."""
    try:
        from hiredis import Reader
    except ImportError:
        return _RespCounter
    return Reader


class _RawConn:
    """The raw-socket floor's "client": one socket (and one reply reader) per primary."""

    __slots__ = ("by_slot", "node_of", "owners", "readers", "socks", "threads")

    def __init__(self, owners: List[str]) -> None:
        import socket

        addrs = sorted(set(owners))
        self.threads: List[_RawConn] = []  # get_8t: the other threads' connections
        self.socks: List[Any] = []
        try:
            for addr in addrs:
                host, _, port = addr.rpartition(":")
                sock = socket.create_connection((host, int(port)))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.socks.append(sock)
        except BaseException:
            self.close()
            raise
        self.owners = owners
        index = {a: i for i, a in enumerate(addrs)}
        self.node_of = [index[a] for a in owners]                  # slot -> node index
        self.by_slot = [self.socks[i] for i in self.node_of]      # slot -> socket
        reader = _reader_class()
        self.readers = [reader() for _ in addrs]

    def close(self) -> None:
        for conn in self.threads:
            conn.close()
        for sock in self.socks:
            sock.close()


class RawSocketAdapter(Adapter):
    """Not a client: the least any Python client must do per command (a reference floor).

    One socket per primary (the slot map comes from ``--slot-map``, written by run.py from
    CLUSTER NODES via redis-cli); no pool, no error handling.

    * get_1t / set_1t: the command packed with one bytes %-format, one sendall(), recv() until
      the (bulk or simple-string) reply is complete; the value is sliced out, not parsed.
    * get_8t: the same function, but each of the 8 threads has its own sockets (one per
      primary), opened before the timed pass: a raw socket cannot be shared.
    * pipeline_100 / mget_100: per command, slot -> owning primary and one bytes %-format into
      that primary's list; then one sendall() per primary and, per primary, recv() + a reply
      reader (hiredis.Reader when importable, else ``_RespCounter``) until exactly as many
      complete replies as commands sent (raises on a mismatch).  mget_100 sends one GET per
      key.  Replies come back grouped by primary, not in command order (no reordering)."""

    name = "raw-socket"
    version = "stdlib socket"
    slot_map_file = ""

    def __init__(self, nodes: Sequence[Tuple[str, int]]) -> None:
        super().__init__(nodes)
        # Reported as the "parser"; only pipeline_100 and mget_100 use it.
        self.parser = "minimal counter" if _reader_class() is _RespCounter else "hiredis"

    def make(self) -> Any:
        with open(self.slot_map_file) as f:
            owners = json.load(f)
        return _RawConn(owners)

    def close(self, client: Any) -> None:
        client.close()

    def thread_gets(self, client: Any, n: int) -> List[Callable[[bytes], Any]]:
        while len(client.threads) < n - 1:
            client.threads.append(_RawConn(client.owners))
        return [self.get(client)] + [self.get(c) for c in client.threads[:n - 1]]

    def get(self, client: Any) -> Callable[[bytes], Any]:
        by_slot = client.by_slot
        crc = binascii.crc_hqx

        def get(key: bytes) -> Any:
            sock = by_slot[crc(key, 0) % 16384]
            sock.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key))
            data = sock.recv(65536)
            end = data.find(b"\r\n")
            while end < 0:
                data += sock.recv(65536)
                end = data.find(b"\r\n")
            if data[:1] != b"$":
                raise RuntimeError(f"unexpected reply {data[:60]!r}")
            want = end + 2 + int(data[1:end]) + 2
            while len(data) < want:
                data += sock.recv(65536)
            return data[end + 2:want - 2]

        return get

    def set(self, client: Any) -> Callable[[bytes, bytes], Any]:
        by_slot = client.by_slot
        crc = binascii.crc_hqx

        def set_(key: bytes, value: bytes) -> Any:
            sock = by_slot[crc(key, 0) % 16384]
            sock.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                         % (len(key), key, len(value), value))
            data = sock.recv(65536)
            while not data.endswith(b"\r\n"):
                data += sock.recv(65536)
            if data != b"+OK\r\n":
                raise RuntimeError(f"unexpected reply {data[:60]!r}")
            return True

        return set_

    @staticmethod
    def _exchange(client: Any) -> Callable[[List[List[bytes]]], List[Any]]:
        """exchange(cmds_by_node): one sendall per node, then read each node's replies."""
        socks, readers = client.socks, client.readers

        def exchange(cmds_by_node: List[List[bytes]]) -> List[Any]:
            for i, cmds in enumerate(cmds_by_node):
                if cmds:
                    socks[i].sendall(b"".join(cmds))
            out: List[Any] = []
            append = out.append
            for i, cmds in enumerate(cmds_by_node):
                if not cmds:
                    continue
                sock, reader = socks[i], readers[i]
                want = len(cmds)
                got = 0
                while got < want:
                    data = sock.recv(65536)
                    if not data:
                        raise ConnectionError(f"{sock.getpeername()} closed the connection")
                    reader.feed(data)
                    reply = reader.gets()
                    while reply is not False:
                        append(reply)
                        got += 1
                        reply = reader.gets()
                if got != want:
                    raise RuntimeError(f"{sock.getpeername()}: {got} replies to {want} commands")
            return out

        return exchange

    def pipeline(self, client: Any) -> Callable[[], Any]:
        node_of, nodes = client.node_of, len(client.socks)
        exchange = self._exchange(client)
        crc = binascii.crc_hqx

        class Pipe:
            __slots__ = ("cmds",)

            def __init__(self) -> None:
                self.cmds: List[List[bytes]] = [[] for _ in range(nodes)]

            def get(self, key: bytes) -> None:
                self.cmds[node_of[crc(key, 0) % 16384]].append(
                    b"*2\r\n$3\r\nGET\r\n$%d\r\n%b\r\n" % (len(key), key))

            def set(self, key: bytes, value: bytes) -> None:
                self.cmds[node_of[crc(key, 0) % 16384]].append(
                    b"*3\r\n$3\r\nSET\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n"
                    % (len(key), key, len(value), value))

            def execute(self) -> List[Any]:
                return exchange(self.cmds)

        return Pipe

    def mget(self, client: Any) -> Callable[[List[bytes]], Any]:
        node_of, nodes = client.node_of, len(client.socks)
        exchange = self._exchange(client)
        crc = binascii.crc_hqx

        def mget(keys: List[bytes]) -> List[Any]:
            cmds: List[List[bytes]] = [[] for _ in range(nodes)]
            for key in keys:
                cmds[node_of[crc(key, 0) % 16384]].append(
                    b"*2\r\n$3\r\nGET\r\n$%d\r\n%b\r\n" % (len(key), key))
            return exchange(cmds)

        return mget

    def checkout(self, client: Any) -> Tuple[Callable[[int], Any], Callable[[Any], None]]:
        raise NotAvailable("the raw-socket floor has no pool")


ADAPTERS = {
    "clustercore": ClustercoreAdapter,
    "clustercore-mux": ClustercoreMuxAdapter,
    "redis-py": RedisPyAdapter,
    "redis-py-cluster": RedisPyClusterAdapter,
    "raw-socket": RawSocketAdapter,
}


# ------------------------------------------------------------------------------------------
# Inputs


class Inputs:
    """Pre-generated, seed-determined inputs shared by every client."""

    def __init__(self, nkeys: int, value_size: int, seed: int, count: int) -> None:
        rng = random.Random(seed)
        self.nkeys = nkeys
        self.value_size = value_size
        self.idx = [rng.randrange(nkeys) for _ in range(count)]
        self.keys = [key_name(i) for i in self.idx]
        self.values = [value_of(i, value_size) for i in self.idx]
        self.slots = [key_slot(k) for k in self.keys]
        self.is_set = [rng.random() < 0.5 for _ in range(count)]


# ------------------------------------------------------------------------------------------
# Loops. Each returns (ops_done, latencies_ns); the caller times the whole call.


def _deadline(max_seconds: float) -> float:
    return time.perf_counter() + max_seconds


def loop_get(get: Callable[[bytes], Any], keys: List[bytes], max_s: float,
             lat: Optional[List[int]]) -> int:
    now = time.perf_counter_ns
    end = _deadline(max_s)
    done = 0
    if lat is None:
        for k in keys:
            get(k)
        return len(keys)
    append = lat.append
    for n in range(0, len(keys), 256):
        for k in keys[n:n + 256]:
            t0 = now()
            get(k)
            append(now() - t0)
        done = min(n + 256, len(keys))
        if time.perf_counter() > end:
            break
    return done


def loop_set(set_: Callable[[bytes, bytes], Any], keys: List[bytes], values: List[bytes],
             max_s: float, lat: Optional[List[int]]) -> int:
    now = time.perf_counter_ns
    end = _deadline(max_s)
    done = 0
    pairs = list(zip(keys, values))
    if lat is None:
        for k, v in pairs:
            set_(k, v)
        return len(pairs)
    append = lat.append
    for n in range(0, len(pairs), 256):
        for k, v in pairs[n:n + 256]:
            t0 = now()
            set_(k, v)
            append(now() - t0)
        done = min(n + 256, len(pairs))
        if time.perf_counter() > end:
            break
    return done


def loop_checkout(get: Callable[[int], Any], release: Callable[[Any], None], slots: List[int],
                  max_s: float, lat: Optional[List[int]]) -> int:
    now = time.perf_counter_ns
    end = _deadline(max_s)
    done = 0
    if lat is None:
        for s in slots:
            release(get(s))
        return len(slots)
    append = lat.append
    for n in range(0, len(slots), 256):
        for s in slots[n:n + 256]:
            t0 = now()
            release(get(s))
            append(now() - t0)
        done = min(n + 256, len(slots))
        if time.perf_counter() > end:
            break
    return done


def loop_pipeline(make_pipe: Callable[[], Any], batches: List[List[Tuple[bool, bytes, bytes]]],
                  max_s: float, lat: Optional[List[int]]) -> int:
    now = time.perf_counter_ns
    end = _deadline(max_s)
    done = 0
    for batch in batches:
        t0 = now()
        pipe = make_pipe()
        for is_set, k, v in batch:
            if is_set:
                pipe.set(k, v)
            else:
                pipe.get(k)
        pipe.execute()
        if lat is not None:
            lat.append(now() - t0)
        done += len(batch)
        if lat is not None and time.perf_counter() > end:
            break
    return done


def loop_mget(mget: Callable[[List[bytes]], Any], batches: List[List[bytes]], max_s: float,
              lat: Optional[List[int]]) -> int:
    now = time.perf_counter_ns
    end = _deadline(max_s)
    done = 0
    for batch in batches:
        t0 = now()
        mget(batch)
        if lat is not None:
            lat.append(now() - t0)
        done += len(batch)
        if lat is not None and time.perf_counter() > end:
            break
    return done


# ------------------------------------------------------------------------------------------
# Call counting


class CallCounter:
    """Counts 'call' (Python functions) and 'c_call' (builtins/C methods) profile events."""

    def __init__(self) -> None:
        self.py = itertools.count()
        self.c = itertools.count()
        py_next, c_next = self.py.__next__, self.c.__next__

        def hook(frame: Any, event: str, arg: Any) -> None:
            if event == "call":
                py_next()
            elif event == "c_call":
                c_next()

        self.hook = hook

    def __enter__(self) -> CallCounter:
        threading.setprofile(self.hook)
        sys.setprofile(self.hook)
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]

    @staticmethod
    def value(counter: itertools.count[int]) -> int:
        return int(repr(counter)[6:-1])


# ------------------------------------------------------------------------------------------
# Running one workload


def run_threads(n: int, target: Callable[[int], None]) -> float:
    """Start n threads running target(i) together; return the wall time from start to the end."""
    barrier = threading.Barrier(n + 1)
    errors: List[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return wall


def percentile(sorted_ns: List[int], q: float) -> float:
    if not sorted_ns:
        return float("nan")
    i = min(len(sorted_ns) - 1, max(0, round(q * (len(sorted_ns) - 1))))
    return sorted_ns[i] / 1000.0


def check_values(adapter: Adapter, client: Any, inputs: Inputs) -> None:
    """The preloaded data set is there and the client returns bytes values."""
    get = adapter.get(client)
    for n in range(5):
        got = get(inputs.keys[n])
        want = inputs.values[n]
        if got != want:
            raise RuntimeError(f"{adapter.name}: GET {inputs.keys[n]!r} returned {got!r:.60}, "
                               f"expected {want!r:.60} (was the cluster preloaded?)")


def same_replies(got: Sequence[Any], want: Sequence[Any]) -> bool:
    """The same replies in any order (the raw-socket floor returns them grouped by node)."""
    return sorted(map(repr, got)) == sorted(map(repr, want))


def run_workload(adapter: Adapter, workload: str, ops: int, max_s: float, calls_ops: int,
                 inputs: Inputs) -> Dict[str, Any]:
    res: Dict[str, Any] = {}
    if isinstance(adapter, RawSocketAdapter) and workload not in FLOOR_WORKLOADS:
        raise NotAvailable("the raw-socket floor only does " + ", ".join(FLOOR_WORKLOADS))
    warm = max(1, min(ops // 10, 1000))
    lat: List[int] = []

    if workload == "connect_cold":
        key = inputs.keys[0]
        # One untimed round first so that module-level lazy imports are not charged to run 1.
        c = adapter.make()
        adapter.get(c)(key)
        adapter.close(c)
        cpu = 0.0
        wall = 0.0
        end = _deadline(max_s)
        done = 0
        for _ in range(ops):
            c0 = time.process_time()
            t0 = time.perf_counter_ns()
            c = adapter.make()
            adapter.get(c)(key)
            t1 = time.perf_counter_ns()
            c1 = time.process_time()
            adapter.close(c)
            lat.append(t1 - t0)
            wall += (t1 - t0) / 1e9
            cpu += c1 - c0
            done += 1
            if time.perf_counter() > end:
                break
        with CallCounter() as cc:
            for _ in range(calls_ops):
                c = adapter.make()
                adapter.get(c)(key)
                sys.setprofile(None)
                threading.setprofile(None)  # type: ignore[arg-type]
                adapter.close(c)  # closing is not part of the measure
                threading.setprofile(cc.hook)
                sys.setprofile(cc.hook)
        res.update(ops=done, wall_s=wall, cpu_s=cpu, calls_ops=calls_ops)
        res.update(py_calls=CallCounter.value(cc.py), c_calls=CallCounter.value(cc.c))
        return _finish(res, lat)

    client = adapter.make()
    try:
        check_values(adapter, client, inputs)
        keys, values, slots = inputs.keys, inputs.values, inputs.slots

        if workload in ("get_1t", "set_1t", "pool_checkout_1t"):
            if workload == "get_1t":
                fn = adapter.get(client)
                def body(k: List[bytes], s: List[int], v: List[bytes], m: float,
                         lt: Optional[List[int]]) -> int:
                    return loop_get(fn, k, m, lt)
            elif workload == "set_1t":
                fn2 = adapter.set(client)
                def body(k: List[bytes], s: List[int], v: List[bytes], m: float,
                         lt: Optional[List[int]]) -> int:
                    return loop_set(fn2, k, v, m, lt)
            else:
                get_c, rel = adapter.checkout(client)
                def body(k: List[bytes], s: List[int], v: List[bytes], m: float,
                         lt: Optional[List[int]]) -> int:
                    return loop_checkout(get_c, rel, s, m, lt)
            body(keys[:warm], slots[:warm], values[:warm], max_s, None)
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            done = body(keys[:ops], slots[:ops], values[:ops], max_s, lat)
            t1, c1 = time.perf_counter(), time.process_time()
            with CallCounter() as cc:
                body(keys[:calls_ops], slots[:calls_ops], values[:calls_ops], max_s, None)
            res.update(ops=done, wall_s=t1 - t0, cpu_s=c1 - c0, calls_ops=calls_ops)

        elif workload in THREADS_OF:
            n_threads = THREADS_OF[workload]
            if workload != "pool_checkout_8t":
                # The same callable for every thread, except for the raw-socket floor, whose
                # threads each get their own sockets (opened here, before any pass).
                fns = adapter.thread_gets(client, n_threads)
                def one(i: int, k: List[bytes], s: List[int], m: float,
                        lt: Optional[List[int]]) -> int:
                    return loop_get(fns[i], k, m, lt)
            else:
                get_c, rel = adapter.checkout(client)
                def one(i: int, k: List[bytes], s: List[int], m: float,
                        lt: Optional[List[int]]) -> int:
                    return loop_checkout(get_c, rel, s, m, lt)
            per = max(1, ops // n_threads)
            per_warm = max(1, warm // n_threads)
            per_calls = max(1, calls_ops // n_threads)
            lats: List[List[int]] = [[] for _ in range(n_threads)]
            counts = [0] * n_threads

            def warm_body(i: int) -> None:
                lo = i * per_warm
                one(i, keys[lo:lo + per_warm], slots[lo:lo + per_warm], max_s, None)

            def timed_body(i: int) -> None:
                lo = i * per
                counts[i] = one(i, keys[lo:lo + per], slots[lo:lo + per], max_s, lats[i])

            def calls_body(i: int) -> None:
                lo = i * per_calls
                one(i, keys[lo:lo + per_calls], slots[lo:lo + per_calls], max_s, None)

            run_threads(n_threads, warm_body)
            gc.collect()
            c0 = time.process_time()
            wall = run_threads(n_threads, timed_body)
            c1 = time.process_time()
            with CallCounter() as cc:
                run_threads(n_threads, calls_body)
            for part in lats:
                lat.extend(part)
            res.update(ops=sum(counts), wall_s=wall, cpu_s=c1 - c0,
                       calls_ops=per_calls * n_threads, threads=n_threads)

        elif workload == "pipeline_100":
            make_pipe = adapter.pipeline(client)
            nb = max(1, ops // BATCH)
            batches = [[(inputs.is_set[j], keys[j], values[j])
                        for j in range(b * BATCH, (b + 1) * BATCH)] for b in range(nb)]
            if isinstance(adapter, RawSocketAdapter):
                # The floor's replies come grouped by node: compare as multisets (untimed).
                pipe = make_pipe()
                for is_set, k, v in batches[0]:
                    if is_set:
                        pipe.set(k, v)
                    else:
                        pipe.get(k)
                want = [b"OK" if is_set else v for is_set, _, v in batches[0]]
                if not same_replies(pipe.execute(), want):
                    raise RuntimeError(f"{adapter.name}: pipeline returned wrong replies")
            wb = max(1, min(nb // 10, 10))
            cb = max(1, calls_ops // BATCH)
            loop_pipeline(make_pipe, batches[:wb], max_s, None)
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            done = loop_pipeline(make_pipe, batches, max_s, lat)
            t1, c1 = time.perf_counter(), time.process_time()
            with CallCounter() as cc:
                loop_pipeline(make_pipe, batches[:cb], max_s, None)
            res.update(ops=done, wall_s=t1 - t0, cpu_s=c1 - c0, calls_ops=cb * BATCH)

        elif workload == "mget_100":
            mget = adapter.mget(client)
            nb = max(1, ops // BATCH)
            batches = [keys[b * BATCH:(b + 1) * BATCH] for b in range(nb)]
            got = mget(batches[0])
            if not (same_replies(got, values[:BATCH]) if isinstance(adapter, RawSocketAdapter)
                    else list(got) == values[:BATCH]):
                raise RuntimeError(f"{adapter.name}: MGET returned wrong values")
            wb = max(1, min(nb // 10, 10))
            cb = max(1, calls_ops // BATCH)
            loop_mget(mget, batches[:wb], max_s, None)
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            done = loop_mget(mget, batches, max_s, lat)
            t1, c1 = time.perf_counter(), time.process_time()
            with CallCounter() as cc:
                loop_mget(mget, batches[:cb], max_s, None)
            res.update(ops=done, wall_s=t1 - t0, cpu_s=c1 - c0, calls_ops=cb * BATCH)
        else:
            raise SystemExit(f"unknown workload {workload!r}")
        res.update(py_calls=CallCounter.value(cc.py), c_calls=CallCounter.value(cc.c))
    finally:
        try:
            adapter.close(client)
        except Exception:
            pass
    return _finish(res, lat)


def _finish(res: Dict[str, Any], lat: List[int]) -> Dict[str, Any]:
    lat.sort()
    ops = res["ops"]
    res["rate"] = ops / res["wall_s"] if res["wall_s"] > 0 else None
    res["cpu_us_per_op"] = res["cpu_s"] * 1e6 / ops if ops else None
    res["samples"] = len(lat)
    res["p50_us"] = percentile(lat, 0.50)
    res["p99_us"] = percentile(lat, 0.99)
    res["max_us"] = lat[-1] / 1000.0 if lat else None
    co = res.pop("calls_ops")
    res["py_calls_per_op"] = res.pop("py_calls") / co
    res["c_calls_per_op"] = res.pop("c_calls") / co
    return res


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--client", required=True, choices=sorted(ADAPTERS))
    ap.add_argument("--workload", required=True, choices=WORKLOADS)
    ap.add_argument("--ops", type=int, required=True,
                    help="operations in the timed pass (commands, keys or constructions)")
    ap.add_argument("--calls-ops", type=int, default=0,
                    help="operations in the call-counting pass (default: ops/10, at least 1)")
    ap.add_argument("--nodes", required=True, help="host:port,host:port,... startup nodes")
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=30.0,
                    help="stop the timed loop after this long (reported ops shrink)")
    ap.add_argument("--clustercore-path", default=REPO,
                    help="directory holding the clustercore package to measure (this checkout)")
    ap.add_argument("--slot-map", default="",
                    help="JSON file: 16384 'host:port' primaries (for --client raw-socket)")
    args = ap.parse_args(argv)
    ClustercoreAdapter.path = args.clustercore_path
    RawSocketAdapter.slot_map_file = args.slot_map
    nodes = []
    for part in args.nodes.split(","):
        host, _, port = part.rpartition(":")
        nodes.append((host, int(port)))
    calls_ops = args.calls_ops or max(1, args.ops // 10)
    out: Dict[str, Any] = {"client": args.client, "workload": args.workload,
                           "unit": UNITS.get(args.workload, "ops"),
                           "python": sys.version.split()[0], "pid": os.getpid()}
    try:
        adapter = ADAPTERS[args.client](nodes)
        out.update(version=adapter.version, parser=adapter.parser)
        if isinstance(adapter, ClustercoreAdapter):
            out["source"] = adapter.source
        count = max(args.ops, calls_ops, 1000) + BATCH
        inputs = Inputs(args.keys, args.value_size, args.seed, count)
        out.update(run_workload(adapter, args.workload, args.ops, args.max_seconds,
                                calls_ops, inputs))
        out["status"] = "ok"
    except NotAvailable as exc:
        out.update(status="n/a", error=str(exc))
    except Exception as exc:
        out.update(status="error", error=f"{type(exc).__name__}: {exc}",
                   traceback=traceback.format_exc()[-2000:])
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
