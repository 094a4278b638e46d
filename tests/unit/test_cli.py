"""The command line without a cluster: parsing, exit codes, one-line errors, passwords never
shown, the missing-extra message, the plain-words diagnostics (against sockets that refuse or
that accept and never answer)."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator, Tuple

import pytest
from click.testing import CliRunner

import clustercore
from clustercore.cli.app import cli
from clustercore.cli.bench import percentile
from clustercore.cli.connect import parse_seed
from clustercore.cli.devcluster import pid_alive
from clustercore.cli.errors import CliError, Exit, describe, scrub

SECRET = "pa55-Word!never-shown"
COMMANDS = [["info"], ["ping"], ["check"], ["bench"], ["demo"], ["cluster"], ["cluster", "up"],
            ["cluster", "down"], ["cluster", "status"]]


def run(*args: str, env: dict[str, str] | None = None, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


@pytest.fixture
def silent_server() -> Iterator[Tuple[int, threading.Event]]:
    """A loopback listener that accepts connections and never answers (a frozen node)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()
    held = []

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], stop
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_examples(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert "Usage: " in result.output


def test_top_level_help_lists_the_exit_codes() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for line in ("0  ok", "1  a check found a problem", "2  usage error", "3  cannot connect"):
        assert line in result.output
    assert [int(e) for e in Exit] == [0, 1, 2, 3, 130, 70]


@pytest.mark.parametrize("command", ["info", "ping", "check", "bench"])
def test_connection_options_everywhere(command: str) -> None:
    out = run(command, "--help").output
    for option in ("--tls", "--ca", "--cert", "--key", "--insecure-hostname", "--user",
                   "--password-env", "--ask-password", "--timeout", "--remap"):
        assert option in out, (command, option)
    assert "--password " not in out  # no way to put a password on argv


def test_seeds_parse() -> None:
    assert parse_seed("127.0.0.1:7000") == ([("127.0.0.1", 7000)], None, False)
    assert parse_seed("[::1]:7001") == ([("::1", 7001)], None, False)
    assert parse_seed("redis://app@h1:1,h2:2/0") == ([("h1", 1), ("h2", 2)], "app", False)
    assert parse_seed("rediss://redis.example:6380") == ([("redis.example", 6380)], None, True)


@pytest.mark.parametrize("seed, fragment", [
    ("localhost", "not a host:port: 'localhost'"),
    ("h:0", "port out of range in 'h:0'"),
    ("h:99999", "port out of range"),
    ("http://h:1", "unknown URL scheme 'http'"),
    ("redis://", "no host:port"),
])
def test_bad_seed_is_a_usage_error_naming_it(seed: str, fragment: str) -> None:
    with pytest.raises(CliError) as info:
        parse_seed(seed)
    assert fragment in info.value.message
    result = run("info", seed)
    assert result.exit_code == 2
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_url_with_password_is_refused_without_showing_it() -> None:
    result = run("info", f"redis://app:{SECRET}@127.0.0.1:7000")
    assert result.exit_code == 2
    assert "--password-env" in result.output
    assert SECRET not in result.output


def test_no_seed_is_a_usage_error() -> None:
    result = run("check")
    assert result.exit_code == 2
    assert "give at least one seed" in result.output


def test_unknown_option_is_a_usage_error() -> None:
    assert run("info", "--no-such-option").exit_code == 2
    assert run("no-such-command").exit_code == 2


def test_unset_password_env_names_the_variable() -> None:
    result = run("info", "127.0.0.1:1", "--password-env", "CLUSTERCORE_TEST_UNSET_VAR",
                 env={"CLUSTERCORE_TEST_UNSET_VAR": None})  # type: ignore[dict-item]
    assert result.exit_code == 2
    assert "CLUSTERCORE_TEST_UNSET_VAR" in result.output and "not set" in result.output


def test_bad_option_values_are_usage_errors(closed_port: int) -> None:
    assert run("bench", f"127.0.0.1:{closed_port}", "--ops", "get,nope").exit_code == 2
    assert "unknown operation" in run("bench", f"127.0.0.1:{closed_port}", "--ops",
                                      "nope").output
    assert run("info", f"127.0.0.1:{closed_port}", "--timeout", "0").exit_code == 2
    assert run("info", f"127.0.0.1:{closed_port}", "--remap", "a:1").exit_code == 2
    assert run("info", f"127.0.0.1:{closed_port}", "--cert", "x.pem").exit_code == 2
    assert run("bench", f"127.0.0.1:{closed_port}", "--requests", "0").exit_code == 2


def test_cannot_connect_is_exit_3_in_one_line_without_the_password(closed_port: int) -> None:
    result = run("info", f"127.0.0.1:{closed_port}", "--password-env", "CC_PW",
                 "--timeout", "0.5", env={"CC_PW": SECRET})
    assert result.exit_code == 3
    lines = result.output.strip().splitlines()
    assert lines == [f"clustercore: error: cannot reach the cluster: 127.0.0.1:{closed_port}: "
                     "connection refused: nothing listens on that address"]
    assert SECRET not in result.output


def test_debug_shows_the_traceback_but_not_the_password(closed_port: int) -> None:
    result = run("--debug", "info", f"127.0.0.1:{closed_port}", "--password-env", "CC_PW",
                 "--timeout", "0.5", env={"CC_PW": SECRET})
    assert result.exit_code == 3
    assert "Traceback (most recent call last)" in result.output
    assert SECRET not in result.output


def test_check_and_ping_report_an_unreachable_cluster_as_a_failed_check(closed_port: int) -> None:
    for command in ("check", "ping"):
        result = run(command, f"127.0.0.1:{closed_port}", "--timeout", "0.5")
        assert result.exit_code == 1, command
        assert "connection refused" in result.output


def test_ask_password_prompts_without_echo(closed_port: int) -> None:
    result = run("info", f"127.0.0.1:{closed_port}", "--ask-password", "--timeout", "0.5",
                 input=SECRET + "\n")
    assert "Password" in result.output
    assert SECRET not in result.output
    assert result.exit_code == 3


def test_password_env_and_prompt_together_is_a_usage_error() -> None:
    result = run("info", "127.0.0.1:1", "--ask-password", "--password-env", "X", env={"X": "1"})
    assert result.exit_code == 2


def test_a_node_that_accepts_but_never_answers(silent_server: Tuple[int, threading.Event]) -> None:
    port, _stop = silent_server
    result = run("check", f"127.0.0.1:{port}", "--timeout", "0.3")
    assert result.exit_code == 1
    assert f"127.0.0.1:{port}: accepts connections but did not answer within 0.3s" in result.output
    info = run("info", f"127.0.0.1:{port}", "--timeout", "0.3")
    assert info.exit_code == 3
    assert "did not answer within 0.3s" in info.output


def test_tls_to_a_silent_server_says_the_handshake_got_no_answer(
        silent_server: Tuple[int, threading.Event]) -> None:
    port, _stop = silent_server
    result = run("check", f"rediss://127.0.0.1:{port}", "--timeout", "0.3")
    assert result.exit_code == 1
    assert "TLS handshake got no answer within 0.3s" in result.output


def _chained(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize("exc, words", [
    (clustercore.AuthenticationError(
        "authentication failed (AUTH): WRONGPASS invalid username-password pair"),
     "wrong password"),
    (clustercore.AuthenticationError("authentication required: NOAUTH Authentication required."),
     "requires a password"),
    (_chained(clustercore.ConnectionError("TLS certificate verification failed"),
              ssl.SSLCertVerificationError(1, "certificate verify failed: Hostname mismatch, "
                                              "certificate is not valid for 'x'")),
     "certificate is for another name"),
    (clustercore.ConnectionError("TLS certificate verification failed: self-signed certificate"),
     "not trusted"),
    (clustercore.TimeoutError("timeout reading from 127.0.0.1:1"), "did not answer within 1.5s"),
    (clustercore.TimeoutError("timeout connecting to 10.0.0.1:1"), "no connection within 1.5s"),
    (clustercore.ConnectionError("connection refused connecting to 127.0.0.1:1"),
     "connection refused"),
    (clustercore.ConnectionError("error reading from h:1: Connection reset by peer"),
     "try --tls"),
])
def test_describe_in_plain_words(exc: BaseException, words: str) -> None:
    assert words in describe(exc, timeout=1.5, tls=False)


def test_scrub_hides_every_secret() -> None:
    assert scrub(f"a {SECRET} b {SECRET}", [None, SECRET]) == "a *** b ***"
    assert scrub("nothing", [None, ""]) == "nothing"


def test_percentile() -> None:
    values = sorted(float(v) for v in range(1, 101))
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.5) == 0.0
    assert percentile([3.0], 0.99) == 3.0


def test_pid_alive_matches_the_command_line() -> None:
    assert pid_alive(os.getpid())
    assert pid_alive(os.getpid(), "python")
    assert not pid_alive(os.getpid(), "redis-server-not-this-one")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    assert not pid_alive(child.pid)


def test_cluster_up_without_redis_server_says_what_to_install(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run("cluster", "up", "--dir", str(tmp_path / "c"), env={"PATH": str(empty)})
    assert result.exit_code == 3
    assert "apt install redis-server" in result.output
    assert not (tmp_path / "c").exists()
    assert run("demo", env={"PATH": str(empty)}).exit_code == 3


def test_cluster_status_and_down_with_nothing_recorded(tmp_path: Path) -> None:
    status = run("cluster", "status", "--dir", str(tmp_path))
    assert status.exit_code == 1
    assert "no development cluster recorded" in status.output
    down = run("cluster", "down", "--dir", str(tmp_path))
    assert down.exit_code == 0
    assert "nothing to stop" in down.output


def test_an_unexpected_error_is_one_line_exit_70_and_a_traceback_with_debug(
        tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(json.dumps({"supervisor_pid": 1}))  # no "nodes"
    result = run("cluster", "status", "--dir", str(tmp_path))
    assert result.exit_code == 70
    assert result.output.strip().splitlines()[-1].startswith("clustercore: error: internal "
                                                              "error: KeyError")
    assert "--debug" in result.output and "Traceback" not in result.output
    debug = run("--debug", "cluster", "status", "--dir", str(tmp_path))
    assert debug.exit_code == 70 and "Traceback (most recent call last)" in debug.output


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60, cwd=str(Path(clustercore.__file__).parent.parent))


@pytest.mark.parametrize("missing", ["click", "rich"])
def test_without_the_extra_python_m_clustercore_says_what_to_install(missing: str) -> None:
    # sys.modules[name] = None makes "import name" raise ImportError, as if not installed.
    res = _python(f"import sys, runpy; sys.modules[{missing!r}] = None; "
                  "runpy.run_module('clustercore', run_name='__main__')")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"clustercore: the command line needs its extra: pip install clustercore[cli] "
        f"({missing} is not installed)"]
    assert res.stdout == ""


def test_python_m_clustercore_runs_the_command_line() -> None:
    res = subprocess.run([sys.executable, "-m", "clustercore", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0
    assert res.stdout.strip() == f"clustercore, version {clustercore.__version__}"


def test_importing_main_imports_neither_click_nor_the_cli() -> None:
    res = _python("import sys, clustercore.__main__; "
                  "print(sorted(m for m in sys.modules if m.startswith(('click', 'rich', "
                  "'clustercore.cli'))))")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
