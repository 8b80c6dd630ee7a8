"""`topoctl export` for Kafka: live topics, ACLs, client quotas, SCRAM users and schema-registry
subjects -> the broker's manifest section.

Planning the exported section against the same broker is empty: every live topic-level config
is written out (in friendly units where exact), partitions and replication factor included. A
SCRAM user's password cannot be read back: it is written as `${<BROKER>_USER_<NAME>_PASSWORD}`,
which the export lists on stderr. A subject is written with its latest schema as the registry
keeps it (AVRO and JSON as YAML, PROTOBUF as text), its references, and its compatibility level only
when it has one of its own (one that follows the global level exports without it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from topoctl.model import Resource
from topoctl.providers.kafka import acls, quotas, registry, subjects, users
from topoctl.providers.kafka.kinds import ACL, QUOTA, SUBJECT, TOPIC, USER
from topoctl.providers.kafka.values import is_duration_key, is_size_key
from topoctl.units import format_duration_ms, format_size


def export_broker(broker: str, observed: Sequence[Resource]) -> dict[str, Any]:
    topics: dict[str, Any] = {}
    acl_list: list[dict[str, Any]] = []
    quota_list: list[dict[str, Any]] = []
    user_map: dict[str, Any] = {}
    subject_map: dict[str, Any] = {}
    for resource in sorted(observed, key=lambda r: r.address):
        if resource.broker != broker:
            continue
        if resource.kind == TOPIC:
            topics[resource.address.name[0]] = _topic(resource)
        elif resource.kind == ACL:
            acl_list.append(_acl(resource))
        elif resource.kind == QUOTA:
            entity = quotas.entity_json(quotas.entity_from_address(resource.address))
            quota_list.append({"entity": entity, **resource.attrs})
        elif resource.kind == USER:
            name = resource.address.name[0]
            user_map[name] = users.export_user(name, resource.attrs, broker)
        elif resource.kind == SUBJECT:
            text = resource.info.get(registry.LIVE_TEXT)
            own = resource.info.get(registry.OWN_LEVEL)
            subject_map[resource.address.name[0]] = subjects.export_subject(
                resource.attrs, str(text or resource.attrs.get("schema", "")), str(own) if own else None
            )
    section: dict[str, Any] = {"topics": topics}
    if acl_list:
        section["acls"] = acl_list
    if quota_list:
        section["quotas"] = quota_list
    if user_map:
        section["users"] = user_map
    if subject_map:
        section["subjects"] = subject_map
    return section


def _topic(resource: Resource) -> dict[str, Any]:
    attrs = resource.attrs
    out: dict[str, Any] = {"partitions": attrs["partitions"], "replication_factor": attrs["replication_factor"]}
    config = attrs.get("config") or {}
    if config:
        out["config"] = {key: friendly(key, str(value)) for key, value in config.items()}
    return out


def _acl(resource: Resource) -> dict[str, Any]:
    attrs = dict(resource.attrs)
    out: dict[str, Any] = {field: attrs[field] for field in acls.FIELDS}
    # Leave out what the manifest defaults to, so exports read like hand-written manifests.
    for field, default in (("host", "*"), ("pattern_type", "literal"), ("permission", "allow")):
        if out[field] == default:
            del out[field]
    if attrs["resource_type"] == "cluster":
        out.pop("resource_name", None)
    return out


def friendly(key: str, value: str) -> str | int:
    """`604800000` -> `7d` for a duration key, `1073741824` -> `1GiB` for a size key; values
    that are not positive whole numbers stay as they are. Exact: the manifest's compiler reads
    the result back to the very integer the broker holds (Long.MAX included)."""
    if not (value.isascii() and value.isdigit()) or int(value) == 0:
        return value
    number = int(value)
    if is_duration_key(key):
        return format_duration_ms(number)
    if is_size_key(key):
        return format_size(number) or value
    return value
