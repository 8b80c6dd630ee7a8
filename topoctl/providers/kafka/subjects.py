"""Schema-registry subjects (`subjects:`) and the registry's connection
(`connection.schema_registry`): compiling them, and what their attributes mean. Pure.

A subject's identity is its name (`events/subject/orders.v1-value`). Its attributes:

* `schema_type`: AVRO (the registry's default), JSON or PROTOBUF. A change is a **replace**: the
  registry refuses a schema of another type as incompatible, so the subject is (soft) deleted and
  registered again.
* `schema`: the normal form of the schema (schemas.py), compared with the latest version the
  registry holds. A change registers a new version, which the plan first asks the registry to
  check for compatibility. The text that is registered is the manifest's own (in `info`), so the
  registry keeps its comments and layout; a saved plan without it registers the normal form.
* `references`: `[{name, subject, version}]`, in order: part of the schema's identity (left out of
  the attributes when empty, and compared as `[]` then).
* `compatibility`: the subject's level, compared only when declared. A subject without a level of
  its own follows the registry's global one: declaring the level the global one already has is no
  change (and pins nothing); another level is set on the subject (`PUT /config/<subject>`).

`state: absent` soft-deletes the subject (`DELETE /subjects/<s>`: versions hidden, schema ids still
readable); with `permanent: true` it is then deleted for good (`?permanent=true`).

Topics and subjects meet by Confluent's default TopicNameStrategy: `<topic>-value` and `<topic>-key`
are a topic's subjects. A subject under another strategy names its topics (`topics:`). A topic's
dead-letter topic carries the source's records unchanged (schema id included), so it shares the
source's subjects: nothing is registered for `<topic>.dlq-value`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from topoctl.errors import ManifestError
from topoctl.manifest.source import Context
from topoctl.model import JSON, Address, Resource
from topoctl.providers.kafka.connection import ConnectionProblem
from topoctl.providers.kafka.schemas import DEFAULT_TYPE, SCHEMA_TYPES, SchemaProblem, normal_form, pretty
from topoctl.units import parse_duration

KIND = "subject"
LEVELS = (
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
)
FILE_PREFIX = "file:"
# TopicNameStrategy: the subjects of a topic's keys and values.
SUFFIXES = ("-key", "-value")
# In a desired subject's info: the text to register, and the topics it serves (for the graph).
TEXT = "schema_text"
TOPICS = "topics"
# In an observed subject's attrs: how a delete goes (a permanent one, asked by the manifest), and
# whether the subject is soft-deleted already (only such subjects that a permanent delete targets
# are read).
PERMANENT = "permanent"
SOFT_DELETED = "soft_deleted"
# In an observed subject's info: what the plan says about registering a new version there (the
# version it becomes, the compatibility check made, or why none could be made).
NOTE = "note"
_FIELDS = ("schema_type", "schema", "references", "compatibility", "topics", "state", PERMANENT)
DEFAULT_TIMEOUT_MS = 10_000


def compile_subject(broker: str, name: str, spec: object, ctx: Context) -> Resource:
    if not name or name != name.strip() or any(ord(c) < 32 for c in name):
        raise ctx.error(f"invalid subject name {name!r}: no control characters or surrounding spaces")
    section = ctx.mapping(spec)
    address = Address(broker, KIND, (name,))
    unknown = sorted(str(k) for k in section if k not in _FIELDS)
    if unknown:
        raise ctx.at(unknown[0]).error(f"unknown subject setting {unknown[0]!r} ({', '.join(_FIELDS)})")
    state = section.get("state", "present")
    if state not in ("present", "absent"):
        raise ctx.at("state").error(f"state must be present or absent, got {state!r}")
    permanent = section.get(PERMANENT, False)
    if not isinstance(permanent, bool):
        raise ctx.at(PERMANENT).error("permanent must be true or false")
    info: dict[str, JSON] = {}
    topics = _topics(section.get(TOPICS), ctx.at(TOPICS))
    if topics:
        info[TOPICS] = topics
    if state == "absent":
        if permanent:
            info[PERMANENT] = True
        return Resource(address, {}, absent=True, source=ctx.where(), info=info)
    if permanent:
        raise ctx.at(PERMANENT).error("permanent: true goes with state: absent (it says how the subject is deleted)")
    schema_type = str(section.get("schema_type", DEFAULT_TYPE)).upper()
    if schema_type not in SCHEMA_TYPES:
        raise ctx.at("schema_type").error(f"schema_type must be one of {', '.join(SCHEMA_TYPES)}, got {schema_type!r}")
    if "schema" not in section:
        raise ctx.error(f"subject {name!r} needs a schema (inline, or {FILE_PREFIX}<path relative to the manifest>)")
    references = _references(section.get("references"), ctx.at("references"), name)
    text = schema_text(section["schema"], schema_type, ctx.at("schema"))
    try:
        form = normal_form(schema_type, text, has_references=bool(references))
    except SchemaProblem as exc:
        raise ctx.at("schema").error(str(exc)) from None
    attrs: dict[str, JSON] = {"schema_type": schema_type, "schema": form}
    if references:
        attrs["references"] = references
    if "compatibility" in section:
        level = str(section["compatibility"]).upper()
        if level not in LEVELS:
            raise ctx.at("compatibility").error(f"compatibility must be one of {', '.join(LEVELS)}, got {level!r}")
        attrs["compatibility"] = level
    info[TEXT] = text
    depends = tuple(Address(broker, KIND, (str(r["subject"]),)) for r in references)
    return Resource(address, attrs, depends, source=ctx.where(), info=info)


def link_references(subjects: list[Resource]) -> list[Resource]:
    """Keep a reference's dependency only on a subject the manifest declares (it is registered
    first); one declared absent while another references it is an error the registry would raise
    at apply (42206), said here with both places."""
    from dataclasses import replace

    declared = {s.address: s for s in subjects}
    out = []
    for subject in subjects:
        for dep in subject.depends_on:
            other = declared.get(dep)
            if other is not None and other.absent and not subject.absent:
                raise ManifestError(
                    f"subject {subject.address.name[0]!r} references subject {dep.name[0]!r}, which is "
                    f"declared state: absent{' at ' + other.source if other.source else ''}: the registry "
                    "refuses to delete a referenced subject",
                    subject.source,
                )
        out.append(replace(subject, depends_on=tuple(d for d in subject.depends_on if d in declared)))
    return out


def schema_text(value: object, schema_type: str, ctx: Context) -> str:
    """The text to register: inline text, YAML holding the schema's JSON, or a file's content."""
    import json

    if isinstance(value, str) and value.startswith(FILE_PREFIX):
        return _read_file(value[len(FILE_PREFIX) :].strip(), ctx)
    if isinstance(value, str):
        if not value.strip():
            raise ctx.error("schema is empty")
        return value
    if schema_type == "PROTOBUF":
        raise ctx.error("a PROTOBUF schema is text (a string, or file:<path>)")
    if isinstance(value, (Mapping, list)) or (schema_type == "JSON" and isinstance(value, bool)):
        return json.dumps(value, ensure_ascii=False)
    raise ctx.error(f"schema must be text, the schema's JSON as YAML, or {FILE_PREFIX}<path>")


def _read_file(path: str, ctx: Context) -> str:
    if not path:
        raise ctx.error(f"{FILE_PREFIX} needs a path")
    where = ctx.where()
    manifest = where.rpartition(":")[0] if where else ""
    base = Path(manifest).parent if manifest else Path(".")
    target = base / path
    try:
        return target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ctx.error(f"cannot read schema file {str(target)!r}: {reason}") from None


def _references(value: object, ctx: Context, subject: str) -> list[JSON]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ctx.error("references must be a list of {name, subject, version}")
    out: list[JSON] = []
    for i, item in enumerate(value):
        item_ctx = ctx.at(i)
        spec = item_ctx.mapping(item)
        unknown = sorted(str(k) for k in spec if k not in ("name", "subject", "version"))
        if unknown:
            raise item_ctx.at(unknown[0]).error(f"unknown reference setting {unknown[0]!r} (name, subject, version)")
        for key in ("name", "subject"):
            if not isinstance(spec.get(key), str) or not spec[key]:
                raise item_ctx.error(f"a reference needs {key}")
        version = spec.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise item_ctx.at("version").error("a reference needs version, a registered version number (1, 2, ...)")
        if spec["subject"] == subject:
            raise item_ctx.at("subject").error(f"subject {subject!r} cannot reference itself")
        out.append({"name": spec["name"], "subject": spec["subject"], "version": version})
    return out


def _topics(value: object, ctx: Context) -> list[JSON]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        raise ctx.error("topics must be a list of topic names")
    return list(dict.fromkeys(value))


def topics_of(subject: Resource) -> list[str]:
    """The topics whose records `subject` describes: those it names, else TopicNameStrategy's."""
    named = subject.info.get(TOPICS)
    if isinstance(named, list) and named:
        return [str(t) for t in named]
    name = subject.address.name[0]
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return [name[: -len(suffix)]]
    return []


