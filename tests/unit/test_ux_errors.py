"""What a newcomer sees when a manifest or a command line is wrong: one line naming the file and
line (or the broker), exit 1, no traceback, and no broker contacted for manifest errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.cli import one_error, topoctl

RABBIT = "version: 1\nbrokers:\n  r:\n    type: rabbitmq\n    connection: {url: http://127.0.0.1:1}\n"
KAFKA = "version: 1\nbrokers:\n  k:\n    type: kafka\n    connection: {bootstrap_servers: 127.0.0.1:1}\n"
NATS = "version: 1\nbrokers:\n  n:\n    type: nats\n    connection: {servers: nats://127.0.0.1:1}\n"
AWS = (
    "version: 1\nbrokers:\n  a:\n    type: aws\n    connection: {region: us-east-1, endpoint_url: http://127.0.0.1:1}\n"
)


def manifest(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def validate_error(tmp_path: Path, text: str) -> str:
    path = manifest(tmp_path, text)
    message = one_error(topoctl("validate", "-f", path))
    # plan gives the same message before any broker is contacted (the addresses above are dead ports)
    assert one_error(topoctl("plan", "-f", path)) == message
    return message.replace(str(path), "m.yaml")


# Misspelt field names, at every level of every broker: the closest valid name is suggested.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\nbrokerz: {}\n", "m.yaml:2: brokerz: unknown field 'brokerz'; did you mean 'brokers'?"),
        (
            "version: 1\nbrokers:\n  r:\n    type: rabbitmq\n    conection: {url: http://x}\n",
            "m.yaml:5: brokers.r.conection: unknown field 'conection'; did you mean 'connection'?",
        ),
        (
            RABBIT + "    vhosts:\n      v:\n        queus: {q: {}}\n",
            "m.yaml:8: brokers.r.vhosts.v.queus: unknown field 'queus'; did you mean 'queues'?",
        ),
        (
            RABBIT + "    vhosts:\n      v:\n        queues:\n          q: {tpye: quorum}\n",
            "m.yaml:9: brokers.r.vhosts.v.queues.q.tpye: unknown field 'tpye'; did you mean 'type'?",
        ),
        (
            RABBIT
            + "    vhosts:\n      v:\n        bindings:\n          - {source: a, destination: b, routing_ky: x}\n",
            "m.yaml:9: brokers.r.vhosts.v.bindings.0.routing_ky: unknown field 'routing_ky'; "
            "did you mean 'routing_key'?",
        ),
        (
            KAFKA + "    topics:\n      t: {partitons: 3}\n",
            "m.yaml:7: brokers.k.topics.t.partitons: unknown field 'partitons'; did you mean 'partitions'?",
        ),
        (
            NATS + "    streams:\n      S:\n        subjects: [a.>]\n        consumers:\n"
            "          c: {ack_polcy: explicit}\n",
            "m.yaml:10: brokers.n.streams.S.consumers.c.ack_polcy: unknown field 'ack_polcy'; "
            "did you mean 'ack_policy'?",
        ),
        (
            NATS + "    key_value:\n      b: {histroy: 3}\n",
            "m.yaml:7: brokers.n.key_value.b.histroy: unknown field 'histroy'; did you mean 'history'?",
        ),
        (
            AWS + "    sqs:\n      queues:\n        q: {visiblity_timeout: 30s}\n",
            "m.yaml:8: brokers.a.sqs.queues.q.visiblity_timeout: unknown field 'visiblity_timeout'; "
            "did you mean 'visibility_timeout'?",
        ),
        (
            AWS + "    sns:\n      topics:\n        t:\n          subscriptions:\n"
            "            - {protocol: sqs, endpoint: q, raw_message_delivry: true}\n",
            "m.yaml:10: brokers.a.sns.topics.t.subscriptions.0.raw_message_delivry: unknown field "
            "'raw_message_delivry'; did you mean 'raw_message_delivery'?",
        ),
        (
            RABBIT + "    vhosts:\n      v:\n        queues:\n          q: {colour: blue}\n",
            "m.yaml:9: brokers.r.vhosts.v.queues.q.colour: unknown field 'colour' "
            "(allowed: arguments, auto_delete, dead_letter, durable, exclusive, on_replace, state, type)",
        ),
    ],
)
def test_misspelt_fields_suggest_the_closest_name(tmp_path: Path, text: str, expected: str) -> None:
    assert validate_error(tmp_path, text) == expected


# Values: enums with a suggestion, types in words, anyOf/oneOf resolved to the branch that fits.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "version: 1\nbrokers:\n  r:\n    type: rabitmq\n",
            "m.yaml:4: brokers.r.type: 'rabitmq' is not one of 'rabbitmq', 'kafka', 'nats', 'aws', 'redis', "
            "'azure_servicebus'; did you mean 'rabbitmq'?",
        ),
        (
            RABBIT + "    vhosts:\n      v:\n        queues:\n          q: {type: quorom}\n",
            "m.yaml:9: brokers.r.vhosts.v.queues.q.type: 'quorom' is not one of 'classic', 'quorum', 'stream'; "
            "did you mean 'quorum'?",
        ),
        (
            KAFKA + "    topics:\n      t: {partitions: three}\n",
            "m.yaml:7: brokers.k.topics.t.partitions: expected an integer, got 'three'",
        ),
        (
            RABBIT + "    vhosts:\n      v:\n        queues:\n          - q1\n",
            "m.yaml:8: brokers.r.vhosts.v.queues: expected a mapping, got a list",
        ),
        (
            RABBIT + "    vhosts:\n      v:\n        queues:\n          q:\n",
            "m.yaml:9: brokers.r.vhosts.v.queues.q: expected a mapping, got nothing",
        ),
        (
            RABBIT + "    prune: {prefx: app.}\n",
            "m.yaml:6: brokers.r.prune.prefx: unknown field 'prefx'; did you mean 'prefix'?",
        ),
        (
            RABBIT + "    prune: yes please\n",
            "m.yaml:6: brokers.r.prune: expected true/false or a mapping, got 'yes please'",
        ),
        (
            "version: 1\nbrokers:\n  k:\n    type: kafka\n    connection: {bootstrap_servers: 9092}\n",
            "m.yaml:5: brokers.k.connection.bootstrap_servers: expected a string or a list, got a number",
        ),
        (
            NATS + "    streams:\n      S:\n        mirror: {nam: X}\n",
            "m.yaml:8: brokers.n.streams.S.mirror.nam: unknown field 'nam'; did you mean 'name'?",
        ),
        (
            AWS + "    sqs:\n      queues:\n        q: {visibility_timeout: 30 sec}\n",
            "m.yaml:8: brokers.a.sqs.queues.q.visibility_timeout: not a duration: '30 sec' "
            "(use e.g. 500ms, 30s, 5m, 1h, 7d)",
        ),
        (
            NATS + "    streams:\n      S:\n        subjects: [a.>]\n        max_age: 1 hour\n",
            "m.yaml:9: max_age: not a duration: '1 hour' (use e.g. 500ms, 30s, 5m, 1h, 7d)",
        ),
        (
            NATS + "    streams:\n      S:\n        subjects: [a.>]\n        max_bytes: lots\n",
            "m.yaml:9: max_bytes: not a size: 'lots' (use e.g. 512KiB, 10MiB, 1GiB or a number of bytes)",
        ),
        (
            "version: 1\nbrokers:\n  my broker:\n    type: kafka\n",
            "m.yaml:3: brokers.my broker: the name 'my broker' is not allowed "
            "(must match ^[A-Za-z0-9][A-Za-z0-9_.-]*$)",
        ),
    ],
)
def test_bad_values_are_named_precisely(tmp_path: Path, text: str, expected: str) -> None:
    assert validate_error(tmp_path, text) == expected


def test_missing_broker_type_is_said_plainly_not_as_another_brokers_schema(tmp_path: Path) -> None:
    # Without `type`, every `if type == ...` of the schema used to hold, so Kafka's schema
    # complained about the RabbitMQ connection.
    text = "version: 1\nbrokers:\n  r:\n    connection: {url: http://127.0.0.1:15672}\n"
    assert (
        validate_error(tmp_path, text)
        == "m.yaml:3: brokers.r: missing field 'type' (one of: rabbitmq, kafka, nats, aws, redis, azure_servicebus)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("brokers: {}\n", "m.yaml:1: missing 'version': a manifest starts with `version: 1`"),
        ('version: "1"\n', "m.yaml:1: version: must be 1, got '1'"),
        ("", "m.yaml: no manifest content (a manifest starts with `version: 1`)"),
        ("# nothing yet\n", "m.yaml: no manifest content (a manifest starts with `version: 1`)"),
        (
            "version: 1\nbrokers:\n  r:\n\ttype: kafka\n",
            "m.yaml:4: invalid YAML: found character that cannot "
            "start any token (a tab: YAML indents with spaces only)",
        ),
        (
            "---\nversion: 1\n---\nbrokers: {}\n",
            "m.yaml:3: invalid YAML: a second YAML document (`---`): put each manifest document in a file of its own",
        ),
        ("- version: 1\n", "m.yaml:1: a manifest must be a mapping (version: 1, brokers: ...)"),
    ],
)
def test_file_level_mistakes(tmp_path: Path, text: str, expected: str) -> None:
    assert validate_error(tmp_path, text) == expected


def test_yaml_merge_keys_may_override_what_they_merge(tmp_path: Path) -> None:
    # `<<: *defaults` then an explicit key is how YAML overrides a default; it is no duplicate.
    path = manifest(
        tmp_path,
        RABBIT
        + "    vhosts:\n      v:\n        queues:\n"
        + "          q1: &quorum {type: quorum, arguments: {x-max-length: 10}}\n"
        + "          q2: {<<: *quorum, type: classic}\n"
        + "          q3: *quorum\n",
    )
    from topoctl.manifest.loader import read_documents

    doc, sources = read_documents([str(path)], env={})
    queues = doc["brokers"]["r"]["vhosts"]["v"]["queues"]
    assert queues["q2"] == {"type": "classic", "arguments": {"x-max-length": 10}}
    assert queues["q1"] == queues["q3"] == {"type": "quorum", "arguments": {"x-max-length": 10}}
    assert sources.where(("brokers", "r", "vhosts", "v", "queues", "q2", "type")) == f"{path}:10"
    assert topoctl("validate", "-f", path).code == 0


def test_a_key_written_twice_beside_a_merge_is_still_a_duplicate(tmp_path: Path) -> None:
    text = (
        RABBIT + "    vhosts:\n      v:\n        queues:\n          q1: &d {type: quorum}\n"
        "          q2:\n            <<: *d\n            type: classic\n            type: stream\n"
    )
    assert validate_error(tmp_path, text) == "m.yaml:13: duplicate key 'type'"


def test_unset_variable_missing_file_and_empty_directory(tmp_path: Path) -> None:
    path = manifest(tmp_path, RABBIT.replace("http://127.0.0.1:1", '"${UX_SURELY_UNSET_URL}"'))
    message = one_error(topoctl("validate", "-f", path))
    assert (
        message
        == f"{path}:5: environment variable UX_SURELY_UNSET_URL is not set (use ${{UX_SURELY_UNSET_URL:-default}})"
    )
    assert (
        one_error(topoctl("validate", "-f", tmp_path / "nope.yaml"))
        == f"{tmp_path / 'nope.yaml'}: no such file or directory"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert one_error(topoctl("plan", "-f", empty)) == f"{empty}: directory holds no *.yaml or *.yml file"


# The command line: usage errors, plan files, targets.
@pytest.mark.parametrize(
    "args",
    [
        ("plan", "-f", "m.yaml", "--detailed-exitcode", "--fromat", "json"),
        ("plna",),
        ("plan", "-f"),
        ("apply", "-f", "m.yaml", "--parallelism", "0"),
        ("--bogus",),
    ],
)
def test_usage_errors_exit_1_never_2_which_means_changes_pending(args: tuple[str, ...]) -> None:
    result = topoctl(*args)
    assert result.code == 1, str(result)
    assert "Traceback" not in result.stdout + result.stderr


def test_a_misspelt_option_suggests_the_right_one() -> None:
    assert "--format" in topoctl("plan", "--fromat", "json").stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{}", "x.json is not a topoctl plan file (make one with `topoctl plan -o FILE`)"),
        ("[1, 2]", "x.json is not a topoctl plan file (make one with `topoctl plan -o FILE`)"),
        ('{"changes": "x"}', "x.json is not a topoctl plan file (make one with `topoctl plan -o FILE`)"),
        ("not json", "x.json is not a topoctl plan file: not JSON (make one with `topoctl plan -o FILE`)"),
        ("version: 1\nbrokers: {}\n", "x.json is a manifest, not a saved plan: use `topoctl {verb} -f x.json`"),
    ],
)
def test_show_and_apply_of_what_is_not_a_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.json").write_text(content, encoding="utf-8")
    assert one_error(topoctl("show", "x.json")) == expected.format(verb="plan")
    assert one_error(topoctl("apply", "x.json")) == expected.format(verb="apply")


def test_a_manifest_given_to_apply_without_f_says_so(tmp_path: Path) -> None:
    path = manifest(tmp_path, KAFKA)
    assert one_error(topoctl("apply", path)) == f"{path} is a manifest, not a saved plan: use `topoctl apply -f {path}`"


def test_missing_plan_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        one_error(topoctl("show", "plan.json")) == "plan.json: no such plan file (make one with `topoctl plan -o FILE`)"
    )


@pytest.fixture
def fake_broker(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The in-memory broker behind `plan`/`apply`; returns the file lists `apply` loaded."""
    from dataclasses import replace

    from topoctl import cli
    from topoctl.engine import planner

    from .fakes import FakeBroker, ex, fake_manifest, q

    broker = FakeBroker()
    manifest, info = fake_manifest(broker, [ex("orders", type="topic"), q("billing", type="classic")])
    manifest = replace(manifest, paths=("topology/shop.yaml",))
    loaded: list[list[str]] = []

    def load(files: list[str] | None, parsed: object = None) -> object:
        loaded.append(list(files or []))
        return manifest

    monkeypatch.setattr(planner, "provider", lambda _type: info)
    monkeypatch.setattr(cli, "_load", load)
    return loaded


