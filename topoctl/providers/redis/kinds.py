"""The Redis resource kinds: streams, consumer groups and ACL users.

A stream has no configuration in Redis and a group only a position, which is runtime state: what
the manifest says of them beyond their existence (retention for producers, a group's `start`, its
`dead_letter`) is intent, shown when they are created and never compared afterwards. So streams
and groups are created and deleted, never updated or replaced; users update in place.

The counts (a stream's entries, a group's pending entries) are in `info`: they feed the at-risk notes
and, through `risk_counts`, the staleness check of saved plans (a plan that deleted an empty stream is
refused once entries arrived).
"""

from __future__ import annotations

from dataclasses import dataclass

from topoctl.model import JSON, FieldChange, Resource
from topoctl.providers.base import KindSpec
from topoctl.providers.redis import acl

STREAM = "stream"
GROUP = "group"
USER = "user"

STREAM_INTENT = frozenset({"maxlen", "minid", "approximate"})
GROUP_INTENT = frozenset({"start", "entries_read", "dead_letter"})


def _plural(n: int, word: str, words: str = "") -> str:
    return f"{n} {word if n == 1 else words or word + 's'}"


def _count(resource: Resource, key: str) -> int:
    value = resource.info.get(key)
    return value if isinstance(value, int) and value > 0 else 0


@dataclass(frozen=True)
class _IntentKind(KindSpec):
    intent: frozenset[str] = frozenset()

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        return [c for c in super().field_changes(desired, observed) if c.field not in self.intent]


@dataclass(frozen=True)
class StreamKind(_IntentKind):
    def at_risk(self, observed: Resource) -> list[str]:
        out = []
        entries = _count(observed, "entries")
        if entries:
            out.append(f"{_plural(entries, 'entry', 'entries')} will be lost")
        groups = _count(observed, "groups")
        if groups:
            pending = _count(observed, "pending")
            verb = "goes" if groups == 1 else "go"
            extra = f", with {_plural(pending, 'pending entry', 'pending entries')} not acknowledged"
            out.append(f"its {_plural(groups, 'consumer group')} {verb} with it" + (extra if pending else ""))
        return out


@dataclass(frozen=True)
class GroupKind(_IntentKind):
    def at_risk(self, observed: Resource) -> list[str]:
        out = []
        pending = _count(observed, "pending")
        if pending:
            entries = _plural(pending, "pending entry", "pending entries")
            out.append(f"{entries} (delivered, not acknowledged) will be lost")
        lag = _count(observed, "lag")
        if lag:
            entries = _plural(lag, "entry", "entries")
            out.append(f"its position is lost: {entries} not yet delivered to the group")
        consumers = _count(observed, "consumers")
        if consumers:
            out.append(f"its {_plural(consumers, 'consumer')} {'goes' if consumers == 1 else 'go'} with it")
        return out


@dataclass(frozen=True)
class UserKind(KindSpec):
    def equal(self, field: str, desired: JSON, observed: JSON) -> bool:
        if field == "keys" and isinstance(desired, list) and isinstance(observed, list):
            return acl.canonical_keys(desired) == acl.canonical_keys(observed)
        if field == "channels" and isinstance(desired, list) and isinstance(observed, list):
            return acl.canonical_channels(desired) == acl.canonical_channels(observed)
        if field == "commands" and isinstance(desired, list) and isinstance(observed, list):
            # The driver writes live rules in the manifest's words when they mean the same.
            return [str(c).lower() for c in desired] == [str(c).lower() for c in observed]
        return bool(desired == observed)

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        changes = super().field_changes(desired, observed)
        # A password is never shown, not even hashed: only that it changes.
        return [
            FieldChange(c.field, acl.SENSITIVE if c.before is not None else None, acl.SENSITIVE_CHANGED)
            if c.field == "passwords"
            else c
            for c in changes
        ]

    def at_risk(self, observed: Resource) -> list[str]:
        return [f"clients authenticated as {observed.address.name[0]} can no longer authenticate"]


KINDS: dict[str, KindSpec] = {
    STREAM: StreamKind(STREAM, cascades=True, rank=10, intent=STREAM_INTENT, risk_counts=("entries",)),
    GROUP: GroupKind(GROUP, rank=20, intent=GROUP_INTENT, risk_counts=("pending",)),
    USER: UserKind(USER, rank=30),
}
