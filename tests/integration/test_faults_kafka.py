"""Kafka under faults (issue 9, point 2): a private single-node KRaft broker (its own ports and
data, started here from the jars `dev/brokers up kafka` fetched) is paused with SIGSTOP in the
middle of an apply: its process hangs with its sockets open, the hardest death to notice. The
shared dev broker is never touched.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from tests.cli import write_manifest
from tests.integration.faults_support import apply_with_fault, assert_gave_up, plan_is_empty, run_topoctl
from tests.integration.servers import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
KEPT = 10
TOPICS = 8


def dev_brokers() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("dev_brokers", str(ROOT / "dev" / "brokers"))
    spec = importlib.util.spec_from_loader("dev_brokers", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("dev_brokers", module)  # its dataclasses look their module up
    loader.exec_module(module)
    return module


class PrivateKafka:
    def __init__(self, work: Path) -> None:
        self.dev = dev_brokers()
        libs = self.dev.kafka_dir() / "libs"
        if not any(libs.glob("kafka_*.jar")):
            pytest.fail(f"no Kafka jars in {libs}: run dev/brokers up kafka")
        self.port, self.controller = free_port(), free_port()
        self.work = work
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        dev, data = self.dev, self.work / "data"
        props = (
            dev.kafka_properties()
            .replace(":9092", f":{self.port}")
            .replace(":9093", f":{self.controller}")
            .replace(f"log.dirs={dev.kafka_dir() / 'data'}", f"log.dirs={data}")
        )
        assert f"log.dirs={data}" in props
        path = self.work / "server.properties"
        path.write_text(props)
        java = ["java", "-Xms128m", "-Xmx512m", f"-Dlog4j2.configurationFile={dev.KAFKA_LOG4J}"]
        java += [f"-Dkafka.logs.dir={self.work}", "-cp", dev.kafka_classpath()]
        log = (self.work / "kafka.log").open("ab")
        subprocess.run(
            [*java, "kafka.tools.StorageTool", "format", "-t", dev.kafka_cluster_id(), "-c", str(path)],
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.proc = subprocess.Popen([*java, "kafka.Kafka", str(path)], stdout=log, stderr=subprocess.STDOUT)
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if admin.list_topics(timeout=2).brokers:
                    return
            except Exception:
                time.sleep(0.5)
        pytest.fail(f"the private Kafka did not answer within 120 s; log {self.work / 'kafka.log'}")

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateKafka]:
    broker = PrivateKafka(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def manifest(bootstrap: str) -> dict[str, Any]:
    topics: dict[str, Any] = {"keep": {"partitions": 1, "replication_factor": 1}}
    topics.update({f"t{i:02d}": {"partitions": 2, "replication_factor": 1} for i in range(TOPICS)})
    acls = [
        {"principal": "User:billing", "resource_type": "topic", "resource_name": f"t{i:02d}", "operation": "read"}
        for i in range(TOPICS)
    ]
    connection = {"bootstrap_servers": bootstrap, "timeout": "2s", "write_timeout": "3s"}
    return {"version": 1, "brokers": {"k": {"type": "kafka", "connection": connection, "topics": topics, "acls": acls}}}


def messages(bootstrap: str, topic: str) -> int:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "faults-check", "log_level": 0})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        consumer.close()
    return int(high - low)


def test_a_paused_broker_fails_the_apply_in_bounded_time_and_a_rerun_converges(
    tmp_path: Path, kafka: PrivateKafka
) -> None:
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap, "log_level": 0})
    admin.create_topics([NewTopic("keep", 1, 1)])["keep"].result(timeout=30)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "log_level": 0})
    for i in range(KEPT):
        producer.produce("keep", f"m{i}".encode())
    assert producer.flush(30) == 0
    path = write_manifest(tmp_path / "m.yaml", manifest(kafka.bootstrap))

    # The topics are created in the first wave, the ACLs on them in the second: the broker stops
    # as soon as the first topic is reported.
    run, done = apply_with_fault(path, lambda: kafka.signal(signal.SIGSTOP), 1)
    try:
        assert_gave_up(run, f"broker 'k' ({kafka.bootstrap})", TOPICS * 2, 20, not_attempted=False)
        print(f"\nKafka paused: gave up {run.seconds:.1f}s after SIGSTOP ({done} of {TOPICS * 2} done)")
    finally:
        kafka.signal(signal.SIGCONT)

    rerun = run_topoctl("apply", "-f", path, "--auto-approve")
    assert rerun.code == 0, str(rerun)
    assert plan_is_empty(path).code == 0
    assert messages(kafka.bootstrap, "keep") == KEPT
