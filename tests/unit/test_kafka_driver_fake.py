"""The Kafka driver against a fake AdminClient: what a real broker cannot easily show
(request counts, injected failures, a broker without an authorizer, secrets in error text)."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclOperation,
    AclPermissionType,
    ConfigEntry,
    ConfigSource,
    ResourcePatternType,
    ResourceType,
)

from tests.unit.kafka_support import acl_address, acl_attrs
from topoctl.errors import BrokerError, PlanError
from topoctl.model import Action, Address, Change, FieldChange, Resource
from topoctl.providers.kafka.driver import KafkaDriver

SECRET = "hunter2-very-secret"


def done_future(value: Any = None, error: KafkaError | None = None) -> Future[Any]:
    future: Future[Any] = Future()
    if error is not None:
        future.set_exception(KafkaException(error))
    else:
        future.set_result(value)
    return future


@dataclass
class Partition:
    replicas: list[int] = field(default_factory=lambda: [1])
    leader: int = 1


@dataclass
class TopicMeta:
    partitions: dict[int, Partition]
    error: Any = None


@dataclass
class Offset:
    offset: int


@dataclass
class Metadata:
    topics: dict[str, TopicMeta]


class FakeAdmin:
    """Just enough of AdminClient; records every call."""

    def __init__(self) -> None:
        self.topics: dict[str, TopicMeta] = {}
        self.configs: dict[str, dict[str, ConfigEntry]] = {}
        self.acls: list[AclBinding] = []
        self.acl_error: KafkaError | None = None
        self.create_errors: dict[str, KafkaError] = {}
        self.alter_errors: dict[str, KafkaError] = {}
        self.calls: list[tuple[str, Any]] = []

    def add_topic(self, name: str, partitions: int = 1, /, **config: tuple[str, int]) -> None:
        self.topics[name] = TopicMeta({i: Partition() for i in range(partitions)})
        self.configs[name] = {k: ConfigEntry(k, v, source=ConfigSource(s)) for k, (v, s) in config.items()}

    def list_topics(self, timeout: float) -> Metadata:
        self.calls.append(("list_topics", None))
        return Metadata(dict(self.topics))

    def describe_topics(self, topics: Any, **_: Any) -> dict[str, Future[Any]]:
        names = list(topics.topic_names)
        self.calls.append(("describe_topics", names))
        unknown = KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, "Broker: Unknown topic or partition")
        return {n: done_future(self.topics[n]) if n in self.topics else done_future(None, unknown) for n in names}

    def describe_configs(self, resources: list[Any], **_: Any) -> dict[Any, Future[Any]]:
        self.calls.append(("describe_configs", [r.name for r in resources]))
        return {r: done_future(self.configs.get(r.name, {})) for r in resources}

    def describe_acls(self, acl_filter: Any, **_: Any) -> Future[Any]:
        self.calls.append(("describe_acls", None))
        return done_future(list(self.acls), self.acl_error)

    def create_topics(self, new_topics: list[Any], validate_only: bool = False, **_: Any) -> dict[str, Future[Any]]:
        self.calls.append(
            ("validate_create_topics" if validate_only else "create_topics", [t.topic for t in new_topics])
        )
        out = {}
        for t in new_topics:
            error = self.create_errors.get(t.topic)
            if error is None and not validate_only:
                self.add_topic(t.topic, t.num_partitions)
                self.configs[t.topic] = {
                    k: ConfigEntry(k, v, source=ConfigSource.DYNAMIC_TOPIC_CONFIG) for k, v in t.config.items()
                }
            out[t.topic] = done_future(None, error)
        return out

    def delete_topics(self, names: list[str], **_: Any) -> dict[str, Future[Any]]:
        self.calls.append(("delete_topics", list(names)))
        for name in names:
            self.topics.pop(name, None)
        return {n: done_future() for n in names}

    def create_partitions(self, new: list[Any], **_: Any) -> dict[str, Future[Any]]:
        self.calls.append(("create_partitions", [(p.topic, p.new_total_count) for p in new]))
        for p in new:
            self.topics[p.topic] = TopicMeta({i: Partition() for i in range(p.new_total_count)})
        return {p.topic: done_future() for p in new}

    def incremental_alter_configs(
        self, resources: list[Any], validate_only: bool = False, **_: Any
    ) -> dict[Any, Future[Any]]:
        ops = {
            r.name: {e.name: (e.incremental_operation.name, e.value) for e in r.incremental_configs} for r in resources
        }
        if validate_only:
            self.calls.append(("validate_incremental_alter_configs", ops))
            return {r: done_future(None, self.alter_errors.get(r.name)) for r in resources}
        self.calls.append(("incremental_alter_configs", ops))
        for name, entries in ops.items():
            for key, (op, value) in entries.items():
                if op == "DELETE":
                    self.configs[name].pop(key, None)
                else:
                    self.configs[name][key] = ConfigEntry(key, value, source=ConfigSource.DYNAMIC_TOPIC_CONFIG)
        return {r: done_future() for r in resources}

    def list_offsets(self, specs: dict[Any, Any], **_: Any) -> dict[Any, Future[Any]]:
        self.calls.append(("list_offsets", sorted({tp.topic for tp in specs})))
        latest = type(next(iter(specs.values()))).__name__ == "LatestSpec"
        return {tp: done_future(Offset(5 if latest else 1)) for tp in specs}

    def call_names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def describe_user_scram_credentials(self, **_: Any) -> Future[Any]:
        self.calls.append(("describe_user_scram_credentials", None))
        return done_future({})


class FakeExtra:
    """The kafka-python side (quotas, reassignments), recording its calls in the admin's list."""

    def __init__(self, admin: FakeAdmin) -> None:
        self.admin = admin

    def describe_quotas(self) -> list[Any]:
        self.admin.calls.append(("describe_quotas", None))
        return []

    def close(self) -> None:
        pass


