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
