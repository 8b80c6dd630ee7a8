"""`topoctl lint`: the shipped rules, a team's rules from the config, inline suppressions, the three
output formats (SARIF validated against the SARIF 2.1.0 schema) and the exit codes. Offline."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.cli import topoctl

ROOT = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = ROOT / "tests" / "schemas" / "sarif-2.1.0-rtm.5.json"

MANIFEST = """\
version: 1
brokers:
  shop-rabbit:
    type: rabbitmq
    connection: {url: "http://127.0.0.1:15672", username: guest, password: guest}
    vhosts:
      shop:
        prune: true
        queues:
          billing: {type: quorum, dead_letter: {max_deliveries: 5}}
          Shipping Queue: {type: classic}
          retry.wait: {type: quorum}
        policies:
          retry-dlx: {pattern: '^retry\\.', apply_to: queues, definition: {dead-letter-exchange: amq.direct}}
  events:
    type: kafka
    connection: {bootstrap_servers: "127.0.0.1:9092"}
    topics:
      orders.v1:
        partitions: 3
        replication_factor: 1
        config: {retention.ms: 400d}
      audit: {partitions: 1, replication_factor: 3, config: {retention.ms: 7d}}
  edge:
    type: nats
    connection: {servers: ["nats://127.0.0.1:4222"]}
    streams:
      ORDERS:
        subjects: [orders.>]
        replicas: 3
        max_age: 30d
        consumers:
          billing: {ack_policy: explicit, max_deliver: 5, dead_letter: {}}
          shipping: {ack_policy: explicit}
          audit: {ack_policy: none}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def lint_json(*args: str | Path) -> tuple[int, dict[str, Any]]:
    result = topoctl("lint", *args, "--format", "json")
    assert result.code in (0, 1), str(result)
    return result.code, result.json


def found(document: dict[str, Any], rule: str) -> list[tuple[int, str]]:
    """(line, address) of the active findings of one rule."""
    return [(f["line"], f["address"]) for f in document["findings"] if f["rule"] == rule and "suppressed" not in f]


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .topoctl-lint.yaml of the repository is picked up
    return write(tmp_path, "shop.yaml", MANIFEST)


def test_every_shipped_rule_finds_its_case_at_the_right_line(manifest: Path) -> None:
    code, doc = lint_json("-f", manifest)
    assert code == 1  # prune without a prefix is an error
    assert found(doc, "prune-needs-prefix") == [(8, None)]
    assert found(doc, "naming") == [(11, "shop-rabbit/queue/shop/Shipping Queue")]
    # billing has dead_letter, retry.wait gets one from its policy, the generated DLQ is a target;
    # the audit consumer acks nothing, so nothing is redelivered.
    assert found(doc, "dead-letter-required") == [
        (11, "shop-rabbit/queue/shop/Shipping Queue"),
        (34, "edge/consumer/ORDERS/shipping"),
    ]
    assert found(doc, "quorum-queues") == [(11, "shop-rabbit/queue/shop/Shipping Queue")]
    # The replication_factor line; the generated DLQ stream has the default, one replica.
    assert found(doc, "min-replication") == [(21, "events/topic/orders.v1"), (33, "edge/stream/DLQ_ORDERS")]
    assert found(doc, "retention-bounds") == [(22, "events/topic/orders.v1")]  # 400d > 90d
    severities = {f["rule"]: f["severity"] for f in doc["findings"]}
    assert severities["prune-needs-prefix"] == "error" and severities["naming"] == "warning"
    assert doc["summary"] == {"error": 1, "warning": 7, "note": 0, "suppressed": 0}


def test_a_clean_manifest_has_no_findings_and_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    clean = write(
        tmp_path,
        "clean.yaml",
        """\
        version: 1
        brokers:
          events:
            type: kafka
            connection: {bootstrap_servers: "127.0.0.1:9092"}
            prune: {prefix: team-a.}
            topics:
              team-a.orders: {partitions: 3, replication_factor: 3, config: {retention.ms: 7d}}
        """,
    )
    result = topoctl("lint", "-f", clean)
    assert result.code == 0, str(result)
    assert result.stdout == "No findings.\n"


def test_text_output_is_file_line_severity_rule_message(manifest: Path) -> None:
    result = topoctl("lint", "-f", manifest)
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert f"{manifest}:8: error [prune-needs-prefix] prune without a prefix on vhost 'shop' of broker" in lines[0]
    assert lines[-1] == "1 error, 7 warnings."
    assert result.stderr == ""


