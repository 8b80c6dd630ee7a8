"""Topic name rules, checked offline (manifest) and against live topics (plan time)."""

from __future__ import annotations

import re

MAX_TOPIC_NAME = 249
_LEGAL = re.compile(r"[a-zA-Z0-9._-]+")


def topic_name_problem(name: str) -> str | None:
    """Why `name` cannot be a topic name we manage, or None when it can."""
    if not name:
        return "a topic name cannot be empty"
    if name in (".", ".."):
        return f"topic name {name!r} is not allowed"
    if len(name) > MAX_TOPIC_NAME:
        return f"topic name {name[:40]}... is {len(name)} characters long (at most {MAX_TOPIC_NAME})"
    if not _LEGAL.fullmatch(name):
        bad = sorted({c for c in name if not _LEGAL.fullmatch(c)})
        return (
            f"topic name {name!r} contains {', '.join(repr(c) for c in bad)}: "
            "only letters, digits, '.', '_' and '-' are allowed"
        )
    if is_internal(name):
        return f"topic {name!r} is internal to Kafka (names starting with '__' are never managed)"
    return None


def is_internal(name: str) -> bool:
    return name.startswith("__")


def collision_key(name: str) -> str:
    """Kafka's metric names turn '.' into '_', so two names equal after that cannot coexist."""
    return name.replace(".", "_")