def test_saved_plan_applied_from_another_directory_finds_its_manifests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_broker: list[list[str]]
) -> None:
    (tmp_path / "topology").mkdir()
    (tmp_path / "topology" / "shop.yaml").write_text("version: 1\n", encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    assert topoctl("plan", "-f", "topology/shop.yaml", "-o", "plan.json").code == 0
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = topoctl("apply", "../plan.json", "--auto-approve")
    assert result.code == 0, str(result)
    assert fake_broker[-1] == [str(Path("..") / "topology/shop.yaml")]


def test_saved_plan_whose_manifests_cannot_be_found_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_broker: list[list[str]]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert topoctl("plan", "-f", "topology/shop.yaml", "-o", "out.json").code == 0
    (tmp_path / "sub").mkdir()
    Path("out.json").rename("sub/out.json")
    monkeypatch.chdir(tmp_path / "sub")
    assert one_error(topoctl("apply", "out.json")) == (
        "out.json was made from the manifest topology/shop.yaml, which is neither here nor beside the plan: "
        "run apply in the directory the plan was made in, or give the manifests with -f"
    )


def test_a_target_that_matches_nothing_is_an_error_with_a_suggestion(fake_broker: list[list[str]]) -> None:
    for command in (("plan",), ("apply", "--auto-approve")):
        result = topoctl(*command, "-f", "m.yaml", "--target", "b/queue/v/biling")
        assert one_error(result) == (
            "--target b/queue/v/biling matches nothing in the manifest or on the brokers; "
            "did you mean b/queue/v/billing?"
        )
    ok = topoctl("plan", "-f", "m.yaml", "--target", "b/queue/v/billing", "--format", "json")
    assert [c["address"] for c in ok.json["changes"]] == ["b/queue/v/billing"]
    assert topoctl("plan", "-f", "m.yaml", "--target", "b/queue").code == 0  # a prefix is fine


def test_one_of_several_targets_matching_nothing_is_a_warning(fake_broker: list[list[str]]) -> None:
    result = topoctl("plan", "-f", "m.yaml", "--target", "b/queue/v/billing", "--target", "b/policy/v")
    assert result.code == 0, str(result)
    assert result.stderr.strip() == "Warning: --target b/policy/v matches nothing in the manifest or on the brokers"
    assert "b/queue/v/billing" in result.stdout


@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        ("{url: http://x, username: u, password: 987654321}", "password: expected a string, got a number"),
        ('"http://u:s3cr3tpw@h:15672"', "connection: expected a mapping, got a string"),
    ],
)
def test_schema_errors_never_echo_connection_values(tmp_path: Path, connection: str, expected: str) -> None:
    text = f"version: 1\nbrokers:\n  r:\n    type: rabbitmq\n    connection: {connection}\n"
    message = validate_error(tmp_path, text)
    assert message.endswith(expected), message
    assert "987654321" not in message and "s3cr3tpw" not in message


