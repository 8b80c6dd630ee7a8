"""Who may do what in a vhost: `permissions:` and `topic_permissions:` -> resources. Pure.

A permission is one object per (vhost, user) with its three regular expressions; a topic permission
one per (vhost, user, exchange), as RabbitMQ keeps them (and deletes them: one exchange at a time).
Both depend on their vhost and on their user, so a declared user is created before its
permissions, and the plan shows a deleted user's permissions going with it.
"""

from __future__ import annotations

from typing import Any

from topoctl.manifest.source import Context
from topoctl.model import JSON, Address, Resource
from topoctl.providers.rabbitmq.kinds import permission_address, topic_permission_address, user_address
from topoctl.providers.rabbitmq.policies import pattern_problem

PERMISSION_KEYS = ("configure", "write", "read")
TOPIC_PERMISSION_KEYS = ("write", "read")


def _regex(value: Any, ctx: Context) -> str:
    if not isinstance(value, str):
        raise ctx.error("expected a regular expression (a string; '' grants nothing, '.*' everything)")
    # RabbitMQ compiles it with Erlang's `re` (PCRE) and answers 400 "invalid_regexp"; Python's `re`
    # would refuse some it takes (`(?<name>..)`, `\z`) and take some it refuses (`\u0041`).
    problem = pattern_problem(value)
    if problem:
        raise ctx.error(f"{value!r} is a regular expression RabbitMQ refuses: {problem}")
    return value


def _user(name: Any, ctx: Context) -> str:
    if not isinstance(name, str) or not name:
        raise ctx.error("a user name must be a non-empty string")
    if name in (".", ".."):
        raise ctx.error(f"a user named {name!r} cannot be managed through the management HTTP API")
    return name


def permissions(broker: str, vhost: str, section: Any, ctx: Context) -> list[Resource]:
    out = []
    vhost_address = Address(broker, "vhost", (vhost,))
    for user, body in ctx.mapping(section).items():
        pctx = ctx.at(user)
        _user(user, pctx)
        body = pctx.mapping(body)
        address = permission_address(broker, vhost, user)
        depends = (vhost_address, user_address(broker, user))
        if body.get("state") == "absent":
            out.append(Resource(address, {}, depends, absent=True, source=pctx.where()))
            continue
        missing = [k for k in PERMISSION_KEYS if k not in body]
        if missing:
            raise pctx.error(
                f"missing {', '.join(missing)}: a permission sets configure, write and read ('' grants nothing)"
            )
        attrs: dict[str, JSON] = {k: _regex(body[k], pctx.at(k)) for k in PERMISSION_KEYS}
        out.append(Resource(address, attrs, depends, source=pctx.where()))
    return out


def topic_permissions(broker: str, vhost: str, section: Any, ctx: Context) -> list[Resource]:
    out: dict[Address, Resource] = {}
    vhost_address = Address(broker, "vhost", (vhost,))
    for user, entries in ctx.mapping(section).items():
        uctx = ctx.at(user)
        _user(user, uctx)
        if not isinstance(entries, list):
            raise uctx.error("expected a list of {exchange, write, read}")
        for index, body in enumerate(entries):
            ectx = uctx.at(index)
            body = ectx.mapping(body)
            exchange = body.get("exchange")
            if not isinstance(exchange, str) or not exchange:
                raise ectx.at("exchange").error(
                    "exchange must be an exchange name (topic permissions apply to topic exchanges)"
                )
            address = topic_permission_address(broker, vhost, user, exchange)
            if address in out:
                raise ectx.error(
                    f"user {user!r} has two topic permissions for exchange {exchange!r} (also at {out[address].source})"
                )
            depends = (vhost_address, user_address(broker, user))
            if body.get("state") == "absent":
                out[address] = Resource(address, {}, depends, absent=True, source=ectx.where())
                continue
            missing = [k for k in TOPIC_PERMISSION_KEYS if k not in body]
            if missing:
                raise ectx.error(
                    f"missing {', '.join(missing)}: a topic permission sets write and read ('' allows no key)"
                )
            attrs: dict[str, JSON] = {k: _regex(body[k], ectx.at(k)) for k in TOPIC_PERMISSION_KEYS}
            out[address] = Resource(address, attrs, depends, source=ectx.where())
    return list(out.values())
