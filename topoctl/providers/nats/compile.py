"""The `type: nats` broker section -> desired resources (pure; imports no client).

Also expands `dead_letter:` on a consumer into `max_deliver` plus a DLQ stream that captures the
consumer's MAX_DELIVERIES and MSG_TERMINATED advisories.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from topoctl.manifest.source import Context
from topoctl.model import JSON, Address, Resource
from topoctl.providers.base import Compiled, PruneScope
from topoctl.providers.nats import fields as F
from topoctl.providers.nats.buckets import SERVER_PREFIX, bucket_subjects, kv_origins
from topoctl.providers.nats.connection import check as check_connection
from topoctl.providers.nats.kinds import CONSUMER, KV_BUCKET, OBJECT_STORE, STREAM
from topoctl.providers.nats.subjects import SubjectIndex, subject_matches, subjects_overlap
from topoctl.units import INT64_MAX, INT64_MIN

# Streams behind buckets: managed only through `key_value:` / `object_stores:`.
SYSTEM_STREAM_PREFIXES = ("KV_", "OBJ_")
STREAM_NAME = re.compile(r"^[^.*>\s/\\]+$")
BUCKET_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER"
DLQ_ADVISORIES = ("MAX_DELIVERIES", "MSG_TERMINATED")
# What the server refuses (nats-server jetstream_api.go): longer names, descriptions, metadata.
MAX_NAME = 255
MAX_DESCRIPTION = 4 * 1024
MAX_METADATA = 128 * 1024
PULL_ONLY = ("max_waiting", "max_batch", "max_expires", "max_bytes")
PUSH_ONLY = ("deliver_group", "idle_heartbeat", "flow_control", "rate_limit_bps")

# The Go types nats-server decodes these config fields into (JetStream API JSON name -> range):
# durations and the other counts are int64 (Go `int`, `time.Duration`), `max_msg_size` is int32,
# sequences and `rate_limit_bps` uint64. A number beyond its type fails the whole request with
# 10025 "invalid JSON", so it is refused here; measured by tests/integration/test_refused_at_validate.py.
_INT64 = (INT64_MIN, INT64_MAX)
GO_RANGES: dict[str, tuple[int, int]] = {
    "max_msg_size": (-(2**31), 2**31 - 1),
    "first_seq": (0, 2**64 - 1),
    "opt_start_seq": (0, 2**64 - 1),
    "rate_limit_bps": (0, 2**64 - 1),
}
_GO_TYPES = {(-(2**31), 2**31 - 1): "int32", (0, 2**64 - 1): "uint64", _INT64: "int64"}


def check_range(api: str, value: int, ctx: Context, unit: str = "") -> int:
    """`value` if the server can decode it into field `api`, else a ManifestError at `ctx`."""
    low, high = GO_RANGES.get(api, _INT64)
    if low <= value <= high:
        return value
    kind = _GO_TYPES[(low, high)]
    if unit == "ns":  # 106752d is past int64 nanoseconds: say it in days too
        bound = f"at most {high} ns ({high // 86_400_000_000_000}d and a bit), an int64 of nanoseconds"
        shown = f"{value} ns"
    else:
        bound = f"at least {low}" if value < low else f"at most {high}"
        bound += f" ({kind})"
        shown = str(value)
    raise ctx.error(f"{ctx.label()} is {shown}: the server refuses it, {bound}")


def dlq_subjects(stream: str, consumer: str) -> list[str]:
    return [f"{ADVISORY}.{kind}.{stream}.{consumer}" for kind in DLQ_ADVISORIES]


def normalise_value(f: F.Field, value: Any, ctx: Context) -> JSON:
    """A manifest value -> the canonical attrs value of field `f` (ns, bytes, pruned objects)."""
    if f.type == F.DURATION:
        return check_range(f.api, ctx.duration(value, "ns"), ctx, "ns")
    if f.type == F.DURATIONS:
        if not isinstance(value, list):
            raise ctx.error("expected a list of durations")
        return [check_range(f.api, ctx.at(i).duration(v, "ns"), ctx.at(i), "ns") for i, v in enumerate(value)]
    if f.type == F.SIZE:
        return _limit(f, check_range(f.api, ctx.size(value), ctx), ctx)
    if f.type == F.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.error(f"expected an integer, got {value!r}")
        return _limit(f, check_range(f.api, value, ctx), ctx)
    if f.type == F.BOOL:
        if not isinstance(value, bool):
            raise ctx.error(f"expected true or false, got {value!r}")
        return value
    if f.type == F.STR:
        if f.name == "compression" and isinstance(value, bool):
            return "s2" if value else "none"  # the KV/object store clients take a boolean
        if not isinstance(value, str):
            raise ctx.error(f"expected a string, got {value!r}")
        if f.choices and value not in f.choices:
            raise ctx.error(f"{f.name} must be one of {', '.join(f.choices)}, got {value!r}")
        return value
    if f.type == F.STRINGS:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ctx.error("expected a list of strings")
        return list(value)
    if f.type == F.METADATA:
        data = ctx.mapping(value)
        for k, v in data.items():
            if str(k).startswith(F.SYSTEM_METADATA_PREFIX):
                raise ctx.at(k).error(f"metadata keys starting with {F.SYSTEM_METADATA_PREFIX!r} belong to the server")
            if not isinstance(v, str):
                raise ctx.at(k).error(f"metadata values must be strings, got {v!r} (quote it)")
        return {str(k): v for k, v in data.items()}
    if f.type == F.TIME:
        try:
            return F.normalise_time(value)
        except ValueError as exc:
            raise ctx.error(str(exc)) from None
    if f.type == F.SOURCE:
        return None if value is None else _source(value, ctx)
    if f.type == F.SOURCES:
        if not isinstance(value, list):
            raise ctx.error("expected a list of sources")
        return [_source(v, ctx.at(i)) for i, v in enumerate(value)]
    if f.type == F.OBJECT:
        if value is None:
            return None
        data = dict(ctx.mapping(value))
        for key in F.NESTED_DURATIONS.get(f.name, ()):
            if key in data:
                data[key] = check_range(key, ctx.at(key).duration(data[key], "ns"), ctx.at(key), "ns")
        for key, number in data.items():
            if isinstance(number, int) and not isinstance(number, bool):
                check_range(key, number, ctx.at(key))
        return F.normalise_object(f.name, data)
    raise AssertionError(f"unknown field type {f.type}")  # pragma: no cover


def _limit(f: F.Field, value: int, ctx: Context) -> int:
    if f.zero == -1 and value < -1:  # a limit: -1 (or 0) is unlimited, anything lower is refused
        raise ctx.error(f"{f.name} must be -1 (unlimited) or more, got {value}")
    return value


def _source(value: Any, ctx: Context) -> JSON:
    data = dict(ctx.mapping(value))
    if not data.get("name"):
        raise ctx.error("a mirror or source needs the name of its stream")
    domain = data.pop("domain", None)
    if domain:
        # What the clients do with a domain: reach the other domain's JetStream API.
        external = dict(ctx.mapping(data.get("external")))
        if external.get("api"):
            raise ctx.error("give either domain or external.api, not both")
        external["api"] = f"$JS.{domain}.API"
        data["external"] = external
    try:
        return F.normalise_source(data)
    except ValueError as exc:
        raise ctx.at("opt_start_time").error(str(exc)) from None


def compile_fields(
    table: Mapping[str, F.Field],
    section: Mapping[str, Any],
    ctx: Context,
    skip: tuple[str, ...] = (),
    zero_ok: tuple[str, ...] = (),
) -> dict[str, JSON]:
    attrs: dict[str, JSON] = {}
    for key, value in section.items():
        if key in skip:
            continue
        f = table.get(key)
        at = ctx.at(key)
        if f is None:
            raise at.error(f"unknown field {key!r}")
        if value is None:
            attrs[key] = _cleared(f, at)
            continue
        attrs[key] = _zero(f, normalise_value(f, value, at), at, key in zero_ok)
    return attrs


def _cleared(f: F.Field, ctx: Context) -> JSON:
    """`key: null` removes the setting: the field compares as, and is sent as, the server's unset value."""
    if not F.clearable(f):
        if f.zero == F.SERVER_DEFAULT:
            why = "the server puts its own default in its place; declare the value you want or leave it out"
        else:
            why = "declare the value you want, or leave the field out to leave it as it is"
        raise ctx.error(f"{f.name} cannot be null: {why}")
    return f.empty