def test_prune_is_fine_with_a_prefix_or_nothing_to_delete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    base = """\
    version: 1
    brokers:
      events:
        type: kafka
        connection: {bootstrap_servers: "127.0.0.1:9092"}
        prune: PRUNE
        topics:
          t.orders: {partitions: 1, replication_factor: 3}
    """
    results = {}
    for value in ("true", "{prefix: t.}", "{config: true}", "{topics: true}", "false"):
        path = write(tmp_path, "p.yaml", base.replace("PRUNE", value))
        results[value] = [f["rule"] for f in lint_json("-f", path)[1]["findings"]]
    assert results == {
        "true": ["prune-needs-prefix"],
        "{prefix: t.}": [],
        "{config: true}": [],
        "{topics: true}": ["prune-needs-prefix"],
        "false": [],
    }


def test_inline_suppressions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = (
        MANIFEST.replace(
            "        prune: true\n", "        prune: true  # topoctl:ignore prune-needs-prefix we own the vhost\n"
        )
        .replace(
            "          Shipping Queue: {type: classic}\n",
            "          # topoctl:ignore naming,quorum-queues,dead-letter-required legacy queue, goes in Q3\n"
            "          Shipping Queue: {type: classic}\n",
        )
        .replace("        replication_factor: 1\n", "        replication_factor: 1  # topoctl:ignore min-replication\n")
        .replace(
            "      audit: {partitions",
            "      # topoctl:ignore naming not a naming problem here\n      audit: {partitions",
        )
    )
    path = write(tmp_path, "shop.yaml", text)
    code, doc = lint_json("-f", path)
    suppressed = {(f["rule"], f["suppressed"]) for f in doc["findings"] if "suppressed" in f}
    assert suppressed == {
        ("prune-needs-prefix", "we own the vhost"),
        ("naming", "legacy queue, goes in Q3"),
        ("quorum-queues", "legacy queue, goes in Q3"),
        ("dead-letter-required", "legacy queue, goes in Q3"),
        ("min-replication", "(no reason given)"),
    }
    # A suppression without a reason still suppresses but is reported; one that covers nothing too.
    assert found(doc, "suppression-reason") == [(22, None)]
    assert found(doc, "unused-suppression") == [(24, None)]
    assert code == 0  # the one error is suppressed
    assert doc["summary"]["suppressed"] == 5


def test_a_suppression_for_another_rule_does_not_hide_a_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "shop.yaml", MANIFEST.replace("prune: true", "prune: true  # topoctl:ignore naming because"))
    _, doc = lint_json("-f", path)
    assert found(doc, "prune-needs-prefix") == [(8, None)]
    assert found(doc, "unused-suppression") == [(8, None)]