def text_of(resource: Resource | None) -> str | None:
    value = resource.info.get(TEXT) if resource is not None else None
    return value if isinstance(value, str) else None


def export_subject(attrs: Mapping[str, JSON], text: str, level: str | None) -> dict[str, Any]:
    """A live subject as the manifest writes it (for `topoctl export`)."""
    schema_type = str(attrs.get("schema_type", DEFAULT_TYPE))
    out: dict[str, Any] = {}
    if schema_type != DEFAULT_TYPE:
        out["schema_type"] = schema_type
    out["schema"] = pretty(schema_type, text)
    references = attrs.get("references")
    if references:
        out["references"] = [dict(r) for r in references]
    if level is not None:
        out["compatibility"] = level
    return out


# -- connection.schema_registry ----------------------------------------------------------------------


@dataclass(frozen=True)
class RegistrySettings:
    url: str  # without credentials or trailing slash
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify: bool = True
    timeout_s: float = DEFAULT_TIMEOUT_MS / 1000

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.password, self.token) if s]


def registry_settings(connection: Mapping[str, Any]) -> RegistrySettings | None:
    """`connection.schema_registry`, or None when the broker has none; ConnectionProblem (with the
    path below `connection:`) for settings that cannot work."""
    from urllib.parse import urlsplit, urlunsplit

    section = connection.get("schema_registry")
    if section is None:
        return None
    here = "schema_registry"
    if not isinstance(section, Mapping):
        raise ConnectionProblem("connection.schema_registry must be a mapping with url", here)
    url = section.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ConnectionProblem("schema_registry.url is required (http[s]://host:port)", here, "url")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionProblem("schema_registry.url must be http://host:port or https://host:port", here, "url")
    if parts.username or parts.password:
        raise ConnectionProblem(
            "schema_registry.url must not hold credentials: use username/password or token", here, "url"
        )
    username, password, token = section.get("username"), section.get("password"), section.get("token")
    if (username is None) != (password is None):
        raise ConnectionProblem("schema_registry.username and password go together (basic auth)", here)
    if token is not None and username is not None:
        raise ConnectionProblem("schema_registry takes username/password (basic) or token (bearer), not both", here)
    for key, value in (("username", username), ("password", password), ("token", token)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ConnectionProblem(f"schema_registry.{key} must be a non-empty string (take it from ${{VAR}})", here)
    tls = section.get("tls") or {}
    if not isinstance(tls, Mapping):
        raise ConnectionProblem("schema_registry.tls must be a mapping", here, "tls")
    files = {}
    for key in ("ca_file", "cert_file", "key_file"):
        if tls.get(key) is not None:
            files[key] = str(tls[key])
    if "key_file" in files and "cert_file" not in files:
        raise ConnectionProblem("schema_registry.tls.key_file needs cert_file", here, "tls")
    verify = tls.get("verify", True)
    if not isinstance(verify, bool):
        raise ConnectionProblem("schema_registry.tls.verify must be true or false", here, "tls")
    timeout = section.get("timeout")
    timeout_ms = DEFAULT_TIMEOUT_MS
    if timeout is not None:
        try:
            timeout_ms = parse_duration(timeout, "ms")
        except ValueError as exc:
            raise ConnectionProblem(f"schema_registry.timeout: {exc}", here, "timeout") from None
        if timeout_ms <= 0:
            raise ConnectionProblem("schema_registry.timeout must be positive", here, "timeout")
    base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    return RegistrySettings(
        url=base,
        username=username,
        password=password,
        token=token,
        verify=verify,
        timeout_s=timeout_ms / 1000,
        **files,
    )