def _zero(f: F.Field, value: JSON, ctx: Context, zero_ok: bool) -> JSON:
    """A declared 0 as the server stores it: `max_msgs: 0` is -1 (unlimited), `replicas: 0` is 1.
    A 0 the server swaps for a default of its own choosing could never read back: refused."""
    if value != 0 or isinstance(value, bool) or f.zero is None or zero_ok:
        return value
    if f.zero == F.SERVER_DEFAULT:
        raise ctx.error(
            f"{f.name}: 0 lets the server pick its default, so it never reads back as 0; "
            "leave it out or declare the value you want"
        )
    return f.zero


# What sealing does to a stream's config (server: max_age 0, discard new, deny delete and purge,
# no rollups), whatever is sent: declaring otherwise could never read back.
SEALED = {"max_age": 0, "discard": "new", "deny_delete": True, "deny_purge": True, "allow_rollup_hdrs": False}


def _check_sealed(attrs: Mapping[str, JSON], ctx: Context) -> None:
    for key, value in SEALED.items():
        if key in attrs and attrs[key] != value:
            raise ctx.at(key).error(
                f"a sealed stream has {key} {json.dumps(value)}: the server sets max_age 0, discard new, "
                "deny_delete, deny_purge and no allow_rollup_hdrs when it seals"
            )


