"""Links between brokers and vhosts: dynamic shovels and federation upstreams. Pure.

Both are runtime parameters (`/api/parameters/shovel`, `/api/parameters/federation-upstream`)
whose value the broker stores verbatim, so a manifest writes the parameter's own key names
(`src-uri`, `dest-queue`, `max-hops`, ...) and topoctl compares them as written, after reading
durations the manifest's way (`reconnect-delay: 5s`). URIs may carry a password: the resource holds
them masked, the secret stays in `info` (see topoctl.providers.secrets).

A URI without a host (`amqp://`, `amqp:///shop`) is the broker itself: such a shovel depends on the
queues and exchanges it moves between, so apply creates them first, and the graph draws it between
them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from topoctl.manifest.source import Context
from topoctl.model import JSON, Address, Resource
from topoctl.providers import secrets
from topoctl.providers.rabbitmq.kinds import (
    DEFAULT_VHOST,
    EXCHANGE,
    FEDERATION_UPSTREAM,
    POLICY,
    QUEUE,
    exchange_address,
    federation_upstream_address,
    queue_address,
    shovel_address,
)
from topoctl.units import parse_duration

# The keys RabbitMQ 3.10 accepts in a dynamic shovel's value (the unprefixed ones are its older
# spellings) and in a federation upstream's; anything else it refuses ("Unrecognised terms").
SHOVEL_KEYS = frozenset(
    {
        *("src-protocol", "src-uri", "src-queue", "src-exchange", "src-exchange-key", "src-prefetch-count"),
        *("src-delete-after", "src-consumer-args", "src-queue-args", "src-address"),
        *("dest-protocol", "dest-uri", "dest-queue", "dest-queue-args", "dest-exchange", "dest-exchange-key"),
        *("dest-add-forward-headers", "dest-add-timestamp-header", "dest-publish-properties", "dest-address"),
        *("dest-application-properties", "dest-message-annotations", "dest-properties"),
        *("ack-mode", "reconnect-delay"),
        *("delete-after", "prefetch-count", "add-forward-headers", "publish-properties", "add-timestamp-header"),
    }
)
UPSTREAM_KEYS = frozenset(
    {
        *("uri", "exchange", "queue", "max-hops", "prefetch-count", "reconnect-delay", "ack-mode"),
        *("trust-user-id", "expires", "message-ttl", "ha-policy", "consumer-tag", "bind-nowait"),
        *("resource-cleanup-mode", "channel-use-mode"),
    }
)
ACK_MODES = ("on-confirm", "on-publish", "no-ack")
URI_SCHEMES = ("amqp", "amqps")
SECONDS_KEYS = frozenset({"reconnect-delay"})
MS_KEYS = frozenset({"expires", "message-ttl"})
SHOVEL_URIS = ("src-uri", "dest-uri")
_UNSAFE_IN_PASSWORD = "@/?#[] "


# -- URIs --------------------------------------------------------------------------------------------


def local_vhost(uri: str) -> str | None:
    """The vhost of a URI that names the broker itself (no host: a direct connection), else None."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    if parts.scheme not in URI_SCHEMES or parts.hostname:
        return None
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    return unquote(path) if path else DEFAULT_VHOST


def remote(uri: str) -> tuple[str, str]:
    """(`scheme://host:port`, vhost) of a URI: how the graph names a broker topoctl does not
    manage, without its credentials."""
    try:
        parts = urlsplit(secrets.mask_uri(uri))
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "another broker", DEFAULT_VHOST
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}", unquote(path) if path else DEFAULT_VHOST


def _uris(value: Any, ctx: Context) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(u, str) and u for u in items):
        raise ctx.error("expected a URI or a list of URIs (amqp://user:${PASSWORD}@host/vhost)")
    for i, uri in enumerate(items):
        where = ctx.at(i) if isinstance(value, list) else ctx
        # The URI may hold a password: say what is wrong without repeating it.
        scheme = uri.split("://", 1)[0] if "://" in uri else ""
        if scheme not in URI_SCHEMES:
            raise where.error("a URI starts with amqp:// or amqps:// (amqp:// alone is this broker)")
        password = secrets.uri_password(uri)
        if password is not None and any(ch in password for ch in _UNSAFE_IN_PASSWORD):
            raise where.error(
                "the password in this URI has a character that must be percent-encoded (@ / ? # [ ] or a space:"
                " %40 %2F %3F %23 %5B %5D %20); RabbitMQ would read another host or password"
            )
    return items


