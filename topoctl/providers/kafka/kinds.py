"""How the engine diffs Kafka's kinds: `topic`, `acl`, `quota`, `user` and `subject` (schema registry).

A topic's `config` is one attribute holding only the keys the manifest declares (a declared
`null` asks for the key to be removed). Live keys the manifest does not declare are reported as
unmanaged field changes, which the engine shows as notes and never applies, unless the topic asks
for `prune_config`: then they are real changes that remove the keys.

A changed `replication_factor` is an update: the driver reads which partitions need new replicas
and picks them (`reassign`), and the plan shows that `assignment` next to the factor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from topoctl.model import JSON, Address, FieldChange, Resource
from topoctl.providers import secrets
from topoctl.providers.base import KindSpec, PruneScope
from topoctl.providers.kafka import acls, quotas, subjects, users

TOPIC = "topic"
ACL = acls.KIND
QUOTA = quotas.KIND
USER = users.KIND
SUBJECT = subjects.KIND
CONFIG_PREFIX = "config."
ASSIGNMENT = "assignment"
# In an observed topic's info: the replicas the driver chose for the partitions that change
# ({"<partition>": [broker, ...]}), and the partitions a reassignment is already moving.
ASSIGNMENT_TARGET = "assignment_target"
REASSIGNING = "reassigning"


@dataclass(frozen=True)
class TopicKind(KindSpec):
    kind: str = TOPIC
    rank: int = 10

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        changes: list[FieldChange] = []
        for name in ("partitions", "replication_factor"):
            if name not in desired.attrs:
                continue
            want, have = desired.attrs[name], observed.attrs.get(name)
            if want != have:
                changes.append(
                    FieldChange(name, have, want, forces_replacement=self.forces_replacement(name, have, want))
                )
        target = observed.info.get(ASSIGNMENT_TARGET)
        if "replication_factor" in desired.attrs and isinstance(target, Mapping) and target:
            live = observed.attrs.get(ASSIGNMENT)
            live = live if isinstance(live, Mapping) else {}
            changes.append(FieldChange(ASSIGNMENT, {p: live.get(p) for p in target}, dict(target)))
        declared = _config(desired.attrs)
        live = _config(observed.attrs)
        # A replace recreates the topic from the manifest: undeclared live keys do not survive it,
        # so the plan shows them going instead of calling them kept.
        replacing = any(c.forces_replacement for c in changes)
        prune = replacing or bool(desired.attrs.get("prune_config", False))
        for key in sorted(set(declared) | set(live)):
            if key in declared:
                if declared[key] != live.get(key):
                    changes.append(FieldChange(CONFIG_PREFIX + key, live.get(key), declared[key]))
            else:
                changes.append(FieldChange(CONFIG_PREFIX + key, live[key], None, unmanaged=not prune))
        return changes

    def equal(self, field: str, desired: JSON, observed: JSON) -> bool:
        if field == "config":
            declared = desired if isinstance(desired, Mapping) else {}
            live = observed if isinstance(observed, Mapping) else {}
            return all(live.get(k) == v for k, v in declared.items())
        return bool(desired == observed)

    def forces_replacement(self, field: str, before: JSON, after: JSON) -> bool:
        if field == "partitions":
            # Kafka can add partitions but never remove one.
            return isinstance(before, int) and isinstance(after, int) and after < before
        return False  # a replication factor changes by reassignment, in place

    def replace_reason(self, change: FieldChange) -> str:
        if change.field == "partitions":
            return (
                f"partitions cannot decrease ({change.before} -> {change.after}): the topic is deleted and recreated;"
                f" Kafka partitions only grow, so keep {change.before} or more to change the topic in place"
            )
        return super().replace_reason(change)

    def notes(self, desired: Resource, observed: Resource) -> list[str]:
        out = []
        target = observed.info.get(ASSIGNMENT_TARGET)
        if "replication_factor" in desired.attrs and isinstance(target, Mapping) and target:
            count = len(target)
            out.append(
                f"{count} partition{'s are' if count != 1 else ' is'} reassigned (AlterPartitionReassignments); "
                "apply waits until the new replicas are in sync, and no message is lost"
            )
        moving = observed.info.get(REASSIGNING)
        if isinstance(moving, list) and moving:
            out.append(
                f"a reassignment of partition{'s' if len(moving) != 1 else ''} {', '.join(map(str, moving))} "
                "is in progress on the broker (an interrupted apply, or one started by hand)"
            )
        return out

    def at_risk(self, observed: Resource) -> list[str]:
        risks = super().at_risk(observed)
        if "messages" not in observed.info:
            partitions = observed.info.get("partitions")
            if isinstance(partitions, int):
                risks.append(f"all messages in its {partitions} partition{'s' if partitions != 1 else ''} will be lost")
        return risks


def _config(attrs: Mapping[str, JSON]) -> Mapping[str, JSON]:
    value = attrs.get("config")
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class AclKind(KindSpec):
    kind: str = ACL
    rank: int = 20
    # Every field is part of the address: an ACL is created or deleted, never changed.
    immutable: frozenset[str] = frozenset(acls.FIELDS)

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        return []

    def at_risk(self, observed: Resource) -> list[str]:
        return []


@dataclass(frozen=True)
class AclPruneScope(PruneScope):
    """ACLs whose resource name starts with `prefix` (the resource name is not the last part
    of an ACL's address, so the generic scope cannot express this)."""

    def covers(self, address: Address) -> bool:
        if address.kind != ACL:
            return False
        return address.name[acls.FIELDS.index("resource_name")].startswith(self.prefix)


@dataclass(frozen=True)
class QuotaKind(KindSpec):
    """A quota entity's values, as a set: declared keys compared, live keys not declared removed."""

    kind: str = QUOTA
    rank: int = 30
    risk_counts: tuple[str, ...] = ()

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        changes = []
        for key in sorted(set(desired.attrs) | set(observed.attrs)):
            want, have = desired.attrs.get(key), observed.attrs.get(key)
            if want != have:
                changes.append(FieldChange(key, have, want))
        return changes

    def at_risk(self, observed: Resource) -> list[str]:
        return []


@dataclass(frozen=True)
class UserKind(KindSpec):
    kind: str = USER
    rank: int = 5  # before the ACLs that name it, in output
    risk_counts: tuple[str, ...] = ()

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        return secrets.masked_changes(super().field_changes(desired, observed), (users.PASSWORD,))

    def notes(self, desired: Resource, observed: Resource) -> list[str]:
        why = observed.info.get(users.UNCHECKED)
        if users.PASSWORD in desired.attrs and isinstance(why, str):
            return [f"password not compared: {why}"]
        return []

    def at_risk(self, observed: Resource) -> list[str]:
        return [f"clients authenticating as {observed.address.name[0]} with SCRAM can no longer log in"]


@dataclass(frozen=True)
class SubjectKind(KindSpec):
    """A schema-registry subject: its latest schema, references and compatibility level (see
    subjects.py). A new schema is an update (a new version); another schema type a replace."""

    kind: str = SUBJECT
    rank: int = 15  # with the topics whose records it describes
    immutable: frozenset[str] = frozenset({"schema_type"})
    risk_counts: tuple[str, ...] = ("versions",)

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        changes = super().field_changes(desired, observed)
        # An empty reference list is left out of the attributes: a live one not declared goes.
        if "references" not in desired.attrs and observed.attrs.get("references"):
            changes.append(FieldChange("references", observed.attrs["references"], []))
        return changes

    def replace_reason(self, change: FieldChange) -> str:
        if change.field == "schema_type":
            return (
                f"schema_type cannot change in place ({change.before} -> {change.after}): the registry refuses a "
                "schema of another type, so the subject is soft-deleted and registered again"
            )
        return super().replace_reason(change)

    def notes(self, desired: Resource, observed: Resource) -> list[str]:
        out = []
        note = observed.info.get(subjects.NOTE)
        if isinstance(note, str) and any(
            f.field in ("schema", "references") for f in self.field_changes(desired, observed)
        ):
            out.append(note)
        return out

    def at_risk(self, observed: Resource) -> list[str]:
        versions = observed.info.get("versions")
        count = f"its {versions} version{'s' if versions != 1 else ''}" if isinstance(versions, int) else "its versions"
        name = observed.address.name[0]
        if observed.attrs.get(subjects.SOFT_DELETED):
            return [
                f"{count} (soft-deleted already) are deleted permanently, with the schema ids no other subject uses: "
                "consumers can no longer read records written with them"
            ]
        if observed.attrs.get(subjects.PERMANENT):
            return [
                f"{count} are soft-deleted, then deleted permanently, with the schema ids no other subject uses: "
                "consumers can no longer read records written with them"
            ]
        return [
            f"{count} are soft-deleted: producers can no longer register or look up schemas of {name} "
            "(records already written stay readable: their schema ids still resolve)"
        ]


KINDS: dict[str, KindSpec] = {
    TOPIC: TopicKind(),
    ACL: AclKind(),
    QUOTA: QuotaKind(),
    USER: UserKind(),
    SUBJECT: SubjectKind(),
}