def test_misspelt_sasl_mechanism_is_suggested_without_echoing_it(tmp_path: Path) -> None:
    text = KAFKA.replace("127.0.0.1:1}", "127.0.0.1:1, sasl: {mechanism: PLAN, username: u, password: p}}")
    assert validate_error(tmp_path, text) == (
        "m.yaml:5: brokers.k.connection.sasl.mechanism: the value is not one of 'PLAIN', 'SCRAM-SHA-256', "
        "'SCRAM-SHA-512'; did you mean 'PLAIN'?"
    )


def test_scalars_keep_their_yaml_types_however_often_they_repeat(tmp_path: Path) -> None:
    # The loader resolves each distinct plain scalar once; quoting still makes a string.
    from topoctl.manifest.loader import read_documents

    line = '[yes, "yes", 1, "1", 0x1F, 1.5, ~, "", 1_000, on, "on", 2026-01-01]'
    path = manifest(tmp_path, f"version: 1\na: {line}\nb: {line}\nc: {{yes: 1, 'no': 2}}\n")
    doc, _ = read_documents([str(path)], env={})
    # Timestamps stay text: brokers take RFC 3339 strings, and the schema wants strings.
    expected = [True, "yes", 1, "1", 31, 1.5, None, "", 1000, True, "on", "2026-01-01"]
    assert doc["a"] == doc["b"] == expected
    assert doc["c"] == {True: 1, "no": 2}