DYNAMIC_TOPIC = ConfigSource.DYNAMIC_TOPIC_CONFIG.value


def _tune() -> Change:
    """retention.ms of topic `tune` from 1 to 5."""
    return Change(
        Address("k", "topic", ("tune",)),
        Action.UPDATE,
        {"partitions": 1, "config": {"retention.ms": "1"}},
        {"config": {"retention.ms": "5"}},
        fields=(FieldChange("config.retention.ms", "1", "5"),),
    )


def driver(admin: FakeAdmin, **connection: Any) -> KafkaDriver:
    d = KafkaDriver("k", {"bootstrap_servers": "127.0.0.1:9092", **connection})
    d._admin = admin  # type: ignore[assignment]
    d._extra = FakeExtra(admin)  # type: ignore[assignment]
    return d


def test_read_is_a_constant_number_of_requests_and_keeps_only_topic_level_configs() -> None:
    admin = FakeAdmin()
    for i in range(50):
        admin.add_topic(
            f"t{i}",
            2,
            **{
                "retention.ms": ("604800000", DYNAMIC_TOPIC),
                "segment.bytes": ("1073741824", ConfigSource.DEFAULT_CONFIG.value),
                "log.retention.ms": ("1", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value),
                "flush.ms": ("5", ConfigSource.STATIC_BROKER_CONFIG.value),
            },
        )
    admin.add_topic("__consumer_offsets", 50)
    admin.acls = [
        AclBinding(
            ResourceType.TOPIC,
            "t1",
            ResourcePatternType.LITERAL,
            "User:a",
            "*",
            AclOperation.READ,
            AclPermissionType.ALLOW,
        )
    ]
    observed = driver(admin).read([], [])

    # Nothing declared, nothing pruned: an export, which reads quotas and SCRAM users too.
    assert sorted(admin.call_names()) == [
        "describe_acls",
        "describe_configs",
        "describe_quotas",
        "describe_user_scram_credentials",
        "list_topics",
    ]
    (described,) = [names for name, names in admin.calls if name == "describe_configs"]
    assert len(described) == 50 and "__consumer_offsets" not in described
    topics = [r for r in observed if r.kind == "topic"]
    assert len(topics) == 50
    assert topics[0].attrs == {"partitions": 2, "replication_factor": 1, "config": {"retention.ms": "604800000"}}
    (acl,) = [r for r in observed if r.kind == "acl"]
    assert str(acl.address) == "k/acl/topic/literal/t1/User:a/*/read/allow"
    assert acl.depends_on == (Address("k", "topic", ("t1",)),)


def test_a_broker_without_authorizer_reads_no_acls_unless_the_manifest_declares_some() -> None:
    admin = FakeAdmin()
    admin.acl_error = KafkaError(KafkaError.SECURITY_DISABLED, "Security features are disabled")
    assert driver(admin).read([], []) == []
    attrs = acl_attrs()
    wanted = Resource(acl_address(attrs), attrs)
    with pytest.raises(BrokerError, match="no authorizer"):
        driver(admin).read([wanted], [])


