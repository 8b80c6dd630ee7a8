"""The `type: rabbitmq` section of a manifest -> desired resources and prune scopes.

Pure: no broker is contacted. The schema has already checked shapes; this adds what a schema
cannot say (names the broker refuses, references that do not resolve, options that contradict
each other) with file:line, fills in the documented defaults, normalises values to the broker's
representation and expands `dead_letter:` into plain resources that the plan shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from topoctl.errors import ManifestError
from topoctl.manifest.source import Context
from topoctl.model import JSON, Address, Resource
from topoctl.providers.base import Compiled
from topoctl.providers.rabbitmq import access, links, operator_policies, swap, users
from topoctl.providers.rabbitmq.kinds import (
    DEFAULT_VHOST,
    OPERATOR_POLICY,
    PERMISSION,
    POLICY,
    USER,
    binding_address,
    destination_address,
    exchange_address,
    operator_policy_address,
    policy_address,
    queue_address,
    vhost_address,
)
from topoctl.providers.rabbitmq.policies import born_with_policies, pattern_problem, warnings
from topoctl.providers.rabbitmq.prune import prune_scopes
from topoctl.providers.rabbitmq.values import normalise_map

QUEUE_TYPES = ("classic", "quorum", "stream")
VHOST_LIMITS = ("max-connections", "max-queues")
POLICY_APPLY_TO = ("queues", "exchanges", "all")  # what RabbitMQ 3.10 accepts
# Exchanges every vhost has: valid binding sources and destinations, never managed.
BUILTIN_EXCHANGES = frozenset(
    {"amq.direct", "amq.fanout", "amq.topic", "amq.headers", "amq.match", "amq.rabbitmq.trace"}
)
# Queue arguments that `dead_letter:` owns.
_DEAD_LETTER_ARGS = ("x-dead-letter-exchange", "x-dead-letter-routing-key", "x-delivery-limit")
_MAX_NAME_BYTES = 255
# Path segments that HTTP resolves away (RabbitMQ 3.10 does so even for %2E): such names cannot be
# addressed through the management API.
DOT_SEGMENTS = frozenset({".", ".."})
# Queue arguments that RabbitMQ 3.10 refuses on a queue type ("invalid arg ... of queue type"),
# checked against the real broker by tests/integration/test_rabbitmq_facts.py.
_STREAM_ONLY = frozenset({"x-max-age", "x-stream-max-segment-size-bytes", "x-initial-cluster-size"})
REFUSED_ARGUMENTS: dict[str, frozenset[str]] = {
    "classic": _STREAM_ONLY
    | {
        "x-delivery-limit",
        "x-dead-letter-strategy",
        "x-quorum-initial-group-size",
        "x-max-in-memory-length",
        "x-max-in-memory-bytes",
    },
    "quorum": _STREAM_ONLY | {"x-max-priority", "x-queue-mode", "x-queue-master-locator", "x-queue-version"},
    "stream": frozenset(
        {
            "x-message-ttl",
            "x-expires",
            "x-max-length",
            "x-overflow",
            "x-dead-letter-exchange",
            "x-dead-letter-routing-key",
            "x-max-priority",
            "x-queue-mode",
            "x-queue-master-locator",
            "x-single-active-consumer",
            "x-delivery-limit",
            "x-dead-letter-strategy",
            "x-quorum-initial-group-size",
            "x-max-in-memory-length",
            "x-max-in-memory-bytes",
            "x-queue-version",
        }
    ),
}

# Queue arguments whose integer RabbitMQ 3.10 refuses outside these bounds ("invalid arg", "Exceeded
# max value"): a TTL or expiry is at most 10 years of ms, a priority fits a byte. Measured against
# the real broker by tests/integration/test_refused_at_validate.py. (Lengths have no upper bound:
# Erlang integers are unbounded.)
_TEN_YEARS_MS = 315_360_000_000
ARGUMENT_RANGES: dict[str, tuple[int, int | None]] = {
    "x-message-ttl": (0, _TEN_YEARS_MS),
    "x-expires": (1, _TEN_YEARS_MS),
    "x-max-priority": (0, 255),
    "x-stream-max-segment-size-bytes": (0, 3_000_000_000),
    "x-max-length": (0, None),
    "x-max-length-bytes": (0, None),
}


def compile_broker(broker: str, section: Mapping[str, Any], ctx: Context) -> Compiled:
    resources: list[Resource] = []
    notes: list[str] = []
    present_vhosts: list[tuple[str, Any, Context]] = []
    vhosts = ctx.mapping(section.get("vhosts"))
    for vhost, body in vhosts.items():
        vctx = ctx.at("vhosts", vhost)
        body = vctx.mapping(body)
        if not isinstance(vhost, str) or not vhost:
            raise vctx.error("a vhost name must be a non-empty string")
        _check_length(vhost, "vhost", vctx)
        if body.get("state") == "absent":
            resources.append(_absent_vhost(broker, vhost, body, vctx))
            continue
        compiler = _VhostCompiler(broker, vhost, body, vctx)
        resources.extend(born_with_policies(compiler.compile()))
        notes += compiler.warnings
        present_vhosts.append((vhost, body.get("prune"), vctx.at("prune")))
    resources += users.compile_users(broker, section.get("users"), ctx.at("users"))
    _check_users_present(resources)
    resources, federation_notes = links.link_policies(operator_policies.born_with_operator_policies(resources))
    scopes = prune_scopes(section.get("prune"), present_vhosts, ctx.at("prune"))
    notes += federation_notes + operator_policies.fights(resources) + operator_policies.parking_warnings(resources)
    return Compiled(resources, scopes, notes + warnings(resources))


def _check_users_present(resources: list[Resource]) -> None:
    """A permission of a user the manifest deletes would be deleted with it by the broker."""
    gone = {r.address for r in resources if r.kind == USER and r.absent}
    if not gone:
        return
    for r in resources:
        if r.kind != USER and not r.absent and any(d in gone for d in r.depends_on):
            user = next(d for d in r.depends_on if d in gone)
            kind = "permission" if r.kind == PERMISSION else "topic permission"
            raise ManifestError(
                f"user {user.name[0]!r} has state: absent, so its {kind} in vhost {r.address.name[0]!r}"
                " goes with it; remove the permission or the state: absent",
                r.source,
            )


def _absent_vhost(broker: str, vhost: str, body: Mapping[str, Any], ctx: Context) -> Resource:
    if vhost == DEFAULT_VHOST:
        raise ctx.at("state").error(
            "the default vhost '/' is RabbitMQ's own and is never deleted; remove state: absent"
            " (to remove objects in it, mark them state: absent or use prune)"
        )
    extra = sorted(k for k in body if k not in ("state", "description", "tags", "prune", "limits"))
    if extra:
        raise ctx.error(
            f"vhost {vhost!r} has state: absent, which deletes it with everything in it; remove its {', '.join(extra)}"
        )
    return Resource(vhost_address(broker, vhost), {}, absent=True, source=ctx.where())


def _check_length(name: str, what: str, ctx: Context, url_segment: bool = True) -> None:
    if len(name.encode()) > _MAX_NAME_BYTES:
        raise ctx.error(f"{what} name is longer than {_MAX_NAME_BYTES} bytes, which RabbitMQ refuses")
    if url_segment and name in DOT_SEGMENTS:
        raise ctx.error(
            f"a {what} named {name!r} cannot be managed through the management HTTP API: the broker resolves"
            " it away in the URL path (even percent-encoded); choose another name"
        )


def _check_user_name(name: object, what: str, ctx: Context) -> str:
    """A name of an object the manifest may declare or delete: never a system object's."""
    if name == "" and what.endswith("exchange"):
        raise ctx.error(
            "the default exchange ('') is RabbitMQ's own: it cannot be declared, changed or deleted"
            " (it routes to every queue by name already)"
        )
    if not isinstance(name, str) or not name:
        raise ctx.error(f"{what} name must be a non-empty string")
    if name.startswith("amq."):
        raise ctx.error(
            f"{what} name {name!r} starts with 'amq.', a prefix RabbitMQ reserves for its own objects"
            " (built-in exchanges, server-named queues), which topoctl never declares or deletes"
        )
    _check_length(name, what, ctx)
    return name