def test_team_rules_and_default_settings_from_the_config(manifest: Path, tmp_path: Path) -> None:
    write(
        tmp_path,
        ".topoctl-lint.yaml",
        """\
        defaults:
          prune-needs-prefix: off
          dead-letter-required: error
          quorum-queues: note
          min-replication: {min: 1}
          retention-bounds: {max: 365d, severity: error}
          naming:
            patterns: {kafka/topic: '^[a-z]+\\.v[0-9]+$'}
        rules:
          - id: team-retention
            kind: kafka/topic
            field: config.retention.ms
            condition: {max: 14d}
            severity: error
            message: topics keep data two weeks at most
          - id: quorum-limit
            kind: [queue]
            where: {type: quorum}
            name: '^billing$'
            field: arguments.x-delivery-limit
            condition: {max: 3}
            severity: warning
          - id: consumer-ack
            kind: nats/consumer
            field: ack_policy
            condition: {in: [explicit]}
          - id: topic-partitions
            kind: topic
            field: partitions
            condition: {required: true, min: 2}
            severity: note
        """,
    )
    code, doc = lint_json("-f", manifest)  # the config in the current directory is found
    assert doc["config"] == ".topoctl-lint.yaml"
    rules = {f["rule"] for f in doc["findings"]}
    assert "prune-needs-prefix" not in rules
    assert found(doc, "min-replication") == []
    assert found(doc, "retention-bounds") == [(22, "events/topic/orders.v1")]
    assert found(doc, "naming") == [
        (11, "shop-rabbit/queue/shop/Shipping Queue"),  # the default pattern, still
        (23, "events/topic/audit"),
    ]
    assert found(doc, "team-retention") == [(22, "events/topic/orders.v1")]
    assert found(doc, "quorum-limit") == [(10, "shop-rabbit/queue/shop/billing")]
    assert found(doc, "consumer-ack") == [(35, "edge/consumer/ORDERS/audit")]
    assert found(doc, "topic-partitions") == [(23, "events/topic/audit")]
    by_rule = {f["rule"]: f for f in doc["findings"]}
    assert by_rule["team-retention"]["severity"] == "error"
    assert by_rule["team-retention"]["message"] == (
        "topic orders.v1: config.retention.ms is 400d, more than 14d: topics keep data two weeks at most"
    )
    assert by_rule["quorum-queues"]["severity"] == "note"
    assert by_rule["dead-letter-required"]["severity"] == "error"
    assert by_rule["consumer-ack"]["severity"] == "error"  # a team rule's default
    assert code == 1


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ("defaults:\n  nameing: off\n", "lint.yaml:2: defaults: no shipped rule 'nameing' (did you mean naming?)"),
        ("defaults:\n  naming: {pattern: x}\n", "lint.yaml:2: defaults.naming: no option 'pattern'"),
        (
            "defaults:\n  retention-bounds: {max: forever}\n",
            "lint.yaml:2: defaults.retention-bounds.max: not a",
        ),
        ("defaults:\n  naming: loud\n", "lint.yaml:2: lint config, defaults.naming:"),
        (
            "rules:\n  - id: x\n    kind: topic\n    field: partitions\n    condition: {pattern: '('}\n",
            "lint.yaml:5: not a regular expression: '('",
        ),
        (
            "rules:\n  - id: x\n    kind: topic\n    field: partitions\n",
            "lint.yaml:2: lint config, rules.0: 'condition'",
        ),
        (
            "rules:\n  - {id: naming, kind: topic, field: partitions, condition: {min: 1}}\n",
            "lint.yaml:2: rule id 'naming' is used twice",
        ),
        (
            "rules:\n  - {id: x, kind: topic, field: p, condition: {max: lots}}\n",
            "lint.yaml:2: 'lots' is neither",
        ),
    ],
)
def test_a_bad_config_is_one_error_at_its_line(manifest: Path, tmp_path: Path, config: str, error: str) -> None:
    write(tmp_path, "lint.yaml", config)
    result = topoctl("lint", "-f", manifest, "--config", "lint.yaml")
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {error}"), result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_manifest_is_the_usual_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    bad = write(tmp_path, "bad.yaml", "version: 1\nbrokers:\n  x: {type: kafak}\n")
    result = topoctl("lint", "-f", bad)
    assert result.code == 1 and result.stderr.startswith(f"Error: {bad}:3:")
    missing = topoctl("lint", "-f", tmp_path / "shop.yaml", "--config", "nope.yaml")
    assert missing.code == 1 and "nope.yaml: no such lint config file" in missing.stderr


def _sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema)


def test_sarif_schema_is_the_vendored_file() -> None:
    digest = hashlib.sha256(SARIF_SCHEMA.read_bytes()).hexdigest()
    assert digest == "2d99159ae54a3eea97f81781cff48780548657c35949f4b7f25e99a2ba4de4f8"


def test_sarif_output_is_valid_sarif_2_1_0(manifest: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path, "shop.yaml", MANIFEST.replace("prune: true", "prune: true  # topoctl:ignore prune-needs-prefix ok")
    )
    result = topoctl("lint", "-f", path.name, "--format", "sarif")
    assert result.code == 0, str(result)  # warnings only: the error is suppressed
    assert result.stderr == "7 warnings (1 suppressed).\n"
    sarif = result.json
    errors = [f"{e.message} at {list(e.absolute_path)}" for e in _sarif_validator().iter_errors(sarif)]
    assert errors == []
    run = sarif["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "dead-letter-required" in rules
    result0 = next(r for r in run["results"] if r["ruleId"] == "naming")
    assert rules[result0["ruleIndex"]] == "naming"
    assert result0["level"] == "warning"
    assert result0["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "shop.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 11},
    }
    assert (
        result0["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "shop-rabbit/queue/shop/Shipping Queue"
    )
    suppressed = [r for r in run["results"] if "suppressions" in r]
    assert [s["suppressions"] for s in suppressed] == [[{"kind": "inSource", "justification": "ok"}]]


def test_the_sarif_check_would_see_an_invalid_document(manifest: Path) -> None:
    sarif = topoctl("lint", "-f", manifest, "--format", "sarif").json
    sarif["runs"][0]["results"][0]["level"] = "warn"  # not a SARIF level
    del sarif["runs"][0]["tool"]["driver"]["name"]
    messages = {e.message for e in _sarif_validator().iter_errors(sarif)}
    assert any("'warn' is not one of" in m for m in messages)
    assert any("'name' is a required property" in m for m in messages)


def test_unknown_format_is_refused(manifest: Path) -> None:
    result = topoctl("lint", "-f", manifest, "--format", "sarf")
    assert result.code == 1
    assert "--format sarf: use one of text, json, sarif (did you mean sarif?)" in result.stderr


def test_examples_lint_without_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = topoctl("lint", "-f", "examples/")
    assert result.code == 0, str(result)
    assert "error [" not in result.stdout
