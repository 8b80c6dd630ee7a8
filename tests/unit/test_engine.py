from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from topoctl.engine import planner
from topoctl.engine.applier import apply_plan, execute, refuse_destructive
from topoctl.engine.diff import diff
from topoctl.engine.order import waves
from topoctl.engine.planner import Session
from topoctl.errors import (
    ApplyError,
    BrokerError,
    DestructiveRefused,
    Interrupted,
    PlanError,
    StalePlanError,
    TopoctlError,
)
from topoctl.model import Action, Address, Change, FieldChange, Plan, Resource
from topoctl.providers.base import KindSpec, PruneScope

from .fakes import KINDS, FakeBroker, FakeDriver, binding, ex, fake_manifest, q


def spec_of(address: Address):  # type: ignore[no-untyped-def]
    return KINDS[address.kind]


def actions(plan: Plan) -> dict[str, str]:
    return {str(c.address): c.action.value for c in plan.changes}


def test_create_update_replace_delete_and_noop() -> None:
    desired = [
        q("new", type="quorum"),
        q("same", type="classic"),
        q("tuned", type="classic", limit=10),
        q("retyped", type="quorum"),
        replace(q("gone"), absent=True),
    ]
    observed = [
        q("same", type="classic", extra="undeclared is not compared"),
        q("tuned", type="classic", limit=5),
        q("retyped", type="classic"),
        Resource(Address("b", "queue", ("v", "gone")), {"type": "classic"}, info={"messages": 3}),
    ]
    plan = diff(desired, observed, spec_of)
    assert actions(plan) == {
        "b/queue/v/new": "create",
        "b/queue/v/tuned": "update",
        "b/queue/v/retyped": "replace",
        "b/queue/v/gone": "delete",
    }
    by = {str(c.address): c for c in plan.changes}
    assert [(f.field, f.before, f.after) for f in by["b/queue/v/tuned"].fields] == [("limit", 5, 10)]
    retyped = by["b/queue/v/retyped"]
    assert retyped.destructive and retyped.fields[0].forces_replacement
    assert any("type cannot change in place" in r for r in retyped.reasons)
    assert by["b/queue/v/gone"].reasons == ("3 messages will be lost",)
    assert (plan.summary.add, plan.summary.change, plan.summary.destroy) == (2, 1, 2)


def test_absent_resource_that_does_not_exist_plans_nothing() -> None:
    assert diff([replace(q("x"), absent=True)], [], spec_of).empty


def test_nothing_is_deleted_without_prune_and_prune_is_scoped() -> None:
    observed = [q("app.one"), q("app.two"), q("other")]
    assert diff([q("app.one")], observed, spec_of).empty
    scoped = diff([q("app.one")], observed, spec_of, prune={"b": [PruneScope(frozenset({"queue"}), ("v",), "app.")]})
    assert actions(scoped) == {"b/queue/v/app.two": "delete"}


def test_replaced_queue_takes_its_bindings_and_they_are_recreated() -> None:
    desired = [ex("orders", type="topic"), q("billing", type="quorum"), binding("orders", "billing", "k")]
    observed = [
        ex("orders", type="topic"),
        q("billing", type="classic"),
        binding("orders", "billing", "k"),
        binding("orders", "billing", "undeclared"),
    ]
    plan = diff(desired, observed, spec_of)
    assert actions(plan) == {"b/queue/v/billing": "replace", "b/binding/v/orders/billing/k": "replace"}
    queue = next(c for c in plan.changes if c.kind == "queue")
    assert "also removes b/binding/v/orders/billing/undeclared" in queue.reasons


def test_targets_include_dependencies_and_cascades() -> None:
    desired = [ex("orders", type="topic"), q("billing"), binding("orders", "billing"), q("unrelated")]
    plan = diff(desired, [], spec_of, targets=["b/binding"])
    assert set(actions(plan)) == {"b/binding/v/orders/billing/", "b/exchange/v/orders", "b/queue/v/billing"}
    assert actions(diff(desired, [], spec_of, targets=["b/queue/v/unrelated"])) == {"b/queue/v/unrelated": "create"}


