"""Which vhosts a RabbitMQ plan reads (estate.vhosts_read): its own, or all when it must."""

from __future__ import annotations

from topoctl.model import Address, Resource
from topoctl.providers.base import PruneScope
from topoctl.providers.rabbitmq.estate import MAX_VHOSTS_READ_APART, vhosts_read

B = "r"


def res(kind: str, *name: str) -> Resource:
    return Resource(Address(B, kind, name), {})


def test_a_plan_reads_the_vhosts_it_declares_or_prunes() -> None:
    desired = [res("vhost", "a"), res("queue", "b", "q"), res("binding", "c", "x", "queue", "q", "k", "")]
    assert vhosts_read(desired, [PruneScope(frozenset({"queue"}), ("d",))]) == frozenset({"a", "b", "c", "d"})


def test_users_and_permissions_need_no_vhost_listing() -> None:
    desired = [res("user", "u"), res("permission", "v", "u")]
    assert vhosts_read(desired, [PruneScope(frozenset({"user"}))]) == frozenset()


def test_everything_is_read_when_the_plan_can_reach_any_vhost() -> None:
    queue = res("queue", "a", "q")
    assert vhosts_read([], []) is None  # an export
    assert vhosts_read([queue], [PruneScope()]) is None  # prune over the whole broker
    assert vhosts_read([queue], [PruneScope(frozenset({"vhost"}))]) is None  # pruned vhosts take queues along
    assert vhosts_read([queue, res("shovel", "a", "s")], []) is None  # its other end may be anywhere
    assert vhosts_read([queue, res("federation_upstream", "a", "u")], []) is None
    many = [res("queue", f"v{i}", "q") for i in range(MAX_VHOSTS_READ_APART + 1)]
    assert vhosts_read(many, []) is None
    assert vhosts_read(many[:MAX_VHOSTS_READ_APART], []) is not None


def test_message_counts_are_asked_for_only_where_a_plan_may_delete() -> None:
    from topoctl.providers.rabbitmq.estate import needing_counts
    from topoctl.providers.rabbitmq.swap import PARKED

    def live(vhost: str, name: str, **info: object) -> Resource:
        attrs = {"type": "classic", "durable": True, "auto_delete": False, "arguments": {}}
        return Resource(Address(B, "queue", (vhost, name)), attrs, info=info)

    observed = [
        Resource(Address(B, "vhost", ("a",)), {}),
        Resource(Address(B, "vhost", ("gone",)), {}),
        live("a", "same"),
        live("a", "other-type"),
        live("a", "absent"),
        live("a", "pruned"),
        live("a", "undeclared"),
        live("a", "moving", **{PARKED: {"queue": "topoctl.move.x"}}),
        live("a", "topoctl.move.x"),
        live("gone", "q"),
    ]
    desired = [
        Resource(Address(B, "queue", ("a", "same")), {"type": "classic"}),
        Resource(Address(B, "queue", ("a", "other-type")), {"type": "quorum"}),
        Resource(Address(B, "queue", ("a", "absent")), {}, absent=True),
        Resource(Address(B, "vhost", ("gone",)), {}, absent=True),
    ]
    prune = [PruneScope(frozenset({"queue"}), ("a",), "pruned")]
    counted = {a.name for a in needing_counts(observed, desired, prune)}
    assert counted == {
        ("a", "other-type"),  # a replace
        ("a", "absent"),
        ("a", "pruned"),
        ("a", "moving"),  # an unfinished move, and where its messages are parked
        ("a", "topoctl.move.x"),
        ("gone", "q"),  # goes with its vhost
    }
    assert needing_counts(observed[:4], [desired[0]], []) == set()  # a plan that deletes nothing


def test_counts_read_later_land_in_queues_vhosts_and_parked_moves() -> None:
    from topoctl.providers.rabbitmq.observe import with_counts
    from topoctl.providers.rabbitmq.swap import PARKED

    observed = [
        Resource(Address(B, "vhost", ("v",)), {}, info={"queues": 2, "messages": 0}),
        Resource(Address(B, "queue", ("v", "q")), {}, info={"consumers": 1, PARKED: {"queue": "p", "messages": None}}),
        Resource(Address(B, "queue", ("v", "p")), {}),
        Resource(Address(B, "queue", ("w", "r")), {}, info={"consumers": 0}),
    ]
    out = {str(r.address): r.info for r in with_counts(observed, {("v", "q"): 3, ("v", "p"): 4})}
    assert out["r/vhost/v"] == {"queues": 2, "messages": 7}
    assert out["r/queue/v/q"] == {"consumers": 1, "messages": 3, PARKED: {"queue": "p", "messages": 4}}
    assert out["r/queue/v/p"] == {"messages": 4}
    assert out["r/queue/w/r"] == {"consumers": 0}  # not counted: no count made up
