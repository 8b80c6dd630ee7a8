"""A Kafka plan starts reading while its manifest is compiled (engine.ahead, kafka/ahead.py): against
the real broker, the metadata and the dry run (validate_only CreateTopics) sent ahead are used by the
next read only, and only for the very requests it would send; a topic planned otherwise is dry-run
again; a refused topic, an unreachable broker and an invalid manifest give exactly today's errors.

Requests are counted by thread: the read ahead's run in threads named `read-ahead`."""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from tests.cli import topoctl
from topoctl.engine.ahead import ReadAhead
from topoctl.engine.planner import Session
from topoctl.errors import TopoctlError
from topoctl.manifest.loader import load_manifest
from topoctl.providers.kafka.driver import KafkaDriver

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
CONNECTION = {"bootstrap_servers": BOOTSTRAP}
pytestmark = pytest.mark.integration


class Sent:
    """The admin requests of interest, as (thread: early or not, what, topics)."""

    def __init__(self) -> None:
        self.calls: list[tuple[bool, str, list[str]]] = []
        self.lock = threading.Lock()

    def add(self, what: str, topics: list[str]) -> None:
        with self.lock:
            self.calls.append((threading.current_thread().name == "read-ahead", what, topics))

    def of(self, early: bool, what: str) -> list[list[str]]:
        with self.lock:
            return [t for e, w, t in self.calls if e == early and w == what]

    def topics(self, early: bool, what: str) -> list[str]:
        return [topic for call in self.of(early, what) for topic in call]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    log = Sent()
    create, metadata = AdminClient.create_topics, AdminClient.list_topics

    def create_topics(self: AdminClient, new_topics: list[Any], **kwargs: Any) -> Any:
        log.add("dry run" if kwargs.get("validate_only") else "create", [t.topic for t in new_topics])
        return create(self, new_topics, **kwargs)

    def list_topics(self: AdminClient, *args: Any, **kwargs: Any) -> Any:
        log.add("metadata", [])
        return metadata(self, *args, **kwargs)

    monkeypatch.setattr(AdminClient, "create_topics", create_topics)
    monkeypatch.setattr(AdminClient, "list_topics", list_topics)
    return log


@pytest.fixture
def prefix() -> Iterator[str]:
    """A unique topic prefix. Nothing is ever created under it (dry runs only): checked afterwards."""
    name = f"ahead.{uuid.uuid4().hex[:8]}."
    yield name
    live = AdminClient({"bootstrap.servers": BOOTSTRAP}).list_topics(timeout=10).topics
    assert not [t for t in live if t.startswith(name)]


def _section(topics: dict[str, Any], connection: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "kafka", "connection": connection or CONNECTION, "topics": topics}


def _manifest(tmp_path: Path, section: dict[str, Any]) -> Path:
    path = tmp_path / f"m{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(json.dumps({"version": 1, "brokers": {"k": section}}), encoding="utf-8")
    return path