def test_waves_respect_dependencies_and_split_replaces() -> None:
    desired = [ex("orders", type="topic"), q("billing", type="quorum"), binding("orders", "billing")]
    observed = [q("billing", type="classic"), binding("orders", "billing"), q("old")]
    plan = diff([*desired, replace(q("old"), absent=True)], observed, spec_of)
    steps = [[(s.action.value, str(s.address)) for s in wave] for wave in waves(plan)]
    flat = [s for wave in steps for s in wave]
    position = {s: i for i, wave in enumerate(steps) for s in wave}
    # Deletes first, a binding before its queue; creates after, the queue and exchange before the binding.
    assert position[("delete", "b/binding/v/orders/billing/")] < position[("delete", "b/queue/v/billing")]
    assert position[("create", "b/queue/v/billing")] < position[("create", "b/binding/v/orders/billing/")]
    assert position[("create", "b/exchange/v/orders")] < position[("create", "b/binding/v/orders/billing/")]
    assert max(i for (a, _), i in position.items() if a == "delete") < min(
        i for (a, _), i in position.items() if a == "create"
    )
    assert len(flat) == 6


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBroker]:
    fake = FakeBroker()
    yield fake


def session_for(monkeypatch: pytest.MonkeyPatch, broker: FakeBroker, resources: list[Resource]) -> Session:
    manifest, info = fake_manifest(broker, resources)
    monkeypatch.setattr(planner, "provider", lambda _type: info)
    return Session(manifest)


def test_apply_then_plan_is_empty(monkeypatch: pytest.MonkeyPatch, broker: FakeBroker) -> None:
    desired = [ex("orders", type="topic"), q("billing", type="quorum"), binding("orders", "billing")]
    broker.put(q("billing", type="classic"))
    session = session_for(monkeypatch, broker, desired)
    plan = session.plan()
    result = execute(session, plan)
    assert (result.added, result.changed, result.destroyed) == (3, 0, 1)
    assert session.plan().empty


def test_a_plan_is_ordered_once_for_its_check_and_apply(monkeypatch: pytest.MonkeyPatch, broker: FakeBroker) -> None:
    ordered: list[Plan] = []
    monkeypatch.setattr(planner, "waves", lambda plan: ordered.append(plan) or waves(plan))
    session = session_for(monkeypatch, broker, [ex("orders", type="topic"), q("billing"), binding("orders", "billing")])
    plan = session.plan()
    assert ordered == [plan]  # the plan as returned, with its brokers' types (their waves may differ)
    assert execute(session, plan).added == 3
    assert ordered == [plan]
    session.plan()  # another plan is ordered again
    assert len(ordered) == 2


def test_destructive_plan_is_refused_before_anything_runs(monkeypatch: pytest.MonkeyPatch, broker: FakeBroker) -> None:
    broker.put(q("billing", type="classic"))
    manifest, info = fake_manifest(broker, [q("billing", type="quorum"), q("new")])
    monkeypatch.setattr(planner, "provider", lambda _type: info)
    plan = planner.make_plan(manifest)
    with pytest.raises(DestructiveRefused, match="b/queue/v/billing"):
        apply_plan(plan, manifest)
    assert broker.calls == []
    refuse_destructive(plan, allow_destructive=True)


def test_saved_plan_is_stale_when_a_touched_object_changed(monkeypatch: pytest.MonkeyPatch, broker: FakeBroker) -> None:
    broker.put(q("billing", type="classic", limit=1))
    session = session_for(monkeypatch, broker, [q("billing", type="classic", limit=2)])
    plan = Plan.from_json(session.plan().to_json())  # as if saved and read back
    session.check_fresh(plan)
    broker.put(q("billing", type="classic", limit=7))
    with pytest.raises(StalePlanError, match="saved plan is stale: b/queue/v/billing"):
        session.check_fresh(plan)
    broker.objects.clear()
    with pytest.raises(StalePlanError):
        session.check_fresh(plan)