def test_a_desired_topic_colliding_with_a_live_one_is_a_plan_error() -> None:
    admin = FakeAdmin()
    admin.add_topic("orders_v1")
    wanted = Resource(Address("k", "topic", ("orders.v1",)), {}, source="m.yaml:9")
    with pytest.raises(PlanError) as info:
        driver(admin).read([wanted], [])
    assert "'orders.v1' (declared at m.yaml:9)" in str(info.value) and "'orders_v1'" in str(info.value)
    # Planned away in the same manifest: no error.
    going = Resource(Address("k", "topic", ("orders_v1",)), {}, absent=True)
    admin.calls.clear()
    (observed,) = driver(admin).read([wanted, going], [])
    # Only the topic about to be deleted has its messages counted (one batched call per spec).
    assert [c for c in admin.calls if c[0] == "list_offsets"] == [("list_offsets", ["orders_v1"])] * 2
    assert observed.info == {"partitions": 1, "messages": 4}


def test_a_wave_is_batched_into_one_request_per_kind_of_write() -> None:
    admin = FakeAdmin()
    admin.add_topic("old")
    admin.add_topic("grow", 1, **{"retention.ms": ("1", DYNAMIC_TOPIC), "segment.ms": ("2", DYNAMIC_TOPIC)})
    admin.add_topic("tune", **{"retention.ms": ("1", DYNAMIC_TOPIC)})
    changes = [
        Change(
            Address("k", "topic", (f"new{i}",)),
            Action.CREATE,
            None,
            {"partitions": 2, "config": {"retention.ms": "9", "x": None}},
        )
        for i in range(3)
    ]
    changes.append(Change(Address("k", "topic", ("old",)), Action.DELETE, {"partitions": 1}, None))
    changes.append(
        Change(
            Address("k", "topic", ("grow",)),
            Action.UPDATE,
            {"partitions": 1, "config": {"retention.ms": "1", "segment.ms": "2"}},
            {"partitions": 3},
            fields=(
                FieldChange("partitions", 1, 3),
                FieldChange("config.segment.ms", "2", None, unmanaged=True),  # shown, never applied
            ),
        )
    )
    changes.append(_tune())
    done: list[Change] = []
    driver(admin).apply(changes, 8, done.append)

    writes = [c for c in admin.calls if c[0] not in ("list_topics", "describe_configs", "describe_topics")]
    assert writes == [
        ("delete_topics", ["old"]),
        ("create_topics", ["new0", "new1", "new2"]),
        ("create_partitions", [("grow", 3)]),
        ("incremental_alter_configs", {"tune": {"retention.ms": ("SET", "5")}}),
    ]
    assert sorted(str(c.address) for c in done) == sorted(str(c.address) for c in changes)
    assert admin.configs["new0"]["retention.ms"].value == "9" and "x" not in admin.configs["new0"]
    assert admin.configs["grow"]["segment.ms"].value == "2"


def test_a_failed_create_names_the_topic_keeps_the_others_and_hides_secrets() -> None:
    admin = FakeAdmin()
    admin.create_errors["bad"] = KafkaError(KafkaError.POLICY_VIOLATION, f"refused (sasl.password={SECRET})")
    changes = [
        Change(Address("k", "topic", (name,)), Action.CREATE, None, {"partitions": 1}) for name in ("good", "bad")
    ]
    done: list[Change] = []
    d = driver(admin, sasl={"username": "u", "password": SECRET})
    with pytest.raises(BrokerError) as info:
        d.apply(changes, 8, done.append)
    assert [c.address.name[0] for c in done] == ["good"]
    assert "cannot create topic 'bad'" in str(info.value)
    assert SECRET not in str(info.value) and "***" in str(info.value)


def test_deleting_an_acl_uses_an_exact_filter() -> None:
    captured: list[Any] = []

    class AclAdmin(FakeAdmin):
        def delete_acls(self, filters: list[Any], **_: Any) -> dict[Any, Future[Any]]:
            captured.extend(filters)
            return {f: done_future([]) for f in filters}

    attrs = acl_attrs(
        resource_type="transactional_id",
        pattern_type="prefixed",
        resource_name="tx-",
        operation="write",
        permission="deny",
    )
    change = Change(acl_address(attrs), Action.DELETE, attrs, None)
    done: list[Change] = []
    driver(AclAdmin()).apply([change], 1, done.append)
    (acl_filter,) = captured
    assert acl_filter.restype == ResourceType.TRANSACTIONAL_ID
    assert acl_filter.resource_pattern_type == ResourcePatternType.PREFIXED
    assert (acl_filter.name, acl_filter.principal, acl_filter.host) == ("tx-", "User:a", "*")
    assert acl_filter.operation == AclOperation.WRITE
    assert acl_filter.permission_type == AclPermissionType.DENY
    assert done == [change]


