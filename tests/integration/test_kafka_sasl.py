"""Connecting with SASL (PLAIN and SCRAM-SHA-256) and TLS against a real, throwaway Kafka: one
KRaft node started by this module on free loopback ports from the jars dev/brokers fetched, with a
SASL_PLAINTEXT listener (a PLAIN user, and a SCRAM user created when the storage is formatted), an
SSL listener (a certificate for 127.0.0.1 from a CA made with openssl for the run) and a SASL_SSL
listener (both at once). The dev broker (PLAINTEXT, 9092) has none, so only this can show the real
handshakes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from tests.cli import apply_ok, assert_empty, one_line_error, planned, topoctl, write_manifest
from tests.cli import plan_json as plan
from tests.integration.servers import free_port, terminate

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ADMIN = ("admin", "admin-Secret-4f1c")
PLAIN_USER = ("alice", "alice-Secret-93ab")
SCRAM_USER = ("bob", "bob-Secret-7d2e")
# topoctl needs a principal that may see and change what it manages: these three are super users
# (a principal without Describe on a topic does not even see it in the metadata). ANONYMOUS is the
# broker itself, on the PLAINTEXT controller listener.
START_TIMEOUT_S = 40


def _libs() -> Path:
    state = Path(os.environ.get("TOPOCTL_BROKERS_DIR") or REPO / ".brokers")
    libs = state / "kafka" / "libs"
    if not any(libs.glob("kafka_2.13-*.jar")):
        pytest.fail(f"no Kafka jars in {libs} (run dev/brokers up kafka)")
    return libs


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr


def _make_certificates(directory: Path) -> None:
    """A CA (ca.pem), another CA nobody signed with (other-ca.pem), and the broker's key and
    certificate for 127.0.0.1 signed by the first, in one PEM file Kafka reads as its keystore."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for ca in ("ca", "other-ca"):
        _openssl(
            "req",
            "-x509",
            *ec,
            "-keyout",
            f"{ca}.key",
            "-out",
            f"{ca}.pem",
            "-days",
            "1",
            "-subj",
            f"/CN={ca}",
            cwd=directory,
        )
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=directory)
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n", encoding="utf-8")
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "1",
        "-extfile",
        "san.ext",
        cwd=directory,
    )
    keystore = (directory / "server.key").read_text() + (directory / "server.crt").read_text()
    (directory / "keystore.pem").write_text(keystore, encoding="utf-8")


def _properties(directory: Path, port: int, tls_port: int, sasl_tls_port: int, controller: int) -> str:
    plain_users = " ".join(f'user_{u}="{p}"' for u, p in (ADMIN, PLAIN_USER))
    listeners = f"SASL_PLAINTEXT://127.0.0.1:{port},SSL://127.0.0.1:{tls_port},SASL_SSL://127.0.0.1:{sasl_tls_port}"
    return f"""process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners={listeners},CONTROLLER://127.0.0.1:{controller}
advertised.listeners={listeners}
inter.broker.listener.name=SASL_PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL
listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location={directory / "keystore.pem"}
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location={directory / "keystore.pem"}
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule \
required username="{ADMIN[0]}" password="{ADMIN[1]}" {plain_users};
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \
required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule \
required username="{ADMIN[0]}" password="{ADMIN[1]}" {plain_users};
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \
required;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS;{";".join(f"User:{u}" for u, _ in (ADMIN, PLAIN_USER, SCRAM_USER))}
log.dirs={directory / "data"}
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
auto.create.topics.enable=false
num.network.threads=1
num.io.threads=2
"""


