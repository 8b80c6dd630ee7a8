"""The AWS compiler: normalised values, dead_letter expansion, composed queue policies, checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from topoctl.errors import ManifestError
from topoctl.manifest.loader import load_manifest
from topoctl.model import Address, Resource
from topoctl.providers.base import PruneScope

B = "cloud"
CONN = {"region": "us-east-1", "endpoint_url": "http://127.0.0.1:5000"}
A = "{account}"


def _write(tmp_path: Path, connection: dict[str, Any] | None = None, **sections: Any) -> Path:
    doc = {"version": 1, "brokers": {B: {"type": "aws", "connection": connection or CONN, **sections}}}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def compiled(tmp_path: Path, **sections: Any) -> dict[str, Resource]:
    spec = load_manifest([str(_write(tmp_path, **sections))], env={}).brokers[B]
    return {str(r.address): r for r in spec.resources}


def prune_of(tmp_path: Path, **sections: Any) -> list[PruneScope]:
    return load_manifest([str(_write(tmp_path, **sections))], env={}).brokers[B].compiled.prune


def error(tmp_path: Path, connection: dict[str, Any] | None = None, **sections: Any) -> ManifestError:
    with pytest.raises(ManifestError) as err:
        load_manifest([str(_write(tmp_path, connection, **sections))], env={})
    return err.value


def queues(**q: Any) -> dict[str, Any]:
    return {"queues": q}


def topics(**t: Any) -> dict[str, Any]:
    return {"topics": t}


def sns_statement(queue: str, topic: str) -> dict[str, Any]:
    return {
        "Sid": f"topoctl-sns-{topic}",
        "Effect": "Allow",
        "Principal": {"Service": ["sns.amazonaws.com"]},
        "Action": ["sqs:SendMessage"],
        "Resource": [f"arn:aws:sqs:us-east-1:{A}:{queue}"],
        "Condition": {"ArnEquals": {"aws:SourceArn": [f"arn:aws:sns:us-east-1:{A}:{topic}"]}},
    }


def test_durations_become_seconds_and_sizes_bytes(tmp_path: Path) -> None:
    r = compiled(
        tmp_path,
        sqs=queues(
            q={
                "visibility_timeout": "2m",
                "message_retention_period": "14d",
                "delay_seconds": 5,
                "maximum_message_size": "256KiB",
                "receive_message_wait_time": "20s",
                "kms_data_key_reuse_period": "1h",
                "sqs_managed_sse_enabled": True,
                "tags": {"team": "a", "n": 7},
            }
        ),
    )
    assert r[f"{B}/sqs_queue/q"].attrs == {
        "fifo": False,
        "visibility_timeout": 120,
        "message_retention_period": 1_209_600,
        "delay_seconds": 5,
        "maximum_message_size": 262_144,
        "receive_message_wait_time": 20,
        "kms_data_key_reuse_period": 3600,
        "sqs_managed_sse_enabled": True,
        "tags": {"team": "a", "n": "7"},
    }


def test_only_declared_attributes_are_in_attrs(tmp_path: Path) -> None:
    r = compiled(tmp_path, sqs=queues(q={}), sns=topics(t={}))
    assert r[f"{B}/sqs_queue/q"].attrs == {"fifo": False}
    assert r[f"{B}/sns_topic/t"].attrs == {"fifo": False}


def test_queue_dead_letter_creates_dlq_before_source(tmp_path: Path) -> None:
    r = compiled(tmp_path, sqs=queues(billing={"dead_letter": {"max_receive_count": 7}}))
    dlq = r[f"{B}/sqs_queue/billing-dlq"]
    assert dlq.attrs == {"fifo": False}
    source = r[f"{B}/sqs_queue/billing"]
    assert source.attrs["redrive_policy"] == {
        "deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{A}:billing-dlq",
        "maxReceiveCount": 7,
    }
    assert source.depends_on == (Address(B, "sqs_queue", ("billing-dlq",)),)


def test_fifo_queue_gets_fifo_dlq_and_default_count(tmp_path: Path) -> None:
    r = compiled(tmp_path, sqs=queues(**{"orders.fifo": {"dead_letter": {}}}))
    assert r[f"{B}/sqs_queue/orders-dlq.fifo"].attrs == {"fifo": True}
    assert r[f"{B}/sqs_queue/orders.fifo"].attrs["redrive_policy"]["maxReceiveCount"] == 5


def test_declared_dlq_keeps_its_attributes(tmp_path: Path) -> None:
    r = compiled(
        tmp_path,
        sqs=queues(a={"dead_letter": {"queue": "errors"}}, errors={"message_retention_period": "14d"}),
    )
    assert r[f"{B}/sqs_queue/errors"].attrs == {"fifo": False, "message_retention_period": 1_209_600}
    assert f"{B}/sqs_queue/a-dlq" not in r


def test_dlq_by_arn_is_not_created(tmp_path: Path) -> None:
    arn = "arn:aws:sqs:us-east-1:999999999999:central-dlq"
    r = compiled(tmp_path, sqs=queues(a={"dead_letter": {"queue": arn}}))
    assert set(r) == {f"{B}/sqs_queue/a"}
    assert r[f"{B}/sqs_queue/a"].attrs["redrive_policy"]["deadLetterTargetArn"] == arn
    assert r[f"{B}/sqs_queue/a"].depends_on == ()


def test_dead_letter_false_removes_the_redrive_policy(tmp_path: Path) -> None:
    r = compiled(tmp_path, sqs=queues(a={"dead_letter": False}))
    assert r[f"{B}/sqs_queue/a"].attrs == {"fifo": False, "redrive_policy": None}


def test_fifo_dlq_mismatch_is_refused(tmp_path: Path) -> None:
    err = error(tmp_path, sqs=queues(**{"a.fifo": {"dead_letter": {"queue": "plain"}}}, plain={}))
    assert "FIFO" in str(err) and "plain" in str(err)
    assert err.location and err.location.startswith(str(tmp_path))


def test_fifo_name_and_flag_must_agree(tmp_path: Path) -> None:
    assert "must end in .fifo" in str(error(tmp_path, sqs=queues(a={"fifo": True})))
    assert "FIFO" in str(error(tmp_path, sqs=queues(**{"a.fifo": {"fifo": False}})))
    assert "FIFO" in str(error(tmp_path, sqs=queues(a={"content_based_deduplication": True})))


def test_out_of_range_duration_is_refused_with_location(tmp_path: Path) -> None:
    err = error(tmp_path, sqs=queues(a={"visibility_timeout": "13h"}))
    assert "visibility_timeout must be from 0 to 43200 seconds" in str(err)
    lines = (tmp_path / "m.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "visibility_timeout" in text)
    assert err.location == f"{tmp_path / 'm.yaml'}:{line}"


def test_sub_second_duration_is_refused(tmp_path: Path) -> None:
    assert "whole number of s" in str(error(tmp_path, sqs=queues(a={"delay_seconds": "1500ms"})))


def test_region_is_required(tmp_path: Path) -> None:
    assert "region" in str(error(tmp_path, connection={"endpoint_url": "http://x"}))


def test_queue_policy_composed_from_every_delivering_topic(tmp_path: Path) -> None:
    declared = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "own", "Effect": "Deny", "Principal": "*", "Action": "sqs:DeleteQueue", "Resource": "*"}],
    }
    r = compiled(
        tmp_path,
        sqs=queues(shared={"policy": declared}),
        sns=topics(
            a={"subscriptions": [{"protocol": "sqs", "endpoint": "shared"}]},
            b={"subscriptions": [{"protocol": "sqs", "endpoint": "shared", "raw_message_delivery": True}]},
        ),
    )
    policy = r[f"{B}/sqs_queue/shared"].attrs["policy"]
    assert policy["Version"] == "2012-10-17"
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert set(statements) == {"own", "topoctl-sns-a", "topoctl-sns-b"}
    assert statements["topoctl-sns-a"] == sns_statement("shared", "a")
    assert statements["own"]["Principal"] == {"AWS": ["*"]}
    sub = r[f"{B}/sns_subscription/b/sqs/shared"]
    assert sub.attrs == {"raw_message_delivery": True}
    assert set(sub.depends_on) == {Address(B, "sns_topic", ("b",)), Address(B, "sqs_queue", ("shared",))}


def test_declared_equivalent_statement_is_not_duplicated(tmp_path: Path) -> None:
    mine = sns_statement("q", "t") | {"Sid": "mine", "Action": "sqs:SendMessage"}
    r = compiled(
        tmp_path,
        sqs=queues(q={"policy": {"Version": "2012-10-17", "Statement": [mine]}}),
        sns=topics(t={"subscriptions": [{"protocol": "sqs", "endpoint": "q"}]}),
    )
    assert [s["Sid"] for s in r[f"{B}/sqs_queue/q"].attrs["policy"]["Statement"]] == ["mine"]


def test_reserved_sid_is_refused(tmp_path: Path) -> None:
    other = {"Sid": "topoctl-sns-t", "Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*"}
    err = error(
        tmp_path,
        sqs=queues(q={"policy": {"Statement": [other]}}),
        sns=topics(t={"subscriptions": [{"protocol": "sqs", "endpoint": "q"}]}),
    )
    assert "reserved" in str(err)


def test_policy_given_as_json_text_is_parsed(tmp_path: Path) -> None:
    text = '{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}}'
    r = compiled(tmp_path, sqs=queues(q={"policy": text}))
    assert r[f"{B}/sqs_queue/q"].attrs["policy"]["Statement"][0]["Action"] == ["sqs:SendMessage"]


def test_subscription_dead_letter_creates_dlq_allowing_the_topic(tmp_path: Path) -> None:
    r = compiled(
        tmp_path,
        sqs=queues(q={}),
        sns=topics(t={"subscriptions": [{"protocol": "sqs", "endpoint": "q", "dead_letter": {}}]}),
    )
    sub = r[f"{B}/sns_subscription/t/sqs/q"]
    assert sub.attrs["redrive_policy"] == {"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{A}:t-dlq"}
    assert Address(B, "sqs_queue", ("t-dlq",)) in sub.depends_on
    dlq = r[f"{B}/sqs_queue/t-dlq"]
    assert dlq.attrs["policy"]["Statement"] == [sns_statement("t-dlq", "t")]


def test_fifo_topic_subscription_dlq_is_fifo(tmp_path: Path) -> None:
    r = compiled(
        tmp_path,
        sqs=queues(**{"q.fifo": {}}),
        sns=topics(**{"t.fifo": {"subscriptions": [{"protocol": "sqs", "endpoint": "q.fifo", "dead_letter": {}}]}}),
    )
    assert r[f"{B}/sqs_queue/t-dlq.fifo"].attrs["fifo"] is True


def test_filter_policy_is_canonical(tmp_path: Path) -> None:
    r = compiled(
        tmp_path,
        sqs=queues(q={}),
        sns=topics(
            t={
                "subscriptions": [
                    {
                        "protocol": "sqs",
                        "endpoint": "q",
                        "filter_policy": {"type": ["b", "a"], "price": [{"numeric": [">", 0, "<=", 5]}]},
                        "filter_policy_scope": "MessageBody",
                    }
                ]
            }
        ),
    )
    attrs = r[f"{B}/sns_subscription/t/sqs/q"].attrs
    assert attrs["filter_policy"] == {"type": ["a", "b"], "price": [{"numeric": [">", 0, "<=", 5]}]}
    assert attrs["filter_policy_scope"] == "MessageBody"


def test_subscription_to_an_undeclared_queue_name_is_refused(tmp_path: Path) -> None:
    err = error(tmp_path, sns=topics(t={"subscriptions": [{"protocol": "sqs", "endpoint": "nowhere"}]}))
    assert "nowhere" in str(err) and "sqs.queues" in str(err)


def test_standard_topic_cannot_deliver_to_fifo_queue(tmp_path: Path) -> None:
    err = error(
        tmp_path,
        sqs=queues(**{"q.fifo": {}}),
        sns=topics(t={"subscriptions": [{"protocol": "sqs", "endpoint": "q.fifo"}]}),
    )
    assert "FIFO topic" in str(err)


def test_non_sqs_and_arn_endpoints_are_kept_verbatim(tmp_path: Path) -> None:
    arn = "arn:aws:sqs:eu-west-1:999999999999:remote"
    r = compiled(
        tmp_path,
        sns=topics(
            t={
                "subscriptions": [
                    {"protocol": "https", "endpoint": "https://hooks.example.com/a/b"},
                    {"protocol": "sqs", "endpoint": arn},
                ]
            }
        ),
    )
    assert f"{B}/sns_subscription/t/https/https:%2F%2Fhooks.example.com%2Fa%2Fb" in r
    assert r[f"{B}/sns_subscription/t/sqs/{arn}"].depends_on == (Address(B, "sns_topic", ("t",)),)


def test_duplicate_subscription_is_refused(tmp_path: Path) -> None:
    sub = {"protocol": "email", "endpoint": "ops@example.com"}
    assert "twice" in str(error(tmp_path, sns=topics(t={"subscriptions": [sub, sub]})))


def test_state_absent(tmp_path: Path) -> None:
    r = compiled(
        tmp_path,
        sqs=queues(old={"state": "absent", "dead_letter": {}}),
        sns=topics(gone={"state": "absent", "subscriptions": [{"protocol": "email", "endpoint": "a@b.c"}]}),
    )
    assert set(r) == {f"{B}/sqs_queue/old", f"{B}/sns_topic/gone"}
    assert r[f"{B}/sqs_queue/old"].absent and r[f"{B}/sns_topic/gone"].absent


def test_subscription_to_absent_queue_is_refused(tmp_path: Path) -> None:
    err = error(
        tmp_path,
        sqs=queues(q={"state": "absent"}),
        sns=topics(t={"subscriptions": [{"protocol": "sqs", "endpoint": "q"}]}),
    )
    assert "absent" in str(err)


def test_prune_scopes(tmp_path: Path) -> None:
    assert prune_of(tmp_path, sqs=queues(q={})) == []
    everything = prune_of(tmp_path, prune=True)
    assert {k for s in everything for k in s.kinds} == {"sqs_queue", "sns_topic", "sns_subscription"}
    scoped = prune_of(
        tmp_path,
        prune={"prefix": "shop-", "topics": False},
        sns=topics(**{"shop-events": {}, "other": {}}),
    )
    covered = [
        Address(B, "sqs_queue", ("shop-a",)),
        Address(B, "sns_subscription", ("shop-events", "email", "x@y.z")),
    ]
    not_covered = [
        Address(B, "sqs_queue", ("a",)),
        Address(B, "sns_topic", ("shop-x",)),
        Address(B, "sns_subscription", ("other", "email", "x@y.z")),
    ]
    assert all(any(s.covers(a) for s in scoped) for a in covered)
    assert not any(s.covers(a) for s in scoped for a in not_covered)
    # Without a prefix too, `topics: false` leaves undeclared topics' subscriptions alone.
    kept = prune_of(tmp_path, prune={"topics": False}, sns=topics(declared={}))
    assert any(s.covers(Address(B, "sns_subscription", ("declared", "email", "x@y.z"))) for s in kept)
    assert not any(s.covers(Address(B, "sns_subscription", ("undeclared", "email", "x@y.z"))) for s in kept)


def test_secrets_stay_out_of_resources(tmp_path: Path) -> None:
    conn = CONN | {"access_key_id": "AKIDEXAMPLE", "secret_access_key": "s3cr3t-value"}
    spec = load_manifest([str(_write(tmp_path, connection=conn, sqs=queues(q={})))], env={}).brokers[B]
    assert "s3cr3t-value" not in repr(spec.resources)


def test_half_given_keys_are_refused(tmp_path: Path) -> None:
    assert "both" in str(error(tmp_path, connection=CONN | {"access_key_id": "AKID"}))


def test_message_body_scope_without_filter_policy_is_refused(tmp_path: Path) -> None:
    # SNS keeps no scope without a filter policy: it would read back as MessageAttributes forever.
    for sub in (
        {"protocol": "sqs", "endpoint": "q", "filter_policy_scope": "MessageBody"},
        {"protocol": "sqs", "endpoint": "q", "filter_policy_scope": "MessageBody", "filter_policy": {}},
    ):
        err = error(tmp_path, sqs=queues(q={}), sns=topics(t={"subscriptions": [sub]}))
        assert "filter_policy_scope: MessageBody needs a filter_policy" in str(err)
        assert err.location and err.location.startswith(str(tmp_path))
    scoped = {"protocol": "sqs", "endpoint": "q", "filter_policy_scope": "MessageBody", "filter_policy": {"a": ["b"]}}
    assert compiled(tmp_path, sqs=queues(q={}), sns=topics(t={"subscriptions": [scoped]}))


def test_what_sqs_would_refuse_is_a_manifest_error(tmp_path: Path) -> None:
    both = error(tmp_path, sqs=queues(a={"kms_master_key_id": "alias/x", "sqs_managed_sse_enabled": True}))
    assert "exclude each other" in str(both) and both.location
    by_queue = error(tmp_path, sqs=queues(a={"redrive_allow_policy": {"redrivePermission": "byQueue"}}))
    assert "byQueue needs sourceQueueArns" in str(by_queue)
    allow_all = {"redrivePermission": "allowAll", "sourceQueueArns": ["arn:aws:sqs:us-east-1:{account}:b"]}
    assert "only goes with byQueue" in str(error(tmp_path, sqs=queues(a={"redrive_allow_policy": allow_all})))
    fine = {"redrivePermission": "byQueue", "sourceQueueArns": "arn:aws:sqs:us-east-1:{account}:b"}
    assert compiled(tmp_path, sqs=queues(a={"redrive_allow_policy": fine, "kms_master_key_id": "alias/x"}))


def test_subscription_attributes_of_other_protocols_are_refused(tmp_path: Path) -> None:
    def sub(**spec: Any) -> ManifestError:
        return error(tmp_path, sns=topics(t={"subscriptions": [spec]}))

    lam = "arn:aws:lambda:us-east-1:{account}:function:f"
    assert "raw_message_delivery applies to sqs, http" in str(
        sub(protocol="lambda", endpoint=lam, raw_message_delivery=True)
    )
    assert "delivery_policy applies to http, https" in str(
        sub(protocol="email", endpoint="a@b.c", delivery_policy={"healthyRetryPolicy": {"numRetries": 3}})
    )
    assert "subscription_role_arn applies to firehose" in str(
        sub(protocol="lambda", endpoint=lam, subscription_role_arn="arn:aws:iam::{account}:role/r")
    )
    assert "needs subscription_role_arn" in str(sub(protocol="firehose", endpoint="arn:aws:firehose:x"))
    fine = {"protocol": "https", "endpoint": "https://x", "raw_message_delivery": True, "delivery_policy": {}}
    assert compiled(tmp_path, sns=topics(t={"subscriptions": [fine]}))


def test_dlq_written_as_own_arn_is_the_declared_queue(tmp_path: Path) -> None:
    arn = f"arn:aws:sqs:us-east-1:{A}:errors"
    r = compiled(
        tmp_path,
        sqs=queues(src={"dead_letter": {"queue": arn}}, errors={}),
        sns=topics(t={"subscriptions": [{"protocol": "sqs", "endpoint": "src", "dead_letter": {"queue": arn}}]}),
    )
    assert r[f"{B}/sqs_queue/src"].depends_on == (Address(B, "sqs_queue", ("errors",)),)
    assert r[f"{B}/sqs_queue/src"].attrs["redrive_policy"]["deadLetterTargetArn"] == arn
    assert r[f"{B}/sqs_queue/errors"].attrs["policy"]["Statement"] == [sns_statement("errors", "t")]
    mismatch = error(tmp_path, sqs=queues(**{"a.fifo": {"dead_letter": {"queue": arn}}}, errors={}))
    assert "must be a FIFO queue" in str(mismatch)


def test_dead_letter_cycle_is_refused(tmp_path: Path) -> None:
    # SQS creates a queue only once its DLQ exists: a -> b -> c -> a cannot be applied.
    err = error(
        tmp_path,
        sqs=queues(
            a={"dead_letter": {"queue": "b"}},
            b={"dead_letter": {"queue": "c"}},
            c={"dead_letter": {"queue": "a"}},
            d={"dead_letter": {"queue": "a"}},
        ),
    )
    assert "dead-letter queues form a cycle: a -> b -> c -> a" in str(err)
    assert err.location and err.location.startswith(str(tmp_path))
    assert compiled(tmp_path, sqs=queues(a={"dead_letter": {"queue": "b"}}, b={"dead_letter": {"queue": "c"}}, c={}))


def test_dlq_written_with_a_literal_account_is_created_first(tmp_path: Path) -> None:
    # The account is unknown offline, but a declared queue named by an ARN of this region is most
    # likely ours: SQS refuses the source queue while its DLQ does not exist yet.
    own = "arn:aws:sqs:us-east-1:123456789012:errors"
    r = compiled(
        tmp_path,
        sqs=queues(
            src={"dead_letter": {"queue": own}},
            errors={},
            far={"dead_letter": {"queue": own.replace("us-east-1", "eu-west-1")}},
        ),
        sns=topics(
            t={
                "subscriptions": [
                    {"protocol": "sqs", "endpoint": own.replace("errors", "src"), "dead_letter": {"queue": own}}
                ]
            }
        ),
    )
    errors, src = Address(B, "sqs_queue", ("errors",)), Address(B, "sqs_queue", ("src",))
    assert r[f"{B}/sqs_queue/src"].depends_on == (errors,)
    assert r[f"{B}/sqs_queue/src"].attrs["redrive_policy"]["deadLetterTargetArn"] == own  # kept as written
    assert r[f"{B}/sqs_queue/far"].depends_on == ()
    (sub,) = [x for x in r.values() if x.kind == "sns_subscription"]
    assert set(sub.depends_on) == {Address(B, "sns_topic", ("t",)), src, errors}


def test_dlq_arn_of_the_other_queue_type_is_refused(tmp_path: Path) -> None:
    fifo_dlq = "arn:aws:sqs:us-east-1:999999999999:central-dlq.fifo"
    err = error(tmp_path, sqs=queues(a={"dead_letter": {"queue": fifo_dlq}}))
    assert "the dead-letter queue of a must be a standard queue, not " + fifo_dlq in str(err)
    assert err.location and err.location.startswith(str(tmp_path))
    sub = {"protocol": "email", "endpoint": "a@b.c", "dead_letter": {"queue": fifo_dlq.removesuffix(".fifo")}}
    err = error(tmp_path, sns=topics(**{"t.fifo": {"subscriptions": [sub]}}))
    assert "must be a FIFO queue (its name ends in .fifo)" in str(err)
