"""The AWS driver against fake boto3 clients: what moto does not enforce (QueueDeletedRecently,
QueueAlreadyExists, pending confirmations, RedriveAllowPolicy read-back) and paging."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from topoctl.engine.diff import diff
from topoctl.errors import BrokerError, PartlyApplied, PlanError
from topoctl.model import Action, Address, Change, FieldChange, Resource
from topoctl.providers.aws.driver import AwsDriver, Clients
from topoctl.providers.aws.kinds import KINDS
from topoctl.providers.base import PruneScope

ACCOUNT = "123456789012"
REGION = "us-east-1"
B = "cloud"
DLQ_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:d"


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, operation)


class FakeSQS:
    def __init__(self) -> None:
        self.queues: dict[str, dict[str, str]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.create_errors: list[ClientError] = []
        self.echo_redrive_allow = True
        self.ignore_paging = False
        self.listed_prefixes: list[str] = []
        self.refuse: dict[str, ClientError] = {}  # call or queue name -> the error it gets

    def url(self, name: str) -> str:
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"

    def _name(self, url: str) -> str:
        name = url.rsplit("/", 1)[-1]
        if name not in self.queues:
            raise client_error("AWS.SimpleQueueService.NonExistentQueue", "GetQueueAttributes")
        return name

    def list_queues(
        self, MaxResults: int | None = None, NextToken: str | None = None, QueueNamePrefix: str = ""
    ) -> dict[str, Any]:
        self.calls.append(("list_queues", MaxResults))
        self.listed_prefixes.append(QueueNamePrefix)
        names = sorted(n for n in self.queues if n.startswith(QueueNamePrefix))
        if self.ignore_paging:  # like moto: the first 1000, never a token
            return {"QueueUrls": [self.url(n) for n in names[:1000]]}
        start = int(NextToken or 0)
        size = MaxResults or 1000
        page: dict[str, Any] = {"QueueUrls": [self.url(n) for n in names[start : start + size]]}
        if MaxResults and start + size < len(names):  # like SQS: no token without MaxResults
            page["NextToken"] = str(start + size)
        return page

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        name = self._name(QueueUrl)
        self.calls.append(("get_queue_attributes", name))
        attrs = dict(self.queues[name])
        if not self.echo_redrive_allow:
            attrs.pop("RedriveAllowPolicy", None)
        attrs["QueueArn"] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        attrs["ApproximateNumberOfMessages"] = "3"
        return {"Attributes": attrs}

    def list_queue_tags(self, QueueUrl: str) -> dict[str, Any]:
        return {"Tags": dict(self.tags.get(self._name(QueueUrl), {}))}

    def create_queue(self, QueueName: str, Attributes: Mapping[str, str], tags: Any = None) -> dict[str, Any]:
        self.calls.append(("create_queue", QueueName))
        if self.create_errors:
            raise self.create_errors.pop(0)
        if QueueName in self.refuse:
            raise self.refuse[QueueName]
        self.queues[QueueName] = dict(Attributes)
        self.tags[QueueName] = dict(tags or {})
        return {"QueueUrl": self.url(QueueName)}

    def set_queue_attributes(self, QueueUrl: str, Attributes: Mapping[str, str]) -> None:
        self.calls.append(("set_queue_attributes", dict(Attributes)))
        self.queues[self._name(QueueUrl)].update(Attributes)

    def tag_queue(self, QueueUrl: str, Tags: Mapping[str, str]) -> None:
        self.calls.append(("tag_queue", dict(Tags)))
        if "tag_queue" in self.refuse:
            raise self.refuse["tag_queue"]
        self.tags.setdefault(self._name(QueueUrl), {}).update(Tags)

    def untag_queue(self, QueueUrl: str, TagKeys: list[str]) -> None:
        self.calls.append(("untag_queue", list(TagKeys)))
        for key in TagKeys:
            self.tags[self._name(QueueUrl)].pop(key, None)

    def get_queue_url(self, QueueName: str) -> dict[str, Any]:
        self.calls.append(("get_queue_url", QueueName))
        self._name(self.url(QueueName))
        return {"QueueUrl": self.url(QueueName)}

    def delete_queue(self, QueueUrl: str) -> None:
        self.calls.append(("delete_queue", QueueUrl))
        del self.queues[self._name(QueueUrl)]


class FakeSNS:
    def __init__(self) -> None:
        self.topics: dict[str, dict[str, str]] = {}
        self.subscriptions: list[dict[str, Any]] = []
        self.calls: list[tuple[str, Any]] = []

    @staticmethod
    def arn(name: str) -> str:
        return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"

    def list_topics(self, NextToken: str | None = None) -> dict[str, Any]:
        self.calls.append(("list_topics", NextToken))
        names = sorted(self.topics)
        start = int(NextToken or 0)
        page: dict[str, Any] = {"Topics": [{"TopicArn": self.arn(n)} for n in names[start : start + 100]]}
        if start + 100 < len(names):
            page["NextToken"] = str(start + 100)
        return page

    def get_topic_attributes(self, TopicArn: str) -> dict[str, Any]:
        self.calls.append(("get_topic_attributes", TopicArn.rsplit(":", 1)[-1]))
        return {"Attributes": dict(self.topics[TopicArn.rsplit(":", 1)[-1]], TopicArn=TopicArn)}

    def list_tags_for_resource(self, ResourceArn: str) -> dict[str, Any]:
        return {"Tags": []}

    def list_subscriptions(self, NextToken: str | None = None) -> dict[str, Any]:
        start = int(NextToken or 0)
        listed = [{k: v for k, v in s.items() if k != "Attributes"} for s in self.subscriptions]
        page: dict[str, Any] = {"Subscriptions": listed[start : start + 100]}
        if start + 100 < len(listed):
            page["NextToken"] = str(start + 100)
        return page

    def list_subscriptions_by_topic(self, TopicArn: str, NextToken: str | None = None) -> dict[str, Any]:
        subs = [s for s in self.list_subscriptions()["Subscriptions"] if s["TopicArn"] == TopicArn]
        return {"Subscriptions": subs}

    def get_subscription_attributes(self, SubscriptionArn: str) -> dict[str, Any]:
        for s in self.subscriptions:
            if s["SubscriptionArn"] == SubscriptionArn:
                return {"Attributes": dict(s["Attributes"])}
        raise client_error("NotFound", "GetSubscriptionAttributes")

    def subscribe(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("subscribe", kwargs))
        arn = f"{kwargs['TopicArn']}:{len(self.subscriptions)}"
        self.subscriptions.append(
            {
                "SubscriptionArn": arn,
                "TopicArn": kwargs["TopicArn"],
                "Protocol": kwargs["Protocol"],
                "Endpoint": kwargs["Endpoint"],
                "Attributes": dict(kwargs.get("Attributes") or {}),
            }
        )
        return {"SubscriptionArn": arn}

    def set_subscription_attributes(self, SubscriptionArn: str, AttributeName: str, AttributeValue: str) -> None:
        self.calls.append(("set_subscription_attributes", (SubscriptionArn, AttributeName, AttributeValue)))

    def unsubscribe(self, SubscriptionArn: str) -> None:
        if not SubscriptionArn.startswith("arn:"):
            raise client_error("InvalidParameter", "Unsubscribe")
        self.calls.append(("unsubscribe", SubscriptionArn))
        self.subscriptions = [s for s in self.subscriptions if s["SubscriptionArn"] != SubscriptionArn]


class FakeSTS:
    def __init__(self) -> None:
        self.calls = 0

    def get_caller_identity(self) -> dict[str, Any]:
        self.calls += 1
        return {"Account": ACCOUNT}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fakes() -> tuple[FakeSQS, FakeSNS, FakeSTS]:
    return FakeSQS(), FakeSNS(), FakeSTS()


def driver(fakes: tuple[FakeSQS, FakeSNS, FakeSTS], clock: Clock | None = None) -> AwsDriver:
    d = AwsDriver(B, {"region": REGION, "max_workers": 8}, clients=Clients(*fakes))
    if clock is not None:
        d.clock, d.sleep = clock, clock.sleep
    return d


def queue(name: str) -> Address:
    return Address(B, "sqs_queue", (name,))


def create(address: Address, **attrs: Any) -> Change:
    return Change(address, Action.CREATE, None, attrs)


# --- paging -----------------------------------------------------------------------------------


def test_reads_every_queue_page_past_1000(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, sns, _ = fakes
    for i in range(2500):
        sqs.queues[f"q{i:04d}"] = {"VisibilityTimeout": "30"}
    for i in range(250):
        sns.topics[f"t{i:03d}"] = {}
    observed = driver(fakes).read([], [])
    assert sum(r.kind == "sqs_queue" for r in observed) == 2500
    assert sum(r.kind == "sns_topic" for r in observed) == 250
    assert [c for c in sqs.calls if c[0] == "list_queues"] == [("list_queues", 1000)] * 3
    assert [c for c in sns.calls if c[0] == "list_topics"] == [
        ("list_topics", None),
        ("list_topics", "100"),
        ("list_topics", "200"),
    ]


def test_endpoint_ignoring_max_results_is_listed_by_prefix(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes
    sqs.ignore_paging = True
    names = [f"q{i:04d}" for i in range(2500)] + ["q", "q0", "q0.fifo", "q00-x.fifo", "a"]
    for name in names:
        sqs.queues[name] = {}
    observed = driver(fakes).read([], [])
    assert sorted(r.address.name[0] for r in observed) == sorted(names)


@pytest.mark.parametrize("count", [1000, 2000])
def test_full_last_page_of_an_endpoint_that_pages_is_not_listed_again(
    fakes: tuple[FakeSQS, FakeSNS, FakeSTS], count: int
) -> None:
    # SQS gives no NextToken after the last page, even when it holds exactly 1000 queues: that is
    # no reason to list everything again by name prefix.
    sqs, _, _ = fakes
    for i in range(count):
        sqs.queues[f"q{i:04d}"] = {}
    observed = driver(fakes).read([], [])
    assert len(observed) == count
    assert sqs.listed_prefixes == [""] * len(sqs.listed_prefixes)
    assert len(sqs.listed_prefixes) <= count // 1000 + 1


def test_prefix_split_listing_is_bounded(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    # moto: 1000 queues per listing, whatever MaxResults says. The split goes down only where a
    # part is full, and asks whether paging works once.
    sqs, _, _ = fakes
    sqs.ignore_paging = True
    names = [f"shared-prefix-{i:04d}" for i in range(1200)]
    for name in names:
        sqs.queues[name] = {}
    observed = driver(fakes).read([], [])
    assert sorted(r.address.name[0] for r in observed) == names
    assert [c for c in sqs.calls if c == ("list_queues", 1)] == [("list_queues", 1)]
    levels = len("shared-prefix-0") + 1  # down to the first prefix that is not full
    assert len(sqs.listed_prefixes) <= 2 + 64 * levels


def test_read_normalises_wire_values(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes
    sqs.queues["d"] = {}
    sqs.queues["q"] = {
        "VisibilityTimeout": "45",
        "SqsManagedSseEnabled": "true",
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:d", "maxReceiveCount": "4"}
        ),
    }
    sqs.tags["q"] = {"team": "a", "aws:cloudformation:stack-name": "s"}
    (q,) = [r for r in driver(fakes).read([], []) if r.address == queue("q")]
    assert q.attrs["visibility_timeout"] == 45
    assert q.attrs["sqs_managed_sse_enabled"] is True
    assert q.attrs["fifo"] is False
    assert q.attrs["redrive_policy"] == {
        "deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{{account}}:d",
        "maxReceiveCount": 4,
    }
    assert q.attrs["tags"] == {"team": "a"}
    assert q.depends_on == (queue("d"),)
    assert q.info["messages"] == 3


# --- QueueDeletedRecently, QueueAlreadyExists ----------------------------------------------------


def test_create_waits_out_queue_deleted_recently(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes
    sqs.create_errors = [client_error("AWS.SimpleQueueService.QueueDeletedRecently", "CreateQueue")] * 4
    clock = Clock()
    driver(fakes, clock).apply_one(create(queue("q"), fifo=False, visibility_timeout=60))
    assert [c for c in sqs.calls if c[0] == "create_queue"] == [("create_queue", "q")] * 5
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]
    assert sqs.queues["q"] == {"VisibilityTimeout": "60"}


def test_create_gives_up_after_the_recreate_window(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes
    sqs.create_errors = [client_error("QueueDeletedRecently", "CreateQueue")] * 100
    clock = Clock()
    with pytest.raises(BrokerError) as err:
        driver(fakes, clock).apply_one(create(queue("q"), fifo=False))
    assert "deleted less than 60 s ago" in str(err.value)
    assert 65 <= clock.now <= 80
    assert "q" not in sqs.queues


def test_queue_already_exists_is_a_clear_error(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes
    sqs.create_errors = [client_error("QueueAlreadyExists", "CreateQueue")]
    with pytest.raises(BrokerError) as err:
        driver(fakes).apply_one(create(queue("q"), fifo=False, visibility_timeout=60))
    assert "cannot create queue q: it already exists with different attributes" in str(err.value)
    assert "'cloud'" in str(err.value)


# --- updates in place -----------------------------------------------------------------------------


def test_update_sets_only_changed_attributes_and_tags(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes
    sqs.queues["q"] = {"VisibilityTimeout": "30", "DelaySeconds": "0"}
    sqs.tags["q"] = {"keep": "1", "drop": "x", "change": "old"}
    d = driver(fakes)
    (observed,) = d.read([Resource(queue("q"), {"tags": {}})], [])
    desired = Resource(queue("q"), {"fifo": False, "visibility_timeout": 45, "tags": {"keep": "1", "change": "new"}})
    (change,) = diff([desired], [observed], lambda a: KINDS[a.kind]).changes
    assert change.action is Action.UPDATE
    sqs.calls.clear()
    d.apply_one(change)
    assert ("set_queue_attributes", {"VisibilityTimeout": "45"}) in sqs.calls
    assert ("tag_queue", {"change": "new"}) in sqs.calls
    assert ("untag_queue", ["drop"]) in sqs.calls
    assert not any(c[0] in ("create_queue", "delete_queue") for c in sqs.calls)
    assert sqs.queues["q"]["DelaySeconds"] == "0"


# --- RedriveAllowPolicy read-back -------------------------------------------------------------


def test_missing_redrive_allow_policy_reads_as_allow_all(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes
    sqs.queues["d"] = {}
    (observed,) = driver(fakes).read([], [])
    desired = Resource(queue("d"), {"redrive_allow_policy": {"redrivePermission": "allowAll"}})
    assert KINDS["sqs_queue"].field_changes(desired, observed) == []
    deny = Resource(queue("d"), {"redrive_allow_policy": {"redrivePermission": "denyAll"}})
    assert [c.field for c in KINDS["sqs_queue"].field_changes(deny, observed)] == ["redrive_allow_policy"]


def test_redrive_allow_policy_not_reported_back_is_an_error(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes
    sqs.echo_redrive_allow = False
    policy = {"redrivePermission": "byQueue", "sourceQueueArns": [f"arn:aws:sqs:{REGION}:{{account}}:src"]}
    with pytest.raises(BrokerError) as err:
        driver(fakes).apply_one(create(queue("d"), fifo=False, redrive_allow_policy=policy))
    assert "does not report it back" in str(err.value)


def test_redrive_allow_policy_reported_back_reads_equal(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes
    policy = {"redrivePermission": "byQueue", "sourceQueueArns": [f"arn:aws:sqs:{REGION}:{{account}}:src"]}
    d = driver(fakes)
    d.apply_one(create(queue("d"), fifo=False, redrive_allow_policy=policy))
    assert json.loads(sqs.queues["d"]["RedriveAllowPolicy"])["sourceQueueArns"] == [
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:src"
    ]
    (observed,) = d.read([], [])
    assert observed.attrs["redrive_allow_policy"] == policy


# --- subscriptions ------------------------------------------------------------------------------


def pending(fakes: tuple[FakeSQS, FakeSNS, FakeSTS], endpoint: str) -> None:
    _, sns, _ = fakes
    sns.subscriptions.append(
        {
            "SubscriptionArn": "PendingConfirmation",
            "TopicArn": sns.arn("t"),
            "Protocol": "https",
            "Endpoint": endpoint,
            "Attributes": {},
        }
    )


def test_pending_confirmation_is_a_note_not_a_change(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    _, sns, _ = fakes
    sns.topics["t"] = {}
    pending(fakes, "https://hooks.example.com/a")
    pending(fakes, "https://hooks.example.com/undeclared")
    sub = Address(B, "sns_subscription", ("t", "https", "https://hooks.example.com/a"))
    desired = [
        Resource(Address(B, "sns_topic", ("t",)), {"fifo": False}),
        Resource(sub, {"raw_message_delivery": True}),
    ]
    observed = driver(fakes).read(desired, [])
    assert {r.address for r in observed} == {desired[0].address, sub}  # undeclared pending left out
    plan = diff(desired, observed, lambda a: KINDS[a.kind])
    assert plan.changes == ()
    (note,) = plan.notes
    assert note.address == sub and "pending confirmation" in note.notes[0]
    assert not any(c[0] == "subscribe" for c in sns.calls)


def test_pending_subscription_is_never_pruned(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    _, sns, _ = fakes
    sns.topics["t"] = {}
    pending(fakes, "https://hooks.example.com/a")
    from topoctl.providers.base import PruneScope

    desired = [Resource(Address(B, "sns_topic", ("t",)), {"fifo": False})]
    scopes = [PruneScope(kinds=frozenset({"sns_subscription"}))]
    observed = driver(fakes).read(desired, scopes)
    assert diff(desired, observed, lambda a: KINDS[a.kind], {B: scopes}).changes == ()


def test_sqs_endpoint_of_own_queue_reads_as_its_name(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, sns, _ = fakes
    sqs.queues["q"] = {}
    sns.topics["t"] = {}
    d = driver(fakes)
    d.apply_one(
        create(
            Address(B, "sns_subscription", ("t", "sqs", "q")),
            raw_message_delivery=True,
            filter_policy={"type": ["a"]},
        )
    )
    (call,) = [c for c in sns.calls if c[0] == "subscribe"]
    assert call[1]["Endpoint"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"
    assert call[1]["Attributes"] == {"RawMessageDelivery": "true", "FilterPolicy": '{"type":["a"]}'}
    subs = [r for r in d.read([], []) if r.kind == "sns_subscription"]
    assert [r.address.name for r in subs] == [("t", "sqs", "q")]
    assert subs[0].attrs["raw_message_delivery"] is True
    assert set(subs[0].depends_on) == {Address(B, "sns_topic", ("t",)), queue("q")}
    by_arn = Address(B, "sns_subscription", ("t", "sqs", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"))
    subs = [r for r in d.read([Resource(by_arn, {})], []) if r.kind == "sns_subscription"]
    assert [r.address for r in subs] == [by_arn]


def test_removing_a_filter_policy_sends_empty_document(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    _, sns, _ = fakes
    sns.topics["t"] = {}
    d = driver(fakes)
    address = Address(B, "sns_subscription", ("t", "email", "a@b.c"))
    d.apply_one(create(address, filter_policy={"x": ["1"]}))
    (observed,) = [r for r in d.read([], []) if r.address == address]
    desired = Resource(address, {"filter_policy": {}})
    (change,) = diff([desired], [observed], lambda a: KINDS[a.kind]).changes
    d.apply_one(change)
    assert sns.calls[-1] == ("set_subscription_attributes", (f"{sns.arn('t')}:0", "FilterPolicy", "{}"))


def test_account_from_sts_only_when_nothing_was_read(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, sts = fakes
    d = driver(fakes)
    d.read([], [])
    d.apply_one(create(queue("a"), fifo=False))
    assert sts.calls == 1
    sqs.queues["b"] = {}
    d2 = driver(fakes)
    d2.read([], [])
    d2.apply_one(create(queue("c"), fifo=False))
    assert sts.calls == 1


# --- connection ---------------------------------------------------------------------------------


def test_unreachable_endpoint_is_a_broker_error_without_secrets() -> None:
    secret = "wJalrXUtnFEMI-very-secret"
    d = AwsDriver(
        B,
        {
            "region": REGION,
            "endpoint_url": "http://user:pw-in-url@127.0.0.1:9/",
            "access_key_id": "AKIDEXAMPLE",
            "secret_access_key": secret,
        },
    )
    assert d.endpoint == "http://127.0.0.1:9/"
    with pytest.raises(BrokerError) as err:
        d.read([], [])
    message = str(err.value)
    assert "cannot connect" in message and "'cloud'" in message
    assert secret not in message and "pw-in-url" not in message


def test_endpoint_arn_with_account_placeholder(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    # `{account}` in an endpoint ARN is the real account on the wire, and reads back as written.
    sqs, sns, _ = fakes
    sqs.queues["q"] = {}
    sns.topics["t"] = {}
    d = driver(fakes)
    for endpoint in (f"arn:aws:sqs:{REGION}:{{account}}:q", f"arn:aws:lambda:{REGION}:{{account}}:function:f"):
        protocol = endpoint.split(":")[2]
        address = Address(B, "sns_subscription", ("t", protocol, endpoint))
        d.apply_one(create(address))
        assert sns.calls[-1][1]["Endpoint"] == endpoint.replace("{account}", ACCOUNT)
        subs = [r for r in d.read([Resource(address, {})], []) if r.kind == "sns_subscription"]
        assert address in [r.address for r in subs]
        d.apply_one(Change(address, Action.DELETE, {}, None))
        assert sns.subscriptions == []


def test_absent_subscription_named_by_arn_is_deleted(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, sns, _ = fakes
    sqs.queues["q"] = {}
    sns.topics["t"] = {}
    d = driver(fakes)
    by_arn = Address(B, "sns_subscription", ("t", "sqs", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"))
    d.apply_one(create(by_arn))
    gone = Resource(by_arn, {}, absent=True)
    plan = diff([gone], d.read([gone], []), lambda a: KINDS[a.kind])
    assert [(c.address, c.action) for c in plan.changes] == [(by_arn, Action.DELETE)]


def test_subscription_outliving_its_queue_keeps_the_arn(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    # SNS keeps a subscription whose queue was deleted; named by the queue's name, the export of it
    # would not compile (no such queue).
    sqs, sns, _ = fakes
    sqs.queues["q"] = {}
    sns.topics["t"] = {}
    d = driver(fakes)
    d.apply_one(create(Address(B, "sns_subscription", ("t", "sqs", "q"))))
    del sqs.queues["q"]
    subs = [r.address.name for r in driver(fakes).read([], []) if r.kind == "sns_subscription"]
    assert subs == [("t", "sqs", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q")]
    by_name = Address(B, "sns_subscription", ("t", "sqs", "q"))
    declared = [r.address for r in driver(fakes).read([Resource(by_name, {})], []) if r.kind == "sns_subscription"]
    assert declared == [by_name]


def test_read_skips_what_the_plan_cannot_act_on(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    # A shared account: only declared objects and those a prune scope covers cost attribute reads.
    sqs, sns, _ = fakes
    for name in ("mine", "app-stray", "theirs-1", "theirs-2"):
        sqs.queues[name] = {}
    for name in ("events", "app-old", "their-topic"):
        sns.topics[name] = {}
    d = driver(fakes)
    d.apply_one(create(Address(B, "sns_subscription", ("events", "sqs", "mine"))))
    d.apply_one(create(Address(B, "sns_subscription", ("their-topic", "sqs", "theirs-1"))))
    declared = [
        Resource(queue("mine"), {}),
        Resource(queue("gone"), {}, absent=True),
        Resource(Address(B, "sns_topic", ("events",)), {}),
    ]
    scopes = [PruneScope(kinds=frozenset({"sqs_queue", "sns_topic"}), prefix="app-")]
    sqs.calls.clear()
    observed = d.read(declared, scopes)
    assert sorted(str(r.address) for r in observed) == [
        f"{B}/sns_subscription/events/sqs/mine",
        f"{B}/sns_topic/app-old",
        f"{B}/sns_topic/events",
        f"{B}/sqs_queue/app-stray",
        f"{B}/sqs_queue/mine",
    ]
    assert sorted(c[1] for c in sqs.calls if c[0] == "get_queue_attributes") == ["app-stray", "mine"]
    # Without a manifest (export) everything is read.
    assert len(d.read([], [])) == 4 + 3 + 2


def test_queue_listing_narrowed_to_the_names_a_plan_needs(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, sns, _ = fakes
    for name in ("app-a", "app-b", "other"):
        sqs.queues[name] = {}
    sns.topics["t"] = {}
    d = driver(fakes)
    declared = [Resource(queue("app-a"), {}), Resource(queue("app-b2"), {}, absent=True)]
    observed = d.read(declared, [PruneScope(kinds=frozenset({"sqs_queue"}), prefix="app-c")])
    assert sqs.listed_prefixes == ["app-"]
    assert sorted(r.address.name[0] for r in observed if r.kind == "sqs_queue") == ["app-a"]
    sqs.listed_prefixes.clear()
    d.read([Resource(Address(B, "sns_topic", ("t",)), {})], [])  # no queue in the plan: none listed
    assert sqs.listed_prefixes == []
    d.read([Resource(queue("app-a"), {})], [PruneScope()])  # prune: true covers every queue
    assert sqs.listed_prefixes == [""]


def test_deleting_a_dead_letter_queue_names_its_sources(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, sns, _ = fakes
    sqs.queues["d"] = {}
    sqs.queues["src"] = {"RedrivePolicy": json.dumps({"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 3})}
    sns.topics["t"] = {}
    d = driver(fakes)
    d.apply_one(
        create(Address(B, "sns_subscription", ("t", "email", "a@b.c")), redrive_policy={"deadLetterTargetArn": DLQ_ARN})
    )
    desired = [
        Resource(queue("d"), {}, absent=True),
        Resource(queue("src"), {}),
        Resource(Address(B, "sns_topic", ("t",)), {}),
    ]
    (change,) = diff(desired, d.read(desired, []), lambda a: KINDS[a.kind]).changes
    assert change.action == Action.DELETE
    assert f"it is the dead-letter queue of {B}/sns_subscription/t/email/a@b.c, {B}/sqs_queue/src" in change.reasons[-1]


# --- what a failed apply did (issue 17) ---------------------------------------------------------------


@pytest.mark.parametrize("parallelism", [1, 8])
def test_every_change_that_took_effect_is_reported(fakes: tuple[FakeSQS, FakeSNS, FakeSTS], parallelism: int) -> None:
    sqs, _, _ = fakes
    sqs.refuse["b"] = client_error("AWS.SimpleQueueService.NonExistentQueue", "CreateQueue")
    done: list[str] = []
    changes = [create(queue(n), fifo=False) for n in ("a", "b", "c")]
    with pytest.raises(BrokerError) as err:
        driver(fakes).apply(changes, parallelism, lambda c: done.append(c.address.name[0]))
    assert "cannot create queue b" in str(err.value)
    # One at a time stops at the failure; side by side, what ran beside it is reported too.
    assert sorted(done) == (["a"] if parallelism == 1 else ["a", "c"])
    assert sorted(done) == sorted(n for n in sqs.queues)


def test_every_failure_of_a_wave_is_named(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes
    for name in ("a", "c"):
        sqs.refuse[name] = client_error("InvalidAttributeValue", "CreateQueue")
    with pytest.raises(BrokerError) as err:
        driver(fakes).apply([create(queue(n), fifo=False) for n in ("a", "b", "c")], 8, lambda c: None)
    assert "2 changes failed:\n  cannot create queue a: " in str(err.value)
    assert "\n  cannot create queue c: " in str(err.value)


def test_change_made_in_part_is_reported_done(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes
    sqs.queues["q"] = {"VisibilityTimeout": "30"}
    sqs.refuse["tag_queue"] = client_error("InvalidParameterValue", "TagQueue")
    before = {"fifo": False, "visibility_timeout": 30, "tags": {}}
    after = {"fifo": False, "visibility_timeout": 60, "tags": {"a": "1"}}
    fields = (FieldChange("visibility_timeout", 30, 60), FieldChange("tags", {}, {"a": "1"}))
    change = Change(queue("q"), Action.UPDATE, before, after, fields=fields)
    done: list[Change] = []
    with pytest.raises(PartlyApplied) as err:
        driver(fakes).apply([change], 1, done.append)
    assert "cannot tag queue q" in str(err.value)
    assert done == [change] and sqs.queues["q"]["VisibilityTimeout"] == "60"
    # Nothing took effect: not reported.
    sqs.refuse["tag_queue"] = client_error("InvalidParameterValue", "TagQueue")
    tags_only = Change(queue("q"), Action.UPDATE, before, after, fields=fields[1:])
    with pytest.raises(BrokerError) as err2:
        driver(fakes).apply([tags_only], 1, done.append)
    assert not isinstance(err2.value, PartlyApplied) and done == [change]


def test_queue_created_then_refused_is_reported_done(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes
    sqs.echo_redrive_allow = False
    done: list[Change] = []
    change = create(queue("d"), fifo=False, redrive_allow_policy={"redrivePermission": "denyAll"})
    with pytest.raises(PartlyApplied, match="does not report it back"):
        driver(fakes).apply([change], 8, done.append)
    assert done == [change] and "d" in sqs.queues


# --- what a saved plan that deletes a topic was approved with ----------------------------------------


def test_topic_counts_listed_subscriptions(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    # moto reports SubscriptionsConfirmed 0 whatever there is, AWS with a lag; a pending
    # subscription that nothing declares is not read, so only the count shows it.
    _, sns, _ = fakes
    sns.topics["t"] = {"SubscriptionsConfirmed": "0", "SubscriptionsPending": "0"}
    pending(fakes, "https://hooks.example.com/a")
    pending(fakes, "https://hooks.example.com/b")
    desired = [Resource(Address(B, "sns_topic", ("t",)), {}, absent=True)]
    (topic,) = driver(fakes).read(desired, [])
    assert topic.info["subscriptions"] == 2
    assert KINDS["sns_topic"].exposure(topic) == {"subscriptions": 2}
    sns.topics["t"] = {"SubscriptionsConfirmed": "5", "SubscriptionsPending": "1"}  # other accounts' too
    (topic,) = driver(fakes).read(desired, [])
    assert KINDS["sns_topic"].exposure(topic) == {"subscriptions": 6}


def test_queue_messages_count_every_state(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes
    sqs.queues["q"] = {"ApproximateNumberOfMessagesNotVisible": "2", "ApproximateNumberOfMessagesDelayed": "4"}
    (observed,) = driver(fakes).read([Resource(queue("q"), {}, absent=True)], [])
    assert KINDS["sqs_queue"].exposure(observed) == {"messages": 3 + 2 + 4}


# --- queues pointed at by ARN (issue 17) -----------------------------------------------------------


def redrive(arn: str) -> dict[str, Any]:
    return {"redrive_policy": {"deadLetterTargetArn": arn, "maxReceiveCount": 5}}


def test_missing_dead_letter_queue_is_a_plan_error(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, sts = fakes
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:bb-nonexist"
    desired = [
        Resource(queue("bb-u9"), {"fifo": False}),
        Resource(queue("bb-u6"), {"fifo": False, **redrive(missing)}, source="m.yaml:9"),
    ]
    with pytest.raises(PlanError) as err:
        driver(fakes).read(desired, [])
    assert (
        f"queue bb-u6 (declared at m.yaml:9): dead_letter queue {missing} exists neither live nor in the manifest"
        in str(err.value)
    )
    # The declared queues are listed; the DLQ, outside that listing, is looked up beside it.
    assert sqs.listed_prefixes == ["bb-u"]
    assert [c for c in sqs.calls if c[0] == "get_queue_url"] == [("get_queue_url", "bb-nonexist")]
    assert sts.calls == 1  # nothing listed to learn the account from
    sqs.queues["bb-nonexist"] = {}
    assert driver(fakes).read(desired, []) == []  # it exists: no error (and not read: not in the plan)
    assert sts.calls == 1  # the account came from its URL


def test_dead_letter_queue_the_plan_creates_or_cannot_see(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    _, _, sts = fakes
    desired = [
        Resource(queue("a"), {"fifo": False, **redrive(f"arn:aws:sqs:{REGION}:{{account}}:d")}),
        Resource(queue("b"), {"fifo": False, **redrive(f"arn:aws:sqs:{REGION}:{ACCOUNT}:d")}),
        Resource(queue("c"), {"fifo": False, **redrive(f"arn:aws:sqs:{REGION}:210987654321:nowhere")}),
        Resource(queue("e"), {"fifo": False, **redrive(f"arn:aws:sqs:eu-west-1:{ACCOUNT}:nowhere")}),
        Resource(queue("d"), {"fifo": False}),
    ]
    assert driver(fakes).read(desired, []) == []
    assert sts.calls == 1
    assert driver(fakes).read(desired[:1] + desired[-1:], []) == []
    assert sts.calls == 1  # `{account}`: no need to know the account


def test_dead_letter_queue_this_plan_deletes_is_a_plan_error(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes
    sqs.queues["app-d"] = {}
    sqs.queues["app-e"] = {}
    desired = [
        Resource(queue("app-a"), {"fifo": False, **redrive(f"arn:aws:sqs:{REGION}:{ACCOUNT}:app-d")}),
        Resource(queue("app-b"), {"fifo": False, **redrive(f"arn:aws:sqs:{REGION}:{ACCOUNT}:app-e")}),
        Resource(queue("app-d"), {}, absent=True),
    ]
    with pytest.raises(PlanError) as err:
        driver(fakes).read(desired, [PruneScope(kinds=frozenset({"sqs_queue"}), prefix="app-")])
    assert "app-d is declared with state: absent, so this plan deletes it" in str(err.value)
    assert "app-e is not declared and prune deletes it in this plan" in str(err.value)
    assert not any(c[0] == "get_queue_url" for c in sqs.calls)  # inside the listing: no lookup
    assert driver(fakes).read(desired[1:2], []) == []  # not pruned: it stays, no error


def test_subscription_pointing_at_a_missing_queue_is_a_plan_error(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, sns, _ = fakes
    sqs.queues["q"] = {}
    sns.topics["t"] = {}
    gone = f"arn:aws:sqs:{REGION}:{ACCOUNT}:gone"
    desired = [
        Resource(Address(B, "sns_topic", ("t",)), {}),
        Resource(Address(B, "sns_subscription", ("t", "sqs", "q")), {"redrive_policy": {"deadLetterTargetArn": gone}}),
        Resource(Address(B, "sns_subscription", ("t", "sqs", gone)), {}),
    ]
    with pytest.raises(PlanError) as err:
        driver(fakes).read(desired, [])
    assert f"subscription t/sqs/q: dead_letter queue {gone} exists neither" in str(err.value)
    assert f"endpoint {gone} exists neither live nor in the manifest" in str(err.value)
    assert not any(c[0] == "subscribe" for c in sns.calls)


def test_live_reference_to_a_missing_queue_is_a_note(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    # The DLQ was deleted out of band: the plan writes nothing to it, so it cannot fail on it (and
    # the export of the queue plans empty), but says so.
    sqs, _, _ = fakes
    gone = f"arn:aws:sqs:{REGION}:{ACCOUNT}:gone"
    sqs.queues["src"] = {"RedrivePolicy": json.dumps({"deadLetterTargetArn": gone, "maxReceiveCount": 5})}
    desired = [Resource(queue("src"), {"fifo": False, **redrive(gone)})]
    plan = diff(desired, driver(fakes).read(desired, []), lambda a: KINDS[a.kind])
    assert plan.changes == ()
    (note,) = plan.notes
    assert note.notes == (
        f"dead_letter queue {gone} exists neither live nor in the manifest: nothing receives what goes there",
    )
    changed = [Resource(queue("src"), {"fifo": False, **redrive(gone), "visibility_timeout": 60})]
    (change,) = diff(changed, driver(fakes).read(changed, []), lambda a: KINDS[a.kind]).changes
    assert change.action == Action.UPDATE and "nothing receives" in change.notes[0]


def test_queue_that_cannot_be_looked_up_is_not_called_missing(fakes: tuple[FakeSQS, FakeSNS, FakeSTS]) -> None:
    sqs, _, _ = fakes

    def denied(QueueName: str) -> dict[str, Any]:
        raise client_error("AccessDenied", "GetQueueUrl")

    sqs.get_queue_url = denied  # type: ignore[method-assign]
    desired = [Resource(queue("a"), {"fifo": False, **redrive(f"arn:aws:sqs:{REGION}:{ACCOUNT}:central")})]
    with pytest.raises(BrokerError, match="cannot look up queue central: AccessDenied"):
        driver(fakes).read(desired, [])


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (client_error("AccessDenied", "GetQueueUrl"), "cannot look up queue a: AccessDenied"),
        (client_error("Throttling", "GetQueueUrl"), "cannot look up queue a: Throttling"),
        (EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com/"), "cannot connect"),
    ],
    ids=["access-denied", "throttled", "unreachable"],
)
def test_queue_delete_fails_when_its_url_cannot_be_looked_up(
    fakes: tuple[FakeSQS, FakeSNS, FakeSTS], error: Exception, message: str
) -> None:
    # Only "the queue does not exist" means already gone: a lookup that failed says nothing.
    sqs, _, _ = fakes
    sqs.queues["a"] = {}

    def refused(QueueName: str) -> dict[str, Any]:
        raise error

    sqs.get_queue_url = refused  # type: ignore[method-assign]
    with pytest.raises(BrokerError, match=message):
        driver(fakes).apply_one(Change(queue("a"), Action.DELETE, {"fifo": False}, None))
    assert "a" in sqs.queues


@pytest.mark.parametrize("code", ["AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"])
def test_queue_delete_of_a_queue_that_does_not_exist_is_done(
    fakes: tuple[FakeSQS, FakeSNS, FakeSTS], code: str
) -> None:
    sqs, _, _ = fakes

    def missing(QueueName: str) -> dict[str, Any]:
        raise client_error(code, "GetQueueUrl")

    sqs.get_queue_url = missing  # type: ignore[method-assign]
    driver(fakes).apply_one(Change(queue("a"), Action.DELETE, {"fifo": False}, None))
    assert not [c for c in sqs.calls if c[0] == "delete_queue"]
