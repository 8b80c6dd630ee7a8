"""RabbitMQ's management API over HTTPS: the dev node's TLS listener (127.0.0.1:15671, a certificate
for 127.0.0.1 from the CA that dev/brokers made in its state directory), trusted through `ca_file`.

A wrong password, a certificate from a CA the manifest does not trust (made here with openssl) and
a CA file that does not exist each end in one line naming the broker, its address and the problem,
exit 1, no traceback and no password.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli import apply_ok, assert_empty, one_line_error, planned, topoctl, write_manifest
from tests.cli import plan_json as plan
from tests.integration.rabbitmq_support import AUTH, seg

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("TOPOCTL_BROKERS_DIR") or REPO / ".brokers")
DEV_CA = STATE / "rabbitmq" / "tls" / "ca.pem"
HTTPS = "https://127.0.0.1:15671"
BROKER = "secure-rabbit"
WRONG = "Wr0ng-rabbit-S3cret"
LABEL = f"broker {BROKER!r} ({HTTPS})"  # how an error names the broker
SECRETS = (WRONG, AUTH[1] * 2)


@pytest.fixture(scope="module")
def dev_ca() -> Path:
    if not DEV_CA.exists():
        pytest.fail(f"no {DEV_CA}: run dev/brokers up rabbitmq (it makes the TLS listener's certificates)")
    return DEV_CA


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that signed nothing the broker holds."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to make the test CA (dev/brokers up installs it)")
    d = tmp_path_factory.mktemp("other-ca")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
         "-days", "1", "-subj", "/CN=not the dev CA"],
        cwd=d, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return d / "ca.pem"


@pytest.fixture
def vhost() -> Iterator[str]:
    name = f"it-tls-{uuid.uuid4().hex[:8]}"
    yield name
    with httpx.Client(base_url=HTTPS, auth=AUTH, verify=ssl.create_default_context(cafile=DEV_CA), timeout=30) as c:
        c.delete(f"/api/vhosts/{seg(name)}")


def manifest(tmp_path: Path, vhost: str, **connection: Any) -> Path:
    conn = {"url": HTTPS, "username": AUTH[0], "password": "${TOPOCTL_TEST_RABBIT_PASSWORD}", **connection}
    doc = {
        "version": 1,
        "brokers": {
            BROKER: {
                "type": "rabbitmq",
                "connection": conn,
                "vhosts": {vhost: {"queues": {"billing": {"type": "quorum"}}}},
            }
        },
    }
    return write_manifest(tmp_path / "m.yaml", doc)


def test_https_with_the_dev_ca_applies_and_plans_empty(
    tmp_path: Path, vhost: str, dev_ca: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOPOCTL_TEST_RABBIT_PASSWORD", AUTH[1])
    path = manifest(tmp_path, vhost, ca_file=str(dev_ca))
    assert planned(plan(path)) == {
        f"{BROKER}/vhost/{vhost}": "create",
        f"{BROKER}/queue/{vhost}/billing": "create",
    }
    apply_ok(path)
    assert_empty(path)
    # Really there, over the same TLS listener, seen by another client.
    trust = ssl.create_default_context(cafile=dev_ca)
    with httpx.Client(base_url=HTTPS, auth=AUTH, verify=trust, timeout=30) as client:
        queue = client.get(f"/api/queues/{seg(vhost)}/billing").json()
    assert queue["type"] == "quorum"


def test_a_wrong_password_over_https_is_one_line(
    tmp_path: Path, vhost: str, dev_ca: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOPOCTL_TEST_RABBIT_PASSWORD", WRONG)
    result = topoctl("plan", "-f", manifest(tmp_path, vhost, ca_file=str(dev_ca)))
    one_line_error(result, LABEL, "401", "username and password", secrets=SECRETS)


def test_a_certificate_from_an_untrusted_ca_is_one_line(
    tmp_path: Path, vhost: str, other_ca: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOPOCTL_TEST_RABBIT_PASSWORD", AUTH[1])
    result = topoctl("plan", "-f", manifest(tmp_path, vhost, ca_file=str(other_ca)))
    one_line_error(result, LABEL, "certificate verify failed", secrets=SECRETS)
    assert "attempts" not in result.stderr  # a certificate fails the same way every time: not retried
    # Without ca_file the system's CAs are used: the dev CA is not among them.
    result = topoctl("plan", "-f", manifest(tmp_path, vhost))
    one_line_error(result, LABEL, "certificate verify failed", secrets=SECRETS)


def test_a_missing_ca_file_is_one_line(tmp_path: Path, vhost: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPOCTL_TEST_RABBIT_PASSWORD", AUTH[1])
    missing = tmp_path / "no-such-ca.pem"
    result = topoctl("plan", "-f", manifest(tmp_path, vhost, ca_file=str(missing)))
    one_line_error(result, LABEL, "ca_file", str(missing), "No such file", secrets=SECRETS)


def test_verify_false_skips_the_check(tmp_path: Path, vhost: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPOCTL_TEST_RABBIT_PASSWORD", AUTH[1])
    result = plan(manifest(tmp_path, vhost, verify=False))
    assert planned(result) == {f"{BROKER}/vhost/{vhost}": "create", f"{BROKER}/queue/{vhost}/billing": "create"}