def _desired(tmp_path: Path, section: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    spec = load_manifest([str(_manifest(tmp_path, section))]).brokers["k"]
    return list(spec.resources), list(spec.compiled.prune)


def _wait_for(condition: Any, what: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _topics(prefix: str, count: int) -> dict[str, Any]:
    return {
        f"{prefix}t{i}": {"partitions": 1, "replication_factor": 1, "config": {"retention.ms": "2d"}}
        for i in range(count)
    }


def _read_ahead(driver: KafkaDriver, tmp_path: Path, section: dict[str, Any], sent: Sent, topics: int) -> None:
    """read_ahead of the section, then of it compiled, and the wait until its dry run of `topics`
    topics is out (the read comes late, as in a manifest with other brokers still to compile)."""
    assert driver.read_ahead(section)
    driver.read_ahead_compiled(_desired(tmp_path, section)[0])
    _wait_for(lambda: len(sent.topics(True, "dry run")) >= topics, "the dry run sent ahead")


def _plan_error(driver: KafkaDriver, desired: list[Any], prune: list[Any]) -> str:
    with pytest.raises(TopoctlError) as caught:
        driver.read(desired, prune)
    return str(caught.value)


def test_the_metadata_and_dry_run_read_ahead_serve_the_next_read_once(tmp_path: Path, prefix: str, sent: Sent) -> None:
    section = _section(_topics(prefix, 30))
    desired, prune = _desired(tmp_path, section)
    driver = KafkaDriver("k", CONNECTION)
    try:
        _read_ahead(driver, tmp_path, section, sent, 30)
        first = driver.read(desired, prune)
        # Sent once, ahead: one metadata request, one dry run of the 30 topics, none by the read.
        assert len(sent.of(True, "metadata")) == 1 and sent.of(False, "metadata") == []
        assert sorted(sent.topics(True, "dry run")) == sorted(section["topics"])
        assert sent.of(False, "dry run") == []
        # The next read reads for itself.
        second = driver.read(desired, prune)
        assert len(sent.of(False, "metadata")) == 1
        assert sorted(sent.topics(False, "dry run")) == sorted(section["topics"])
        assert len(sent.of(True, "metadata")) == 1 and len(sent.of(True, "dry run")) == 1
    finally:
        driver.close()
    assert [r.address for r in first] == [r.address for r in second]
    assert sent.of(True, "create") == sent.of(False, "create") == []


def test_a_topic_planned_otherwise_than_guessed_is_dry_run_again(tmp_path: Path, prefix: str, sent: Sent) -> None:
    section = _section(_topics(prefix, 3))
    changed = json.loads(json.dumps(section))
    changed["topics"][f"{prefix}t1"]["partitions"] = 2  # the manifest the read gets differs here
    changed["topics"][f"{prefix}t2"]["config"]["retention.ms"] = "3d"
    changed["topics"][f"{prefix}new"] = {"partitions": 1, "replication_factor": 1}  # and has one more
    desired, prune = _desired(tmp_path, changed)
    driver = KafkaDriver("k", CONNECTION)
    try:
        _read_ahead(driver, tmp_path, section, sent, 3)
        driver.read(desired, prune)
    finally:
        driver.close()
    assert sent.of(False, "dry run") == [[f"{prefix}t1", f"{prefix}t2", f"{prefix}new"]]
    assert sent.of(False, "metadata") == []


def test_a_refused_topic_fails_the_plan_with_the_same_message(tmp_path: Path, prefix: str, sent: Sent) -> None:
    topics = _topics(prefix, 2)
    topics[f"{prefix}t0"]["config"] = {"cleanup.policy": "nope"}
    topics[f"{prefix}t1"]["replication_factor"] = 3  # more than the one broker
    section = _section(topics)
    desired, prune = _desired(tmp_path, section)
    early = KafkaDriver("k", CONNECTION)
    late = KafkaDriver("k", CONNECTION)
    try:
        _read_ahead(early, tmp_path, section, sent, 2)
        with_ahead = _plan_error(early, desired, prune)
        assert sent.of(False, "dry run") == []  # the refusals were the ones sent ahead
        without = _plan_error(late, desired, prune)
    finally:
        early.close()
        late.close()
    assert with_ahead == without
    assert "would refuse this plan" in with_ahead and "cleanup.policy" in with_ahead
    assert f"{prefix}t1" in with_ahead


def test_an_unreachable_broker_is_read_again_and_fails_as_without(tmp_path: Path, prefix: str, sent: Sent) -> None:
    connection = {"bootstrap_servers": "127.0.0.1:1", "timeout": "1s", "retries": {"attempts": 2, "max_seconds": 5}}
    section = _section(_topics(prefix, 2), connection)
    desired, prune = _desired(tmp_path, section)
    early = KafkaDriver("k", connection)
    late = KafkaDriver("k", connection)
    try:
        assert early.read_ahead(section)
        with_ahead = _plan_error(early, desired, prune)
        # The failed metadata read ahead was the first try's; the retry asked again by itself.
        assert sent.of(False, "metadata")
        without = _plan_error(late, desired, prune)
    finally:
        early.close()
        late.close()
    # Word for word, but for librdkafka's timings ("after 0ms in state CONNECT").
    assert re.sub(r"\d+ms", "Nms", with_ahead) == re.sub(r"\d+ms", "Nms", without)
    assert "cannot connect" in with_ahead
    assert sent.of(True, "dry run") == sent.of(False, "dry run") == []


def test_a_section_read_ahead_as_parsed_only_gets_no_dry_run(tmp_path: Path, prefix: str, sent: Sent) -> None:
    # A section the schema refuses is never compiled: read ahead as parsed, it gets the metadata
    # request alone. Once compiled, the same driver sends its dry run.
    section = _section(_topics(prefix, 2))
    driver = KafkaDriver("k", CONNECTION)
    try:
        assert driver.read_ahead(section)
        _wait_for(lambda: len(sent.of(True, "metadata")) == 1, "the metadata read ahead")
        time.sleep(0.3)
        assert sent.of(True, "dry run") == []
        driver.read_ahead_compiled(_desired(tmp_path, section)[0])
        _wait_for(lambda: len(sent.topics(True, "dry run")) == 2, "the dry run sent ahead")
    finally:
        driver.close()


def test_an_invalid_manifest_gets_its_error_and_sends_no_create_topics(tmp_path: Path, prefix: str, sent: Sent) -> None:
    topics = _topics(prefix, 2)
    topics[f"{prefix}t0"]["partitons"] = 3
    path = _manifest(tmp_path, _section(topics))
    for command in ("plan", "apply"):
        args = ("apply", "-f", path, "--auto-approve") if command == "apply" else ("plan", "-f", path)
        result = topoctl(*args)
        assert result.code == 1
        assert "partitons" in result.stderr and f"{path}:" in result.stderr
        assert "Traceback" not in result.stderr
    time.sleep(0.3)  # a dry run sent in the background would be out by now
    assert [w for _, w, _ in sent.calls if w != "metadata"] == []


def test_a_read_ahead_nobody_reads_ends_with_close(prefix: str, sent: Sent) -> None:
    driver = KafkaDriver("k", CONNECTION)
    assert driver.read_ahead(_section(_topics(prefix, 5)))
    threads = [t for t in threading.enumerate() if t.name == "read-ahead"]
    assert threads and all(t.daemon for t in threads)  # never holds up the end of the process
    driver.close()
    assert driver._early is None and driver._admin is None
    for thread in threads:
        thread.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert sent.of(True, "dry run") == []  # closed before the guess: nothing sent after


def test_a_plan_read_ahead_is_the_plan_read_after_compiling(tmp_path: Path, prefix: str, sent: Sent) -> None:
    path = _manifest(tmp_path, _section(_topics(prefix, 40)))

    def plan(ahead: bool) -> Any:
        with ReadAhead() as early:
            hooks: dict[str, Any] = {"parsed": early, "compiled": early.compiled} if ahead else {}
            manifest = load_manifest([str(path)], **hooks)
            with Session(manifest, ahead=early if ahead else None) as session:
                return json.loads(json.dumps(session.plan().to_json(), default=str))

    with_ahead = plan(True)
    # One metadata request, read ahead; each topic dry-run once, ahead or by the read (which of
    # the two depends on how soon the read comes after the compile: see kafka/ahead.py).
    assert len(sent.of(True, "metadata")) == 1 and sent.of(False, "metadata") == []
    dry_run = sent.topics(True, "dry run") + sent.topics(False, "dry run")
    assert sorted(dry_run) == sorted(_topics(prefix, 40))
    assert with_ahead == plan(False)
    assert len(with_ahead["changes"]) == 40