class SaslKafka:
    """The throwaway broker: started in __init__, gone (process and files) after stop()."""

    def __init__(self) -> None:
        libs = _libs()
        self.dir = Path(tempfile.mkdtemp(prefix="topoctl-kafka-sasl-"))
        self.port, self.tls_port, self.sasl_tls_port = free_port(), free_port(), free_port()
        controller = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.tls_bootstrap = f"127.0.0.1:{self.tls_port}"
        self.sasl_tls_bootstrap = f"127.0.0.1:{self.sasl_tls_port}"
        props = self.dir / "server.properties"
        text = _properties(self.dir, self.port, self.tls_port, self.sasl_tls_port, controller)
        props.write_text(text, encoding="utf-8")
        java = [
            "java",
            "-Xms128m",
            "-Xmx512m",
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            f"-Dlog4j2.configurationFile={REPO / 'dev' / 'kafka' / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.dir}",
            "-cp",
            f"{libs}/*",
        ]
        self.log = (self.dir / "kafka.log").open("w")
        self.process: subprocess.Popen[bytes] | None = None
        try:
            _make_certificates(self.dir)
            scram = f"SCRAM-SHA-256=[name={SCRAM_USER[0]},password={SCRAM_USER[1]}]"
            cluster_id = "topoctlSaslTestCluster"[:22]
            formatted = subprocess.run(
                [*java, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props), "--add-scram", scram],
                stdout=self.log,
                stderr=subprocess.STDOUT,
                timeout=60,
                check=False,
            )
            assert formatted.returncode == 0, f"StorageTool format failed: {self._tail()}"
            self.process = subprocess.Popen(
                [*java, "kafka.Kafka", str(props)], stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir
            )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def admin(self) -> AdminClient:
        # Quiet: refused connections while the broker starts are expected.
        return AdminClient({**self.client_config(ADMIN, "PLAIN"), "log_level": "0"})

    def client_config(self, user: tuple[str, str], mechanism: str) -> dict[str, str]:
        return {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": mechanism,
            "sasl.username": user[0],
            "sasl.password": user[1],
        }

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        admin = self.admin()
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"the SASL Kafka exited ({self.process.returncode}): {self._tail()}")
            try:
                if admin.list_topics(timeout=1).brokers:
                    return
            except KafkaException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the SASL Kafka did not start within {START_TIMEOUT_S} s: {self._tail()}")
            time.sleep(0.2)

    def _tail(self) -> str:
        self.log.flush()
        lines = (self.dir / "kafka.log").read_text(errors="replace").splitlines()
        return "\n".join(lines[-15:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            terminate(self.process, 15)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def kafka() -> Iterator[SaslKafka]:
    server = SaslKafka()
    yield server
    server.stop()


def _manifest(server: SaslKafka, mechanism: str, username: str, ns: str) -> dict[str, Any]:
    topic = f"{ns}.orders"
    broker = {
        "type": "kafka",
        "connection": {
            "bootstrap_servers": server.bootstrap,
            "timeout": "5s",
            "sasl": {"mechanism": mechanism, "username": username, "password": "${TOPOCTL_TEST_KAFKA_PASSWORD}"},
        },
        "topics": {topic: {"partitions": 2, "config": {"retention.ms": "1d"}, "dead_letter": {}}},
        "acls": [{"principal": f"User:{ns}", "resource_type": "topic", "resource_name": topic, "operation": "read"}],
    }
    return {"version": 1, "brokers": {"secure": broker}}


@pytest.mark.parametrize(("mechanism", "user"), [("PLAIN", PLAIN_USER), ("SCRAM-SHA-256", SCRAM_USER)])
def test_sasl_apply_then_plan_is_empty_and_the_password_never_shows(
    tmp_path: Path, kafka: SaslKafka, mechanism: str, user: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = f"s{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("TOPOCTL_TEST_KAFKA_PASSWORD", user[1])
    path = write_manifest(tmp_path / "m.yaml", _manifest(kafka, mechanism, user[0], ns))
    first = plan(path)
    assert planned(first) == {
        f"secure/topic/{ns}.orders": "create",
        f"secure/topic/{ns}.orders.dlq": "create",
        f"secure/acl/topic/literal/{ns}.orders/User:{ns}/*/read/allow": "create",
    }
    applied = apply_ok(path)
    assert_empty(path)
    exported = topoctl("export", "--broker", "secure", "-f", path)
    assert exported.code == 0, str(exported)
    assert f"{ns}.orders.dlq:" in exported.stdout and "${TOPOCTL_TEST_KAFKA_PASSWORD}" in exported.stdout
    for output in (first, applied, topoctl("plan", "-f", path, "--format", "markdown"), exported):
        assert user[1] not in output.stdout + output.stderr

    # What topoctl made is really there, seen by another client.
    topics = kafka.admin().list_topics(timeout=10).topics
    assert len(topics[f"{ns}.orders"].partitions) == len(topics[f"{ns}.orders.dlq"].partitions) == 2


@pytest.mark.parametrize(("mechanism", "user"), [("PLAIN", PLAIN_USER), ("SCRAM-SHA-256", SCRAM_USER)])
def test_a_wrong_password_is_one_clear_error_without_the_password(
    tmp_path: Path, kafka: SaslKafka, mechanism: str, user: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "not-" + user[1]
    monkeypatch.setenv("TOPOCTL_TEST_KAFKA_PASSWORD", wrong)
    path = write_manifest(tmp_path / "m.yaml", _manifest(kafka, mechanism, user[0], "nope"))
    result = topoctl("plan", "-f", path)
    assert result.code == 1, str(result)
    # Said as it is (not "cannot connect" after the whole timeout), with the broker's name and address.
    assert f"broker 'secure' ({kafka.bootstrap}): authentication failed" in result.stderr
    assert mechanism in result.stderr
    assert "Traceback" not in result.stderr
    assert wrong not in result.stdout + result.stderr and user[1] not in result.stdout + result.stderr


def _tls_manifest(server: SaslKafka, tls: dict[str, Any], ns: str) -> dict[str, Any]:
    broker = {
        "type": "kafka",
        "connection": {"bootstrap_servers": server.tls_bootstrap, "timeout": "5s", "tls": tls},
        "topics": {f"{ns}.tls": {"partitions": 1, "config": {"cleanup.policy": "compact"}}},
    }
    return {"version": 1, "brokers": {"secure": broker}}


def test_tls_with_a_ca_file_verifies_the_broker_and_plans_empty(tmp_path: Path, kafka: SaslKafka) -> None:
    ns = f"s{uuid.uuid4().hex[:8]}"
    path = write_manifest(tmp_path / "m.yaml", _tls_manifest(kafka, {"ca_file": str(kafka.dir / "ca.pem")}, ns))
    assert planned(plan(path)) == {f"secure/topic/{ns}.tls": "create"}
    apply_ok(path)
    assert_empty(path)


def test_tls_with_the_wrong_ca_is_one_clear_error(tmp_path: Path, kafka: SaslKafka) -> None:
    tls = {"ca_file": str(kafka.dir / "other-ca.pem")}
    path = write_manifest(tmp_path / "m.yaml", _tls_manifest(kafka, tls, "nope"))
    result = topoctl("plan", "-f", path)
    assert result.code == 1, str(result)
    assert f"broker 'secure' ({kafka.tls_bootstrap}): TLS handshake failed: " in result.stderr
    assert "certificate verify failed" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# -- SASL_SSL: SCRAM over TLS ----------------------------------------------------------------------


def _sasl_tls_manifest(server: SaslKafka, ca_file: str, ns: str) -> dict[str, Any]:
    broker = {
        "type": "kafka",
        "connection": {
            "bootstrap_servers": server.sasl_tls_bootstrap,
            "timeout": "5s",
            "tls": {"ca_file": ca_file},
            "sasl": {
                "mechanism": "SCRAM-SHA-256",
                "username": SCRAM_USER[0],
                "password": "${TOPOCTL_TEST_KAFKA_PASSWORD}",
            },
        },
        "topics": {f"{ns}.sasl-ssl": {"partitions": 1, "config": {"retention.ms": "1h"}}},
    }
    return {"version": 1, "brokers": {"secure": broker}}


def test_sasl_ssl_applies_and_plans_empty_and_the_password_never_shows(
    tmp_path: Path, kafka: SaslKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOPOCTL_TEST_KAFKA_PASSWORD", SCRAM_USER[1])
    ns = f"s{uuid.uuid4().hex[:8]}"
    path = write_manifest(tmp_path / "m.yaml", _sasl_tls_manifest(kafka, str(kafka.dir / "ca.pem"), ns))
    first = plan(path)
    assert planned(first) == {f"secure/topic/{ns}.sasl-ssl": "create"}
    applied = apply_ok(path)
    assert_empty(path)
    for output in (first, applied):
        assert SCRAM_USER[1] not in output.stdout + output.stderr
    assert f"{ns}.sasl-ssl" in kafka.admin().list_topics(timeout=10).topics


@pytest.mark.parametrize("case", ["wrong password", "untrusted CA", "missing CA file"])
def test_sasl_ssl_failures_are_one_line_without_the_password(
    tmp_path: Path, kafka: SaslKafka, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    password, ca_file = SCRAM_USER[1], str(kafka.dir / "ca.pem")
    if case == "wrong password":
        password = "not-" + SCRAM_USER[1]
    elif case == "untrusted CA":
        ca_file = str(kafka.dir / "other-ca.pem")
    else:
        ca_file = str(tmp_path / "no-such-ca.pem")
    monkeypatch.setenv("TOPOCTL_TEST_KAFKA_PASSWORD", password)
    result = topoctl("plan", "-f", write_manifest(tmp_path / "m.yaml", _sasl_tls_manifest(kafka, ca_file, "nope")))
    words = {
        "wrong password": ("authentication failed", "SCRAM-SHA-256"),
        "untrusted CA": ("TLS handshake failed", "certificate verify failed"),
        "missing CA file": ("ca_file", "no-such-ca.pem"),
    }[case]
    one_line_error(result, f"broker 'secure' ({kafka.sasl_tls_bootstrap})", *words)
    assert password not in result.stdout + result.stderr and SCRAM_USER[1] not in result.stdout + result.stderr