def _filter(subject: str) -> str:
    return "no filter" if subject == ">" else f"filter {subject}"


def _check_stream(attrs: Mapping[str, JSON], ctx: Context) -> None:
    """Combinations nats-server 2.12+ refuses (10052), said with the manifest line."""
    if attrs.get("discard") == "new":
        for flag, what in (("allow_msg_schedules", "message scheduling"), ("allow_msg_counter", "a counter stream")):
            if attrs.get(flag):
                raise ctx.at("discard").error(f"{what} ({flag}) cannot use discard new")
    marker = attrs.get("subject_delete_marker_ttl")
    if isinstance(marker, int) and 0 < marker < 1_000_000_000:
        raise ctx.at("subject_delete_marker_ttl").error("subject_delete_marker_ttl must be at least 1s")


def _check_name(what: str, name: str, ctx: Context) -> None:
    if len(name) > MAX_NAME:
        raise ctx.error(f"{what} name is {len(name)} characters long; the server allows {MAX_NAME}")


def _check_sizes(attrs: Mapping[str, JSON], ctx: Context) -> None:
    description = attrs.get("description")
    if isinstance(description, str) and len(description) > MAX_DESCRIPTION:
        raise ctx.at("description").error(
            f"description is longer than the {MAX_DESCRIPTION} characters the server allows"
        )
    metadata = attrs.get("metadata")
    if isinstance(metadata, Mapping) and sum(len(k) + len(str(v)) for k, v in metadata.items()) > MAX_METADATA:
        raise ctx.at("metadata").error(f"metadata is larger than the {MAX_METADATA // 1024}KB the server allows")


def _state(section: Mapping[str, Any], ctx: Context) -> bool:
    """True when the resource is declared `state: absent`."""
    state = section.get("state", "present")
    if state not in ("present", "absent"):
        raise ctx.at("state").error(f"state must be present or absent, got {state!r}")
    return bool(state == "absent")


@dataclass
class _DeadLetter:
    subjects: set[str] = field(default_factory=set)
    ctx: Context | None = None
    sources: set[str] = field(default_factory=set)


