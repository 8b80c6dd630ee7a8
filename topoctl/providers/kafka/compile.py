"""The `type: kafka` section of a manifest -> desired topics, ACLs, quotas, users and schema-registry
subjects. Pure: no client imported."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from topoctl.manifest.source import Context
from topoctl.model import JSON, Address, Resource
from topoctl.providers.base import Compiled, PruneScope
from topoctl.providers.kafka import acls, quotas, subjects, users
from topoctl.providers.kafka.connection import ConnectionProblem, librdkafka_config
from topoctl.providers.kafka.kinds import ACL, QUOTA, SUBJECT, TOPIC, USER, AclPruneScope
from topoctl.providers.kafka.names import collision_key, topic_name_problem
from topoctl.providers.kafka.values import canonical_value

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class PruneSettings:
    topics: bool = False
    acls: bool = False
    config: bool = False
    quotas: bool = False
    users: bool = False
    subjects: bool = False
    prefix: str = ""


def compile_broker(broker: str, section: Mapping[str, Any], ctx: Context) -> Compiled:
    _check_connection(section.get("connection"), ctx.at("connection"))
    prune = _prune_settings(section.get("prune"), ctx.at("prune"))
    topics_ctx = ctx.at("topics")
    declared = topics_ctx.mapping(section.get("topics"))
    topics = _TopicCompiler(broker, prune, {str(n): _declared_absent(s) for n, s in declared.items()})
    for name, spec in declared.items():
        topics.add(str(name), spec, topics_ctx.at(name))
    resources = topics.resources
    resources += _compile_acls(broker, section.get("acls"), ctx.at("acls"), topics.present)
    resources += _compile_quotas(broker, section.get("quotas"), ctx.at("quotas"))
    users_ctx = ctx.at("users")
    for name, spec in users_ctx.mapping(section.get("users")).items():
        resources.append(users.compile_user(broker, str(name), spec, users_ctx.at(name)))
    resources += _compile_subjects(broker, section, ctx)
    scopes: list[PruneScope] = []
    if prune.topics:
        scopes.append(PruneScope(kinds=frozenset({TOPIC}), prefix=prune.prefix))
    if prune.acls:
        scopes.append(AclPruneScope(kinds=frozenset({ACL}), prefix=prune.prefix))
    if prune.quotas:
        scopes.append(PruneScope(kinds=frozenset({QUOTA})))  # every quota: an entity has no prefix
    if prune.users:
        scopes.append(PruneScope(kinds=frozenset({USER}), prefix=prune.prefix))
    if prune.subjects:
        connection = section.get("connection")
        if not isinstance(connection, Mapping) or connection.get("schema_registry") is None:
            raise ctx.at("prune", "subjects").error(
                "prune.subjects needs a schema registry: set connection.schema_registry.url"
            )
        scopes.append(PruneScope(kinds=frozenset({SUBJECT}), prefix=prune.prefix))
    warnings: list[str] = []
    if prune.prefix and not (prune.topics or prune.acls or prune.users or prune.subjects):
        where = ctx.at("prune", "prefix").where()
        warnings.append(
            f"{where + ': ' if where else ''}prune.prefix {prune.prefix!r} narrows nothing: it applies to "
            "topics: true, acls: true, users: true and subjects: true, and none is set, so nothing is pruned"
        )
    return Compiled(resources, scopes, warnings)


def _check_connection(connection: object, ctx: Context) -> None:
    try:
        librdkafka_config(ctx.mapping(connection))
        subjects.registry_settings(ctx.mapping(connection))
    except ConnectionProblem as exc:
        raise ctx.at(*exc.path).error(str(exc)) from None


def _compile_subjects(broker: str, section: Mapping[str, Any], ctx: Context) -> list[Resource]:
    """`subjects:` -> one resource per subject; they need `connection.schema_registry`."""
    subjects_ctx = ctx.at("subjects")
    declared = subjects_ctx.mapping(section.get("subjects"))
    if not declared:
        return []
    connection = section.get("connection")
    if not isinstance(connection, Mapping) or connection.get("schema_registry") is None:
        raise subjects_ctx.error("subjects need a schema registry: set connection.schema_registry.url")
    compiled = [subjects.compile_subject(broker, str(n), s, subjects_ctx.at(n)) for n, s in declared.items()]
    return subjects.link_references(compiled)


def _prune_settings(value: object, ctx: Context) -> PruneSettings:
    if value is None or value is False:
        return PruneSettings()
    if value is True:
        return PruneSettings(topics=True, acls=True)
    spec = ctx.mapping(value)
    prefix = spec.get("prefix", "")
    if not isinstance(prefix, str):
        raise ctx.at("prefix").error("prune.prefix must be a string")
    return PruneSettings(
        topics=_flag(spec, "topics", ctx),
        acls=_flag(spec, "acls", ctx),
        config=_flag(spec, "config", ctx),
        quotas=_flag(spec, "quotas", ctx),
        users=_flag(spec, "users", ctx),
        subjects=_flag(spec, "subjects", ctx),
        prefix=prefix,
    )


def _flag(spec: Mapping[str, Any], key: str, ctx: Context, default: bool = False) -> bool:
    value = spec.get(key, default)
    if not isinstance(value, bool):
        raise ctx.at(key).error(f"{key} must be true or false")
    return value


@dataclass
class _Topic:
    attrs: dict[str, JSON]
    absent: bool
    source: str | None
    # Topics whose dead letters go here (never diffed: it tells `topoctl graph` the flows).
    dead_letter_of: list[str]
    generated: bool = False  # made by a `dead_letter:`, not declared under `topics:`
    made_by: str = ""  # the first source that generated it, for messages


class _TopicCompiler:
    def __init__(self, broker: str, prune: PruneSettings, declared: Mapping[str, bool]) -> None:
        self.broker = broker
        self.prune = prune
        # name -> absent, for every topic declared under `topics:` (a dead_letter may name one)
        self.declared = declared
        self.topics: dict[str, _Topic] = {}
        # collision key -> (topic name, its label, where it is declared), for the '.'/'_' rule
        self._seen: dict[str, tuple[str, str, str | None]] = {}

    @property
    def present(self) -> set[str]:
        return {name for name, topic in self.topics.items() if not topic.absent}

    @property
    def resources(self) -> list[Resource]:
        out = []
        for name, topic in self.topics.items():
            info: dict[str, JSON] = {"dead_letter_of": list(topic.dead_letter_of)} if topic.dead_letter_of else {}
            address = Address(self.broker, TOPIC, (name,))
            out.append(Resource(address, topic.attrs, absent=topic.absent, source=topic.source, info=info))
        return out

    def add(self, name: str, spec: object, ctx: Context) -> None:
        spec = ctx.mapping(spec)
        absent = _state(spec, ctx)
        self._claim(name, ctx, label=f"topic {name!r}", absent=absent)
        attrs: dict[str, JSON] = {}
        for key in ("partitions", "replication_factor"):
            if spec.get(key) is not None:
                attrs[key] = _positive_int(spec[key], key, ctx.at(key))
        if "config" in spec:
            attrs["config"] = _config(spec["config"], ctx.at("config"))
        if _flag(spec, "prune_config", ctx, default=self.prune.config):
            attrs["prune_config"] = True
        topic = self.topics.setdefault(name, _Topic(attrs, absent, ctx.where(), []))
        topic.attrs, topic.absent, topic.source = attrs, absent, ctx.where()
        if spec.get("dead_letter") is not None:
            self._add_dead_letter(name, attrs, absent, spec["dead_letter"], ctx.at("dead_letter"))

    def _add_dead_letter(
        self, source: str, source_attrs: Mapping[str, JSON], absent: bool, spec: object, ctx: Context
    ) -> None:
        spec = ctx.mapping(spec)
        name = spec.get("topic", source + DLQ_SUFFIX)
        if not isinstance(name, str):
            raise ctx.at("topic").error("dead_letter.topic must be a topic name")
        where = ctx.at("topic") if "topic" in spec else ctx
        if name == source:
            raise where.error(f"topic {source!r} cannot be its own dead-letter topic")
        if name in self.declared:
            self._use_declared(name, source, absent, spec, ctx)
            return
        attrs: dict[str, JSON] = {}
        # The DLQ mirrors the source's partitioning so a failed record can keep its partition.
        for key in ("partitions", "replication_factor"):
            if spec.get(key) is not None:
                attrs[key] = _positive_int(spec[key], key, ctx.at(key))
            elif key in source_attrs:
                attrs[key] = source_attrs[key]
        if "config" in spec:
            attrs["config"] = _config(spec["config"], ctx.at("config"))
        if _flag(spec, "prune_config", ctx, default=self.prune.config):
            attrs["prune_config"] = True
        shared = self.topics.get(name)
        if shared is None:
            self._claim(name, where, label=f"dead-letter topic {name!r} of {source!r}", absent=absent)
            self.topics[name] = _Topic(attrs, absent, ctx.where(), [source], generated=True, made_by=source)
            return
        # Several topics may share one dead-letter topic when they make it alike.
        if shared.attrs != attrs:
            raise where.error(
                f"dead-letter topic {name!r} of {source!r} differs from the one {shared.made_by!r} makes "
                f"(at {shared.source}): {_difference(shared.attrs, attrs)}; give both the same "
                f"dead_letter settings, or declare {name!r} under topics:"
            )
        if shared.absent and not absent:
            self._claim(name, where, label=f"dead-letter topic {name!r} of {source!r}")
        shared.dead_letter_of.append(source)
        shared.absent = shared.absent and absent  # it stays while any of its sources does

    def _use_declared(self, name: str, source: str, absent: bool, spec: Mapping[str, Any], ctx: Context) -> None:
        """`dead_letter: {topic: X}` with X under `topics:`: that declaration is the DLQ."""
        for key in ("partitions", "replication_factor", "config", "prune_config"):
            if key in spec:
                raise ctx.at(key).error(
                    f"dead-letter topic {name!r} is declared under topics:, so its {key} is set there, not here"
                )
        if self.declared[name] and not absent:
            raise (ctx.at("topic") if "topic" in spec else ctx).error(
                f"dead-letter topic {name!r} of {source!r} is declared state: absent, "
                f"but {source!r} still sends its dead letters there"
            )
        topic = self.topics.setdefault(name, _Topic({}, self.declared[name], None, []))
        topic.dead_letter_of.append(source)

    def _claim(self, name: str, ctx: Context, label: str, absent: bool = False) -> None:
        problem = topic_name_problem(name)
        if problem:
            raise ctx.error(problem)
        if absent:
            return  # a topic on its way out makes room for the one it collides with ('a_b' for 'a.b')
        key = collision_key(name)
        if key in self._seen:
            other, other_label, where = self._seen[key]
            at = f" (at {where})" if where else ""
            if other == name:
                raise ctx.error(f"{label} is declared twice: it is also the {other_label}{at}")
            raise ctx.error(
                f"{label} collides with {other_label}{at}: Kafka treats '.' and '_' alike "
                "in topic names, so both cannot exist"
            )
        self._seen[key] = (name, label, ctx.where())


def _difference(a: Mapping[str, JSON], b: Mapping[str, JSON]) -> str:
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return ", ".join(f"{k} {a.get(k)!r} vs {b.get(k)!r}" for k in keys)


def _declared_absent(spec: object) -> bool:
    return isinstance(spec, Mapping) and spec.get("state") == "absent"


def _state(spec: Mapping[str, Any], ctx: Context) -> bool:
    state = spec.get("state", "present")
    if state not in ("present", "absent"):
        raise ctx.at("state").error(f"state must be present or absent, got {state!r}")
    return bool(state == "absent")


# CreateTopics carries the partition count as an INT32 and the replication factor as an INT16:
# beyond them the client cannot even send the request (OverflowError in confluent-kafka).
_LARGEST = {"partitions": (2**31 - 1, "INT32"), "replication_factor": (2**15 - 1, "INT16")}


def _positive_int(value: object, key: str, ctx: Context) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ctx.error(f"{key} must be a positive integer, got {value!r}")
    largest, kind = _LARGEST[key]
    if value > largest:
        raise ctx.error(f"{key} is {value}, beyond what Kafka can store (at most {largest}, an {kind})")
    return value


def _config(value: object, ctx: Context) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    for key, raw in ctx.mapping(value).items():
        key = str(key)
        if raw is None:
            out[key] = None  # declared null: the key must not be set on the topic
            continue
        try:
            out[key] = canonical_value(key, raw)
        except ValueError as exc:
            raise ctx.at(key).error(f"config {key}: {exc}") from None
    return out


def _compile_acls(broker: str, value: object, ctx: Context, topics: set[str]) -> list[Resource]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ctx.error("acls must be a list")
    resources: list[Resource] = []
    seen: dict[Address, str | None] = {}
    for index, spec in enumerate(value):
        item_ctx = ctx.at(index)
        attrs, absent = _acl_attrs(item_ctx.mapping(spec), item_ctx)
        address = acls.acl_address(broker, attrs)
        if address in seen:
            where = seen[address]
            raise item_ctx.error(f"ACL {address.display_name} is declared twice (also at {where})")
        seen[address] = item_ctx.where()
        depends: tuple[Address, ...] = ()
        if (
            attrs["resource_type"] == "topic"
            and attrs["pattern_type"] == "literal"
            and attrs["resource_name"] in topics
        ):
            depends = (Address(broker, TOPIC, (str(attrs["resource_name"]),)),)
        resources.append(Resource(address, attrs, depends, absent=absent, source=item_ctx.where()))
    return resources


def _compile_quotas(broker: str, value: object, ctx: Context) -> list[Resource]:
    """`quotas:` -> one resource per entity; an entity declared twice is an error."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ctx.error("quotas must be a list of {entity: {...}, <quota>: <value>}")
    out: list[Resource] = []
    seen: dict[Address, str | None] = {}
    for index, spec in enumerate(value):
        item_ctx = ctx.at(index)
        item = item_ctx.mapping(spec)
        if "entity" not in item:
            raise item_ctx.error("a quota needs entity: {user: ...}, {client-id: ...}, both, or {ip: ...}")
        entity = quotas.entity_of(item["entity"], item_ctx.at("entity"))
        address = quotas.address(broker, entity)
        if address in seen:
            raise item_ctx.error(f"the quota of {address.display_name} is declared twice (also at {seen[address]})")
        seen[address] = item_ctx.where()
        if _state(item, item_ctx):
            out.append(Resource(address, {}, absent=True, source=item_ctx.where()))
            continue
        out.append(Resource(address, quotas.values_of(item, entity, item_ctx), source=item_ctx.where()))
    return out