def test_format_typos_suggest_the_format(tmp_path: Path) -> None:
    path = manifest(tmp_path, KAFKA)
    assert one_error(topoctl("plan", "-f", path, "--format", "jsno")) == (
        "--format jsno: use one of text, json, markdown (did you mean json?)"
    )
    assert one_error(topoctl("graph", "-f", path, "--format", "dott")) == (
        "--format dott: use one of mermaid, dot (did you mean dot?)"
    )


def test_plan_output_into_a_missing_directory_fails_before_any_broker_is_read(tmp_path: Path) -> None:
    path = manifest(tmp_path, KAFKA)  # its broker is a dead port: reading it would be another error
    out = tmp_path / "no" / "plan.json"
    assert one_error(topoctl("plan", "-f", path, "-o", out)) == (
        f"cannot write the plan to {out}: no directory {tmp_path / 'no'}"
    )


def test_help_and_validate_import_no_broker_client() -> None:
    # Broker clients are imported lazily: `--help` and `validate` stay fast and work without them.
    import subprocess
    import sys

    examples = Path(__file__).resolve().parents[2] / "examples"
    code = (
        "import sys\n"
        "from tests.cli import topoctl\n"
        "assert 'plan' in topoctl('--help').stdout\n"
        f"assert topoctl('validate', '-f', {str(examples)!r}).code == 0\n"
        "clients = {'httpx', 'urllib3', 'requests', 'confluent_kafka', 'nats', 'boto3', 'botocore', 'pika'}\n"
        "print(sorted(clients & {m.split('.')[0] for m in sys.modules}))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_variables_are_interpolated_in_names_too(tmp_path: Path) -> None:
    # A name written `${PREFIX}orders` used to create a queue literally called so.
    from topoctl.manifest.loader import read_documents

    path = manifest(tmp_path, "version: 1\nqueues:\n  ${PREFIX}orders: {}\n  ${OTHER:-x.}audit: {}\n  $$lit: {}\n")
    doc, sources = read_documents([str(path)], env={"PREFIX": "dev."})
    assert list(doc["queues"]) == ["dev.orders", "x.audit", "$lit"]
    assert sources.where(("queues", "dev.orders")) == f"{path}:3"
    with pytest.raises(Exception, match=r"m\.yaml:3: environment variable PREFIX is not set"):
        read_documents([str(path)], env={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            RABBIT + "    queues: {q: {}}\n",
            "m.yaml:6: brokers.r.queues: unknown field 'queues' here: it goes in vhosts.<name>.queues",
        ),
        (
            KAFKA + "    partitions: 3\n",
            "m.yaml:6: brokers.k.partitions: unknown field 'partitions' here: it goes in topics.<name>.partitions",
        ),
        (
            NATS + "    consumers: {c: {}}\n",
            "m.yaml:6: brokers.n.consumers: unknown field 'consumers' here: it goes in streams.<name>.consumers",
        ),
        (
            AWS + "    queues: {q: {}}\n",
            "m.yaml:6: brokers.a.queues: unknown field 'queues' here: it goes in sqs.queues",
        ),
        (
            RABBIT + "    vhosts:\n      v:\n        queues:\n          q: {max_deliveries: 3}\n",
            "m.yaml:9: brokers.r.vhosts.v.queues.q.max_deliveries: unknown field 'max_deliveries' here: "
            "it goes in dead_letter.max_deliveries",
        ),
    ],
)
def test_a_field_at_the_wrong_level_says_where_it_goes(tmp_path: Path, text: str, expected: str) -> None:
    assert validate_error(tmp_path, text) == expected


