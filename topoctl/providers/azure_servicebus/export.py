"""Observed Service Bus entities -> the `queues:` / `topics:` section of a manifest (`topoctl export`).

Only what differs from the service's defaults is written (a field left out is never compared, so
leaving defaults out never makes a diff), durations in manifest units (`1m`, `14d`, `forever`).
A subscription's `$Default` rule is written only when it says something: as a rule when it is not
the service's own (everything passes, no action) or stands beside other rules, and as
`default_rule: false` when a subscription without rules has none. `dead_letter:` is sugar and
comes out as the fields it sets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from topoctl.model import JSON, Resource
from topoctl.providers.azure_servicebus import values as v
from topoctl.providers.azure_servicebus.kinds import DURATION_FIELDS, QUEUE, RULE, SUBSCRIPTION, TOPIC

_FOREVER = v.FOREVER
_COMMON: dict[str, JSON] = {
    "default_message_time_to_live": _FOREVER,
    "auto_delete_on_idle": _FOREVER,
    "enable_batched_operations": True,
    "status": "Active",
    "user_metadata": None,
    "forward_to": None,
    "forward_dead_lettered_messages_to": None,
}
QUEUE_DEFAULTS: dict[str, JSON] = {
    **_COMMON,
    "lock_duration": 60_000,
    "max_size_in_megabytes": 1024,
    "requires_duplicate_detection": False,
    "requires_session": False,
    "dead_lettering_on_message_expiration": False,
    "duplicate_detection_history_time_window": 600_000,
    "max_delivery_count": 10,
    "enable_partitioning": False,
    "enable_express": False,
    "max_message_size_in_kilobytes": 1024,  # Premium's default (others never report it, see driver)
}
TOPIC_DEFAULTS: dict[str, JSON] = {
    **_COMMON,
    "max_size_in_megabytes": 1024,
    "requires_duplicate_detection": False,
    "duplicate_detection_history_time_window": 600_000,
    "support_ordering": True,
    "enable_partitioning": False,
    "enable_express": False,
    "max_message_size_in_kilobytes": 1024,
}
SUBSCRIPTION_DEFAULTS: dict[str, JSON] = {
    **_COMMON,
    "lock_duration": 60_000,
    "requires_session": False,
    "dead_lettering_on_message_expiration": False,
    "dead_lettering_on_filter_evaluation_exceptions": True,
    "max_delivery_count": 10,
}
SERVICE_DEFAULT_RULE: dict[str, JSON] = {"filter": True}


def export_broker(broker: str, observed: Sequence[Resource]) -> dict[str, Any]:
    mine = sorted((r for r in observed if r.broker == broker), key=lambda r: r.address)
    section: dict[str, Any] = {}
    for r in mine:
        if r.kind == QUEUE:
            section.setdefault("queues", {})[r.address.name[0]] = _fields(r.attrs, QUEUE_DEFAULTS)
        elif r.kind == TOPIC:
            defaults = dict(TOPIC_DEFAULTS)
            if r.attrs.get("enable_partitioning"):
                defaults["support_ordering"] = False  # the service's default for partitioned topics
            section.setdefault("topics", {})[r.address.name[0]] = _fields(r.attrs, defaults)
    topics = section.get("topics", {})
    rules: dict[tuple[str, ...], dict[str, Mapping[str, JSON]]] = {}
    for r in mine:
        if r.kind == RULE:
            rules.setdefault(r.address.name[:2], {})[r.address.name[2]] = r.attrs
    for r in mine:
        if r.kind != SUBSCRIPTION or r.address.name[0] not in topics:
            continue
        topic, name = r.address.name
        body = _fields(r.attrs, SUBSCRIPTION_DEFAULTS)
        body.update(_rules(rules.get((topic, name), {})))
        topics[topic].setdefault("subscriptions", {})[name] = body
    return section


def _rules(live: Mapping[str, Mapping[str, JSON]]) -> dict[str, Any]:
    default = live.get(v.DEFAULT_RULE)
    others = {n: dict(a) for n, a in sorted(live.items()) if n != v.DEFAULT_RULE}
    if default is None:
        return {"rules": others} if others else {"default_rule": False}
    if others or dict(default) != SERVICE_DEFAULT_RULE:
        return {"rules": {v.DEFAULT_RULE: dict(default), **others}}
    return {}  # the service's own $Default alone: what a subscription without rules gets anyway


def _fields(attrs: Mapping[str, JSON], defaults: Mapping[str, JSON]) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    for key, value in sorted(attrs.items()):
        if value is None or (key in defaults and value == defaults[key]) or (key == "user_metadata" and not value):
            continue
        out[key] = v.format_sb_duration(value) if key in DURATION_FIELDS else value
    return out
