"""What the Kafka unit tests build alike: ACLs."""

from __future__ import annotations

from typing import Any

from topoctl.model import Address


def acl_attrs(**overrides: str) -> dict[str, Any]:
    """An ACL's attributes, in the order of its address: `User:a` may read topic `t`, but for
    `overrides`."""
    return {
        "resource_type": "topic",
        "pattern_type": "literal",
        "resource_name": "t",
        "principal": "User:a",
        "host": "*",
        "operation": "read",
        "permission": "allow",
        **overrides,
    }


def acl_address(attrs: dict[str, Any]) -> Address:
    return Address("k", "acl", tuple(attrs.values()))