def test_an_alias_inside_what_it_names_is_an_error_not_a_crash(tmp_path: Path) -> None:
    assert validate_error(tmp_path, "version: 1\nbrokers: &b\n  k: *b\n") == (
        "m.yaml:3: a YAML alias refers to a collection that contains it"
    )
    assert validate_error(tmp_path, "version: 1\nx: &a [1, *a]\n") == (
        "m.yaml:2: a YAML alias refers to a collection that contains it"
    )


def test_a_file_that_is_not_utf8_text(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(b"\xff\xfeversion: 1\n")
    assert one_error(topoctl("validate", "-f", path)) == f"{path}: not UTF-8 text (byte 0: invalid start byte)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            RABBIT.replace("{url: http://127.0.0.1:1}", "{url: http://127.0.0.1:1, username: u, password: s3cr3tpw}"),
            "broker 'r' (http://127.0.0.1:1): cannot connect",
        ),
        (
            NATS.replace("nats://127.0.0.1:1", "nats://u:s3cr3tpw@127.0.0.1:1"),
            "broker 'n' (nats://127.0.0.1:1): cannot connect",
        ),
    ],
)
def test_an_unreachable_broker_is_named_with_its_address_and_no_secret(
    tmp_path: Path, text: str, expected: str
) -> None:
    message = one_error(topoctl("plan", "-f", manifest(tmp_path, text)))
    assert message.startswith(expected), message
    assert "s3cr3tpw" not in message