@pytest.mark.parametrize(
    ("live", "before", "after", "shown"),
    [
        ("2", "1", "2", True),  # the value asked for
        ("2.0", "1", "2", True),  # set, in a spelling of the broker's own: the apply worked
        ("1", "1", "2", False),  # not yet
        (None, None, "2", False),  # not yet
        (None, "1", None, True),  # deleted
        ("1", "1", None, False),  # not yet deleted
    ],
)
def test_an_applied_config_counts_as_shown_even_in_the_brokers_own_spelling(
    live: str | None, before: str | None, after: str | None, shown: bool
) -> None:
    from topoctl.providers.kafka.driver import _shows

    assert _shows(live, before, after) is shown


def test_a_topic_that_exists_but_cannot_be_seen_is_a_plan_error_not_a_create() -> None:
    """A principal without Describe on a topic does not see it in the metadata; the create dry
    run tells, so the plan does not promise a create that apply could not do."""
    admin = FakeAdmin()
    admin.create_errors["hidden"] = KafkaError(KafkaError.TOPIC_ALREADY_EXISTS, "Topic 'hidden' already exists.")
    wanted = Resource(Address("k", "topic", ("hidden",)), {"partitions": 1}, source="m.yaml:7")
    with pytest.raises(PlanError) as info:
        driver(admin).read([wanted], [])
    assert "topic 'hidden' (declared at m.yaml:7): cannot create it: it already exists, but this principal" in str(
        info.value
    )
    assert "create_topics" not in admin.call_names() and "validate_create_topics" in admin.call_names()


# -- a failed apply reports every change that completed ---------------------------------------------


def _create(name: str, partitions: int = 1) -> Change:
    return Change(Address("k", "topic", (name,)), Action.CREATE, None, {"partitions": partitions})