def test_failure_stops_after_its_wave_and_reports_progress(monkeypatch: pytest.MonkeyPatch, broker: FakeBroker) -> None:
    desired = [ex("orders", type="topic"), q("billing"), binding("orders", "billing")]
    broker.fail_on.add("b/queue/v/billing")
    session = session_for(monkeypatch, broker, desired)
    with pytest.raises(ApplyError) as err:
        execute(session, session.plan(), parallelism=4)
    assert "b/queue/v/billing: refused" in str(err.value)
    assert "1 added" in str(err.value)
    assert ("create", "b/binding/v/orders/billing/") not in broker.calls


def test_unreachable_broker_is_a_broker_error(monkeypatch: pytest.MonkeyPatch, broker: FakeBroker) -> None:
    broker.down = True
    session = session_for(monkeypatch, broker, [q("x")])
    with pytest.raises(BrokerError, match=r"broker 'b' \(fake://local\): cannot connect"):
        session.plan()


def test_plan_round_trips_through_json() -> None:
    plan = diff([q("a", type="quorum"), q("b")], [q("a", type="classic")], spec_of)
    again = Plan.from_json(plan.to_json())
    assert again.to_json() == plan.to_json()
    assert [c.action for c in again.changes] == [Action.REPLACE, Action.CREATE]


def test_many_lost_dependents_are_summarised() -> None:
    observed = [q("billing", type="classic")] + [binding(f"ex{i}", "billing") for i in range(25)]
    plan = diff([replace(q("billing"), absent=True)], observed, spec_of)
    (change,) = plan.changes
    assert len(change.reasons) == 11
    assert change.reasons[-1] == "also removes 15 more object(s) that depend on it"


def test_every_unreachable_broker_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    fakes = {"b": FakeBroker(), "c": FakeBroker(), "ok": FakeBroker()}
    fakes["b"].down = fakes["c"].down = True
    manifest, info = fake_manifest(fakes["ok"], [q("x")])
    by_name = replace(info, driver=lambda name, connection: FakeDriver(name, connection, fakes[name]))
    brokers = {name: replace(manifest.brokers["b"], name=name) for name in fakes}
    monkeypatch.setattr(planner, "provider", lambda _type: by_name)
    with pytest.raises(TopoctlError) as err:
        Session(replace(manifest, brokers=brokers)).plan()
    message = str(err.value)
    assert message.startswith("2 brokers cannot be read:")
    assert "broker 'b' (fake://local)" in message and "broker 'c' (fake://local)" in message
    assert "'ok'" not in message


def test_changes_carry_their_kinds_units_through_json() -> None:
    timed = KindSpec("stream", units={"max_age": "ns"})
    plan = diff([Resource(Address("b", "stream", ("S",)), {"max_age": 86_400_000_000_000})], [], lambda a: timed)
    (change,) = plan.changes
    assert change.units == {"max_age": "ns"}
    assert Plan.from_json(plan.to_json()).changes[0].units == {"max_age": "ns"}


def test_a_dependency_cycle_is_a_plan_error_naming_it() -> None:
    a = Resource(Address("b", "queue", ("v", "a")), {}, depends_on=(Address("b", "queue", ("v", "b")),))
    b = Resource(Address("b", "queue", ("v", "b")), {}, depends_on=(Address("b", "queue", ("v", "a")),))
    plan = diff([a, b], [], spec_of)
    with pytest.raises(PlanError, match=r"dependency cycle: b/queue/v/a -> b/queue/v/b -> b/queue/v/a"):
        waves(plan)


