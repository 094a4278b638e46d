"""LocalCluster safety (issue 14 item 7): loopback only unless explicitly allowed, and no
password on any command line (argv is world-readable in /proc/<pid>/cmdline).

The real processes are checked in tests/integration/test_local_cluster.py; these check the
argv, the environment and the config LocalCluster builds, without starting anything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clustercore.testing import LocalCluster, LocalNode


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "192.168.0.7", "fe80::1"])
def test_non_loopback_host_is_refused_by_default(host: str) -> None:
    with pytest.raises(ValueError, match=rf"host '{host}' is not a loopback address.*"
                                         r"allow_non_loopback=True"):
        LocalCluster(1, 0, host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    assert LocalCluster(1, 0, host=host).host == host


def test_non_loopback_opt_in_needs_a_password_and_keeps_protected_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a password"):
        LocalCluster(1, 0, host="0.0.0.0", allow_non_loopback=True)
    exposed = LocalCluster(1, 0, host="0.0.0.0", allow_non_loopback=True, password="pw")
    node = LocalNode("0.0.0.0", 7000, 17000, tmp_path)
    assert dict(exposed._config_lines(node))["protected-mode"] == ["yes"]
    local = LocalCluster(1, 0, password="pw")
    assert dict(local._config_lines(LocalNode("127.0.0.1", 7000, 17000, tmp_path)))[
        "protected-mode"] == ["no"]


def test_config_file_holds_the_secrets_owner_only(tmp_path: Path) -> None:
    c = LocalCluster(1, 0, password="s3cret-pw", acl_users={"alice": "wonder-pw"})
    node = LocalNode("127.0.0.1", 7000, 17000, tmp_path)
    c._write_config(node)
    text = node.config_path.read_text()
    assert "requirepass s3cret-pw" in text and "masterauth s3cret-pw" in text
    assert ">wonder-pw" in text
    assert os.stat(node.config_path).st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("kwargs", "auth"), [
    ({}, "s3cret-pw"),
    ({"password": "other-pw"}, "other-pw"),
    ({"username": "alice", "password": "wonder-pw"}, "wonder-pw"),
])
def test_cli_password_goes_in_the_environment_not_argv(kwargs: dict, auth: str,
                                                       tmp_path: Path) -> None:
    c = LocalCluster(1, 0, password="s3cret-pw", acl_users={"alice": "wonder-pw"})
    node = LocalNode("127.0.0.1", 7000, 17000, tmp_path)
    argv = c.cli_command(node, "PING", **kwargs)
    assert not any("pw" in a for a in argv), argv
    assert "--pass" not in argv and "-a" not in argv
    assert ("--user" in argv) == ("username" in kwargs)
    assert c.cli_env(**kwargs)["REDISCLI_AUTH"] == auth


def test_cli_without_credentials_sets_no_auth_and_drops_inherited_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDISCLI_AUTH", "inherited")
    c = LocalCluster(1, 0, password="s3cret-pw")
    assert "REDISCLI_AUTH" not in c.cli_env(no_auth=True)
    assert "REDISCLI_AUTH" not in LocalCluster(1, 0).cli_env()
