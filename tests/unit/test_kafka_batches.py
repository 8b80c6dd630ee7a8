"""Every batched Kafka admin call stays under KRaft's cap of 10,000 metadata records per request
(issue 10), against a fake AdminClient that refuses bigger requests the way the controller does."""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AclBinding  # type: ignore[attr-defined]

from tests.unit.kafka_support import acl_address, acl_attrs
from tests.unit.test_kafka_driver_fake import DYNAMIC_TOPIC, FakeAdmin, done_future, driver
from topoctl.errors import BrokerError
from topoctl.model import Action, Address, Change, FieldChange, Resource
from topoctl.providers.base import PruneScope
from topoctl.providers.kafka.driver import CONFIG_CHUNK, MAX_RECORDS_PER_REQUEST, _acl_binding, record_chunks

KRAFT_CAP = 10_000
TOO_LARGE = KafkaError(KafkaError.POLICY_VIOLATION, "Unable to perform excessively large batch operation.")


class CappedAdmin(FakeAdmin):
    """Counts the metadata records of every write (and dry run); refuses a request over the cap."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, list[int]] = {}

    def _capped(self, call: str, records: int, keys: list[Any]) -> dict[Any, Future[Any]] | None:
        self.records.setdefault(call, []).append(records)
        if records > KRAFT_CAP:
            return {k: done_future(None, TOO_LARGE) for k in keys}
        return None

    def create_topics(self, new_topics: list[Any], validate_only: bool = False, **kw: Any) -> dict[str, Future[Any]]:
        records = sum(1 + t.num_partitions + len(t.config) for t in new_topics)
        refused = self._capped(
            "validate_create_topics" if validate_only else "create_topics", records, [t.topic for t in new_topics]
        )
        return refused or super().create_topics(new_topics, validate_only, **kw)

    def delete_topics(self, names: list[str], **kw: Any) -> dict[str, Future[Any]]:
        return self._capped("delete_topics", len(names), names) or super().delete_topics(names, **kw)

    def create_partitions(self, new: list[Any], **kw: Any) -> dict[str, Future[Any]]:
        records = sum(p.new_total_count - len(self.topics[p.topic].partitions) for p in new)
        return self._capped("create_partitions", records, [p.topic for p in new]) or super().create_partitions(
            new, **kw
        )

    def incremental_alter_configs(
        self, resources: list[Any], validate_only: bool = False, **kw: Any
    ) -> dict[Any, Future[Any]]:
        records = sum(len(r.incremental_configs) for r in resources)
        call = "validate_incremental_alter_configs" if validate_only else "incremental_alter_configs"
        return self._capped(call, records, resources) or super().incremental_alter_configs(
            resources, validate_only, **kw
        )

    def create_acls(self, bindings: list[Any], **_: Any) -> dict[Any, Future[Any]]:
        refused = self._capped("create_acls", len(bindings), bindings)
        if refused is None:
            self.acls.extend(bindings)
        return refused or {b: done_future() for b in bindings}

    def delete_acls(self, filters: list[Any], **_: Any) -> dict[Any, Future[Any]]:
        refused = self._capped("delete_acls", len(filters), filters)
        if refused is None:
            gone = {(f.name, f.principal) for f in filters}
            self.acls = [a for a in self.acls if (a.name, a.principal) not in gone]
        return refused or {f: done_future([]) for f in filters}


def topic(name: str, **attrs: Any) -> Resource:
    return Resource(Address("k", "topic", (name,)), attrs)


def acl(name: str, principal: str) -> dict[str, Any]:
    return acl_attrs(resource_name=name, principal=principal)


def acl_change(action: Action, attrs: dict[str, Any]) -> Change:
    return Change(
        acl_address(attrs),
        action,
        attrs if action == Action.DELETE else None,
        attrs if action == Action.CREATE else None,
    )


def test_the_plan_time_dry_runs_are_split_under_the_cap() -> None:
    admin = CappedAdmin()
    for i in range(3_000):
        admin.add_topic(f"live{i}", 1, **{"retention.ms": ("1", DYNAMIC_TOPIC)})
    config = {"retention.ms": "9", "segment.ms": "9", "cleanup.policy": "delete", "max.message.bytes": "9"}
    wanted = [topic(f"new{i}", partitions=2, config=config) for i in range(5_000)]  # 7 records each
    wanted += [topic(f"live{i}", partitions=1, config=config) for i in range(3_000)]  # 4 config records each
    driver(admin).read(wanted, [])
    assert sum(admin.records["validate_create_topics"]) == 35_000
    assert sum(admin.records["validate_incremental_alter_configs"]) == 12_000
    for call, sizes in admin.records.items():
        assert max(sizes) <= MAX_RECORDS_PER_REQUEST, call


def test_every_batched_write_of_a_big_wave_is_split_under_the_cap() -> None:
    admin = CappedAdmin()
    for i in range(12_000):
        admin.add_topic(f"old{i}")
    for i in range(3_000):
        admin.add_topic(f"grow{i}", 1, **{"retention.ms": ("1", DYNAMIC_TOPIC)})
    stale = [acl(f"old{i}", "User:gone") for i in range(11_000)]
    admin.acls = [_acl_binding(a, AclBinding) for a in stale]  # what the deletes below find
    changes = [
        Change(Address("k", "topic", (f"old{i}",)), Action.DELETE, {"partitions": 1}, None) for i in range(12_000)
    ]
    changes += [
        Change(Address("k", "topic", (f"new{i}",)), Action.CREATE, None, {"partitions": 3, "config": {"a.b": "1"}})
        for i in range(3_000)
    ]
    changes += [
        Change(
            Address("k", "topic", (f"grow{i}",)),
            Action.UPDATE,
            {"partitions": 1, "config": {"retention.ms": "1"}},
            {"partitions": 5, "config": {"retention.ms": "2", "segment.ms": "3"}},
            fields=(
                FieldChange("partitions", 1, 5),
                FieldChange("config.retention.ms", "1", "2"),
                FieldChange("config.segment.ms", None, "3"),
            ),
        )
        for i in range(3_000)
    ]
    changes += [acl_change(Action.DELETE, a) for a in stale]
    changes += [acl_change(Action.CREATE, acl(f"new{i}", "User:new")) for i in range(11_000)]
    done: list[Change] = []
    driver(admin).apply(changes, 8, done.append)

    assert len(done) == len(changes)
    expected = {
        "delete_topics": 12_000,
        "create_topics": 3_000 * 5,
        "create_partitions": 3_000 * 4,
        "incremental_alter_configs": 3_000 * 2,
        "delete_acls": 11_000,
        "create_acls": 11_000,
    }
    assert {call: sum(sizes) for call, sizes in admin.records.items()} == expected
    for call, sizes in admin.records.items():
        assert max(sizes) <= MAX_RECORDS_PER_REQUEST, call
        assert len(sizes) > 1, call  # each was over the cap as one request
    assert len(admin.topics["grow7"].partitions) == 5
    assert {a.principal for a in admin.acls} == {"User:new"}


def test_a_later_request_refused_outright_fails_only_its_own_topics() -> None:
    class RefusesSecond(CappedAdmin):
        calls_made = 0

        def create_topics(self, new_topics: list[Any], validate_only: bool = False, **kw: Any) -> Any:
            self.calls_made += 1
            if self.calls_made == 2:
                raise KafkaException(KafkaError(KafkaError._TRANSPORT, "Connection reset"))
            return super().create_topics(new_topics, validate_only, **kw)

    admin = RefusesSecond()
    changes = [
        Change(Address("k", "topic", (f"t{i}",)), Action.CREATE, None, {"partitions": 1}) for i in range(4_000)
    ]  # 2 records each: two requests
    done: list[Change] = []
    with pytest.raises(BrokerError, match="Connection reset"):
        driver(admin).apply(changes, 8, done.append)
    # The first request's topics (the short run: 8,000 records cut from the end) were created and counted.
    assert len(done) == 4_000 - MAX_RECORDS_PER_REQUEST // 2
    assert "t0" in admin.topics and "t3999" not in admin.topics


def test_chunks_keep_the_order_and_a_heavy_item_goes_alone() -> None:
    weights = [1, MAX_RECORDS_PER_REQUEST - 1, 1, MAX_RECORDS_PER_REQUEST + 7, 2]
    chunks = record_chunks(list(range(len(weights))), lambda i: weights[i])
    assert chunks == [[0], [1, 2], [3], [4]]
    assert record_chunks([], lambda i: 1) == []


def test_the_short_request_goes_first() -> None:
    # The broker shows a request's topics only after the logs of the requests before it: the last
    # request is the full one, so the write shows after the fewest logs.
    per_topic = 5  # a topic, one partition, three configs
    chunks = record_chunks(list(range(2_500)), lambda _: per_topic)
    full = MAX_RECORDS_PER_REQUEST // per_topic
    assert [len(c) for c in chunks] == [2_500 - 2 * full, full, full]
    assert [i for c in chunks for i in c] == list(range(2_500))


def test_a_big_create_the_broker_shows_slowly_but_steadily_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """5,000 new topics take a busy broker longer than the settle time to show; as long as fewer
    are pending at each poll the wait goes on (it used to fail them all "not ready in time")."""
    monkeypatch.setattr("topoctl.providers.kafka.driver.SETTLE_TIMEOUT_S", 0.3)

    class SlowShowing(CappedAdmin):
        hidden: list[str] = []

        def create_topics(self, new_topics: list[Any], validate_only: bool = False, **kw: Any) -> Any:
            out = super().create_topics(new_topics, validate_only, **kw)
            if not validate_only:
                self.hidden += [t.topic for t in new_topics]
            return out

        def list_topics(self, timeout: float) -> Any:
            time.sleep(0.02)
            if self.hidden:
                self.hidden.pop(0)  # one more topic shows at each poll
            meta = super().list_topics(timeout)
            for name in self.hidden:
                meta.topics.pop(name, None)
            return meta

    admin = SlowShowing()
    changes = [Change(Address("k", "topic", (f"t{i}",)), Action.CREATE, None, {"partitions": 1}) for i in range(40)]
    done: list[Change] = []
    driver(admin).apply(changes, 8, done.append)  # ~40 polls: well over the 0.3 s settle time
    assert len(done) == 40 and not admin.hidden


def test_a_broker_that_stops_making_progress_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("topoctl.providers.kafka.driver.SETTLE_TIMEOUT_S", 0.3)

    class Stuck(CappedAdmin):
        def list_topics(self, timeout: float) -> Any:
            meta = super().list_topics(timeout)
            meta.topics.pop("never", None)
            return meta

    changes = [Change(Address("k", "topic", (n,)), Action.CREATE, None, {"partitions": 1}) for n in ("ok", "never")]
    started = time.monotonic()
    with pytest.raises(BrokerError, match="'never' was created but did not become ready in time"):
        driver(Stuck()).apply(changes, 8, lambda c: None)
    assert time.monotonic() - started < 5


def test_a_plan_reads_the_configs_of_the_topics_it_can_act_on_only() -> None:
    """In a shared cluster the other topics' configs (~40 entries each) are time and memory for
    nothing; an export (nothing declared, nothing pruned) still reads them all, a window at a time."""
    admin = CappedAdmin()
    for i in range(1_200):
        admin.add_topic(f"other{i}", 1, **{"retention.ms": ("1", DYNAMIC_TOPIC)})
    admin.add_topic("mine", 1, **{"retention.ms": ("5", DYNAMIC_TOPIC)})
    observed = driver(admin).read([topic("mine", partitions=1, config={"retention.ms": "5"})], [])
    described = [names for call, names in admin.calls if call == "describe_configs"]
    assert described == [["mine"]]
    # Nor are the others observed: no plan acts on them (their configs would only look empty).
    assert {r.address.name[0]: r.attrs["config"] for r in observed} == {"mine": {"retention.ms": "5"}}
    pruned = driver(admin).read([], [PruneScope(kinds=frozenset({"topic"}), prefix="other119")])
    assert sorted(r.address.name[0] for r in pruned) == ["other119", *(f"other119{i}" for i in range(10))]

    admin.calls.clear()
    everything = driver(admin).read([], [])
    described = [names for call, names in admin.calls if call == "describe_configs"]
    assert sum(len(n) for n in described) == 1_201 and max(len(n) for n in described) <= CONFIG_CHUNK
    assert all(r.attrs["config"] == {"retention.ms": "1"} for r in everything if r.address.name[0].startswith("other"))


class LateBroker(CappedAdmin):
    """Publishes each write `lag` seconds after accepting it, as a broker still removing the logs of
    its previous write does: until then neither DescribeTopics nor metadata shows it. `never` is
    never shown; `refuse_describe` makes every DescribeTopics fail (a principal without Describe)."""

    def __init__(self, lag: float = 0.4, never: str = "", refuse_describe: bool = False) -> None:
        super().__init__()
        self.lag, self.never, self.refuse_describe = lag, never, refuse_describe
        self.until = 0.0
        self.unborn: set[str] = set()  # created, not shown yet
        self.lingering: dict[str, Any] = {}  # deleted, still shown

    def create_topics(self, new_topics: list[Any], validate_only: bool = False, **kw: Any) -> Any:
        out = super().create_topics(new_topics, validate_only, **kw)
        if not validate_only:
            self.unborn |= {t.topic for t in new_topics}
            self.until = time.monotonic() + self.lag
        return out

    def delete_topics(self, names: list[str], **kw: Any) -> Any:
        self.lingering.update({n: self.topics[n] for n in names if n in self.topics})
        self.until = time.monotonic() + self.lag
        return super().delete_topics(names, **kw)

    def _shown(self) -> dict[str, Any]:
        if time.monotonic() >= self.until:
            self.unborn &= {self.never}
            self.lingering.clear()
        shown = {n: t for n, t in self.topics.items() if n not in self.unborn}
        return {**shown, **self.lingering}

    def list_topics(self, timeout: float) -> Any:
        meta = super().list_topics(timeout)
        meta.topics = self._shown()
        return meta

    def describe_topics(self, topics: Any, **kw: Any) -> dict[str, Future[Any]]:
        names = list(topics.topic_names)
        self.calls.append(("describe_topics", names))
        shown = self._shown()
        if self.refuse_describe:
            denied = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "Topic authorization failed")
            return {n: done_future(None, denied) for n in names}
        unknown = KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, "Broker: Unknown topic or partition")
        return {n: done_future(shown[n]) if n in shown else done_future(None, unknown) for n in names}

    def full_polls(self) -> int:
        return self.call_names().count("list_topics")


def _creates(count: int) -> list[Change]:
    return [Change(Address("k", "topic", (f"t{i}",)), Action.CREATE, None, {"partitions": 1}) for i in range(count)]


@pytest.fixture
def small_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Five topics of two records (one partition, no config) a request."""
    monkeypatch.setattr("topoctl.providers.kafka.driver.MAX_RECORDS_PER_REQUEST", 10)