def test_a_quoted_glob_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # CI files and pre-commit configs often pass `-f 'topology/*.yaml'` without a shell to expand it.
    monkeypatch.chdir(tmp_path)
    Path("topology").mkdir()
    Path("topology/a.yaml").write_text("version: 1\n", encoding="utf-8")
    Path("topology/b.yaml").write_text(KAFKA.replace("version: 1\n", ""), encoding="utf-8")
    result = topoctl("validate", "-f", "topology/*.yaml")
    assert result.code == 0, str(result)
    assert one_error(topoctl("validate", "-f", "topology/*.yml")) == "topology/*.yml: matches no file"


def test_an_override_replacing_a_mapping_forgets_where_its_parts_were(tmp_path: Path) -> None:
    # Merging forgets replaced values by walking them (linear), not by scanning every location.
    from topoctl.manifest.loader import read_documents

    base = manifest(tmp_path, "version: 1\na: {x: {y: 1}, z: [1, {w: 2}]}\nb: {c: 1}\n", "base.yaml")
    over = manifest(tmp_path, "a: {x: 5, z: 7}\nb: {c: 2, d: 3}\n", "over.yaml")
    doc, sources = read_documents([str(base), str(over)], env={})
    assert doc == {"version": 1, "a": {"x": 5, "z": 7}, "b": {"c": 2, "d": 3}}
    assert not [p for p in sources.locations if len(p) > 2 and p[0] == "a"]
    assert sources.where(("a", "x")) == f"{over}:1"
    assert sources.where(("b", "d")) == f"{over}:2"
    assert sources.where(("version",)) == f"{base}:1"
