"""The registry's state and rules: subjects and their versions, global schema ids, compatibility
levels, soft and permanent deletes. Every refusal is a `RegistryError` with the HTTP status, the
error code and the message Confluent's Schema Registry answers with (its `Errors` and REST
resources, io.confluent.kafka.schemaregistry.rest, are the source; docs/kafka.md lists what is
reproduced).

Rules worth knowing, each as Confluent's registry has them:

* A schema's id is global: the same schema (type, rendering, references) gets the same id under
  every subject. After a permanent delete, an id no remaining version uses is gone (40403).
* Registering a schema that a live version of the subject already holds returns that version's id
  and registers nothing, even when it is not the latest.
* A soft delete hides the subject's versions (40401 afterwards) but keeps their ids readable and
  its compatibility level; a permanent delete needs a soft delete first (40405), removes the
  versions for good, and drops the subject's level. Deleting a soft-deleted subject again without
  `permanent=true` is 40404. Version numbers keep counting after a soft delete.
* A compatibility check against `latest` of a subject with no live version is compatible.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.schema_registry_double import avro, formats

LEVELS = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)
TYPES = ("AVRO", "JSON", "PROTOBUF")


class RegistryError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def subject_not_found(subject: str) -> RegistryError:
    return RegistryError(404, 40401, f"Subject '{subject}' not found.")


def version_not_found(version: Any) -> RegistryError:
    return RegistryError(404, 40402, f"Version {version} not found.")


def schema_not_found(schema_id: int | None = None) -> RegistryError:
    return RegistryError(404, 40403, "Schema not found" if schema_id is None else f"Schema {schema_id} not found")


def invalid_compatibility() -> RegistryError:
    return RegistryError(
        422,
        42203,
        "Invalid compatibility level. Valid values are none, backward, forward, full, "
        "backward_transitive, forward_transitive, and full_transitive",
    )


@dataclass(frozen=True)
class Reference:
    name: str
    subject: str
    version: int

    def json(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "version": self.version}


@dataclass(frozen=True)
class Stored:
    """A schema as the registry keeps it: its own rendering, under a global id."""

    schema_type: str
    text: str
    references: tuple[Reference, ...] = ()

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": self.text}
        if self.schema_type != "AVRO":  # as Confluent: AVRO, the default, is left out
            out["schemaType"] = self.schema_type
        if self.references:
            out["references"] = [r.json() for r in self.references]
        return out


@dataclass
class Version:
    number: int
    schema_id: int
    deleted: bool = False


@dataclass
class Registry:
    global_level: str = "BACKWARD"
    levels: dict[str, str] = field(default_factory=dict)
    subjects: dict[str, list[Version]] = field(default_factory=dict)
    schemas: dict[int, Stored] = field(default_factory=dict)
    next_id: int = 1
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- reading ---------------------------------------------------------------------------------

    def live(self, subject: str) -> list[Version]:
        return [v for v in self.subjects.get(subject, []) if not v.deleted]

    def names(self, deleted: bool = False) -> list[str]:
        return sorted(s for s, vs in self.subjects.items() if vs and (deleted or any(not v.deleted for v in vs)))

    def versions(self, subject: str, deleted: bool = False) -> list[Version]:
        found = self.subjects.get(subject, []) if deleted else self.live(subject)
        if not found:
            raise subject_not_found(subject)
        return found

    def version(self, subject: str, spec: str, deleted: bool = False) -> Version:
        found = self.versions(subject, deleted)
        number = _version_number(spec)
        if number == -1:
            return found[-1]
        for v in found:
            if v.number == number:
                return v
        raise version_not_found(number)

    def level(self, subject: str) -> str:
        return self.levels.get(subject, self.global_level)

    def subject_version_json(self, subject: str, v: Version) -> dict[str, Any]:
        return {"subject": subject, "version": v.number, "id": v.schema_id, **self.schemas[v.schema_id].json()}

    # -- parsing what is sent ----------------------------------------------------------------------

    def stored(self, subject: str, body: Any) -> Stored:
        """The schema of a register, lookup or compatibility request, as the registry keeps it."""
        if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
            raise RegistryError(422, 42201, "Empty schema")
        schema_type = body.get("schemaType") or "AVRO"
        if schema_type not in TYPES:
            raise RegistryError(422, 42201, f"Invalid schema type {schema_type}")
        references = tuple(
            Reference(str(r.get("name")), str(r.get("subject")), int(r.get("version", -1)))
            for r in body.get("references") or []
        )
        text = body["schema"]
        try:
            if schema_type == "AVRO":
                texts = [self._referenced_text(r) for r in references]
                rendered = avro.render(*avro.parse_with_references(text, texts))
            elif schema_type == "JSON":
                rendered = formats.render_json_schema(text)
            else:
                rendered = formats.render_protobuf(text)
        except (avro.InvalidAvro, formats.InvalidSchema) as exc:
            shown = {"subject": subject, "schemaType": schema_type, "schema": text}
            raise RegistryError(422, 42201, f"Invalid schema {shown}, details: {exc}") from None
        return Stored(schema_type, rendered, references)

    def _referenced_text(self, reference: Reference) -> str:
        for v in self.subjects.get(reference.subject, []):
            if v.number == reference.version:
                return self.schemas[v.schema_id].text
        raise avro.InvalidAvro(f"Subject '{reference.subject}' version {reference.version} not found")

    def _id_of(self, stored: Stored) -> int | None:
        return next((i for i, s in self.schemas.items() if s == stored), None)

    # -- writing ---------------------------------------------------------------------------------

    def register(self, subject: str, body: Any) -> int:
        stored = self.stored(subject, body)
        live = self.live(subject)
        known = self._id_of(stored)
        for v in live:
            if v.schema_id == known:
                return v.schema_id  # registered already under this subject: no new version
        problems = self.problems(subject, stored, live)
        if problems:
            details = "[" + ", ".join(problems) + "]"
            raise RegistryError(
                409,
                409,
                f'Schema being registered is incompatible with an earlier schema for subject "{subject}", '
                f"details: {details}",
            )
        if known is None:
            known = self.next_id
            self.next_id += 1
            self.schemas[known] = stored
        every = self.subjects.setdefault(subject, [])
        number = max((v.number for v in every), default=0) + 1
        every.append(Version(number, known))
        return known

    def lookup(self, subject: str, body: Any, deleted: bool = False) -> dict[str, Any]:
        stored = self.stored(subject, body)
        candidates = self.subjects.get(subject, []) if deleted else self.live(subject)
        if not candidates:
            raise subject_not_found(subject)
        known = self._id_of(stored)
        for v in candidates:
            if v.schema_id == known:
                return self.subject_version_json(subject, v)
        raise schema_not_found()

    def problems(self, subject: str, new: Stored, against: Sequence[Version], level: str | None = None) -> list[str]:
        """The registry's messages for `new` against `against` (oldest first), under the subject's
        level: empty when compatible."""
        level = level or self.level(subject)
        if level == "NONE" or not against:
            return []
        ordered = list(reversed(against))  # newest first, as the registry checks them
        if not level.endswith("_TRANSITIVE"):
            ordered = ordered[:1]
        for old_version in ordered:
            old = self.schemas[old_version.schema_id]
            if old.schema_type != new.schema_type:
                messages = ["Incompatible because of different schema type"]
            elif new.schema_type != "AVRO":
                messages = []  # not modelled: same-type JSON and PROTOBUF schemas are compatible
            else:
                messages = self._avro_problems(level, new, old, old_version.number)
            if messages:
                return [*messages, f"{{validateFields: 'false', compatibility: '{level}'}}"]
        return []

    def _avro_problems(self, level: str, new: Stored, old: Stored, version: int) -> list[str]:
        new_node = avro.parse(new.text, [self._referenced_text(r) for r in new.references])
        old_node = avro.parse(old.text, [self._referenced_text(r) for r in old.references])
        messages: list[str] = []
        trailer = [f"{{oldSchemaVersion: {version}}}", f"{{oldSchema: '{old.text}'}}"]
        if level.startswith(("FORWARD", "FULL")):  # the old schema reads what the new one writes
            found = avro.incompatibilities(old_node, new_node)
            messages += [avro.describe(i, "old", "new") for i in found]
            if found and level.startswith("FORWARD"):
                messages += trailer
        if level.startswith(("BACKWARD", "FULL")):  # the new schema reads what the old one wrote
            found = avro.incompatibilities(new_node, old_node)
            messages += [avro.describe(i, "new", "old") for i in found]
            if found:
                messages += trailer
        return messages

    def delete_subject(self, subject: str, permanent: bool) -> list[int]:
        every = self.subjects.get(subject, [])
        if not every:
            raise subject_not_found(subject)
        live = [v for v in every if not v.deleted]
        if not permanent and not live:
            raise RegistryError(
                404, 40404, f"Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"
            )
        if permanent and live:
            raise RegistryError(
                404, 40405, f"Subject '{subject}' was not deleted first before being permanently deleted"
            )
        self._refuse_if_referenced(subject, every if permanent else live)
        numbers = [v.number for v in (every if permanent else live)]
        if permanent:
            del self.subjects[subject]
            self.levels.pop(subject, None)
            self._forget_unused_ids()
        else:
            for v in live:
                v.deleted = True
        return numbers

    def delete_version(self, subject: str, spec: str, permanent: bool) -> int:
        every = self.subjects.get(subject, [])
        if not every:
            raise subject_not_found(subject)
        number = _version_number(spec)
        candidates = every if permanent else [v for v in every if not v.deleted]
        target = candidates[-1] if number == -1 and candidates else next((v for v in every if v.number == number), None)
        if target is None:
            raise version_not_found(number)
        if not permanent and target.deleted:
            raise RegistryError(
                404,
                40406,
                f"Subject '{subject}' Version {target.number} was soft deleted."
                "Set permanent=true to delete permanently",
            )
        if permanent and not target.deleted:
            raise RegistryError(
                404,
                40407,
                f"Subject '{subject}' Version {target.number} was not deleted first before being permanently deleted",
            )
        self._refuse_if_referenced(subject, [target])
        if permanent:
            every.remove(target)
            if not every:
                del self.subjects[subject]
            self._forget_unused_ids()
        else:
            target.deleted = True
        return target.number

    def _refuse_if_referenced(self, subject: str, going: Sequence[Version]) -> None:
        numbers = {v.number for v in going}
        for other, versions in self.subjects.items():
            if other == subject:
                continue
            for v in versions:
                if v.deleted:
                    continue
                for ref in self.schemas[v.schema_id].references:
                    if ref.subject == subject and ref.version in numbers:
                        raise RegistryError(
                            422,
                            42206,
                            f"One or more references exist to the schema "
                            f"{{magic=1,keytype=SCHEMA,subject={subject},version={ref.version}}}.",
                        )

    def _forget_unused_ids(self) -> None:
        used = {v.schema_id for vs in self.subjects.values() for v in vs}
        for schema_id in [i for i in self.schemas if i not in used]:
            del self.schemas[schema_id]

    def set_level(self, subject: str | None, body: Any) -> str:
        level = body.get("compatibility") if isinstance(body, dict) else None
        if not isinstance(level, str) or level.upper() not in LEVELS:
            raise invalid_compatibility()
        level = level.upper()
        if subject is None:
            self.global_level = level
        else:
            self.levels[subject] = level
        return level


def _version_number(spec: str) -> int:
    if spec == "latest":
        return -1
    try:
        number = int(spec)
    except ValueError:
        number = 0
    if number == -1:
        return -1
    if not 1 <= number <= 2**31 - 1:
        raise RegistryError(
            422,
            42202,
            f"The specified version '{spec}' is not a valid version id. "
            'Allowed values are between [1, 2^31-1] and the string "latest"',
        )
    return number
