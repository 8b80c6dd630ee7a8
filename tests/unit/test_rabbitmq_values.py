"""RabbitMQ values compared by what they mean to the broker: stream retention in every unit it
accepts (`Y` = 365 days, `M` = 30 days, `D`, `h`, `m`, `s`), on both sides of a plan and in exports,
and binding arguments, which are not settings and stay as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from topoctl.engine.diff import diff
from topoctl.manifest.loader import load_manifest
from topoctl.model import Address, Resource
from topoctl.providers.base import KindSpec
from topoctl.providers.rabbitmq.export import export_broker
from topoctl.providers.rabbitmq.kinds import KINDS
from topoctl.providers.rabbitmq.observe import LiveState, observe
from topoctl.providers.rabbitmq.policies import warnings
from topoctl.providers.rabbitmq.values import max_age, max_age_seconds

B = "r"
DAY = 86400


def spec_of(address: Address) -> KindSpec:
    return KINDS[address.kind]


def compiled(tmp_path: Path, vhosts: dict[str, Any]) -> list[Resource]:
    doc = {"version": 1, "brokers": {B: {"type": "rabbitmq", "vhosts": vhosts}}}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return load_manifest([str(path)], env={}).brokers[B].resources


def stream_row(vhost: str, name: str, age: str) -> dict[str, Any]:
    return {
        "vhost": vhost,
        "name": name,
        "type": "stream",
        "durable": True,
        "auto_delete": False,
        "exclusive": False,
        "arguments": {"x-queue-type": "stream", "x-max-age": age},
    }


def live(queues: list[dict[str, Any]], policies: list[dict[str, Any]] | None = None) -> LiveState:
    policies = policies or []
    vhosts = sorted({q["vhost"] for q in [*queues, *policies]})
    return LiveState(
        exchanges=[],
        queues=list(queues),
        vhosts=[{"name": v, "description": "", "tags": []} for v in vhosts],
        bindings=[],
        policies=list(policies),
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1M", "30d"),
        ("1M", "30D"),
        ("1M", "720h"),
        ("1Y", "365d"),
        ("1Y", "8760h"),
        ("2M", "60d"),
        ("12M", "360D"),
        ("7D", "168h"),
        ("7D", "604800s"),
        ("1D", "1440m"),
        ("007D", "7d"),
        ("90m", "1h30m"),
        ("1h", 3600),
    ],
)
def test_equal_retentions_have_one_normal_form(a: Any, b: Any) -> None:
    assert max_age(a) == max_age(b)
    assert max_age_seconds(a) == max_age_seconds(b)


@pytest.mark.parametrize(
    ("value", "seconds", "normal"),
    [
        ("1Y", 365 * DAY, "365D"),
        ("1M", 30 * DAY, "30D"),
        ("1D", DAY, "1D"),
        ("1h", 3600, "1h"),
        ("1m", 60, "1m"),  # a minute: the case matters, as it does to RabbitMQ
        ("1s", 1, "1s"),
        ("36h", 36 * 3600, "36h"),
        ("100000000000000000000Y", 100000000000000000000 * 365 * DAY, "36500000000000000000000D"),
    ],
)
def test_every_unit_the_broker_accepts_is_read_by_its_meaning(value: str, seconds: int, normal: str) -> None:
    assert max_age_seconds(value) == seconds
    assert max_age(value) == normal


@pytest.mark.parametrize(("a", "b"), [("1M", "1m"), ("12M", "1Y"), ("1Y", "364d"), ("1M", "31d")])
def test_different_retentions_stay_different(a: str, b: str) -> None:
    assert max_age(a) != max_age(b)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0D", "must be positive"),
        (-5, "must be positive"),
        (True, "expected a duration"),
        ("1M15D", "M (30 days) and Y (365 days) stand alone"),
        ("soon", "not a duration"),
    ],
)
def test_what_is_not_a_retention_is_refused(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        max_age(value)


@pytest.mark.parametrize(
    ("live_age", "manifest_age"), [("1M", "30d"), ("1Y", "365d"), ("2M", "60d"), ("1Y", "1Y"), ("1M", "720h")]
)
def test_an_equal_retention_in_other_units_plans_nothing(tmp_path: Path, live_age: str, manifest_age: str) -> None:
    desired = compiled(
        tmp_path,
        {
            "v": {
                "queues": {"s": {"type": "stream", "arguments": {"x-max-age": manifest_age}}},
                "policies": {"p": {"pattern": "^s$", "apply_to": "queues", "definition": {"max-age": manifest_age}}},
            }
        },
    )
    policy = {
        "vhost": "v",
        "name": "p",
        "pattern": "^s$",
        "apply-to": "queues",
        "priority": 0,
        "definition": {"max-age": live_age},
    }
    observed = observe(B, live([stream_row("v", "s", live_age)], [policy]))
    plan = diff(desired, observed, spec_of)
    assert plan.empty, [(str(c.address), c.action, c.before, c.after) for c in plan.changes]


def test_a_different_retention_still_plans_its_change(tmp_path: Path) -> None:
    desired = compiled(tmp_path, {"v": {"queues": {"s": {"type": "stream", "arguments": {"x-max-age": "31d"}}}}})
    plan = diff(desired, observe(B, live([stream_row("v", "s", "1M")])), spec_of)
    [change] = plan.changes
    assert change.action.value == "replace"
    assert (change.before or {})["arguments"] == {"x-max-age": "30D"}
    assert (change.after or {})["arguments"] == {"x-max-age": "31D"}


def test_export_writes_retentions_that_plan_empty(tmp_path: Path) -> None:
    policy = {
        "vhost": "v",
        "name": "p",
        "pattern": "^s",
        "apply-to": "queues",
        "priority": 0,
        "definition": {"max-age": "2M"},
    }
    observed = observe(B, live([stream_row("v", "s1", "1M"), stream_row("v", "s2", "1Y")], [policy]))
    section = export_broker(B, observed)
    body = section["vhosts"]["v"]
    assert body["queues"]["s1"]["arguments"] == {"x-max-age": "30d"}
    assert body["queues"]["s2"]["arguments"] == {"x-max-age": "365d"}
    assert body["policies"]["p"]["definition"] == {"max-age": "60d"}
    assert diff(compiled(tmp_path, section["vhosts"]), observed, spec_of).empty


def test_a_stream_argument_and_its_policy_warn_by_length_not_by_text(tmp_path: Path) -> None:
    vhost = {
        "queues": {"s": {"type": "stream", "arguments": {"x-max-age": "1M"}}},
        "policies": {"p": {"pattern": "^s$", "apply_to": "queues", "definition": {"max-age": "45d"}}},
    }
    [warning] = warnings(compiled(tmp_path, {"v": vhost}))
    assert "x-max-age ('30D')" in warning and "max-age ('45D')" in warning
    assert "the smaller value applies, so the queue's argument decides" in warning
    vhost["policies"]["p"]["definition"] = {"max-age": "30d"}  # the same length: nothing to say
    assert warnings(compiled(tmp_path, {"v": vhost})) == []


def test_binding_arguments_are_kept_as_written(tmp_path: Path) -> None:
    """A headers binding matches message headers against these values: `expires: 30s` there is
    the text "30s", not 30000 ms, and `max-age: 7d` is not `7D`."""
    arguments = {"x-match": "all", "expires": "30s", "max-age": "7d", "x-message-ttl": "1h"}
    desired = compiled(
        tmp_path,
        {
            "v": {
                "exchanges": {"h": {"type": "headers"}},
                "queues": {"q": {}},
                "bindings": [{"source": "h", "destination": "q", "arguments": arguments}],
            }
        },
    )
    [binding] = [r for r in desired if r.kind == "binding"]
    assert binding.attrs["arguments"] == arguments
    row = {
        "vhost": "v",
        "source": "h",
        "destination": "q",
        "destination_type": "queue",
        "routing_key": "",
        "arguments": arguments,
        "properties_key": "~abc",
    }
    observed = [r for r in observe(B, LiveState([], [], [], [row], [])) if r.kind == "binding"]
    assert [r.address for r in observed] == [binding.address]
    exported = export_broker(B, observed)["vhosts"]["v"]["bindings"]
    assert exported == [{"source": "h", "destination": "q", "arguments": arguments}]