def test_a_create_the_broker_shows_late_is_watched_through_the_last_topic_of_each_request(
    small_requests: None,
) -> None:
    """Until the broker shows the last topic of each request it shows none of the write: waiting
    for them costs one DescribeTopics of those alone per poll, and one metadata poll of the whole
    cluster once they show (there were a dozen, each of every topic, while the broker caught up)."""
    admin = LateBroker()
    done: list[Change] = []
    driver(admin).apply(_creates(12), 8, done.append)
    assert len(done) == 12 and not admin.unborn
    watched = [names for call, names in admin.calls if call == "describe_topics"]
    assert len(watched) >= 3 and all(names == ["t1", "t6", "t11"] for names in watched)
    assert admin.full_polls() == 1


def test_a_delete_the_broker_shows_late_is_watched_the_same_way(small_requests: None) -> None:
    """A delete is one record a topic: ten a request."""
    admin = LateBroker()
    for i in range(12):
        admin.add_topic(f"t{i}")
    deletes = [Change(Address("k", "topic", (f"t{i}",)), Action.DELETE, {"partitions": 1}, None) for i in range(12)]
    done: list[Change] = []
    driver(admin).apply(deletes, 8, done.append)
    assert len(done) == 12 and not admin.lingering and not admin.topics
    watched = [names for call, names in admin.calls if call == "describe_topics"]
    assert len(watched) >= 3 and all(names == ["t1", "t11"] for names in watched)
    assert admin.full_polls() == 1


def test_a_last_topic_that_never_shows_fails_the_same_way_after_one_full_poll(
    small_requests: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("topoctl.providers.kafka.driver.SETTLE_TIMEOUT_S", 0.3)
    admin = LateBroker(lag=0.0, never="t6")
    done: list[Change] = []
    started = time.monotonic()
    with pytest.raises(BrokerError) as info:
        driver(admin).apply(_creates(7), 8, done.append)
    assert time.monotonic() - started < 5
    assert len(done) == 7  # accepted by the broker: counted, shown or not
    assert "'t6' was created but did not become ready in time" in str(info.value)
    assert "'t5'" not in str(info.value) and admin.full_polls() == 1


def test_a_broker_that_refuses_describe_topics_is_polled_as_before(small_requests: None) -> None:
    admin = LateBroker(lag=0.3, refuse_describe=True)
    done: list[Change] = []
    driver(admin).apply(_creates(7), 8, done.append)
    assert len(done) == 7 and not admin.unborn
    assert admin.call_names().count("describe_topics") == 1 and admin.full_polls() > 1