def _secret_uris(attrs: dict[str, JSON], info: dict[str, JSON], key: str, value: Any, ctx: Context) -> None:
    uris = _uris(value, ctx)
    written: JSON = uris if isinstance(value, list) else uris[0]
    if any(secrets.has_password(u) for u in uris):
        attrs[key] = secrets.mask_uris(written)
        info.setdefault(secrets.SECRETS, {})[key] = written
    else:
        attrs[key] = written


def _value(key: str, value: Any, ctx: Context) -> JSON:
    if key in SECONDS_KEYS:
        try:
            return parse_duration(value, "s")
        except ValueError as exc:
            raise ctx.error(f"{key}: {exc}") from None
    if key in MS_KEYS:
        try:
            return parse_duration(value, "ms")
        except ValueError as exc:
            raise ctx.error(f"{key}: {exc}") from None
    return value


def _name(name: Any, what: str, ctx: Context) -> str:
    if not isinstance(name, str) or not name:
        raise ctx.error(f"a {what} name must be a non-empty string")
    if name in (".", ".."):
        raise ctx.error(f"a {what} named {name!r} cannot be managed through the management HTTP API")
    if len(name.encode()) > 255:
        raise ctx.error(f"{what} name is longer than 255 bytes")
    return name


def _unknown(keys: Iterable[str], allowed: frozenset[str], what: str, ctx: Context) -> None:
    from topoctl.manifest.schema import suggest

    for key in keys:
        if key not in allowed:
            hint = suggest(key, allowed)
            raise ctx.at(key).error(
                f"unknown {what} key {key!r}" + (f"; did you mean {hint!r}?" if hint else " (RabbitMQ 3.10 refuses it)")
            )


# -- one entry of `shovels:` or `federation_upstreams:` ------------------------------------------


@dataclass(frozen=True)
class _Link:
    what: str  # as errors word it
    keys: frozenset[str]  # the keys RabbitMQ accepts in its value
    uris: frozenset[str]  # the keys that hold URIs (and so maybe a password)
    address: Callable[[str, str, str], Address]
    check: Callable[[Mapping[str, Any], Context], None]  # what one value must hold, beyond its keys
    ends: Callable[[str, Mapping[str, JSON], Mapping[str, JSON]], list[Address]]  # what else it depends on


def _links(broker: str, vhost: str, section: Any, ctx: Context, link: _Link) -> list[Resource]:
    """One vhost's shovels or federation upstreams: both are runtime parameters whose value the
    broker stores verbatim, so only their checks and what they depend on differ."""
    out = []
    vhost_address = Address(broker, "vhost", (vhost,))
    for name, body in ctx.mapping(section).items():
        lctx = ctx.at(name)
        _name(name, link.what, lctx)
        body = lctx.mapping(body)
        address = link.address(broker, vhost, name)
        if body.get("state") == "absent":
            out.append(Resource(address, {}, (vhost_address,), absent=True, source=lctx.where()))
            continue
        value = {k: v for k, v in body.items() if k != "state"}
        _unknown(value, link.keys, link.what, lctx)
        link.check(value, lctx)
        attrs: dict[str, JSON] = {}
        info: dict[str, JSON] = {}
        for key, v in value.items():
            if key in link.uris:
                _secret_uris(attrs, info, key, v, lctx.at(key))
            else:
                attrs[key] = _value(key, v, lctx.at(key))
        depends = (vhost_address, *link.ends(broker, attrs, info))
        out.append(Resource(address, attrs, depends, source=lctx.where(), info=info))
    return out


def _check_ack_mode(value: Mapping[str, Any], ctx: Context) -> None:
    if "ack-mode" in value and value["ack-mode"] not in ACK_MODES:
        raise ctx.at("ack-mode").error(f"ack-mode must be one of {', '.join(ACK_MODES)}")


# -- shovels -----------------------------------------------------------------------------------------


def shovels(broker: str, vhost: str, section: Any, ctx: Context) -> list[Resource]:
    return _links(broker, vhost, section, ctx, _SHOVEL)