@dataclass
class _Compiler:
    broker: str
    ctx: Context
    resources: list[Resource] = field(default_factory=list)
    # stream -> its consumers, as in `resources`: checked per stream without a pass over them all
    consumers: dict[str, list[Resource]] = field(default_factory=dict)
    dead_letters: dict[str, _DeadLetter] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def addr(self, kind: str, *name: str) -> Address:
        return Address(self.broker, kind, tuple(name))

    def stream(self, name: str, section: Mapping[str, Any], ctx: Context) -> Resource:
        if not STREAM_NAME.match(name):
            raise ctx.error(f"invalid stream name {name!r}: no '.', '*', '>', '/', '\\' or whitespace")
        _check_name("stream", name, ctx)
        if name.startswith(SERVER_PREFIX):
            raise ctx.error(f"stream {name!r}: names starting with '$' belong to the server ($MQTT_* ...)")
        if name.startswith(SYSTEM_STREAM_PREFIXES):
            raise ctx.error(
                f"stream {name!r}: KV_* and OBJ_* streams belong to KV buckets and object stores; "
                "declare them under key_value: or object_stores:"
            )
        absent = _state(section, ctx)
        # A mirror keeps a 0 duplicate window (it has no deduplication of its own).
        zero_ok = ("duplicate_window",) if section.get("mirror") else ()
        if section.get("mirror"):
            for key in ("subjects", "sources"):
                if section.get(key):
                    raise ctx.at(key).error(f"a mirror has no {key} of its own (the server refuses it)")
        attrs = {} if absent else compile_fields(F.STREAM_FIELDS, section, ctx, ("consumers", "state"), zero_ok)
        address = self.addr(STREAM, name)
        consumers = ctx.mapping(section.get("consumers"))
        if absent and consumers:
            raise ctx.at("consumers").error(
                f"stream {name!r} is declared absent: its consumers go with it, remove them"
            )
        for cname, csection in consumers.items():
            cctx = ctx.at("consumers", cname)
            body = cctx.mapping(csection)
            if attrs.get("retention") == "workqueue" and body.get("deliver_policy", "all") != "all":
                raise cctx.at("deliver_policy").error("a consumer of a workqueue stream must deliver all")
            deliver = body.get("deliver_subject")
            subjects = attrs.get("subjects")
            for subject in subjects if isinstance(deliver, str) and isinstance(subjects, list) else []:
                if subject_matches(str(subject), str(deliver)):
                    raise cctx.at("deliver_subject").error(
                        f"deliver_subject {deliver!r} is one of the stream's subjects ({subject}): "
                        "its deliveries would be stored again (the server refuses the cycle)"
                    )
            self.consumer(name, str(cname), body, cctx)
            retention = attrs.get("retention")
            kind = {"workqueue": "a workqueue", "interest": "an interest"}.get(str(retention))
            if "dead_letter" in body and kind and not _state(body, cctx):
                where = cctx.at("dead_letter").where()
                self.warnings.append(
                    f"{where + ': ' if where else ''}dead letters of {name}/{cname} point at the failed message "
                    f"by stream_seq, but {kind} stream removes a message once it is terminated (AckTerm): "
                    "MSG_TERMINATED dead letters may point at messages that are gone"
                )
        if attrs.get("retention") == "workqueue":
            self.check_workqueue(name, ctx)
        limits = attrs.get("consumer_limits")
        if isinstance(limits, Mapping):
            self.check_consumer_limits(name, limits, ctx)
        if attrs.get("sealed"):
            _check_sealed(attrs, ctx)
        _check_stream(attrs, ctx)
        _check_sizes(attrs, ctx)
        return Resource(address, attrs, absent=absent, source=ctx.where())

    def consumer(self, stream: str, name: str, section: Mapping[str, Any], ctx: Context) -> None:
        if not STREAM_NAME.match(name):
            raise ctx.error(f"invalid consumer name {name!r}: no '.', '*', '>', '/', '\\' or whitespace")
        _check_name("consumer", name, ctx)
        address = self.addr(CONSUMER, stream, name)
        depends = [self.addr(STREAM, stream)]
        if _state(section, ctx):
            self.add_consumer(Resource(address, {}, tuple(depends), absent=True, source=ctx.where()))
            return
        attrs = compile_fields(F.CONSUMER_FIELDS, section, ctx, skip=("dead_letter", "state"))
        if "dead_letter" in section:
            depends.append(self.dead_letter(stream, name, attrs, section["dead_letter"], ctx.at("dead_letter")))
        self.check_consumer(attrs, ctx)
        _check_sizes(attrs, ctx)
        self.add_consumer(Resource(address, attrs, tuple(depends), source=ctx.where()))

    def add_consumer(self, consumer: Resource) -> None:
        self.resources.append(consumer)
        self.consumers.setdefault(consumer.address.name[0], []).append(consumer)

    def check_consumer_limits(self, stream: str, limits: Mapping[str, JSON], ctx: Context) -> None:
        """The stream's consumer_limits cap its consumers (10153, 10121), and fill in a 0 threshold."""
        for r in self.consumers.get(stream, ()):
            if r.absent:
                continue
            for key in ("inactive_threshold", "max_ack_pending"):
                limit, value = limits.get(key), r.attrs.get(key)
                if not isinstance(limit, int) or limit <= 0 or not isinstance(value, int):
                    continue
                where = ctx.at("consumers", r.address.name[1], key)
                if value == 0:
                    raise where.error(
                        f"{key}: 0 takes the stream's consumer_limits.{key}; declare that or leave it out"
                    )
                if value > limit:
                    raise where.error(f"{key} is over the stream's consumer_limits.{key}: the server refuses it")

    def check_workqueue(self, stream: str, ctx: Context) -> None:
        """A workqueue message goes to one consumer: their filters may not overlap (no filter is `>`)."""
        seen: list[tuple[str, str]] = []
        for r in self.consumers.get(stream, ()):
            if r.absent:
                continue
            many, one = r.attrs.get("filter_subjects"), r.attrs.get("filter_subject")
            filters = [str(f) for f in many] if isinstance(many, list) and many else [str(one or ">")]
            consumer = r.address.name[1]
            for mine in filters:
                for other, theirs in seen:
                    if other != consumer and subjects_overlap(mine, theirs):
                        raise ctx.at("consumers", consumer).error(
                            f"consumers {other!r} ({_filter(theirs)}) and {consumer!r} ({_filter(mine)}) of "
                            f"workqueue stream {stream!r} overlap: a workqueue message goes to one consumer"
                        )
                seen.append((consumer, mine))

    def check_consumer(self, attrs: Mapping[str, JSON], ctx: Context) -> None:
        """What the server would refuse, said with the manifest line instead of at apply time."""
        push = bool(attrs.get("deliver_subject"))
        # A field declared unset (`deliver_group: null` on a consumer becoming pull) is no setting.
        declared = {k for k, v in attrs.items() if v != F.CONSUMER_FIELDS[k].empty}
        for key in PULL_ONLY if push else PUSH_ONLY:
            if key in declared:
                kind = "push (deliver_subject set)" if push else "pull (no deliver_subject)"
                raise ctx.at(key).error(f"{key} does not apply to a {kind} consumer")
        if attrs.get("flow_control") and not attrs.get("idle_heartbeat"):
            raise ctx.at("flow_control").error("flow_control needs idle_heartbeat")
        if "filter_subject" in declared and "filter_subjects" in declared:
            raise ctx.at("filter_subjects").error("give filter_subject or filter_subjects, not both")
        policy = attrs.get("deliver_policy")
        if "opt_start_seq" in attrs and policy != "by_start_sequence":
            raise ctx.at("opt_start_seq").error("opt_start_seq needs deliver_policy: by_start_sequence")
        if "opt_start_time" in attrs and policy != "by_start_time":
            raise ctx.at("opt_start_time").error("opt_start_time needs deliver_policy: by_start_time")
        if policy == "by_start_sequence" and "opt_start_seq" not in attrs:
            raise ctx.at("deliver_policy").error("deliver_policy by_start_sequence needs opt_start_seq")
        if policy == "by_start_time" and "opt_start_time" not in attrs:
            raise ctx.at("deliver_policy").error("deliver_policy by_start_time needs opt_start_time")
        backoff = attrs.get("backoff")
        if isinstance(backoff, list) and backoff:
            if "ack_wait" in attrs and attrs["ack_wait"] != backoff[0]:
                # The server replaces ack_wait by backoff[0]: declaring another would never converge.
                raise ctx.at("ack_wait").error("with backoff the server uses backoff[0] as ack_wait; drop ack_wait")
            max_deliver = attrs.get("max_deliver")
            if isinstance(max_deliver, int) and 0 < max_deliver <= len(backoff):
                raise ctx.at("backoff").error("backoff needs max_deliver greater than its number of entries")

    def dead_letter(self, stream: str, consumer: str, attrs: dict[str, JSON], value: Any, ctx: Context) -> Address:
        options = dict(ctx.mapping(value))
        dlq = options.pop("stream", None) or f"DLQ_{stream}"
        limit = options.pop("max_deliver", None)
        if options:
            raise ctx.at(next(iter(options))).error(f"unknown dead_letter option {next(iter(options))!r}")
        if (
            not isinstance(dlq, str)
            or not STREAM_NAME.match(dlq)
            or dlq.startswith((*SYSTEM_STREAM_PREFIXES, SERVER_PREFIX))
        ):
            raise ctx.at("stream").error(f"invalid dead letter stream name {dlq!r}")
        if dlq == stream:
            raise ctx.at("stream").error("the dead letter stream cannot be the stream itself")
        if isinstance(limit, int) and not isinstance(limit, bool):
            check_range("max_deliver", limit, ctx.at("max_deliver"))
        if limit is not None:
            if "max_deliver" in attrs and attrs["max_deliver"] != limit:
                raise ctx.at("max_deliver").error(
                    f"dead_letter.max_deliver {limit} contradicts the consumer's max_deliver {attrs['max_deliver']}"
                )
            attrs["max_deliver"] = limit
        max_deliver = attrs.get("max_deliver")
        if not isinstance(max_deliver, int) or max_deliver < 1:
            raise ctx.error(
                "dead_letter needs max_deliver (on the consumer or in dead_letter): the number of "
                "deliveries after which a message is dead-lettered"
            )
        if attrs.get("ack_policy") == "none":
            raise ctx.error("dead_letter needs acknowledgements: ack_policy none never redelivers")
        entry = self.dead_letters.setdefault(dlq, _DeadLetter(ctx=ctx))
        entry.subjects.update(dlq_subjects(stream, consumer))
        entry.sources.add(stream)
        return self.addr(STREAM, dlq)

    def bucket(
        self, kind: str, table: Mapping[str, F.Field], name: str, section: Mapping[str, Any], ctx: Context
    ) -> Resource:
        if not BUCKET_NAME.match(name):
            raise ctx.error(f"invalid bucket name {name!r}: letters, digits, '_' and '-' only")
        _check_name("the bucket's stream", ("KV_" if kind == KV_BUCKET else "OBJ_") + name, ctx)
        absent = _state(section, ctx)
        attrs = {} if absent else compile_fields(table, section, ctx, skip=("state",))
        history = attrs.get("history")
        if isinstance(history, int) and not 1 <= history <= 64:
            raise ctx.at("history").error("history must be between 1 and 64")
        if attrs.get("mirror") and attrs.get("sources"):
            raise ctx.at("sources").error("a mirror cannot have sources too")
        if kind == KV_BUCKET:
            for i, source in enumerate(section.get("sources") or []):
                if isinstance(source, Mapping) and source.get("filter_subject"):
                    raise ctx.at("sources", i, "filter_subject").error(
                        "a KV source filters with subject_transforms ({src: '$KV.<source>.<keys>', "
                        "dest: '$KV.<bucket>.<keys>'}): with filter_subject its keys would not land in this bucket"
                    )
            kv_origins(name, attrs)
        _check_sizes(attrs, ctx)
        return Resource(self.addr(kind, name), attrs, absent=absent, source=ctx.where())