def _acl_attrs(spec: Mapping[str, Any], ctx: Context) -> tuple[dict[str, JSON], bool]:
    def word(key: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        value = spec.get(key, default)
        if value is None:
            raise ctx.error(f"ACL needs {key} (one of: {', '.join(allowed)})")
        text = str(value).lower()
        if text not in allowed:
            raise ctx.at(key).error(f"ACL {key} {value!r} is not one of: {', '.join(allowed)}")
        return text

    resource_type = word("resource_type", acls.RESOURCE_TYPES)
    principal = spec.get("principal")
    if not isinstance(principal, str) or ":" not in principal or principal.startswith(":"):
        raise ctx.at("principal").error(f"ACL principal must look like 'User:name', got {principal!r}")
    resource_name = spec.get("resource_name")
    if resource_type == "cluster":
        resource_name = resource_name or acls.CLUSTER_RESOURCE_NAME
        if resource_name != acls.CLUSTER_RESOURCE_NAME:
            raise ctx.at("resource_name").error(
                f"a cluster ACL's resource_name is {acls.CLUSTER_RESOURCE_NAME!r}, got {resource_name!r}"
            )
    if not isinstance(resource_name, str) or not resource_name:
        raise ctx.error("ACL needs resource_name")
    host = spec.get("host", "*")
    if not isinstance(host, str) or not host:
        raise ctx.at("host").error("ACL host must be '*' or an IP address")
    attrs: dict[str, JSON] = {
        "resource_type": resource_type,
        "pattern_type": word("pattern_type", acls.PATTERN_TYPES, "literal"),
        "resource_name": resource_name,
        "principal": principal,
        "host": host,
        "operation": word("operation", acls.OPERATIONS),
        "permission": word("permission", acls.PERMISSIONS, "allow"),
    }
    return attrs, _state(spec, ctx)
