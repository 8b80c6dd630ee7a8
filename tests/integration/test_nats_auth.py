"""Connecting with credentials: user/password, token, nkey seed and TLS, each against a real
nats-server started by the test on a free loopback port (the dev server has no auth)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli import topoctl, write_manifest
from tests.integration.servers import NatsServer, make_certificates

pytestmark = pytest.mark.integration


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    servers: list[NatsServer] = []

    def start(auth: str) -> NatsServer:
        server = NatsServer(tmp_path, auth)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def round_trip(tmp_path: Path, connection: dict[str, Any], secrets: tuple[str, ...]) -> None:
    doc = {
        "version": 1,
        "brokers": {"n": {"type": "nats", "connection": connection, "streams": {"AUTHED": {"subjects": ["a.>"]}}}},
    }
    path = write_manifest(tmp_path / "m.yaml", doc)
    for args in (("apply", "-f", path, "--auto-approve"), ("plan", "-f", path, "--detailed-exitcode")):
        result = topoctl(*args)
        assert result.code == 0, str(result)
        for secret in secrets:
            assert secret not in result.stdout + result.stderr


def refused(tmp_path: Path, connection: dict[str, Any], secrets: tuple[str, ...]) -> str:
    doc = {"version": 1, "brokers": {"n": {"type": "nats", "connection": connection, "streams": {"X": {}}}}}
    result = topoctl("plan", "-f", write_manifest(tmp_path / "bad.yaml", doc))
    assert result.code == 1, str(result)
    output = result.stdout + result.stderr
    assert "broker 'n'" in output and "cannot connect" in output, output
    for secret in secrets:
        assert secret not in output
    return output


def test_user_and_password(tmp_path: Path, start: Any) -> None:
    server = start("authorization { user: alice, password: s3cr3t-pw }")
    url = f"nats://127.0.0.1:{server.port}"
    round_trip(tmp_path, {"servers": [url], "user": "alice", "password": "s3cr3t-pw"}, ("s3cr3t-pw",))
    round_trip(tmp_path, {"servers": [f"nats://alice:s3cr3t-pw@127.0.0.1:{server.port}"]}, ("s3cr3t-pw",))
    output = refused(tmp_path, {"servers": [url], "user": "alice", "password": "wrong-pw"}, ("wrong-pw",))
    assert "uthorization" in output


def test_token(tmp_path: Path, start: Any) -> None:
    server = start("authorization { token: t0k3n-value }")
    url = f"nats://127.0.0.1:{server.port}"
    round_trip(tmp_path, {"servers": [url], "token": "t0k3n-value"}, ("t0k3n-value",))
    refused(tmp_path, {"servers": [f"nats://bad-t0k3n@127.0.0.1:{server.port}"]}, ("bad-t0k3n",))


def test_nkey_seed(tmp_path: Path, start: Any) -> None:
    import nkeys  # a dependency of topoctl (nats-py[nkeys]): never skipped

    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    server = start(f"authorization {{ users: [ {{ nkey: {public} }} ] }}")
    url = f"nats://127.0.0.1:{server.port}"
    round_trip(tmp_path, {"servers": [url], "nkey_seed": seed.decode()}, (seed.decode(),))
    seed_file = tmp_path / "user.nk"
    seed_file.write_bytes(seed)
    round_trip(tmp_path, {"servers": [url], "nkeys_seed": str(seed_file)}, (seed.decode(),))


def test_tls_with_a_private_ca(tmp_path: Path, start: Any) -> None:
    make_certificates(tmp_path)
    server = start(f'tls {{ cert_file: "{tmp_path / "server.pem"}", key_file: "{tmp_path / "server.key"}" }}')
    url = f"tls://127.0.0.1:{server.port}"
    round_trip(tmp_path, {"servers": [url], "tls": {"ca_file": str(tmp_path / "ca.pem")}}, ())
    refused(tmp_path, {"servers": [url], "tls": True, "connect_timeout": "2s"}, ())  # unknown CA