def compile_broker(broker: str, section: Mapping[str, Any], ctx: Context) -> Compiled:
    problem = check_connection(ctx.at("connection").mapping(section.get("connection")))
    if problem:
        raise ctx.at("connection", problem[0]).error(problem[1])
    c = _Compiler(broker, ctx)
    streams: dict[str, Resource] = {}
    for name, body in ctx.mapping(section.get("streams")).items():
        sctx = ctx.at("streams", name)
        streams[str(name)] = c.stream(str(name), sctx.mapping(body), sctx)

    for dlq, entry in sorted(c.dead_letters.items()):
        subjects = sorted(entry.subjects)
        declared = streams.get(dlq)
        where = entry.ctx or ctx
        if declared is None:
            streams[dlq] = Resource(c.addr(STREAM, dlq), {"subjects": subjects}, source=where.where())
            continue
        if declared.absent:
            raise where.error(f"dead letter stream {dlq!r} is declared absent")
        # A DLQ stream declared by hand (to set its max_age, say) gets the advisory subjects added.
        own = declared.attrs.get("subjects")
        merged = list(own) if isinstance(own, list) else []
        merged += [s for s in subjects if s not in merged]
        streams[dlq] = Resource(
            declared.address, {**declared.attrs, "subjects": merged}, declared.depends_on, source=declared.source
        )

    for name, body in ctx.mapping(section.get("key_value")).items():
        bctx = ctx.at("key_value", name)
        c.resources.append(c.bucket(KV_BUCKET, F.KV_FIELDS, str(name), bctx.mapping(body), bctx))
    for name, body in ctx.mapping(section.get("object_stores")).items():
        bctx = ctx.at("object_stores", name)
        c.resources.append(c.bucket(OBJECT_STORE, F.OBJECT_STORE_FIELDS, str(name), bctx.mapping(body), bctx))

    for name, stream in streams.items():
        attrs = stream.attrs
        if attrs.get("subjects") == [] and not attrs.get("mirror") and not attrs.get("sources"):
            # The server gives a stream without subjects (nor mirror or sources) its own name.
            streams[name] = dataclasses.replace(stream, attrs={**attrs, "subjects": [name]})
    _check_overlaps(streams, [r for r in c.resources if r.kind in (KV_BUCKET, OBJECT_STORE)], ctx)
    resources = list(streams.values()) + c.resources
    return Compiled(resources, _prune_scopes(section.get("prune"), streams, ctx.at("prune")), c.warnings)


