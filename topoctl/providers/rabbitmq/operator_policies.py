"""Operator policies: the limits an operator imposes over the users' own policies. Pure.

They have the shape of policies, but RabbitMQ 3.10 accepts only a few keys in them (checked against
the real broker, which refuses the rest with "not recognised policy settings"), and they do not
replace the user policy that applies to a queue: both apply, and where both set a key the broker
keeps the smaller value (rabbit_policies' merge of operator and user definitions). The warning
names every declared queue where a policy and an operator policy set the same key differently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace

from topoctl.manifest.source import Context
from topoctl.model import JSON, Resource
from topoctl.providers.rabbitmq.kinds import OPERATOR_POLICY, QUEUE
from topoctl.providers.rabbitmq.policies import Policy, applying, policies_of

OPERATOR_KEYS = frozenset(
    {
        "message-ttl",
        "expires",
        "max-length",
        "max-length-bytes",
        "max-in-memory-length",
        "max-in-memory-bytes",
        "delivery-limit",
    }
)
_LISTED = 3


def check_definition(definition: Mapping[str, JSON], ctx: Context) -> None:
    for key in definition:
        if key not in OPERATOR_KEYS:
            raise ctx.at(key).error(
                f"{key} cannot be set by an operator policy (RabbitMQ 3.10 accepts {', '.join(sorted(OPERATOR_KEYS))})"
            )


def _operator_policies(resources: Sequence[Resource]) -> list[Policy]:
    """The present operator policies, as `Policy` objects (the same matching rules)."""
    return policies_of(resources, OPERATOR_POLICY)


def born_with_operator_policies(resources: Sequence[Resource]) -> list[Resource]:
    """Queues depend on the operator policies that may match them, for the same reason they depend
    on their policies (policies.born_with_policies): one declared at the same moment may be missed."""
    ops = _operator_policies(resources)
    if not ops:
        return list(resources)
    out = []
    for r in resources:
        if r.kind == QUEUE and not r.absent:
            vhost, name = r.address.name
            extra = tuple(p.resource.address for p in ops if p.vhost == vhost and p.may_match(QUEUE, name))
            if extra:
                r = replace(r, depends_on=r.depends_on + extra)
        out.append(r)
    return out


def fights(resources: Sequence[Resource]) -> list[str]:
    """One warning per (policy, operator policy, key) that disagree on a declared queue."""
    ops = _operator_policies(resources)
    if not ops:
        return []
    policies = policies_of(resources)
    found: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    where: dict[tuple[str, str, str, str], tuple[Policy, Policy, JSON, JSON]] = {}
    for r in resources:
        if r.kind != QUEUE or r.absent:
            continue
        vhost, name = r.address.name
        user = applying(policies, QUEUE, vhost, name)
        operator = applying(ops, QUEUE, vhost, name)
        if user is None or operator is None:
            continue
        for key, theirs in operator.definition.items():
            mine = user.definition.get(key)
            if key in user.definition and mine != theirs:
                k = (vhost, user.name, operator.name, key)
                found[k].append(name)
                where[k] = (user, operator, mine, theirs)
    out = []
    for k, queues in found.items():
        vhost, _, _, key = k
        user, operator, mine, theirs = where[k]
        shown = ", ".join(repr(q) for q in queues[:_LISTED]) + (
            f" and {len(queues) - _LISTED} more" if len(queues) > _LISTED else ""
        )
        at = f"{operator.resource.source}: " if operator.resource.source else ""
        out.append(
            f"{at}operator policy {operator.name!r} and policy {user.name!r} (at {user.resource.source}) both set"
            f" {key} on queue{'s' if len(queues) > 1 else ''} {shown} in vhost {vhost!r} ({theirs!r} and {mine!r}):"
            " RabbitMQ applies the smaller value, whatever the policies' priorities"
        )
    return out


# Policy keys that drop messages from a queue: a policy that matches a parking queue's name applies
# them to the messages parked there during a move.
_LOSSY = ("message-ttl", "expires", "max-length", "max-length-bytes")


def parking_warnings(resources: Sequence[Resource]) -> list[str]:
    """A queue that keeps its messages on replace parks them in `topoctl.move.<queue>`: a declared
    policy or operator policy that matches that name and can drop messages is worth a warning."""
    from topoctl.providers.rabbitmq import swap

    policies = [*policies_of(resources), *_operator_policies(resources)]
    if not policies:
        return []
    out = []
    for r in resources:
        if r.kind != QUEUE or r.absent or r.attrs.get(swap.ON_REPLACE) != swap.MOVE_MESSAGES:
            continue
        vhost, name = r.address.name
        parking = swap.parking_queue(name)
        for p in policies:
            lossy = [k for k in _LOSSY if k in p.definition]
            if p.vhost == vhost and lossy and p.matches(QUEUE, parking):
                what = "operator policy" if p.resource.kind == OPERATOR_POLICY else "policy"
                out.append(
                    f"{r.source}: queue {name!r} parks its messages in {parking!r} while it is replaced, and {what}"
                    f" {p.name!r} (at {p.resource.source}) matches that name: its {', '.join(lossy)} would apply"
                    " to the parked messages"
                )
    return out
