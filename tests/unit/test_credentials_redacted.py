"""Issue 14 item 5: no error message, log record, repr or wire trace holds a credential.

Each case was reproduced before the fix: from_url errors quoted the URL with its password; a
password holding ``#``, ``?`` or ``/`` gave a bare ValueError quoting its start (read as a
port); CONFIG SET masterauth/requirepass was traced as sent; the pool's config and
connection_kwargs reprs showed the password.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List

import pytest

from clustercore import NodeAddress, RedisCluster
from clustercore._execution.keywords import url_options
from clustercore._execution.pipeline_command import annotate_exception
from clustercore._net.connection import TRACE, ClusterConnection, redact, secret_reply
from clustercore._pool.url import parse_url, redact_url
from clustercore._protocol.reply_encoder import SimpleString
from clustercore.errors import ClusterCoreError, RedisClusterConfigError, ResponseError
from clustercore.testing import FakeCluster
from clustercore.testing.fake.net import FakeNetwork, FakeSession
from tests.unit.test_input_validation import URL_BUILDERS

SECRET = "Zq9xW7kP"
R = b"<redacted>"


def leaks(text: str, secret: str = SECRET) -> bool:
    """Whether ``text`` holds the secret or any 4-character piece of it."""
    return any(secret[i:i + 4] in text for i in range(len(secret) - 3))


def dumped_bytes(text: str) -> bytes:
    """The bytes a wire trace's hex dumps show (the ASCII column splits them across lines)."""
    out = bytearray()
    for line in text.splitlines():
        match = re.match(r"^[0-9a-f]{8}\| ((?:[0-9a-f]{2} ?)+)", line)
        if match:
            out += bytes.fromhex(match.group(1).replace(" ", ""))
    return bytes(out)


# --- URLs ------------------------------------------------------------------------------------------
BUILDERS = URL_BUILDERS  # RedisCluster.from_url, RedisCluster(url=), the pool's from_url


@pytest.mark.parametrize("builder", list(BUILDERS), ids=list(BUILDERS))
@pytest.mark.parametrize("url", [
    f"http://u:{SECRET}@127.0.0.1:7000",          # scheme refused
    f"redis://u:{SECRET}@127.0.0.1:abc",          # port not a number
    f"redis://u:{SECRET}@127.0.0.1:99999",        # port out of range
    f"redis://u:{SECRET}@[::1",                   # unbalanced IPv6 bracket
    f"redis://u:{SECRET}@127.0.0.1:7000/3",       # a database other than 0
])
def test_url_errors_never_show_the_password(builder: str, url: str) -> None:
    with pytest.raises(RedisClusterConfigError) as info:
        BUILDERS[builder](url)
    assert not leaks(str(info.value)) and not leaks(repr(info.value))


def test_a_bad_url_option_is_named_without_the_password() -> None:
    with pytest.raises(RedisClusterConfigError, match="max_connections='abc'") as info:
        RedisCluster.from_url(f"redis://u:{SECRET}@127.0.0.1:7000?max_connections=abc")
    assert not leaks(str(info.value))


@pytest.mark.parametrize("builder", list(BUILDERS), ids=list(BUILDERS))
@pytest.mark.parametrize("password", ["Zq#9xW7kP", "Zq?9xW7kP", "Zq/9xW7kP", "#Zq9xW7kP"])
def test_a_password_with_a_url_delimiter_asks_for_percent_encoding(builder: str,
                                                                   password: str) -> None:
    with pytest.raises(RedisClusterConfigError, match="percent-encode") as info:
        BUILDERS[builder](f"redis://user:{password}@127.0.0.1:7000")
    assert not leaks(str(info.value), password.replace("#", "").replace("?", "")
                     .replace("/", ""))
    assert "Zq" not in str(info.value)


@pytest.mark.parametrize("encoded,password", [("Zq%239xW7kP", "Zq#9xW7kP"),
                                              ("Zq%3F9xW7kP", "Zq?9xW7kP"),
                                              ("Zq%2F9xW7kP", "Zq/9xW7kP")])
def test_the_percent_encoded_password_is_read_back(encoded: str, password: str) -> None:
    url = f"redis://user:{encoded}@127.0.0.1:7000,127.0.0.1:7001?client_name=a@b"
    options = url_options(url)
    assert options["password"] == password and options["client_name"] == "a@b"
    assert [n["port"] for n in options["startup_nodes"]] == [7000, 7001]
    assert parse_url(url.replace(",127.0.0.1:7001", ""),
                     decode_components=True)["password"] == password