@pytest.fixture
def quick_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waiting for KRaft to show a write gives up after a moment instead of 30 s."""
    monkeypatch.setattr("topoctl.providers.kafka.driver.SETTLE_TIMEOUT_S", 0.2)


def test_a_created_topic_the_broker_is_slow_to_show_still_counts_as_added(quick_settle: None) -> None:
    """The broker accepted the CreateTopics: the topic exists, so "Applied before the failure"
    must count it, even though the apply fails for not seeing it in time."""

    class SlowAdmin(FakeAdmin):
        def list_topics(self, timeout: float) -> Metadata:
            meta = super().list_topics(timeout)
            meta.topics.pop("slow", None)
            return meta

    done: list[Change] = []
    with pytest.raises(BrokerError) as info:
        driver(SlowAdmin()).apply([_create("good"), _create("slow")], 8, done.append)
    assert sorted(c.address.name[0] for c in done) == ["good", "slow"]
    assert "'slow' was created but did not become ready in time" in str(info.value)


def test_a_lost_connection_while_waiting_keeps_what_completed_and_every_failure(quick_settle: None) -> None:
    class LostAdmin(FakeAdmin):
        lost = False

        def create_topics(self, new_topics: list[Any], validate_only: bool = False, **kw: Any) -> Any:
            out = super().create_topics(new_topics, validate_only, **kw)
            self.lost = True
            return out

        def list_topics(self, timeout: float) -> Metadata:
            if self.lost:
                raise KafkaException(KafkaError(KafkaError._TRANSPORT, "Connection refused"))
            return super().list_topics(timeout)

    admin = LostAdmin()
    admin.create_errors["bad"] = KafkaError(KafkaError.POLICY_VIOLATION, "refused")
    done: list[Change] = []
    with pytest.raises(BrokerError) as info:
        driver(admin).apply([_create("good"), _create("bad")], 8, done.append)
    assert [c.address.name[0] for c in done] == ["good"]
    text = str(info.value)
    assert "cannot create topic 'bad'" in text and "'good'" in text and "Connection refused" in text


def test_a_config_change_the_broker_accepted_counts_as_changed_even_if_not_shown_yet(quick_settle: None) -> None:
    class ForgetfulAdmin(FakeAdmin):
        def incremental_alter_configs(self, resources: list[Any], validate_only: bool = False, **kw: Any) -> Any:
            self.calls.append(("incremental_alter_configs", [r.name for r in resources]))
            return {r: done_future() for r in resources}  # accepted, but describe keeps the old value

    admin = ForgetfulAdmin()
    admin.add_topic("tune", **{"retention.ms": ("1", DYNAMIC_TOPIC)})
    change = _tune()
    done: list[Change] = []
    with pytest.raises(BrokerError, match="'tune' was changed but the broker does not show it yet"):
        driver(admin).apply([change], 8, done.append)
    assert done == [change]


def test_a_refused_batch_fails_its_topics_at_once_and_counts_none_of_them(quick_settle: None) -> None:
    class NoPartitionsAdmin(FakeAdmin):
        def create_partitions(self, new: list[Any], **_: Any) -> Any:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "Connection reset"))

    admin = NoPartitionsAdmin()
    admin.add_topic("grow", 1)
    admin.add_topic("tune", **{"retention.ms": ("1", DYNAMIC_TOPIC)})
    grow = Change(
        Address("k", "topic", ("grow",)),
        Action.UPDATE,
        {"partitions": 1},
        {"partitions": 3},
        fields=(FieldChange("partitions", 1, 3),),
    )
    tune = _tune()
    done: list[Change] = []
    with pytest.raises(BrokerError) as info:
        driver(admin).apply([grow, tune], 8, done.append)
    assert done == [tune]
    assert "cannot add partitions" in str(info.value)
    assert "does not show it yet" not in str(info.value)  # it was refused, not slow


def test_an_update_that_only_half_happened_is_not_counted_but_says_what_did(quick_settle: None) -> None:
    admin = FakeAdmin()
    admin.add_topic("both", 1, **{"retention.ms": ("1", DYNAMIC_TOPIC)})
    admin.alter_errors["both"] = KafkaError(KafkaError.INVALID_CONFIG, "bad value")

    def refuse(resources: list[Any], validate_only: bool = False, **_: Any) -> Any:
        return {r: done_future(None, admin.alter_errors.get(r.name)) for r in resources}

    admin.incremental_alter_configs = refuse  # type: ignore[method-assign]
    change = Change(
        Address("k", "topic", ("both",)),
        Action.UPDATE,
        {"partitions": 1, "config": {"retention.ms": "1"}},
        {"partitions": 2, "config": {"retention.ms": "5"}},
        fields=(FieldChange("partitions", 1, 2), FieldChange("config.retention.ms", "1", "5")),
    )
    done: list[Change] = []
    with pytest.raises(BrokerError) as info:
        driver(admin).apply([change], 8, done.append)
    assert done == []
    assert "cannot change configs of topic 'both'" in str(info.value)
    assert "its partitions were added (1 -> 2)" in str(info.value)


def test_an_update_the_driver_cannot_make_is_not_reported_done() -> None:
    admin = FakeAdmin()
    admin.add_topic("rf")
    change = Change(
        Address("k", "topic", ("rf",)),
        Action.UPDATE,
        {"replication_factor": 1},
        {"replication_factor": 3},
        fields=(FieldChange("replication_factor", 1, 3),),
    )
    done: list[Change] = []
    with pytest.raises(BrokerError, match="cannot change replication_factor"):
        driver(admin).apply([change], 8, done.append)
    assert done == []


def test_an_acl_the_broker_accepted_counts_even_if_not_listed_in_time(quick_settle: None) -> None:
    attrs = acl_attrs()

    class AclAdmin(FakeAdmin):
        def create_acls(self, bindings: list[Any], **_: Any) -> dict[Any, Future[Any]]:
            return {b: done_future() for b in bindings}  # accepted; describe_acls never lists it

    change = Change(acl_address(attrs), Action.CREATE, None, attrs)
    done: list[Change] = []
    with pytest.raises(BrokerError, match="does not show it yet"):
        driver(AclAdmin()).apply([change], 1, done.append)
    assert done == [change]


def test_internal_topics_are_never_written_even_from_a_hand_made_plan() -> None:
    admin = FakeAdmin()
    admin.add_topic("__consumer_offsets", 50)
    change = Change(Address("k", "topic", ("__consumer_offsets",)), Action.DELETE, {"partitions": 50}, None)
    done: list[Change] = []
    with pytest.raises(BrokerError, match="internal to Kafka"):
        driver(admin).apply([change], 1, done.append)
    assert done == [] and "delete_topics" not in admin.call_names()
    assert "__consumer_offsets" in admin.topics