def _check_arguments(queue_type: str, arguments: Mapping[str, JSON], ctx: Context) -> None:
    """What the broker would refuse at apply time, refused now with the line."""
    for key in arguments:
        if key in REFUSED_ARGUMENTS.get(queue_type, frozenset()):
            raise ctx.at(key).error(f"{key} is not valid on a {queue_type} queue (RabbitMQ refuses it)")
    for key, (low, high) in ARGUMENT_RANGES.items():
        value = arguments.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if value < low or (high is not None and value > high):
            bound = f"at least {low}" if value < low else f"at most {high}"
            raise ctx.at(key).error(f"{key} is {value}: RabbitMQ refuses it ({bound})")
    if "x-dead-letter-routing-key" in arguments and "x-dead-letter-exchange" not in arguments:
        raise ctx.at("x-dead-letter-routing-key").error(
            "x-dead-letter-routing-key needs x-dead-letter-exchange (RabbitMQ refuses it alone)"
        )


def _state_absent(body: Mapping[str, Any]) -> bool:
    return body.get("state") == "absent"


@dataclass
class _VhostCompiler:
    broker: str
    vhost: str
    body: Mapping[str, Any]
    ctx: Context
    resources: dict[Address, Resource] = field(default_factory=dict)
    # Names usable as binding ends: present exchanges and queues, declared or generated.
    exchanges: set[str] = field(default_factory=set)
    queues: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    @cached_property
    def vhost_address(self) -> Address:
        return vhost_address(self.broker, self.vhost)

    def compile(self) -> list[Resource]:
        attrs: dict[str, JSON] = {}
        if "description" in self.body:
            attrs["description"] = self.body["description"]
        if "tags" in self.body:
            # RabbitMQ strips the spaces around each tag; compared as a set.
            attrs["tags"] = sorted({str(tag).strip() for tag in self.body["tags"] or []})
        if "limits" in self.body:
            attrs["limits"] = users.limits(self.body["limits"], self.ctx.at("limits"), VHOST_LIMITS)
        self._add(Resource(self.vhost_address, attrs, source=self.ctx.where()), self.ctx)

        exchanges = self.ctx.mapping(self.body.get("exchanges"))
        queues = self.ctx.mapping(self.body.get("queues"))
        for name, spec in exchanges.items():
            self._exchange(name, self.ctx.at("exchanges", name).mapping(spec), self.ctx.at("exchanges", name))
        # Names first, so a dead_letter can tell a declared DLQ/DLX from one it must generate.
        declared_queues = {n for n, s in queues.items() if not _state_absent(s or {})}
        for name, spec in queues.items():
            qctx = self.ctx.at("queues", name)
            self._queue(name, qctx.mapping(spec), qctx, declared_queues)
        for index, spec in enumerate(self.body.get("bindings") or []):
            bctx = self.ctx.at("bindings", index)
            self._binding(bctx.mapping(spec), bctx)
        for name, spec in self.ctx.mapping(self.body.get("policies")).items():
            pctx = self.ctx.at("policies", name)
            self._policy(name, pctx.mapping(spec), pctx)
        for name, spec in self.ctx.mapping(self.body.get("operator_policies")).items():
            pctx = self.ctx.at("operator_policies", name)
            self._policy(name, pctx.mapping(spec), pctx, OPERATOR_POLICY)
        b, v, c = self.broker, self.vhost, self.ctx
        for r in (
            *access.permissions(b, v, self.body.get("permissions"), c.at("permissions")),
            *access.topic_permissions(b, v, self.body.get("topic_permissions"), c.at("topic_permissions")),
            *links.federation_upstreams(b, v, self.body.get("federation_upstreams"), c.at("federation_upstreams")),
            *links.shovels(b, v, self.body.get("shovels"), c.at("shovels")),
        ):
            self.resources[r.address] = r
        return list(self.resources.values())

    def _add(self, resource: Resource, ctx: Context, shared: bool = False) -> None:
        """`shared`: a generated object that several queues may generate alike (a DLX, a DLQ)."""
        existing = self.resources.get(resource.address)
        if existing is not None:
            if shared and existing.attrs == resource.attrs and not existing.absent:
                return
            raise ctx.error(f"{resource.address} is declared twice, differently (also at {existing.source})")
        self.resources[resource.address] = resource

    def _not_absent(self, address: Address, what: str, ctx: Context) -> None:
        existing = self.resources.get(address)
        if existing is not None and existing.absent:
            raise ctx.error(
                f"{what} {address.name[-1]!r} has state: absent (at {existing.source}); this queue needs it"
            )

    def _arguments(self, spec: Mapping[str, Any], ctx: Context) -> dict[str, JSON]:
        actx = ctx.at("arguments")
        return normalise_map(
            actx.mapping(spec.get("arguments")),
            on_error=lambda key, msg: actx.at(key).error(f"{key}: {msg}"),
        )

    # -- exchanges -----------------------------------------------------------------------------

    def _exchange(self, name: str, spec: Mapping[str, Any], ctx: Context) -> None:
        _check_user_name(name, "exchange", ctx)
        address = exchange_address(self.broker, self.vhost, name)
        if _state_absent(spec):
            self._add(Resource(address, {}, (self.vhost_address,), absent=True, source=ctx.where()), ctx)
            return
        exchange_type = spec.get("type", "direct")
        if not isinstance(exchange_type, str) or not exchange_type:
            raise ctx.at("type").error("exchange type must be a non-empty string (direct, fanout, topic, ...)")
        attrs: dict[str, JSON] = {
            "type": exchange_type,
            "durable": bool(spec.get("durable", True)),
            "auto_delete": bool(spec.get("auto_delete", False)),
            "internal": bool(spec.get("internal", False)),
            "arguments": self._arguments(spec, ctx),
        }
        self._add(Resource(address, attrs, (self.vhost_address,), source=ctx.where()), ctx)
        self.exchanges.add(name)

    # -- queues --------------------------------------------------------------------------------

    def _queue(self, name: str, spec: Mapping[str, Any], ctx: Context, declared: set[str]) -> None:
        _check_user_name(name, "queue", ctx)
        address = queue_address(self.broker, self.vhost, name)
        if _state_absent(spec):
            self._add(Resource(address, {}, (self.vhost_address,), absent=True, source=ctx.where()), ctx)
            return
        if spec.get("exclusive"):
            raise ctx.at("exclusive").error(
                "exclusive queues belong to one client connection and cannot be declared here"
            )
        arguments = self._arguments(spec, ctx)
        queue_type = spec.get("type")
        in_args = arguments.pop("x-queue-type", None)
        if queue_type is None:
            queue_type = in_args if in_args is not None else "classic"
        elif in_args is not None and in_args != queue_type:
            raise ctx.at("arguments", "x-queue-type").error(
                f"x-queue-type {in_args!r} contradicts type {queue_type!r}; set only type"
            )
        if queue_type not in QUEUE_TYPES:
            raise ctx.at("type").error(f"queue type {queue_type!r} is not one of {', '.join(QUEUE_TYPES)}")
        durable = bool(spec.get("durable", True))
        auto_delete = bool(spec.get("auto_delete", False))
        if queue_type != "classic":
            if not durable:
                raise ctx.at("durable").error(f"{queue_type} queues are always durable; remove durable: false")
            if auto_delete:
                raise ctx.at("auto_delete").error(f"{queue_type} queues cannot be auto_delete")
        _check_arguments(queue_type, arguments, ctx.at("arguments"))
        depends_on = [self.vhost_address]
        dead_letter = spec.get("dead_letter")
        if dead_letter is not None and dead_letter is not False:
            dctx = ctx.at("dead_letter")
            dead_letter = {} if dead_letter is True else dctx.mapping(dead_letter)
            depends_on.extend(self._dead_letter(name, queue_type, dead_letter, arguments, dctx, declared))
        attrs: dict[str, JSON] = {
            "type": queue_type,
            "durable": durable,
            "auto_delete": auto_delete,
            "arguments": arguments,
        }
        if swap.moves_messages(spec, name, queue_type, ctx):
            attrs[swap.ON_REPLACE] = swap.MOVE_MESSAGES
        self._add(Resource(address, attrs, tuple(depends_on), source=ctx.where()), ctx)
        self.queues.add(name)

    def _dead_letter(
        self,
        queue: str,
        queue_type: str,
        spec: Mapping[str, Any],
        arguments: dict[str, JSON],
        ctx: Context,
        declared: set[str],
    ) -> list[Address]:
        """Adds the DLX, the DLQ and their binding; sets the queue's dead-letter arguments
        (in `arguments`); returns what the queue must wait for."""
        if queue_type == "stream":
            raise ctx.error("streams cannot dead-letter messages; remove dead_letter from this stream")
        taken = [k for k in _DEAD_LETTER_ARGS if k in arguments]
        if taken:
            raise ctx.error(f"dead_letter sets {', '.join(taken)} itself; remove it from arguments")
        max_deliveries = spec.get("max_deliveries")
        if max_deliveries is not None:
            if queue_type != "quorum":
                raise ctx.at("max_deliveries").error(
                    "max_deliveries needs a quorum queue: classic queues do not count deliveries "
                    "(set type: quorum, or remove max_deliveries)"
                )
            if isinstance(max_deliveries, bool) or not isinstance(max_deliveries, int) or max_deliveries < 1:
                raise ctx.at("max_deliveries").error("max_deliveries must be a positive integer")
            arguments["x-delivery-limit"] = max_deliveries

        dlx = spec.get("exchange", f"{queue}.dlx")
        dlq = spec.get("queue", f"{queue}.dlq")
        routing_key = spec.get("routing_key", queue)
        _check_user_name(dlx, "dead-letter exchange", ctx.at("exchange"))
        _check_user_name(dlq, "dead-letter queue", ctx.at("queue"))
        if dlq == queue:
            raise ctx.at("queue").error("a queue cannot be its own dead-letter queue")
        if not isinstance(routing_key, str):
            raise ctx.at("routing_key").error("routing_key must be a string")
        arguments["x-dead-letter-exchange"] = dlx
        arguments["x-dead-letter-routing-key"] = routing_key

        dlx_address = exchange_address(self.broker, self.vhost, dlx)
        self._not_absent(dlx_address, "dead-letter exchange", ctx.at("exchange"))
        if dlx not in self.exchanges:
            attrs: dict[str, JSON] = {
                "type": "direct",
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
            self._add(Resource(dlx_address, attrs, (self.vhost_address,), source=ctx.where()), ctx, shared=True)
            self.exchanges.add(dlx)

        dlq_address = queue_address(self.broker, self.vhost, dlq)
        dlq_type = spec.get("queue_type", queue_type)
        if dlq_type not in ("classic", "quorum"):
            raise ctx.at("queue_type").error("queue_type of a dead-letter queue must be classic or quorum")
        if _state_absent(self.ctx.mapping(self.body.get("queues")).get(dlq) or {}):
            where = self.ctx.at("queues", dlq).where()
            raise ctx.at("queue").error(
                f"dead-letter queue {dlq!r} has state: absent (at {where}); this queue needs it"
            )
        if dlq not in declared:
            shared = self.resources.get(dlq_address)
            if shared is not None and shared.attrs.get("type") != dlq_type:
                raise ctx.at("queue_type" if "queue_type" in spec else "queue").error(
                    f"dead-letter queue {dlq!r} is also generated for the queue at {shared.source}, as a"
                    f" {shared.attrs.get('type')} queue; set queue_type: {shared.attrs.get('type')} here too,"
                    f" or declare {dlq!r} under queues:"
                )
            qattrs: dict[str, JSON] = {"type": dlq_type, "durable": True, "auto_delete": False, "arguments": {}}
            self._add(Resource(dlq_address, qattrs, (self.vhost_address,), source=ctx.where()), ctx, shared=True)
            self.queues.add(dlq)
        elif "queue_type" in spec:
            raise ctx.at("queue_type").error(
                f"queue {dlq!r} is declared under queues:, so its type is set there, not here"
            )

        battrs: dict[str, JSON] = {
            "source": dlx,
            "destination": dlq,
            "destination_type": "queue",
            "routing_key": routing_key,
            "arguments": {},
        }
        baddress = binding_address(self.broker, self.vhost, dlx, "queue", dlq, routing_key, {})
        self._add(Resource(baddress, battrs, (self.vhost_address, dlx_address, dlq_address), source=ctx.where()), ctx)
        return [dlx_address, dlq_address, baddress]

    # -- bindings ------------------------------------------------------------------------------

    def _binding(self, spec: Mapping[str, Any], ctx: Context) -> None:
        source = spec.get("source")
        destination = spec.get("destination")
        destination_type = spec.get("destination_type", "queue")
        routing_key = spec.get("routing_key", "")
        if source == "":
            raise ctx.at("source").error(
                "the default exchange cannot be bound: it routes to every queue by its name already"
            )
        if not isinstance(source, str) or not source:
            raise ctx.at("source").error("source must be an exchange name")
        if not isinstance(destination, str) or not destination:
            raise ctx.at("destination").error("destination must be a queue or exchange name")
        if destination_type not in ("queue", "exchange"):
            raise ctx.at("destination_type").error("destination_type must be queue or exchange")
        if destination_type == "queue" and destination.startswith("amq."):
            raise ctx.at("destination").error(
                f"queue {destination!r} is server-named (amq.*): it belongs to one client connection, and"
                " topoctl never declares or deletes its bindings"
            )
        if not isinstance(routing_key, str):
            raise ctx.at("routing_key").error("routing_key must be a string (quote it in YAML)")
        _check_length(routing_key, "routing key", ctx.at("routing_key"), url_segment=False)
        # Verbatim: a binding's arguments are values a headers exchange matches messages against,
        # not queue settings; `expires: 30s` there must stay the text "30s".
        arguments = dict(ctx.at("arguments").mapping(spec.get("arguments")))
        if routing_key in DOT_SEGMENTS and not arguments and not _state_absent(spec):
            self.warnings.append(
                f"{ctx.at('routing_key').where()}: a binding with routing key {routing_key!r} can be created but"
                " not deleted through the management HTTP API (its key is a URL path segment the broker resolves"
                " away); topoctl will not be able to remove it"
            )
        address = binding_address(
            self.broker, self.vhost, source, destination_type, destination, routing_key, arguments
        )
        source_address = exchange_address(self.broker, self.vhost, source)
        dest_address = destination_address(self.broker, self.vhost, destination_type, destination)
        depends_on = [self.vhost_address]
        if source not in BUILTIN_EXCHANGES:
            depends_on.append(source_address)
        if not (destination_type == "exchange" and destination in BUILTIN_EXCHANGES):
            depends_on.append(dest_address)
        if _state_absent(spec):
            self._add(Resource(address, {}, tuple(depends_on), absent=True, source=ctx.where()), ctx)
            return
        if source not in self.exchanges and source not in BUILTIN_EXCHANGES:
            raise ctx.at("source").error(f"exchange {source!r} is not declared in vhost {self.vhost!r} (nor built in)")
        if destination_type == "queue":
            known = destination in self.queues
        else:  # not `exchanges | BUILTIN_EXCHANGES`: a new set per binding made big vhosts quadratic
            known = destination in self.exchanges or destination in BUILTIN_EXCHANGES
        if not known:
            raise ctx.at("destination").error(
                f"{destination_type} {destination!r} is not declared in vhost {self.vhost!r}"
                + ("" if destination_type == "exchange" else " (set destination_type: exchange for an exchange)")
            )
        attrs: dict[str, JSON] = {
            "source": source,
            "destination": destination,
            "destination_type": destination_type,
            "routing_key": routing_key,
            "arguments": arguments,
        }
        self._add(Resource(address, attrs, tuple(depends_on), source=ctx.where()), ctx)

    # -- policies ------------------------------------------------------------------------------

    def _policy(self, name: str, spec: Mapping[str, Any], ctx: Context, kind: str = POLICY) -> None:
        """A policy, or with `kind` OPERATOR_POLICY an operator policy (same shape, fewer keys)."""
        if not isinstance(name, str) or not name:
            raise ctx.error("a policy name must be a non-empty string")
        _check_length(name, "policy", ctx)
        make = policy_address if kind == POLICY else operator_policy_address
        address = make(self.broker, self.vhost, name)
        if _state_absent(spec):
            self._add(Resource(address, {}, (self.vhost_address,), absent=True, source=ctx.where()), ctx)
            return
        pattern = spec.get("pattern")
        if not isinstance(pattern, str):
            raise ctx.at("pattern").error("pattern must be a regular expression (a string)")
        problem = pattern_problem(pattern)
        if problem:
            raise ctx.at("pattern").error(f"pattern {pattern!r} is a regular expression RabbitMQ refuses: {problem}")
        apply_to = spec.get("apply_to", "all")
        if apply_to not in POLICY_APPLY_TO:
            raise ctx.at("apply_to").error(f"apply_to must be one of {', '.join(POLICY_APPLY_TO)}")
        priority = spec.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise ctx.at("priority").error("priority must be an integer")
        dctx = ctx.at("definition")
        definition = normalise_map(
            dctx.mapping(spec.get("definition")), on_error=lambda key, msg: dctx.at(key).error(f"{key}: {msg}")
        )
        if not definition:
            raise dctx.error("a policy needs a non-empty definition")
        if kind == OPERATOR_POLICY:
            operator_policies.check_definition(definition, dctx)
        attrs: dict[str, JSON] = {
            "pattern": pattern,
            "apply_to": apply_to,
            "priority": priority,
            "definition": definition,
        }
        self._add(Resource(address, attrs, (self.vhost_address,), source=ctx.where()), ctx)