def test_redact_url_hides_the_password_only() -> None:
    assert redact_url(f"redis://u:{SECRET}@h:7000/0?a=1") == "redis://u:***@h:7000/0?a=1"
    assert redact_url(f"redis://:{SECRET}@h") == "redis://:***@h"
    assert redact_url("redis://u@h:7000") == "redis://u@h:7000"
    assert redact_url("redis://h:7000") == "redis://h:7000"
    assert redact_url("redis://u:p@ss@h") == "redis://u:***@h"


def test_a_non_str_url_is_refused_without_showing_bytes() -> None:
    with pytest.raises(RedisClusterConfigError, match=r"must be a str; got bytes$") as info:
        RedisCluster.from_url(f"redis://u:{SECRET}@h".encode())
    assert not leaks(str(info.value))


# --- reprs and errors of a client with a password ------------------------------------------------
def test_client_pool_config_and_connection_reprs_hide_the_password() -> None:
    fake = FakeCluster(masters=1, replicas=0, password=SECRET)
    rc = RedisCluster(startup_nodes=fake.startup_nodes, **fake.connection_kwargs())
    pool = rc.connection_pool
    rc.set("k", "v")
    conn = pool.get_connection_by_node(pool.get_node_by_slot(0))
    try:
        for shown in (repr(rc), repr(pool), repr(pool.config), repr(pool.connection_kwargs),
                      repr(conn), repr(rc.get_nodes())):
            assert not leaks(shown), shown
        assert "'password': '***'" in repr(pool.connection_kwargs)
        # still usable: the value is the password, only the repr hides it
        assert pool.connection_kwargs["password"] == SECRET
        assert dict(pool.connection_kwargs)["password"] == SECRET
    finally:
        pool.release(conn)
        rc.close()