def _check_shovel(value: Mapping[str, Any], ctx: Context) -> None:
    for side in ("src", "dest"):
        if f"{side}-uri" not in value:
            raise ctx.error(f"a shovel needs {side}-uri (amqp:// alone is this broker, vhost '/')")
        ends = [k for k in (f"{side}-queue", f"{side}-exchange", f"{side}-address") if k in value]
        if len(ends) != 1:
            raise ctx.error(
                f"a shovel needs exactly one of {side}-queue, {side}-exchange"
                f" (or {side}-address for AMQP 1.0), got {', '.join(ends) or 'none'}"
            )
    if "src-exchange-key" in value and "src-exchange" not in value:
        raise ctx.at("src-exchange-key").error("src-exchange-key needs src-exchange")
    _check_ack_mode(value, ctx)
    for key in ("src-delete-after", "delete-after"):
        after = value.get(key)
        if key in value and after not in ("never", "queue-length") and not _count(after):
            raise ctx.at(key).error(f"{key} must be never, queue-length or a number of messages")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def endpoints(r: Resource) -> list[tuple[str, str, str | None, str]]:
    """(side, kind, local vhost or None, name) of a shovel's source and destination. The URI of a
    side is its first (a list is tried in order)."""
    out = []
    for side in ("src", "dest"):
        uri = _first(_plain(r, f"{side}-uri"))
        for kind in (QUEUE, EXCHANGE):
            name = r.attrs.get(f"{side}-{kind}")
            if isinstance(name, str):
                out.append((side, kind, local_vhost(uri) if uri else None, name))
    return out


def _plain(r: Resource, key: str) -> JSON:
    found = secrets.declared(r).get(key)
    return found if found is not None else r.attrs.get(key)


def _first(value: JSON) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _local_ends(broker: str, attrs: Mapping[str, JSON], info: Mapping[str, JSON]) -> list[Address]:
    r = Resource(Address(broker, "shovel", ("", "")), attrs, info=info)
    out = []
    for _, kind, vhost, name in endpoints(r):
        if vhost is not None and name and not name.startswith("amq."):
            out.append(queue_address(broker, vhost, name) if kind == QUEUE else exchange_address(broker, vhost, name))
    return out


_SHOVEL = _Link("shovel", SHOVEL_KEYS, frozenset(SHOVEL_URIS), shovel_address, _check_shovel, _local_ends)


# -- federation upstreams ----------------------------------------------------------------------------


def federation_upstreams(broker: str, vhost: str, section: Any, ctx: Context) -> list[Resource]:
    return _links(broker, vhost, section, ctx, _UPSTREAM)


def _check_upstream(value: Mapping[str, Any], ctx: Context) -> None:
    if "uri" not in value:
        raise ctx.error("a federation upstream needs uri (amqp://user:${PASSWORD}@host/vhost)")
    _check_ack_mode(value, ctx)


_UPSTREAM = _Link(
    "federation upstream",
    UPSTREAM_KEYS,
    frozenset({"uri"}),
    federation_upstream_address,
    _check_upstream,
    lambda broker, attrs, info: [],  # another broker's exchanges and queues: nothing here to wait for
)


def upstreams_of(definition: Mapping[str, JSON], available: Sequence[str]) -> list[str] | None:
    """The upstreams a policy definition federates from: its `federation-upstream`, or every
    upstream of the vhost for `federation-upstream-set: all`; None when it names no upstream or a
    set topoctl does not manage."""
    upstream = definition.get("federation-upstream")
    if isinstance(upstream, str):
        return [upstream]
    if definition.get("federation-upstream-set") == "all":
        return list(available)
    return None


def link_policies(resources: Sequence[Resource]) -> tuple[list[Resource], list[str]]:
    """Policies that federate depend on the upstreams they name (created first); a policy naming an
    upstream the manifest does not declare in its vhost is worth a warning (it may exist live)."""
    declared: dict[str, list[str]] = {}
    for r in resources:
        if r.kind == FEDERATION_UPSTREAM and not r.absent:
            declared.setdefault(r.address.name[0], []).append(r.address.name[1])
    out: list[Resource] = []
    warnings: list[str] = []
    for r in resources:
        definition = r.attrs.get("definition")
        if r.kind == POLICY and not r.absent and isinstance(definition, Mapping):
            vhost = r.address.name[0]
            names = upstreams_of(definition, declared.get(vhost, []))
            for name in names or ():
                if name not in declared.get(vhost, []):
                    where = f"{r.source}: " if r.source else ""
                    warnings.append(
                        f"{where}policy {r.address.name[1]!r} federates from upstream {name!r}, which is not declared"
                        f" under federation_upstreams of vhost {vhost!r} (it must exist on the broker)"
                    )
            extra = tuple(
                federation_upstream_address(r.broker, vhost, n) for n in names or () if n in declared.get(vhost, [])
            )
            if extra:
                r = replace(r, depends_on=r.depends_on + extra)
        out.append(r)
    return out, warnings
