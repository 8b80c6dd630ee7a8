"""Compile warnings about RabbitMQ policies: overlaps (only one policy applies to an object) and
queue arguments that a policy also sets."""

from __future__ import annotations

from pathlib import Path

from tests.cli import topoctl
from topoctl.manifest.loader import load_manifest

HEAD = """\
version: 1
brokers:
  r:
    type: rabbitmq
    vhosts:
      v:
"""


def warnings_of(tmp_path: Path, body: str) -> tuple[Path, list[str]]:
    path = tmp_path / "m.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    return path, load_manifest([str(path)], env={}).warnings


def test_same_priority_overlap_is_ambiguous_and_located(tmp_path: Path) -> None:
    path, warnings = warnings_of(
        tmp_path,
        """\
        queues:
          orders.billing: {}
          audit: {}
        policies:
          ttl: {pattern: "^orders\\\\.", apply_to: queues, priority: 1, definition: {message-ttl: 30s}}
          cap: {pattern: billing, apply_to: all, priority: 1, definition: {max-length: 5}}
""",
    )
    assert warnings == [
        f"{path}:12: policies 'ttl' and 'cap' in vhost 'v' both match queue 'orders.billing' at the same"
        " priority (1): RabbitMQ applies only one of them, and which one is not defined; give one a higher"
        f" priority (policy 'ttl' is at {path}:11)"
    ]


def test_different_priorities_name_the_policy_that_loses(tmp_path: Path) -> None:
    path, warnings = warnings_of(
        tmp_path,
        """\
        exchanges:
          orders.in: {type: topic}
        queues:
          orders.billing: {}
        policies:
          high: {pattern: "^orders", priority: 5, definition: {message-ttl: 1000}}
          low: {pattern: "in", priority: 2, definition: {alternate-exchange: x}}
""",
    )
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{path}:13: policy 'low' (priority 2) in vhost 'v' does not apply to")
    assert "exchange 'orders.in', queue 'orders.billing'" in warnings[0]  # re.search, as RabbitMQ does
    assert f"policy 'high' (priority 5, at {path}:12) matches too" in warnings[0]


def test_no_warning_without_a_common_object(tmp_path: Path) -> None:
    _, warnings = warnings_of(
        tmp_path,
        """\
        exchanges:
          audit: {type: fanout}
        queues:
          audit: {}
          jobs: {}
        policies:
          on-exchanges: {pattern: "^audit$", apply_to: exchanges, definition: {alternate-exchange: x}}
          on-queues: {pattern: "^audit$", apply_to: queues, definition: {max-length: 1}}
          jobs: {pattern: "^jobs$", apply_to: queues, definition: {max-length: 1}}
          nothing-yet: {pattern: "^later", apply_to: all, definition: {max-length: 1}}
          not-python: {pattern: "(?<n>a)?b", apply_to: all, definition: {max-length: 1}}
""",
    )
    assert warnings == []


def test_queue_arguments_that_a_policy_also_sets(tmp_path: Path) -> None:
    path, warnings = warnings_of(
        tmp_path,
        """\
        queues:
          jobs:
            arguments: {x-message-ttl: 1m, x-max-length: 10}
            dead_letter: {}
          same: {arguments: {x-message-ttl: 1m}}
        policies:
          jobs:
            pattern: "^(jobs|same)$"
            apply_to: queues
            definition: {message-ttl: 30s, dead-letter-exchange: x, max-length: 10}
""",
    )
    assert warnings == [
        f"{path}:8: queue 'jobs' in vhost 'v' sets x-dead-letter-exchange ('jobs.dlx') and policy 'jobs' sets"
        " dead-letter-exchange ('x'): the queue's argument wins, the policy's value does not apply",
        f"{path}:8: queue 'jobs', queue 'same' in vhost 'v' set x-message-ttl and policy 'jobs' sets message-ttl"
        " (30000) too: the smaller of the two values applies to each queue",
    ]


def test_one_queue_and_a_policy_name_which_value_applies(tmp_path: Path) -> None:
    path, warnings = warnings_of(
        tmp_path,
        """\
        queues:
          small: {arguments: {x-max-length-bytes: 1KiB}}
        policies:
          low: {pattern: ".", priority: 0, definition: {max-length-bytes: 1MiB}}
          high: {pattern: "^small$", priority: 9, definition: {max-length-bytes: 1GiB}}
""",
    )
    assert warnings[-1] == (
        f"{path}:8: queue 'small' in vhost 'v' sets x-max-length-bytes (1024) and policy 'high' sets"
        " max-length-bytes (1073741824): the smaller value applies, so the queue's argument decides"
    )


def test_validate_prints_the_warnings_on_stderr_and_succeeds(tmp_path: Path) -> None:
    path, _ = warnings_of(
        tmp_path,
        """\
        queues:
          q: {}
        policies:
          a: {pattern: q, definition: {max-length: 1}}
          b: {pattern: q, definition: {max-length: 2}}
""",
    )
    result = topoctl("validate", "-f", path)
    assert result.code == 0, str(result)
    assert f"Warning: {path}:11: policies 'a' and 'b'" in result.stderr
    assert "Warning" not in result.stdout


def test_queues_and_exchanges_depend_on_the_policies_that_match_them(tmp_path: Path) -> None:
    """So apply creates a policy before the objects it matches: RabbitMQ may never apply a policy
    to a queue declared at the same time."""
    from topoctl.engine.order import waves
    from topoctl.model import Action, Change, Plan

    path = tmp_path / "m.yaml"
    path.write_text(
        HEAD
        + """        exchanges:
          jobs.in: {type: fanout}
        queues:
          jobs.a: {}
          other: {}
        policies:
          ttl: {pattern: "^jobs", apply_to: queues, definition: {message-ttl: 1000}}
          ae: {pattern: "^jobs", apply_to: exchanges, definition: {alternate-exchange: x}}
          unreadable: {pattern: "(?<n>a)?b", apply_to: exchanges, definition: {alternate-exchange: y}}
""",
        encoding="utf-8",
    )
    resources = {str(r.address): r for r in load_manifest([str(path)], env={}).brokers["r"].resources}

    def policies_before(address: str) -> set[str]:
        return {str(d) for d in resources[address].depends_on if d.kind == "policy"}

    assert policies_before("r/queue/v/jobs.a") == {"r/policy/v/ttl"}
    assert policies_before("r/queue/v/other") == set()
    # A pattern Python cannot read may match: ordered after it too, to be safe.
    assert policies_before("r/exchange/v/jobs.in") == {"r/policy/v/ae", "r/policy/v/unreadable"}
    plan = Plan(
        tuple(Change(r.address, Action.CREATE, None, r.attrs, depends_on=r.depends_on) for r in resources.values())
    )
    order = {str(c.address): n for n, wave in enumerate(waves(plan)) for c in wave}
    assert order["r/policy/v/ttl"] < order["r/queue/v/jobs.a"]
