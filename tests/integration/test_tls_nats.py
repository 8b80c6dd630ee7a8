"""NATS with TLS and user/password at once, against a private nats-server this module starts on a
free loopback port, its certificate for 127.0.0.1 signed by a CA made here with openssl.

A wrong password, a server certificate from a CA the manifest does not trust and a CA file that
does not exist each end in one line naming the broker, its address and the problem, exit 1, no
traceback and no password. (tests/integration/test_nats_auth.py covers each mechanism alone.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli import apply_ok, assert_empty, one_line_error, planned, topoctl, write_manifest
from tests.cli import plan_json as plan
from tests.integration.servers import NatsServer, make_certificates

pytestmark = pytest.mark.integration

USER, PASSWORD = "svc-topoctl", "nats-S3cret-9f2a"
WRONG = "nats-Wr0ng-1c7b"
SECRETS = (PASSWORD, WRONG)


class TlsNats(NatsServer):
    """nats-server -js with `tls {}` and `authorization {}`; certificates in `dir`."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        make_certificates(directory)
        super().__init__(
            directory,
            f'tls {{ cert_file: "{directory / "server.pem"}", key_file: "{directory / "server.key"}" }}\n'
            f'authorization {{ user: "{USER}", password: "{PASSWORD}" }}',
        )
        self.url = f"tls://127.0.0.1:{self.port}"
        self.label = f"broker 'n' ({self.url})"  # how an error names it


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsNats]:
    nats = TlsNats(tmp_path_factory.mktemp("tls-nats"))
    yield nats
    nats.stop()


def manifest(tmp_path: Path, server: TlsNats, stream: str, **connection: Any) -> Path:
    conn = {
        "servers": [server.url],
        "user": USER,
        "password": "${TOPOCTL_TEST_NATS_PASSWORD}",
        "connect_timeout": "2s",
        **connection,
    }
    doc = {
        "version": 1,
        "brokers": {"n": {"type": "nats", "connection": conn, "streams": {stream: {"subjects": [f"{stream}.>"]}}}},
    }
    return write_manifest(tmp_path / "m.yaml", doc)


def test_tls_and_password_apply_and_plan_empty(
    tmp_path: Path, server: TlsNats, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOPOCTL_TEST_NATS_PASSWORD", PASSWORD)
    stream = f"TLS_{uuid.uuid4().hex[:8].upper()}"
    path = manifest(tmp_path, server, stream, tls={"ca_file": str(server.dir / "ca.pem")})
    first = plan(path)
    assert planned(first) == {f"n/stream/{stream}": "create"}
    outputs = [first, apply_ok(path)]
    assert_empty(path)
    for result in outputs:
        assert PASSWORD not in result.stdout + result.stderr


def test_a_wrong_password_over_tls_is_one_line(
    tmp_path: Path, server: TlsNats, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOPOCTL_TEST_NATS_PASSWORD", WRONG)
    result = topoctl("plan", "-f", manifest(tmp_path, server, "X", tls={"ca_file": str(server.dir / "ca.pem")}))
    one_line_error(result, server.label, "uthorization", secrets=SECRETS)


def test_a_certificate_from_an_untrusted_ca_is_one_line(
    tmp_path: Path, server: TlsNats, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOPOCTL_TEST_NATS_PASSWORD", PASSWORD)
    result = topoctl("plan", "-f", manifest(tmp_path, server, "X", tls={"ca_file": str(server.dir / "other-ca.pem")}))
    one_line_error(result, server.label, "certificate verify failed", secrets=SECRETS)


def test_a_missing_ca_file_is_one_line(tmp_path: Path, server: TlsNats, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPOCTL_TEST_NATS_PASSWORD", PASSWORD)
    missing = tmp_path / "no-such-ca.pem"
    result = topoctl("plan", "-f", manifest(tmp_path, server, "X", tls={"ca_file": str(missing)}))
    one_line_error(result, server.label, "ca_file", str(missing), "No such file", secrets=SECRETS)
