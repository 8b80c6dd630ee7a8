"""order.waves with KindSpec.created_together: RabbitMQ's new bindings share the wave of the new
exchanges and queues they need (one definitions import), and nothing else moves."""

from __future__ import annotations

import pytest

from topoctl.engine.order import waves
from topoctl.errors import PlanError
from topoctl.model import Action, Address, Change, Plan

BROKERS = {"r": "rabbitmq"}


def vhost(name: str = "v") -> Address:
    return Address("r", "vhost", (name,))


def exchange(name: str, v: str = "v") -> Address:
    return Address("r", "exchange", (v, name))


def queue(name: str, v: str = "v") -> Address:
    return Address("r", "queue", (v, name))


def policy(name: str, v: str = "v") -> Address:
    return Address("r", "policy", (v, name))


def binding(source: str, destination: str, v: str = "v") -> Address:
    return Address("r", "binding", (v, source, "queue", destination, "", ""))


def change(address: Address, action: Action = Action.CREATE, *depends_on: Address) -> Change:
    attrs = {"x": 1}
    before = None if action is Action.CREATE else attrs
    after = None if action is Action.DELETE else attrs
    return Change(address, action, before, after, depends_on=depends_on)


def shape(plan: Plan) -> list[set[tuple[str, str]]]:
    return [{(s.action.value, str(s.address)) for s in wave} for wave in waves(plan)]


B = str(Address("r", "binding", ("v", "orders", "queue", "billing", "", "")))


def fresh_vhost() -> tuple[Change, ...]:
    return (
        change(vhost()),
        change(exchange("orders"), Action.CREATE, vhost()),
        change(queue("billing"), Action.CREATE, vhost()),
        change(binding("orders", "billing"), Action.CREATE, vhost(), exchange("orders"), queue("billing")),
    )


def test_new_bindings_share_the_wave_of_their_new_exchange_and_queue() -> None:
    assert shape(Plan(fresh_vhost(), brokers=BROKERS)) == [
        {("create", "r/vhost/v")},
        {("create", "r/exchange/v/orders"), ("create", "r/queue/v/billing"), ("create", B)},
    ]


def test_a_plan_without_its_brokers_types_keeps_one_wave_per_level() -> None:
    assert len(waves(Plan(fresh_vhost()))) == 3
    assert len(waves(Plan(fresh_vhost(), brokers={"r": "no-such-type"}))) == 3


@pytest.mark.parametrize("action", [Action.REPLACE, Action.CREATE])
def test_a_replaced_queue_is_created_a_wave_before_its_binding(action: Action) -> None:
    """Its binding replaced with it (deleted first, created after it) or new."""
    changes = (
        change(queue("billing"), Action.REPLACE, vhost()),
        change(binding("orders", "billing"), action, vhost(), exchange("orders"), queue("billing")),
    )
    steps = shape(Plan(changes, brokers=BROKERS))
    assert steps[-2:] == [{("create", "r/queue/v/billing")}, {("create", B)}]
    deletes = [{("delete", B)}] if action is Action.REPLACE else []
    assert steps[:-2] == [*deletes, {("delete", "r/queue/v/billing")}]


def test_deletes_keep_their_order() -> None:
    changes = (
        change(queue("billing"), Action.DELETE, vhost()),
        change(binding("orders", "billing"), Action.DELETE, vhost(), exchange("orders"), queue("billing")),
    )
    assert shape(Plan(changes, brokers=BROKERS)) == [
        {("delete", B)},
        {("delete", "r/queue/v/billing")},
    ]


def test_other_dependencies_still_cost_a_wave() -> None:
    """A queue waits for a policy that matches it (and for its dead-letter queue), and its binding
    with it; a binding does not share a wave with a queue of another vhost or broker."""
    other_vhost = Address("r", "binding", ("w", "orders", "queue", "billing", "", ""))
    other_broker = Address("s", "binding", ("v", "orders", "queue", "billing", "", ""))
    changes = (
        change(policy("p")),
        change(queue("billing"), Action.CREATE, policy("p")),
        change(binding("orders", "billing"), Action.CREATE, queue("billing")),
        change(other_vhost, Action.CREATE, queue("billing")),
        change(other_broker, Action.CREATE, queue("billing")),
    )
    assert shape(Plan(changes, brokers={**BROKERS, "s": "rabbitmq"})) == [
        {("create", "r/policy/v/p")},
        {("create", "r/queue/v/billing"), ("create", B)},
        {("create", str(other_vhost)), ("create", str(other_broker))},
    ]


def test_queues_and_exchanges_do_not_share_a_wave_with_what_they_need() -> None:
    """Only a binding is declared created with its exchange and queue: a queue's dead-letter
    queue is still created a wave before it."""
    changes = (change(queue("dlq")), change(queue("billing"), Action.CREATE, queue("dlq")))
    assert len(waves(Plan(changes, brokers=BROKERS))) == 2


def test_a_cycle_through_a_shared_wave_is_still_an_error() -> None:
    changes = (
        change(queue("billing"), Action.CREATE, binding("orders", "billing")),
        change(binding("orders", "billing"), Action.CREATE, queue("billing")),
    )
    with pytest.raises(PlanError, match="dependency cycle"):
        waves(Plan(changes, brokers=BROKERS))


def test_a_long_chain_of_shared_waves_is_linear() -> None:
    """10,000 queues and a binding each: two waves, in well under a second."""
    import time

    changes = [change(vhost())]
    for i in range(5_000):
        changes.append(change(queue(f"q{i}"), Action.CREATE, vhost()))
        changes.append(change(binding("orders", f"q{i}"), Action.CREATE, vhost(), queue(f"q{i}")))
    started = time.process_time()
    result = waves(Plan(tuple(changes), brokers=BROKERS))
    assert time.process_time() - started < 1.0
    assert [len(w) for w in result] == [1, 10_000]
