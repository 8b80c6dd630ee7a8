"""`rediss://` with the `tls` options, against a real redis-server with TLS on.

The module starts its own TLS-only redis-server (Debian's is built with TLS) on a free loopback
port, with a throwaway CA and certificates made by the openssl CLI, and stops it at the end.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.cli import topoctl, write_manifest
from tests.integration.servers import free_port

pytestmark = pytest.mark.integration


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _certificates(d: Path) -> None:
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=topoctl-ca", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "1", "-extfile", "san.ext", cwd=d,
        )  # fmt: skip


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    d = tmp_path_factory.mktemp("redis-tls")
    _certificates(d)
    port = free_port()
    args = ["--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--tls-cert-file", "server.crt", "--tls-key-file", "server.key", "--tls-ca-cert-file", "ca.crt"]
    args += ["--tls-auth-clients", "optional", "--dir", str(d)]
    proc = subprocess.Popen(["redis-server", *args], cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis(port=port, ssl=True, ssl_ca_certs=str(d / "ca.crt"), socket_timeout=2).ping()
                break
            except redis.RedisError as exc:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(f"the TLS redis-server did not come up: {exc!r}")
                time.sleep(0.1)
        yield port, d
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def manifest(port: int, tls: dict[str, Any] | None, scheme: str = "rediss") -> dict[str, Any]:
    connection: dict[str, Any] = {"url": f"{scheme}://127.0.0.1:{port}", "timeout": "2s"}
    if tls is not None:
        connection["tls"] = tls
    broker = {"type": "redis", "connection": connection, "streams": {"tls:orders": {"groups": {"g": {}}}}}
    return {"version": 1, "brokers": {"secure": broker}}


def test_rediss_with_a_ca_file_applies_and_replans_empty(tmp_path: Path, tls_server: tuple[int, Path]) -> None:
    port, d = tls_server
    m = write_manifest(tmp_path / "m.yaml", manifest(port, {"ca_file": str(d / "ca.crt")}))
    assert topoctl("apply", "-f", m, "--auto-approve").code == 0
    plan = topoctl("plan", "-f", m, "--detailed-exitcode")
    assert plan.code == 0, str(plan)
    # With a client certificate too (the server asks for one, optionally).
    tls = {"ca_file": str(d / "ca.crt"), "cert_file": str(d / "client.crt"), "key_file": str(d / "client.key")}
    mutual = write_manifest(tmp_path / "mutual.yaml", manifest(port, tls))
    assert topoctl("plan", "-f", mutual, "--detailed-exitcode").code == 0


def test_an_unknown_ca_is_refused_unless_verification_is_skipped(tmp_path: Path, tls_server: tuple[int, Path]) -> None:
    port, _ = tls_server
    strict = write_manifest(tmp_path / "strict.yaml", manifest(port, None))
    result = topoctl("plan", "-f", strict)
    assert result.code == 1, str(result)
    assert f"broker 'secure' (rediss://127.0.0.1:{port}/0): cannot connect" in result.stderr
    assert "certificate verify failed" in result.stderr and "Traceback" not in result.stderr
    loose = write_manifest(tmp_path / "loose.yaml", manifest(port, {"insecure_skip_verify": True}))
    assert topoctl("plan", "-f", loose, "--detailed-exitcode").code in (0, 2)
    plain = write_manifest(tmp_path / "plain.yaml", manifest(port, None, scheme="redis"))
    refused = topoctl("plan", "-f", plain)
    assert refused.code == 1 and "cannot connect" in refused.stderr, str(refused)
