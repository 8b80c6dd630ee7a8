"""ACL vocabulary: the manifest's lowercase words and Kafka's enum names, both ways.

An ACL has no identity besides its fields, so every field is part of its address and two ACLs
differ only by being different resources (create/delete, never update).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topoctl.model import Address

KIND = "acl"

RESOURCE_TYPES = ("topic", "group", "cluster", "transactional_id")
PATTERN_TYPES = ("literal", "prefixed")
PERMISSIONS = ("allow", "deny")
OPERATIONS = (
    "all",
    "read",
    "write",
    "create",
    "delete",
    "alter",
    "describe",
    "cluster_action",
    "describe_configs",
    "alter_configs",
    "idempotent_write",
)
CLUSTER_RESOURCE_NAME = "kafka-cluster"

# Order of the name parts in an ACL address (and of the attrs of an ACL resource).
FIELDS = ("resource_type", "pattern_type", "resource_name", "principal", "host", "operation", "permission")


def acl_address(broker: str, attrs: Mapping[str, Any]) -> Address:
    return Address(broker, KIND, tuple(str(attrs[f]) for f in FIELDS))


# librdkafka calls Kafka's CLUSTER resource type BROKER (same wire value, 4).
_RESOURCE_TYPE_ENUM = {"cluster": "BROKER"}
_RESOURCE_TYPE_WORD = {v: k for k, v in _RESOURCE_TYPE_ENUM.items()}


def enum_name(field: str, word: str) -> str:
    """The confluent-kafka enum member for a manifest word: `transactional_id` -> `TRANSACTIONAL_ID`."""
    if field == "resource_type":
        return _RESOURCE_TYPE_ENUM.get(word, word.upper())
    return word.upper()


def manifest_word(field: str, member: str) -> str | None:
    """The manifest word for a confluent-kafka enum member name, or None for one we do not manage
    (an ACL on a user or a delegation token, an unknown operation)."""
    if field == "resource_type":
        word = _RESOURCE_TYPE_WORD.get(member, member.lower())
        return word if word in RESOURCE_TYPES else None
    word = member.lower()
    allowed = {"pattern_type": PATTERN_TYPES, "operation": OPERATIONS, "permission": PERMISSIONS}[field]
    return word if word in allowed else None
