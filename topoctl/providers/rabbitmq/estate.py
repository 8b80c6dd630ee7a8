"""What a plan reads beyond exchanges, queues, bindings and policies, and what it makes of it:
which listings a manifest needs, settling secrets, the connecting user. Pure.

Users, permissions and limits are read only when the manifest declares such objects, a prune scope
covers them, or an export reads everything: a plan of a manifest that declares none of them keeps
working for a user without the `administrator` tag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from topoctl.errors import PlanError
from topoctl.model import Address, Resource
from topoctl.providers import secrets
from topoctl.providers.base import KindSpec, PruneScope, covering
from topoctl.providers.rabbitmq.kinds import (
    BINDING,
    EXCHANGE,
    FEDERATION_UPSTREAM,
    OPERATOR_POLICY,
    PERMISSION,
    POLICY,
    QUEUE,
    SHOVEL,
    TOPIC_PERMISSION,
    USER,
    VHOST,
)
from topoctl.providers.rabbitmq.kinds import KINDS as RABBITMQ_KINDS
from topoctl.providers.rabbitmq.swap import PARKED, is_parking_queue
from topoctl.providers.rabbitmq.users import check_own_access, same_password

# Optional listings: LiveState field -> (path, what it is for messages).
LISTINGS = {
    "operator_policies": ("/api/operator-policies", "listing operator policies"),
    "users": ("/api/users?columns=name,password_hash,hashing_algorithm,tags", "listing users"),
    "user_limits": ("/api/user-limits", "listing user limits"),
    "vhost_limits": ("/api/vhost-limits", "listing vhost limits"),
    "permissions": ("/api/permissions", "listing permissions"),
    "topic_permissions": ("/api/topic-permissions", "listing topic permissions"),
    "shovels": ("/api/parameters/shovel", "listing shovels"),
    "federation_upstreams": ("/api/parameters/federation-upstream", "listing federation upstreams"),
}
_BY_KIND = {
    OPERATOR_POLICY: ("operator_policies",),
    USER: ("users", "user_limits", "permissions", "topic_permissions"),  # a deleted user takes its permissions
    PERMISSION: ("permissions", "users"),
    TOPIC_PERMISSION: ("topic_permissions", "users"),
    SHOVEL: ("shovels",),
    FEDERATION_UPSTREAM: ("federation_upstreams",),
}
GUEST = "guest"
_UNSET = object()
# Up to this many vhosts are read one by one (four listings each, all at once); beyond it, one
# cluster-wide listing of each kind costs fewer round trips than the per-vhost ones.
MAX_VHOSTS_READ_APART = 8
# Kinds whose objects live in one vhost and whose plans need that vhost's queues, exchanges,
# bindings and policies (exposure, dead-letter targets, policy overlaps): all within the vhost.
_IN_VHOST = frozenset({VHOST, EXCHANGE, QUEUE, BINDING, POLICY, OPERATOR_POLICY})


def exploring(desired: Sequence[Resource], prune: Sequence[PruneScope]) -> bool:
    """An export: nothing desired, nothing pruned, so everything is read."""
    return not desired and not prune


def vhosts_read(desired: Sequence[Resource], prune: Sequence[PruneScope]) -> frozenset[str] | None:
    """The vhosts whose exchanges, queues, bindings and policies a plan reads; None: all of them.

    A plan of one team's vhost need not wait for every other vhost's objects (on a shared broker
    they can be most of it). Everything is read for an export, a prune scope over the whole broker
    (a pruned vhost takes its queues along: their messages are the delete's exposure), shovels and
    federation (their other end may be in any vhost), and more vhosts than are worth reading apart.
    """
    if exploring(desired, prune) or any(not s.parent and (not s.kinds or s.kinds & _IN_VHOST) for s in prune):
        return None
    out = {s.parent[0] for s in prune if s.parent}
    for r in desired:
        if r.kind in (SHOVEL, FEDERATION_UPSTREAM):
            return None
        if r.kind in _IN_VHOST:
            out.add(r.address.name[0])
    return frozenset(out) if len(out) <= MAX_VHOSTS_READ_APART else None


def needing_counts(
    observed: Sequence[Resource], desired: Sequence[Resource], prune: Sequence[PruneScope]
) -> set[Address]:
    """The live queues whose message counts a plan shows: those a delete or a replace may take
    (declared absent, pruned, in a vhost that goes, declared otherwise than they are: a queue
    changes nothing in place) and the parking queues of unfinished moves.

    Counting every queue's messages costs the broker as long again as listing the queues (0.5 s
    more for 5,000 queues); a plan that deletes nothing asks for no count at all."""
    wanted = {r.address: r for r in desired}
    pruned = covering(prune)
    queue_kind = RABBITMQ_KINDS[QUEUE]
    going: set[str] = set()  # vhosts a plan may delete, with every queue in them
    for r in observed:
        if r.kind == VHOST:
            want = wanted.get(r.address)
            if (want is not None and want.absent) or (want is None and pruned(r.address)):
                going.add(r.address.name[0])
    out: set[Address] = set()
    for r in observed:
        if r.kind != QUEUE:
            continue
        want = wanted.get(r.address)
        if r.address.name[0] in going or is_parking_queue(r.address.name[1]) or PARKED in r.info:
            out.add(r.address)
        elif want is None:
            if pruned(r.address):
                out.add(r.address)
        elif want.absent or _differs(queue_kind, want, r):
            out.add(r.address)
    return out


def _differs(kind: KindSpec, want: Resource, have: Resource) -> bool:
    live = have.attrs
    if all(live.get(k, _UNSET) == v for k, v in want.attrs.items()):  # the common case, at once
        return False
    try:
        return bool(kind.field_changes(want, have))
    except PlanError:  # the diff says so in its own words; counting the queue costs nothing
        return True


def needs(desired: Sequence[Resource], prune: Sequence[PruneScope]) -> set[str]:
    """The optional listings (LiveState fields) this plan needs."""
    if exploring(desired, prune):
        return set(LISTINGS)
    out: set[str] = set()
    kinds = {r.kind for r in desired}
    for kind, listings in _BY_KIND.items():
        if kind in kinds or any(s.kinds and kind in s.kinds for s in prune):
            out.update(listings)
    if any(r.kind == VHOST and "limits" in r.attrs for r in desired):
        out.add("vhost_limits")
    return out


def settle(observed: Sequence[Resource], desired: Sequence[Resource]) -> list[Resource]:
    """Observed secret fields compared with the declared ones (see topoctl.providers.secrets)."""
    wanted = {r.address: r for r in desired if secrets.declared(r)}
    if not wanted:
        return list(observed)
    out = []
    for r in observed:
        want = wanted.get(r.address)
        if want is not None:
            r = secrets.settle(r, want, same_password if r.kind == USER else secrets.same_value)
        out.append(r)
    return out


def own_users(
    broker: str,
    observed: Sequence[Resource],
    desired: Sequence[Resource],
    me: str | None,
    password: str,
) -> list[Resource]:
    """Checks the plan against the user topoctl connects as (`me`), and leaves it and `guest` out
    of the observed state unless the manifest declares them: an undeclared one is never pruned,
    exported or touched. Also refuses permissions of users that exist nowhere."""
    declared = {r.address for r in desired}
    users_read = any(r.kind == USER for r in observed)
    if me is not None:
        live_me = next((r for r in observed if r.kind == USER and r.address.name[0] == me), None)
        tags = live_me.attrs.get("tags") if live_me is not None else None
        check_own_access(broker, me, password, desired, tags if isinstance(tags, list) else None)
    if users_read:
        _users_exist(broker, observed, desired)
    out = []
    for r in observed:
        if r.address not in declared and _own(r, me):
            continue
        out.append(r)
    return out


def _own(r: Resource, me: str | None) -> bool:
    if r.kind == USER:
        return r.address.name[0] in (me, GUEST)
    if r.kind in (PERMISSION, TOPIC_PERMISSION):
        return r.address.name[1] == me
    return False


def _users_exist(broker: str, observed: Sequence[Resource], desired: Sequence[Resource]) -> None:
    live = {r.address.name[0] for r in observed if r.kind == USER}
    present = {r.address.name[0] for r in desired if r.kind == USER and not r.absent}
    for r in desired:
        if r.kind in (PERMISSION, TOPIC_PERMISSION) and not r.absent:
            user = r.address.name[1]
            if user not in live and user not in present:
                where = f"{r.source}: " if r.source else ""
                raise PlanError(
                    f"broker {broker!r}: {where}user {user!r} does not exist on the broker and is not declared"
                    " under users:; declare it (or create it) before giving it permissions"
                )


def secrets_by_address(desired: Sequence[Resource]) -> dict[Address, Mapping[str, object]]:
    return {r.address: secrets.declared(r) for r in desired if secrets.declared(r)}