def _check_overlaps(streams: Mapping[str, Resource], buckets: Sequence[Resource], ctx: Context) -> None:
    """Two declared streams may not capture the same subject (the server refuses the second, 10065),
    nor may a stream capture the subjects of a declared bucket (`$KV.<bucket>.>`, `$O.<bucket>.>`)."""
    index = SubjectIndex()
    for bucket in buckets:
        if bucket.absent:
            continue
        label = f"{'KV bucket' if bucket.kind == KV_BUCKET else 'object store'} {bucket.address.name[0]!r}"
        for subject in bucket_subjects(bucket.kind, bucket.address.name[0], bucket.attrs):
            index.insert(subject, label)
    for name, stream in streams.items():
        label = f"stream {name!r}"
        subjects = stream.attrs.get("subjects")
        for subject in subjects if isinstance(subjects, list) else []:
            for other, theirs in index.overlapping(str(subject)):
                if other != label:
                    raise ctx.at("streams", name, "subjects").error(
                        f"subject {subject!r} of stream {name!r} overlaps {theirs!r} of {other}: "
                        "a message may be stored by one stream only"
                    )
            index.insert(str(subject), label)


def _prune_scopes(value: Any, streams: Mapping[str, Resource], ctx: Context) -> list[PruneScope]:
    if value is None or value is False:
        return []
    if value is True:
        return [PruneScope()]
    prefix = ctx.mapping(value).get("prefix", "")
    if not isinstance(prefix, str):
        raise ctx.at("prefix").error("prefix must be a string")
    if not prefix:
        return [PruneScope()]
    scopes = [PruneScope(kinds=frozenset({STREAM, KV_BUCKET, OBJECT_STORE}), prefix=prefix)]
    # Consumers of the streams in scope; those of undeclared streams go with their stream.
    for name, stream in streams.items():
        if name.startswith(prefix) and not stream.absent:
            scopes.append(PruneScope(kinds=frozenset({CONSUMER}), parent=(name,)))
    return scopes
