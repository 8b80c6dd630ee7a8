"""The `type: azure_servicebus` broker section -> desired resources (pure; imports no client).

One broker entry is one namespace. Also expands the sugar:
- `dead_letter: {max_deliveries: N}` -> `max_delivery_count: N` and
  `dead_lettering_on_message_expiration: true`; `dead_letter: {forward_to: x}` ->
  `forward_dead_lettered_messages_to: x` (both may be given; `{}` only turns on dead-lettering
  of expired messages);
- a subscription's `$Default` rule: the service gives every new subscription one that lets every
  message in. `default_rule: true|false` says whether it stays; left out, it stays only when the
  subscription declares no rule (a declared rule next to `$Default` would filter nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from topoctl.manifest.source import Context
from topoctl.model import JSON, Address, Resource
from topoctl.providers.azure_servicebus import values as v
from topoctl.providers.azure_servicebus.connection import check as check_connection
from topoctl.providers.azure_servicebus.kinds import QUEUE, RULE, SUBSCRIPTION, TOPIC
from topoctl.providers.base import Compiled, PruneScope

Parser = Callable[[Any, Context], JSON]

LOCK_MIN_MS, LOCK_MAX_MS = 5_000, 300_000
IDLE_MIN_MS = 300_000
DUP_MIN_MS, DUP_MAX_MS = 20_000, 7 * 86_400_000
MESSAGE_KB_MIN, MESSAGE_KB_MAX = 1024, 102_400
METADATA_MAX = 1024
CORRELATION_FIELDS = (
    "correlation_id",
    "message_id",
    "to",
    "reply_to",
    "label",
    "session_id",
    "reply_to_session_id",
    "content_type",
)


def _bool(value: Any, ctx: Context) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(f"{ctx.label()}: expected true or false, got {value!r}")
    return value


def _int(value: Any, ctx: Context, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.error(f"{ctx.label()}: expected a whole number, got {value!r}")
    if value < minimum:
        raise ctx.error(f"{ctx.label()}: must be {minimum} or more, got {value}")
    return value


def _text(value: Any, ctx: Context) -> str:
    if not isinstance(value, str):
        raise ctx.error(f"{ctx.label()}: expected a string, got {value!r}")
    return value


def _duration(low: int = 0, high: int | None = None, forever: bool = True) -> Parser:
    def parse(value: Any, ctx: Context) -> JSON:
        try:
            ms = v.parse_sb_duration(value)
        except ValueError as exc:
            raise ctx.error(f"{ctx.label()}: {exc}") from None
        if ms == v.FOREVER:
            if not forever:
                raise ctx.error(f"{ctx.label()}: cannot be forever")
            return ms
        assert isinstance(ms, int)
        if ms < low or (high is not None and ms > high):
            bounds = (
                f"between {v.format_sb_duration(low)} and {v.format_sb_duration(high)}"
                if high
                else (f"at least {v.format_sb_duration(low)}")
            )
            raise ctx.error(f"{ctx.label()}: must be {bounds} (the service refuses {value!r})")
        return ms

    return parse


def _size_mb(value: Any, ctx: Context) -> int:
    if isinstance(value, str):
        mb, rest = divmod(ctx.size(value), 1024 * 1024)
        if rest:
            raise ctx.error(f"{ctx.label()}: {value!r} is not a whole number of MiB")
    else:
        mb = _int(value, ctx)
    if mb not in v.PREMIUM_SIZES_MB:
        sizes = ", ".join(str(s) for s in v.PREMIUM_SIZES_MB)
        raise ctx.error(
            f"{ctx.label()}: {mb} MB is not a size the service offers "
            f"({', '.join(str(s) for s in v.STANDARD_SIZES_MB)} on Standard; {sizes} on Premium)"
        )
    return mb


def _size_kb(value: Any, ctx: Context) -> int:
    if isinstance(value, str):
        kb, rest = divmod(ctx.size(value), 1024)
        if rest:
            raise ctx.error(f"{ctx.label()}: {value!r} is not a whole number of KiB")
    else:
        kb = _int(value, ctx)
    if not MESSAGE_KB_MIN <= kb <= MESSAGE_KB_MAX:
        raise ctx.error(f"{ctx.label()}: must be between {MESSAGE_KB_MIN} and {MESSAGE_KB_MAX} KB (Premium only)")
    return kb


def _status(allowed: tuple[str, ...]) -> Parser:
    def parse(value: Any, ctx: Context) -> JSON:
        status = v.canonical_status(_text(value, ctx), allowed)
        if status is None:
            raise ctx.error(f"{ctx.label()}: {value!r} is not one of {', '.join(allowed)}")
        return status

    return parse


def _metadata(value: Any, ctx: Context) -> str:
    text = _text(value, ctx)
    if len(text) > METADATA_MAX:
        raise ctx.error(f"{ctx.label()}: at most {METADATA_MAX} characters, got {len(text)}")
    return text


def _entity(value: Any, ctx: Context) -> str:
    text = _text(value, ctx).strip()
    if text.lower().startswith("sb://"):
        return text  # another namespace (or this one, written out): the driver resolves it
    if not v.ENTITY_NAME.match(text):
        raise ctx.error(f"{ctx.label()}: {text!r} is not a queue or topic name")
    return text


# Every field of an entity, in the order the driver reads them; `status` (None here) takes the
# statuses of its entity.
_FIELDS: dict[str, Parser | None] = {
    "default_message_time_to_live": _duration(low=1000),
    "auto_delete_on_idle": _duration(low=IDLE_MIN_MS),
    "enable_batched_operations": _bool,
    "user_metadata": _metadata,
    "lock_duration": _duration(LOCK_MIN_MS, LOCK_MAX_MS, forever=False),
    "max_size_in_megabytes": _size_mb,
    "requires_duplicate_detection": _bool,
    "requires_session": _bool,
    "dead_lettering_on_message_expiration": _bool,
    "dead_lettering_on_filter_evaluation_exceptions": _bool,
    "duplicate_detection_history_time_window": _duration(DUP_MIN_MS, DUP_MAX_MS, forever=False),
    "max_delivery_count": _int,
    "status": None,
    "support_ordering": _bool,
    "forward_to": _entity,
    "forward_dead_lettered_messages_to": _entity,
    "enable_partitioning": _bool,
    "enable_express": _bool,
    "max_message_size_in_kilobytes": _size_kb,
}
# How messages are kept (a topic's and a queue's) and how they are received (a subscription's and
# a queue's): a queue is a topic with its one subscription built in. It has neither what orders a
# topic's many subscriptions nor what a subscription's filters do.
_KEEPING = frozenset(
    {
        *("max_size_in_megabytes", "requires_duplicate_detection", "duplicate_detection_history_time_window"),
        *("enable_partitioning", "enable_express", "max_message_size_in_kilobytes"),
    }
)
_RECEIVING = frozenset(
    {
        *("lock_duration", "requires_session", "dead_lettering_on_message_expiration", "max_delivery_count"),
        *("forward_to", "forward_dead_lettered_messages_to"),
    }
)
_TOPIC_ONLY = frozenset({"support_ordering"})
_SUBSCRIPTION_ONLY = frozenset({"dead_lettering_on_filter_evaluation_exceptions"})


def _fields_of(statuses: tuple[str, ...], without: frozenset[str]) -> dict[str, Parser]:
    status = _status(statuses)
    return {k: status if p is None else p for k, p in _FIELDS.items() if k not in without}


QUEUE_FIELDS = _fields_of(v.QUEUE_STATUSES, _TOPIC_ONLY | _SUBSCRIPTION_ONLY)
TOPIC_FIELDS = _fields_of(v.TOPIC_STATUSES, _RECEIVING | _SUBSCRIPTION_ONLY)
SUBSCRIPTION_FIELDS = _fields_of(v.SUBSCRIPTION_STATUSES, _KEEPING | _TOPIC_ONLY)
SUGAR = {"state", "dead_letter"}


def _absent(section: Mapping[str, Any], ctx: Context) -> bool:
    state = section.get("state", "present")
    if state not in ("present", "absent"):
        raise ctx.at("state").error(f"state must be present or absent, got {state!r}")
    return bool(state == "absent")


@dataclass
class _Compiler:
    broker: str
    queues: dict[str, Resource] = field(default_factory=dict)
    topics: dict[str, Resource] = field(default_factory=dict)
    children: list[Resource] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # (resource index in its list, field, target, ctx): resolved once every entity is known
    forwards: list[tuple[Resource, str, str, Context]] = field(default_factory=list)

    def addr(self, kind: str, *name: str) -> Address:
        return Address(self.broker, kind, name)

    def fields(
        self, section: Mapping[str, Any], ctx: Context, known: Mapping[str, Parser], extra: set[str]
    ) -> dict[str, JSON]:
        attrs: dict[str, JSON] = {}
        for key, value in section.items():
            if key in SUGAR or key in extra:
                continue
            parse = known.get(key)
            if parse is None:
                allowed = ", ".join(sorted([*known, *SUGAR, *extra]))
                raise ctx.at(key).error(f"unknown field {key!r} (allowed: {allowed})")
            attrs[key] = parse(value, ctx.at(key))
        if "dead_letter" in section:
            self.dead_letter(attrs, section["dead_letter"], ctx.at("dead_letter"))
        return attrs

    @staticmethod
    def dead_letter(attrs: dict[str, JSON], value: Any, ctx: Context) -> None:
        options = dict(ctx.mapping(value))
        limit = options.pop("max_deliveries", None)
        target = options.pop("forward_to", None)
        if options:
            name = next(iter(options))
            raise ctx.at(name).error(f"unknown dead_letter option {name!r} (allowed: max_deliveries, forward_to)")

        def merge(key: str, want: JSON, why: str) -> None:
            if key in attrs and not v.same_entity(attrs[key], want):
                raise ctx.error(f"dead_letter {why} contradicts {key}: {attrs[key]!r} (declare it once)")
            attrs[key] = want

        if limit is not None:
            merge("max_delivery_count", _int(limit, ctx.at("max_deliveries")), "max_deliveries")
        if target is not None:
            merge("forward_dead_lettered_messages_to", _entity(target, ctx.at("forward_to")), "forward_to")
        if limit is not None or target is None:
            merge("dead_lettering_on_message_expiration", True, "(dead-lettering of expired messages)")

    def entity(self, kind: str, name: str, section: Mapping[str, Any], ctx: Context, extra: set[str]) -> Resource:
        if not v.ENTITY_NAME.match(name):
            raise ctx.error(
                f"invalid {kind} name {name!r}: up to 260 letters, digits, '.', '-', '_' and '/', "
                "starting and ending with a letter or digit"
            )
        address = self.addr(kind, name)
        if _absent(section, ctx):
            return Resource(address, {}, absent=True, source=ctx.where())
        known = QUEUE_FIELDS if kind == QUEUE else TOPIC_FIELDS
        attrs = self.fields(section, ctx, known, extra)
        resource = Resource(address, attrs, source=ctx.where())
        self._note_forwards(resource, attrs, ctx)
        return resource

    def _note_forwards(self, resource: Resource, attrs: Mapping[str, JSON], ctx: Context) -> None:
        for key in ("forward_to", "forward_dead_lettered_messages_to"):
            target = attrs.get(key)
            if isinstance(target, str) and target:
                self.forwards.append((resource, key, target, ctx.at(key)))

    def topic(self, name: str, section: Mapping[str, Any], ctx: Context) -> Resource:
        topic = self.entity(TOPIC, name, section, ctx, {"subscriptions"})
        for sub_name, body in ctx.mapping(section.get("subscriptions")).items():
            sctx = ctx.at("subscriptions", sub_name)
            sub = sctx.mapping(body)
            if topic.absent and not _absent(sub, sctx):
                raise sctx.error(f"topic {name!r} is declared absent: its subscriptions go with it")
            if not topic.absent:
                self.subscription(name, str(sub_name), sub, sctx)
        return topic

    def subscription(self, topic: str, name: str, section: Mapping[str, Any], ctx: Context) -> None:
        if not v.CHILD_NAME.match(name):
            raise ctx.error(f"invalid subscription name {name!r}: up to 50 letters, digits, '.', '-' and '_'")
        address = self.addr(SUBSCRIPTION, topic, name)
        parent = (self.addr(TOPIC, topic),)
        if _absent(section, ctx):
            self.children.append(Resource(address, {}, parent, absent=True, source=ctx.where()))
            return
        attrs = self.fields(section, ctx, SUBSCRIPTION_FIELDS, {"rules", "default_rule"})
        rules = ctx.mapping(section.get("rules"))
        declared_default = v.DEFAULT_RULE in rules
        if "default_rule" in section:
            keep = _bool(section["default_rule"], ctx.at("default_rule"))
            if declared_default and not keep:
                raise ctx.at("default_rule").error(
                    f"default_rule: false removes {v.DEFAULT_RULE}, which rules also declares: keep one"
                )
        else:
            keep = declared_default or not any(
                not _absent(ctx.at("rules", r).mapping(b), ctx.at("rules", r)) for r, b in rules.items()
            )
        attrs["default_rule"] = keep
        resource = Resource(address, attrs, parent, source=ctx.where())
        self.children.append(resource)
        self._note_forwards(resource, attrs, ctx)
        for rule_name, body in rules.items():
            rctx = ctx.at("rules", rule_name)
            self.children.append(self.rule(topic, name, str(rule_name), rctx.mapping(body), rctx))
        if not declared_default:
            default = self.addr(RULE, topic, name, v.DEFAULT_RULE)
            # Kept: only its existence is managed (attrs empty). Removed: planned absent, and the
            # driver deletes it right after creating the subscription (see kinds.py).
            self.children.append(Resource(default, {}, (address,), absent=not keep, source=ctx.where()))

    def rule(self, topic: str, sub: str, name: str, section: Mapping[str, Any], ctx: Context) -> Resource:
        if name != v.DEFAULT_RULE and not v.CHILD_NAME.match(name):
            raise ctx.error(f"invalid rule name {name!r}: up to 50 letters, digits, '.', '-' and '_'")
        address = self.addr(RULE, topic, sub, name)
        parent = (self.addr(SUBSCRIPTION, topic, sub),)
        if _absent(section, ctx):
            return Resource(address, {}, parent, absent=True, source=ctx.where())
        allowed = {"state", "sql_filter", "parameters", "correlation_filter", "filter", "action", "action_parameters"}
        for key in section:
            if key not in allowed:
                raise ctx.at(key).error(f"unknown rule field {key!r} (allowed: {', '.join(sorted(allowed))})")
        kinds = [k for k in ("sql_filter", "correlation_filter", "filter") if k in section]
        if len(kinds) != 1:
            raise ctx.error(
                "a rule needs exactly one of sql_filter, correlation_filter or filter (true/false)"
                + (f"; it has {', '.join(kinds)}" if kinds else "")
            )
        attrs: dict[str, JSON] = {}
        kind = kinds[0]
        if kind == "filter":
            attrs["filter"] = _bool(section["filter"], ctx.at("filter"))
        elif kind == "sql_filter":
            attrs["sql_filter"] = self.sql(section["sql_filter"], ctx.at("sql_filter"))
        else:
            attrs["correlation_filter"] = self.correlation(section["correlation_filter"], ctx.at("correlation_filter"))
        if "parameters" in section:
            if kind != "sql_filter":
                raise ctx.at("parameters").error("parameters go with sql_filter")
            attrs["parameters"] = self.key_values(section["parameters"], ctx.at("parameters"), sql=True)
        if "action" in section:
            attrs["action"] = self.sql(section["action"], ctx.at("action"))
        if "action_parameters" in section:
            if "action" not in section:
                raise ctx.at("action_parameters").error("action_parameters go with action")
            attrs["action_parameters"] = self.key_values(
                section["action_parameters"], ctx.at("action_parameters"), sql=True
            )
        return Resource(address, attrs, parent, source=ctx.where())

    @staticmethod
    def sql(value: Any, ctx: Context) -> str:
        text = _text(value, ctx).strip()
        if not text:
            raise ctx.error(f"{ctx.label()}: cannot be empty")
        return text

    def correlation(self, value: Any, ctx: Context) -> dict[str, JSON]:
        section = ctx.mapping(value)
        out: dict[str, JSON] = {}
        for key, item in section.items():
            if key == "properties":
                props = self.key_values(item, ctx.at(key), sql=False)
                if props:
                    out[key] = props
            elif key in CORRELATION_FIELDS:
                out[key] = _text(item, ctx.at(key))
            else:
                allowed = ", ".join([*CORRELATION_FIELDS, "properties"])
                raise ctx.at(key).error(f"unknown correlation_filter field {key!r} (allowed: {allowed})")
        if not out:
            raise ctx.error("correlation_filter needs at least one field or property to match")
        return out

    @staticmethod
    def key_values(value: Any, ctx: Context, sql: bool) -> dict[str, JSON]:
        out: dict[str, JSON] = {}
        for key, item in ctx.mapping(value).items():
            name = str(key)
            if sql and not name.startswith("@"):
                raise ctx.at(key).error(f"SQL parameter names start with @ (write '@{name}')")
            problem = v.check_property_value(item)
            if problem:
                raise ctx.at(key).error(f"{name}: {problem}")
            out[name] = item
        return out

    def resolve_forwards(self) -> None:
        """Forwarding needs its target first: depend on it when the manifest declares it."""
        by_name = {n.lower(): r for n, r in (*self.queues.items(), *self.topics.items())}
        updated: dict[Address, list[Address]] = {}
        for resource, key, target, ctx in self.forwards:
            found = by_name.get(target.lower())
            if found is None:
                continue  # elsewhere (another namespace, or live only): the driver checks it exists
            if found.absent:
                raise ctx.error(f"{key}: {target!r} is declared absent")
            if found.address == resource.address:
                self.warnings.append(f"{ctx.where()}: {resource.address} forwards to itself")
                continue
            updated.setdefault(resource.address, []).append(found.address)
        if not updated:
            return

        def with_deps(r: Resource) -> Resource:
            extra = [a for a in updated.get(r.address, []) if a not in r.depends_on]
            return Resource(r.address, r.attrs, (*r.depends_on, *extra), r.absent, r.source, r.info) if extra else r

        self.queues = {n: with_deps(r) for n, r in self.queues.items()}
        self.topics = {n: with_deps(r) for n, r in self.topics.items()}
        self.children = [with_deps(r) for r in self.children]


def compile_broker(broker: str, section: Mapping[str, Any], ctx: Context) -> Compiled:
    problem = check_connection(ctx.at("connection").mapping(section.get("connection")))
    if problem:
        raise ctx.at("connection", problem[0]).error(problem[1])
    c = _Compiler(broker)
    for name, body in ctx.mapping(section.get("queues")).items():
        qctx = ctx.at("queues", name)
        c.queues[str(name)] = c.entity(QUEUE, str(name), qctx.mapping(body), qctx, set())
    for name, body in ctx.mapping(section.get("topics")).items():
        tctx = ctx.at("topics", name)
        if str(name).lower() in {q.lower() for q in c.queues}:
            raise tctx.error(f"{name!r} is also declared as a queue: a namespace has one entity of a name")
        c.topics[str(name)] = c.topic(str(name), tctx.mapping(body), tctx)
    c.resolve_forwards()
    resources = [*c.queues.values(), *c.topics.values(), *c.children]
    return Compiled(resources, _prune_scopes(section.get("prune"), c, ctx.at("prune")), c.warnings)


def _prune_scopes(value: Any, c: _Compiler, ctx: Context) -> list[PruneScope]:
    """`prune: true`: every undeclared queue, topic, subscription and rule. `{prefix, queues,
    topics, subscriptions, rules}` (all true by default): queues and topics whose name starts with
    the prefix, and the undeclared subscriptions and rules of the declared topics there."""
    if value is None or value is False:
        return []
    if value is True:
        return [PruneScope()]
    spec = ctx.mapping(value)
    prefix = spec.get("prefix", "")
    if not isinstance(prefix, str):
        raise ctx.at("prefix").error("prefix must be a string")
    flags = {}
    for key in ("queues", "topics", "subscriptions", "rules"):
        flag = spec.get(key, True)
        if not isinstance(flag, bool):
            raise ctx.at(key).error(f"{key} must be true or false")
        flags[key] = flag
    scopes: list[PruneScope] = []
    if flags["queues"]:
        scopes.append(PruneScope(kinds=frozenset({QUEUE}), prefix=prefix))
    if flags["topics"]:
        scopes.append(PruneScope(kinds=frozenset({TOPIC}), prefix=prefix))
    for name, topic in c.topics.items():
        if topic.absent or not name.startswith(prefix):
            continue
        if flags["subscriptions"]:
            scopes.append(PruneScope(kinds=frozenset({SUBSCRIPTION}), parent=(name,)))
        if flags["rules"]:
            subs = [r for r in c.children if r.kind == SUBSCRIPTION and r.address.name[0] == name and not r.absent]
            scopes += [PruneScope(kinds=frozenset({RULE}), parent=s.address.name) for s in subs]
    return scopes