def test_saved_plan_is_stale_when_a_replace_loses_more(monkeypatch: pytest.MonkeyPatch, broker: FakeBroker) -> None:
    """The approved replace lost 0 messages; 4 arrived since: applying it would lose them unseen."""
    broker.put(replace(q("billing", type="classic"), info={"messages": 0, "consumers": 0}))
    session = session_for(monkeypatch, broker, [q("billing", type="quorum")])
    plan = Plan.from_json(session.plan().to_json())
    assert plan.changes[0].exposure == {"b/queue/v/billing": {"messages": 0}}
    broker.put(replace(q("billing", type="classic"), info={"messages": 0, "consumers": 3}))
    session.check_fresh(plan)  # consumers come and go: not something a delete loses
    broker.put(replace(q("billing", type="classic"), info={"messages": 4}))
    with pytest.raises(StalePlanError, match=r"b/queue/v/billing: messages 0 -> 4"):
        session.check_fresh(plan)


def test_fewer_messages_at_risk_keep_a_saved_plan_fresh(monkeypatch: pytest.MonkeyPatch, broker: FakeBroker) -> None:
    broker.put(replace(q("billing", type="classic"), info={"messages": 9}))
    session = session_for(monkeypatch, broker, [replace(q("billing"), absent=True)])
    plan = Plan.from_json(session.plan().to_json())
    broker.put(replace(q("billing", type="classic"), info={"messages": 2}))
    session.check_fresh(plan)


def test_saved_plan_is_stale_when_a_delete_would_take_a_new_dependent(
    monkeypatch: pytest.MonkeyPatch, broker: FakeBroker
) -> None:
    """Deleting an exchange takes its bindings (the kind cascades, transitively); one bound after the
    plan was saved was never reviewed."""
    broker.put(ex("orders", type="topic"))
    broker.put(q("billing"))
    broker.put(binding("orders", "billing"))
    session = session_for(monkeypatch, broker, [replace(ex("orders"), absent=True), q("billing")])
    plan = Plan.from_json(session.plan().to_json())
    assert set(plan.changes[0].exposure) == {"b/exchange/v/orders", "b/binding/v/orders/billing/"}
    session.check_fresh(plan)
    broker.put(binding("orders", "billing", "late"))
    with pytest.raises(StalePlanError, match="b/binding/v/orders/billing/late would now be deleted with it"):
        session.check_fresh(plan)


def test_each_completed_change_of_a_failed_wave_counts(monkeypatch: pytest.MonkeyPatch, broker: FakeBroker) -> None:
    """A failure early in a wave must not hide the changes that completed after it."""
    desired = [q(f"q{i}") for i in range(6)]
    broker.fail_on.add("b/queue/v/q0")
    session = session_for(monkeypatch, broker, desired)
    with pytest.raises(ApplyError, match="5 added"):
        execute(session, session.plan(), parallelism=4)


def test_an_exact_address_target_selects_only_that_address() -> None:
    """Binding addresses end in `/` or `//`: the exact one must not pick its siblings, and a prefix
    matches whole segments only (`.../q` is not a prefix of `.../q2`)."""
    empty_key = Address("r", "binding", ("v", "x", "queue", "q", "", ""))
    other = Address("r", "binding", ("v", "x", "queue", "q", "k", "3807d1168e7b"))
    sibling = Address("r", "binding", ("v", "x", "queue", "q2", "", ""))
    assert str(empty_key) == "r/binding/v/x/queue/q//"
    assert empty_key.matches("r/binding/v/x/queue/q//")
    assert not other.matches("r/binding/v/x/queue/q//")
    assert {a.matches("r/binding/v/x/queue/q") for a in (empty_key, other)} == {True}
    assert not sibling.matches("r/binding/v/x/queue/q")
    assert other.matches("r") and other.matches("r/binding") and not other.matches("r/bind")


def test_a_failed_apply_says_what_was_applied_failed_and_not_attempted(
    monkeypatch: pytest.MonkeyPatch, broker: FakeBroker
) -> None:
    """Replace of `billing` (two steps), two creates, one failing; the binding's wave never runs."""
    broker.put(q("billing", type="classic"))
    desired = [q("billing", type="quorum"), ex("orders", type="topic"), q("new"), binding("orders", "new")]
    broker.fail_on.add("b/queue/v/new")
    session = session_for(monkeypatch, broker, desired)
    with pytest.raises(ApplyError) as err:
        execute(session, session.plan(), parallelism=4)
    text = str(err.value)
    assert "2 of 4 changes applied; 1 failed; 1 not attempted." in text
    assert "Resources: 2 added, 0 changed, 1 destroyed." in text


