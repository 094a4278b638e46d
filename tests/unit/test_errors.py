"""The error tree: reply-prefix mapping, redirect parsing, compatibility names, pickling."""

from __future__ import annotations

import pickle

import pytest

import clustercore
from clustercore import NodeAddress
from clustercore.errors import (
    AskError,
    AuthenticationError,
    BusyLoadingError,
    ClusterCoreError,
    ClusterCrossSlotError,
    ClusterDownError,
    ClusterError,
    ConnectionError,
    ExecAbortError,
    MasterDownError,
    MovedError,
    NoScriptError,
    PoolTimeoutError,
    ProtocolError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
    TryAgainError,
    parse_redirect,
)


@pytest.mark.parametrize(("text", "cls"), [
    ("MOVED 3999 127.0.0.1:6381", MovedError),
    ("ASK 3999 127.0.0.1:6381", AskError),
    ("TRYAGAIN Multiple keys request during rehashing of slot", TryAgainError),
    ("CLUSTERDOWN The cluster is down", ClusterDownError),
    ("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
     MasterDownError),
    ("CROSSSLOT Keys in request don't hash to the same slot", ClusterCrossSlotError),
    ("READONLY You can't write against a read only replica.", ReadOnlyError),
    ("LOADING Redis is loading the dataset in memory", BusyLoadingError),
    ("NOSCRIPT No matching script. Please use EVAL.", NoScriptError),
    ("EXECABORT Transaction discarded because of previous errors.", ExecAbortError),
    ("NOAUTH Authentication required.", AuthenticationError),
    ("WRONGPASS invalid username-password pair or user is disabled.", AuthenticationError),
    ("ERR invalid password", AuthenticationError),
    ("ERR max number of clients reached", ConnectionError),
    ("ERR unknown command 'FOO'", ResponseError),
    ("weird lowercase error", ResponseError),
    ("", ResponseError),
])
def test_prefix_table(text: str, cls: type) -> None:
    err = ResponseError(text)
    assert isinstance(err, cls)
    assert isinstance(err, ResponseError)
    assert str(err) == text


def test_redirect_parsing_ipv4_ipv6_and_empty_host() -> None:
    assert parse_redirect("MOVED 1 10.0.0.1:7000") == (1, "10.0.0.1", 7000)
    assert parse_redirect("MOVED 1 ::1:7000") == (1, "::1", 7000)
    assert parse_redirect("ASK 16383 [fe80::1]:7000") == (16383, "fe80::1", 7000)
    assert parse_redirect("ASK 7 :7000") == (7, "", 7000)
    # digits the way the wire carries them only: a bare ValueError never escapes
    for bad in ("MOVED \u00b2 10.0.0.1:7000", "MOVED 1 10.0.0.1:\u00b9", "MOVED 1 h:0",
                "MOVED 1 h:65536", "MOVED 1 h:99999999999", "MOVED 16384 h:1",
                "MOVED \u0661 h:1", "MOVED 1 h:-1"):
        with pytest.raises(ProtocolError):
            parse_redirect(bad)
    assert parse_redirect("MOVED 0 h:65535") == (0, "h", 65535)
    for bad in ("MOVED", "MOVED x 1:2", "MOVED 1 nohostport", "MOVED 16384 h:1", "MOVED 1 h:p"):
        with pytest.raises(ProtocolError):
            parse_redirect(bad)


def test_ask_target_fills_empty_host_from_replying_node() -> None:
    err = ResponseError("ASK 7 :7001")
    assert isinstance(err, AskError)
    err.node = NodeAddress("10.1.1.1", 7000)
    assert err.target == NodeAddress("10.1.1.1", 7001)
    assert err.node_addr == ("", 7001)
    assert (err.slot_id, err.port) == (7, 7001)


def test_redis_py_cluster_compat_hierarchy() -> None:
    assert issubclass(MovedError, AskError)
    assert issubclass(ClusterDownError, ClusterError) and issubclass(ClusterDownError, ResponseError)
    assert issubclass(MasterDownError, ClusterDownError)
    assert issubclass(PoolTimeoutError, ConnectionError)
    assert RedisClusterException is ClusterCoreError
    for name in ("RedisClusterException", "RedisClusterError", "ClusterError", "ClusterDownError",
                 "ClusterCrossSlotError", "MovedError", "AskError", "TryAgainError",
                 "MasterDownError", "SlotNotCoveredError", "RedisClusterConfigError"):
        assert issubclass(getattr(clustercore, name), ClusterCoreError), name


def test_errors_pickle_with_node() -> None:
    err = ResponseError("MOVED 5 h:1", node=NodeAddress("a", 1))
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is MovedError and back.node == NodeAddress("a", 1) and back.slot_id == 5
    plain = ConnectionError("boom", node=NodeAddress("a", 1))
    assert "a:1" in str(plain)