def test_a_failed_authentication_shows_no_password_in_errors_or_logs(
        caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeCluster(masters=1, replicas=0, password="the-right-one")
    with caplog.at_level(logging.DEBUG, logger="clustercore"), \
            pytest.raises(ClusterCoreError) as info:
        RedisCluster(startup_nodes=fake.startup_nodes, password=SECRET, transport=fake.network)
    assert "auth" in str(info.value).lower()
    text = "\n".join(r.getMessage() for r in caplog.records)
    for shown in (str(info.value), repr(info.value), text):
        assert not leaks(shown)


def test_a_pipeline_error_annotation_redacts_the_command() -> None:
    error = ResponseError("ERR boom")
    annotate_exception(error, 2, ("CONFIG", "SET", "requirepass", SECRET))
    assert str(error).startswith("Command # 2 (CONFIG SET requirepass <redacted>) of pipeline")
    assert not leaks(str(error))


# --- redact() and the wire trace --------------------------------------------------------------------
def test_redact_hides_config_set_passwords_and_acl_password_rules() -> None:
    assert redact(("CONFIG", "SET", "masterauth", SECRET)) == ("CONFIG", "SET", "masterauth", R)
    assert redact((b"config", b"set", b"REQUIREPASS", SECRET)) == (
        b"config", b"set", b"REQUIREPASS", R)
    assert redact(("CONFIG", "SET", "maxmemory", "1mb", "requirepass", SECRET,
                   "tls-key-file-pass", SECRET)) == (
        "CONFIG", "SET", "maxmemory", "1mb", "requirepass", R, "tls-key-file-pass", R)
    assert redact(("CONFIG", "SET", "maxmemory", "1mb")) == ("CONFIG", "SET", "maxmemory", "1mb")
    assert redact(("ACL", "SETUSER", "bob", "on", f">{SECRET}", "~*", f"<{SECRET}",
                   "#" + "a" * 64, "!" + "b" * 64, "+@all")) == (
        "ACL", "SETUSER", "bob", "on", R, "~*", R, R, R, "+@all")
    assert redact(("CONFIG", "GET", "requirepass")) == ("CONFIG", "GET", "requirepass")


def test_secret_reply_marks_the_commands_whose_reply_may_hold_a_credential() -> None:
    assert secret_reply(("CONFIG", "GET", "*"))
    assert secret_reply((b"acl", b"getuser", b"bob")) and secret_reply(("ACL", "LIST"))
    assert not secret_reply(("GET", "k")) and not secret_reply(("CONFIG", "SET", "a", "b"))
    assert not secret_reply(("PING",))


class AdminServer:
    """A node that answers CONFIG and ACL the way Redis does (the secret echoed by GET)."""

    def __init__(self) -> None:
        self.config: Dict[bytes, bytes] = {b"requirepass": b"", b"masterauth": b""}
        self.data: Dict[bytes, bytes] = {}

    def handle(self, session: FakeSession, args: List[bytes]) -> Any:
        name = args[0].upper()
        if name == b"CONFIG" and args[1].upper() == b"SET":
            for i in range(2, len(args) - 1, 2):
                self.config[args[i].lower()] = args[i + 1]
            return SimpleString(b"OK")
        if name == b"CONFIG" and args[1].upper() == b"GET":
            return [x for k, v in self.config.items() if k == args[2].lower() for x in (k, v)]
        if name == b"ACL" and args[1].upper() == b"SETUSER":
            return ResponseError("ERR unknown command 'ACL', with args beginning with: "
                                 + " ".join(f"'{a.decode()}'" for a in args[1:]))
        if name == b"SET":
            self.data[args[1]] = args[2]
            return SimpleString(b"OK")
        if name == b"GET":
            return self.data.get(args[1])
        return ResponseError(f"ERR unknown command '{args[0].decode()}'")


def test_wire_trace_redacts_config_set_acl_setuser_and_secret_replies(
        caplog: pytest.LogCaptureFixture) -> None:
    net = FakeNetwork()
    address = NodeAddress("127.0.0.1", 7000)
    net.add(address, AdminServer())
    conn = ClusterConnection(address.host, address.port, transport=net)
    with caplog.at_level(TRACE, logger="clustercore.wire"):
        conn.connect()
        assert conn.execute("CONFIG", "SET", "masterauth", SECRET) == b"OK"
        assert conn.execute("CONFIG", "SET", "maxmemory", "1mb", "requirepass", SECRET) == b"OK"
        conn.send_commands([("CONFIG", "SET", "masterauth", SECRET), ("SET", "k", "plain")])
        replies: List[Any] = []
        conn.read_replies(2, replies)
        # the caller gets the secret it asked for; the trace does not show it
        assert conn.execute("CONFIG", "GET", "requirepass") == [b"requirepass", SECRET.encode()]
        with pytest.raises(ResponseError):  # the error quotes the arguments back
            conn.execute("ACL", "SETUSER", "bob", "on", f">{SECRET}")
        assert conn.execute("GET", "k") == b"plain"  # traced in full again
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET.encode() not in dumped_bytes(text) and not leaks(text)
    # the replies to the 3 redacted writes, CONFIG GET and ACL SETUSER: logged by size only
    assert text.count("<redacted: the reply may hold a credential>") == 5
    assert b"masterauth\r\n$10\r\n<redacted>" in dumped_bytes(text)
    assert b"$5\r\nplain\r\n" in dumped_bytes(text)  # the GET's reply is dumped
    conn.disconnect()


# --- the public helper and the integrations (contrib imports only the public package) -----------
def test_redact_url_is_public_and_hides_query_passwords_too() -> None:
    import clustercore

    assert clustercore.redact_url is redact_url and "redact_url" in clustercore.__all__
    assert redact_url(f"redis://h:1?password={SECRET}&max_connections=2") == (
        "redis://h:1?password=***&max_connections=2")
    assert redact_url(f"rediss://u:{SECRET}@h:1?ssl_password={SECRET};a=1#x") == (
        "rediss://u:***@h:1?ssl_password=***;a=1#x")
    assert redact_url(f"redis://h:1?PASSWORD={SECRET}") == "redis://h:1?PASSWORD=***"
    with pytest.raises(TypeError, match=r"got bytes$"):
        redact_url(f"redis://u:{SECRET}@h".encode())  # type: ignore[arg-type]


@pytest.mark.parametrize("builder", list(BUILDERS), ids=list(BUILDERS))
def test_a_query_password_is_not_shown_by_url_errors(builder: str) -> None:
    with pytest.raises(RedisClusterConfigError) as info:
        BUILDERS[builder](f"http://127.0.0.1:7000?password={SECRET}")
    assert not leaks(str(info.value))


DJANGO_URLS = [
    f"http://u:{SECRET}@127.0.0.1:7000",             # scheme refused
    f"redis://u:{SECRET}@127.0.0.1:7000?a=1",        # options in the URL
    f"redis://u:{SECRET}@127.0.0.1:7000/3",          # a database other than 0
    f"redis://u:{SECRET}@127.0.0.1:abc",             # port not a number
    f"redis://u:{SECRET}@",                          # no node
    f"redis://u:{SECRET}@[::1",                      # unbalanced IPv6 bracket
]


@pytest.mark.parametrize("url", DJANGO_URLS)
def test_django_location_errors_never_show_the_password(url: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from clustercore.contrib.django.client import cluster_url_parts

    with pytest.raises(ImproperlyConfigured) as info:
        cluster_url_parts(url)
    assert not leaks(str(info.value)) and "***" in str(info.value)


@pytest.mark.parametrize("password", ["Zq#9xW7kP", "Zq?9xW7kP", "Zq/9xW7kP"])
def test_django_asks_to_percent_encode_a_password_with_a_delimiter(password: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from clustercore.contrib.django.client import cluster_url_parts

    with pytest.raises(ImproperlyConfigured, match="percent-encoded") as info:
        cluster_url_parts(f"redis://user:{password}@127.0.0.1:7000")
    assert "Zq" not in str(info.value) and "9xW7" not in str(info.value)


def test_django_location_of_another_type_and_the_pool_url_hide_the_password() -> None:
    from django.core.exceptions import ImproperlyConfigured

    from clustercore.contrib.django.client import split_location
    from clustercore.contrib.django.redis_compat import DjangoRedisClusterPool

    with pytest.raises(ImproperlyConfigured, match=r"got dict$") as info:
        split_location({"url": f"redis://:{SECRET}@h:1"})  # type: ignore[arg-type]
    assert not leaks(str(info.value))
    with pytest.raises(RedisClusterConfigError, match="db=3") as err:
        DjangoRedisClusterPool.from_url(f"redis://:{SECRET}@127.0.0.1:7000", db=3)
    assert not leaks(str(err.value))


@pytest.mark.parametrize("uri", [
    f"redis://u:{SECRET}@127.0.0.1:7000",                 # not a clustercore:// scheme
    f"clustercore://?password={SECRET}",                  # names no node
])
def test_limits_storage_errors_never_show_the_password(uri: str) -> None:
    from limits.errors import ConfigurationError

    from clustercore.contrib.limits_storage import ClusterCoreStorage

    with pytest.raises(ConfigurationError) as info:
        ClusterCoreStorage(uri)
    assert not leaks(str(info.value))
    with pytest.raises(ConfigurationError, match=r"got a str$") as given:
        ClusterCoreStorage("clustercore://", client=f"redis://:{SECRET}@h:1")  # type: ignore
    assert not leaks(str(given.value))


@pytest.mark.parametrize("key,value", [
    ("URL", f"redis://:{SECRET}@127.0.0.1:7000".encode()),
    ("STARTUP_NODES", f"redis://:{SECRET}@127.0.0.1:7000"),
    ("OPTIONS", [("password", SECRET)]),
])
def test_flask_config_errors_never_show_the_password(key: str, value: Any) -> None:
    from clustercore.contrib.flask.extension import build_client

    config: Dict[str, Any] = {"CLUSTERCORE_STARTUP_NODES": ["127.0.0.1:7000"],
                              f"CLUSTERCORE_{key}": value}
    with pytest.raises(RedisClusterConfigError, match=f"CLUSTERCORE_{key}") as info:
        build_client(config)
    assert not leaks(str(info.value))


def test_flask_client_arguments_never_show_the_password() -> None:
    from flask import Flask

    from clustercore.contrib.flask.caching import ClusterCache
    from clustercore.contrib.flask.extension import ClusterCore
    from clustercore.contrib.flask.session import ClusterSessionInterface

    url = f"redis://:{SECRET}@127.0.0.1:7000"
    app = Flask(__name__)
    app.config["CLUSTERCORE_CLIENT"] = url
    with pytest.raises(RedisClusterConfigError, match="CLUSTERCORE_CLIENT") as info:
        ClusterCore(app)
    errors = [str(info.value)]
    for build in (lambda: ClusterCache(url),  # type: ignore[arg-type]
                  lambda: ClusterSessionInterface(Flask("s"), client=url)):  # type: ignore
        with pytest.raises(TypeError, match="RedisCluster") as type_error:
            build()
        errors.append(str(type_error.value))
    assert all("***" in e and not leaks(e) for e in errors), errors