def test_a_replace_caught_halfway_is_named(monkeypatch: pytest.MonkeyPatch, broker: FakeBroker) -> None:
    broker.put(q("billing", type="classic"))
    session = session_for(monkeypatch, broker, [q("billing", type="quorum")])
    plan = session.plan()
    broker.fail_on.add("b/queue/v/billing")
    calls = 0
    real = FakeDriver.apply_one

    def fail_on_create(self: FakeDriver, change: Change) -> None:
        nonlocal calls
        calls += 1
        if change.action is Action.CREATE:
            raise BrokerError("b", "fake://local", "refused")
        self.broker.fail_on.clear()
        real(self, change)

    monkeypatch.setattr(FakeDriver, "apply_one", fail_on_create)
    with pytest.raises(ApplyError) as err:
        execute(session, plan)
    assert "0 of 1 changes applied; 1 failed; 0 not attempted." in str(err.value)
    assert "b/queue/v/billing was deleted for its replace and is not created yet" in str(err.value)


def test_a_stopped_apply_starts_nothing_new_and_says_so(monkeypatch: pytest.MonkeyPatch, broker: FakeBroker) -> None:
    """SIGTERM in the middle of a wave: the change in flight finishes, nothing after it starts."""
    session = session_for(monkeypatch, broker, [q(f"q{i}") for i in range(5)])
    plan = session.plan()
    real = FakeDriver.apply_one

    def stop_after_first(self: FakeDriver, change: Change) -> None:
        real(self, change)
        session.stop("Terminated (SIGTERM)", 143)

    monkeypatch.setattr(FakeDriver, "apply_one", stop_after_first)
    with pytest.raises(Interrupted) as err:
        execute(session, plan, parallelism=1)
    assert err.value.exit_code == 143
    assert "Terminated (SIGTERM): no new change was started after it." in str(err.value)
    assert "1 of 5 changes applied; 0 failed; 4 not attempted." in str(err.value)
    assert len(broker.calls) == 1


def test_a_replace_names_each_map_key_that_forces_it_with_both_values() -> None:
    """Never a truncated dictionary: `arguments.x-max-length cannot change in place (1000 -> 5000)`."""
    spec = KindSpec("queue", immutable=frozenset({"arguments", "type"}))
    before = {"arguments": {"x-max-length": 1000, "x-overflow": "reject-publish", "x-queue-mode": "lazy"}}
    after = {"arguments": {"x-max-length": 5000, "x-overflow": "reject-publish", "x-dead-letter-exchange": "dlx"}}
    (change,) = spec.field_changes(
        Resource(Address("b", "queue", ("v", "q")), after), Resource(Address("b", "queue", ("v", "q")), before)
    )
    assert spec.replace_reason(change) == (
        "arguments.x-dead-letter-exchange cannot change in place (unset -> dlx); "
        "arguments.x-max-length cannot change in place (1000 -> 5000); "
        "arguments.x-queue-mode cannot change in place (lazy -> unset)"
    )
    flag = FieldChange("durable", True, False, forces_replacement=True)
    assert spec.replace_reason(flag) == "durable cannot change in place (true -> false)"


def test_changes_of_a_failed_wave_that_never_started_are_not_attempted(
    monkeypatch: pytest.MonkeyPatch, broker: FakeBroker
) -> None:
    """One at a time, the wave stops at its failure: what comes after it did not fail, it never ran."""
    broker.fail_on.add("b/queue/v/q2")
    session = session_for(monkeypatch, broker, [q(f"q{i}") for i in range(5)])
    with pytest.raises(ApplyError) as err:
        execute(session, session.plan(), parallelism=1)
    assert "2 of 5 changes applied; 1 failed; 2 not attempted." in str(err.value)
