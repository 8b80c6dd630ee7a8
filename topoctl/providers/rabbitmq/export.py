"""Observed RabbitMQ resources -> the `vhosts:` section of a manifest (`topoctl export`).

Only what differs from a default is written. The compiler fills in the same defaults (durable,
auto_delete, internal, arguments, a policy's apply_to and priority), so leaving one out plans the
same. A vhost's description is written when it differs from the one RabbitMQ gives it (none, or
"Default virtual host" for `/`), so an untouched, empty `/` is not exported at all. The `type` of
exchanges and queues is always written: it says what the object is.

`dead_letter:` sugar is not reconstructed: a DLX, its DLQ, their binding and the queue's
`x-dead-letter-*` arguments come out as the plain objects and arguments they are, which plan
identically.

Secrets cannot be read back: a user's password exists only as a salted hash, and a shovel's or an
upstream's URI password is not written out. Both become `${...}` placeholders (named on stderr),
which the plan of the export needs set. The user topoctl connects as, its permissions and `guest`
are not exported (the driver does not report them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from topoctl.export import duration_ms, duration_s, size
from topoctl.model import JSON, Resource
from topoctl.providers import secrets
from topoctl.providers.rabbitmq.kinds import (
    BINDING,
    DEFAULT_VHOST,
    DEFAULT_VHOST_DESCRIPTION,
    EXCHANGE,
    FEDERATION_UPSTREAM,
    OPERATOR_POLICY,
    PERMISSION,
    POLICY,
    QUEUE,
    SECRET_FIELDS,
    SHOVEL,
    TOPIC_PERMISSION,
    USER,
    VHOST,
)

# The keys the compiler normalises to ms and bytes: the same sets, so both directions agree.
from topoctl.providers.rabbitmq.values import BYTE_KEYS, MAX_AGE_KEYS, MS_KEYS


def export_broker(broker: str, observed: Sequence[Resource]) -> dict[str, Any]:
    vhosts: dict[str, dict[str, Any]] = defaultdict(dict)
    users: dict[str, Any] = {}
    for r in sorted(observed, key=lambda r: r.address):
        if r.kind == USER:
            users[r.address.name[0]] = _user(broker, r)
            continue
        vhost, *name = r.address.name
        body = vhosts[vhost]
        if r.kind == VHOST:
            description = r.attrs.get("description") or ""
            if description != _default_description(vhost):
                body["description"] = description
            if r.attrs.get("tags"):
                body["tags"] = list(r.attrs["tags"])
            if r.attrs.get("limits"):
                body["limits"] = dict(r.attrs["limits"])
        elif r.kind == EXCHANGE:
            body.setdefault("exchanges", {})[name[0]] = _exchange(r.attrs)
        elif r.kind == QUEUE:
            body.setdefault("queues", {})[name[0]] = _queue(r.attrs)
        elif r.kind == BINDING:
            body.setdefault("bindings", []).append(_binding(r.attrs))
        elif r.kind == POLICY:
            body.setdefault("policies", {})[name[0]] = _policy(r.attrs)
        elif r.kind == OPERATOR_POLICY:
            body.setdefault("operator_policies", {})[name[0]] = _policy(r.attrs)
        elif r.kind == PERMISSION:
            body.setdefault("permissions", {})[name[0]] = {
                k: r.attrs.get(k, "") for k in ("configure", "write", "read")
            }
        elif r.kind == TOPIC_PERMISSION:
            entry = {"exchange": name[1], "write": r.attrs.get("write", ""), "read": r.attrs.get("read", "")}
            body.setdefault("topic_permissions", {}).setdefault(name[0], []).append(entry)
        elif r.kind in (SHOVEL, FEDERATION_UPSTREAM):
            body.setdefault(_SECTIONS[r.kind], {})[name[0]] = _parameter(broker, r)
    for body in vhosts.values():
        body.get("bindings", []).sort(
            key=lambda b: (
                b["source"],
                b.get("destination_type", ""),
                b["destination"],
                b.get("routing_key", ""),
                str(b.get("arguments")),
            )
        )
    # The default vhost exists on every broker; untouched and empty, it says nothing about this
    # topology (and declaring it would only plan what is already there).
    if vhosts.get(DEFAULT_VHOST) == {}:
        del vhosts[DEFAULT_VHOST]
    out: dict[str, Any] = {"users": users} if users else {}
    if vhosts:
        out["vhosts"] = dict(vhosts)
    return out


_SECTIONS = {SHOVEL: "shovels", FEDERATION_UPSTREAM: "federation_upstreams"}


def _user(broker: str, r: Resource) -> dict[str, Any]:
    name = r.address.name[0]
    out: dict[str, Any] = {}
    if r.attrs.get("password") not in (None, secrets.NO_PASSWORD):
        variable = secrets.placeholder_name(broker, "user", name, "password")
        out["password"] = secrets.placeholder(variable, f"users.{name}.password")
    if r.attrs.get("tags"):
        out["tags"] = list(r.attrs["tags"])
    if r.attrs.get("limits"):
        out["limits"] = dict(r.attrs["limits"])
    return out


def _parameter(broker: str, r: Resource) -> dict[str, JSON]:
    """A shovel's or upstream's value: durations readable, URI passwords as placeholders."""
    vhost, name = r.address.name
    plain = secrets.declared(r)  # the observed URIs, with their passwords
    out: dict[str, JSON] = {}
    for key, value in r.attrs.items():
        if key in SECRET_FIELDS[r.kind]:
            value = plain.get(key, value)
            items = value if isinstance(value, list) else [value]
            words = (broker, r.kind, vhost, name, key, "password")
            written = [
                secrets.uri_with_placeholder(
                    u,
                    secrets.placeholder_name(*words, *([str(i)] if len(items) > 1 else [])),
                    f"vhosts.{vhost}.{_SECTIONS[r.kind]}.{name}.{key}",
                )
                if isinstance(u, str)
                else u
                for i, u in enumerate(items)
            ]
            out[key] = written if isinstance(value, list) else written[0]
        elif key == "reconnect-delay":
            out[key] = duration_s(value)
        elif key in MS_KEYS:
            out[key] = duration_ms(value)
        else:
            out[key] = value
    return out


def _default_description(vhost: str) -> str:
    """What RabbitMQ describes a vhost as when nobody set a description."""
    return DEFAULT_VHOST_DESCRIPTION if vhost == DEFAULT_VHOST else ""


def _exchange(attrs: Mapping[str, JSON]) -> dict[str, JSON]:
    out: dict[str, JSON] = {"type": attrs.get("type")}
    _unless_default(out, attrs, durable=True, auto_delete=False, internal=False)
    _arguments(out, attrs)
    return out


def _queue(attrs: Mapping[str, JSON]) -> dict[str, JSON]:
    out: dict[str, JSON] = {"type": attrs.get("type", "classic")}
    _unless_default(out, attrs, durable=True, auto_delete=False)
    _arguments(out, attrs)
    return out


def _binding(attrs: Mapping[str, JSON]) -> dict[str, JSON]:
    out: dict[str, JSON] = {"source": attrs["source"], "destination": attrs["destination"]}
    if attrs.get("destination_type") == "exchange":
        out["destination_type"] = "exchange"
    if attrs.get("routing_key"):
        out["routing_key"] = attrs["routing_key"]
    arguments = attrs.get("arguments") or {}
    if arguments:  # verbatim: values a headers exchange matches, not durations or sizes
        out["arguments"] = dict(arguments)
    return out


def _policy(attrs: Mapping[str, JSON]) -> dict[str, JSON]:
    definition = attrs.get("definition") or {}
    out: dict[str, JSON] = {"pattern": attrs.get("pattern")}
    # The compiler's defaults, which are RabbitMQ's: apply to all, priority 0.
    if attrs.get("apply_to", "all") != "all":
        out["apply_to"] = attrs["apply_to"]
    if attrs.get("priority", 0) != 0:
        out["priority"] = attrs["priority"]
    out["definition"] = {k: _readable(k, v) for k, v in dict(definition).items()}
    return out


def _unless_default(out: dict[str, JSON], attrs: Mapping[str, JSON], **defaults: bool) -> None:
    for key, default in defaults.items():
        if key in attrs and bool(attrs[key]) != default:
            out[key] = bool(attrs[key])


def _arguments(out: dict[str, JSON], attrs: Mapping[str, JSON]) -> None:
    arguments = attrs.get("arguments") or {}
    if arguments:
        out["arguments"] = {k: _readable(k, v) for k, v in dict(arguments).items()}


def _readable(key: str, value: JSON) -> JSON:
    """Milliseconds and bytes the way a person writes them; the compiler normalises them back."""
    if key in MS_KEYS:
        return duration_ms(value)
    if key in BYTE_KEYS:
        return size(value)
    if key in MAX_AGE_KEYS and isinstance(value, str) and value.endswith("D"):
        return value[:-1] + "d"  # RabbitMQ's `7D` is the manifest's `7d`
    return value
