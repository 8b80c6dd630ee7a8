"""Schema-registry subjects end to end: topoctl's CLI against the local Kafka and the registry double
(tests/schema_registry_double), over HTTP as against a real registry. The double's state is read
behind topoctl's back to check what was registered, deleted and configured."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from confluent_kafka.admin import AdminClient

from tests.cli import apply_ok, assert_empty, change_of, plan_json, planned, topoctl, write_manifest
from tests.integration.servers import make_certificates
from tests.schema_registry_double import SchemaRegistryDouble
from tests.schema_registry_double.fixtures import BOOTSTRAP, ENV, manifest, serve

pytestmark = pytest.mark.integration

ORDER_V1 = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [{"name": "id", "type": "string"}, {"name": "total", "type": "long"}],
}
# BACKWARD-compatible: a new field with a default
ORDER_V2 = {**ORDER_V1, "fields": [*ORDER_V1["fields"], {"name": "currency", "type": "string", "default": "EUR"}]}
# not BACKWARD-compatible: a new field without a default
ORDER_BAD = {**ORDER_V1, "fields": [*ORDER_V1["fields"], {"name": "coupon", "type": "string"}]}
PROTO = 'syntax = "proto3";\npackage shop;\n\n// a line\nmessage Line {\n  string sku = 1;\n  int32 qty = 2;\n}\n'
JSON_SCHEMA = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}


@pytest.fixture
def sr(monkeypatch: pytest.MonkeyPatch) -> Iterator[SchemaRegistryDouble]:
    yield from serve(monkeypatch)


@pytest.fixture
def ns() -> Iterator[str]:
    ns = f"sr{uuid.uuid4().hex[:8]}"
    yield ns
    from tests.integration.test_kafka_provider import cleanup

    cleanup(AdminClient({"bootstrap.servers": BOOTSTRAP}), ns)


def subjects_of(double: SchemaRegistryDouble, name: str) -> list[tuple[int, bool]]:
    """(version, soft-deleted) of each version the registry holds under `name`."""
    with double.registry.lock:
        return [(v.number, v.deleted) for v in double.registry.subjects.get(name, [])]


def latest(double: SchemaRegistryDouble, name: str) -> Any:
    return httpx.get(f"{double.url}/subjects/{name}/versions/latest").json()


def write(tmp_path: Path, sections: dict[str, Any], file: str = "m.yaml", **registry: Any) -> Path:
    return write_manifest(tmp_path / file, manifest(sections, **registry))


def test_life_cycle_of_three_schema_types(tmp_path: Path, ns: str, sr: SchemaRegistryDouble) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "line.proto").write_text(PROTO, encoding="utf-8")
    topics = {f"{ns}.orders": {"partitions": 1, "dead_letter": {}}}
    subjects: dict[str, Any] = {
        f"{ns}.orders-value": {"schema": ORDER_V1},
        f"{ns}.lines-value": {"schema_type": "PROTOBUF", "schema": "file:schemas/line.proto"},
        f"{ns}.audit-value": {"schema_type": "JSON", "schema": json.dumps(JSON_SCHEMA, indent=2)},
    }
    path = write(tmp_path, {"topics": topics, "subjects": subjects})
    assert set(planned(plan_json(path)).values()) == {"create"}
    apply_ok(path)
    assert_empty(path)
    assert latest(sr, f"{ns}.lines-value")["schemaType"] == "PROTOBUF"
    # The registry keeps its own rendering: the comment is gone, yet the plan stays empty.
    assert "// a line" not in latest(sr, f"{ns}.lines-value")["schema"]

    # The same schemas written differently: no change.
    subjects[f"{ns}.orders-value"] = {"schema": json.dumps(ORDER_V1, indent=4, sort_keys=True)}
    subjects[f"{ns}.audit-value"]["schema"] = JSON_SCHEMA
    (tmp_path / "schemas" / "line.proto").write_text(PROTO.replace("\n  ", "\n\t").replace("// a line", ""))
    assert_empty(write(tmp_path, {"topics": topics, "subjects": subjects}))

    # A compatible new schema: an update that registers version 2.
    subjects[f"{ns}.orders-value"] = {"schema": ORDER_V2}
    path = write(tmp_path, {"topics": topics, "subjects": subjects})
    plan = plan_json(path)
    assert planned(plan) == {f"events/subject/{ns}.orders-value": "update"}
    change = change_of(plan, f"events/subject/{ns}.orders-value")
    assert [f["field"] for f in change["fields"]] == ["schema"]
    assert change["notes"] == ["registers a new version (the registry finds it BACKWARD-compatible with version 1)"]
    apply_ok(path)
    assert subjects_of(sr, f"{ns}.orders-value") == [(1, False), (2, False)]
    assert latest(sr, f"{ns}.orders-value")["version"] == 2
    assert_empty(path)


def test_an_incompatible_schema_is_refused_at_plan_time_with_the_registrys_reason(
    tmp_path: Path, ns: str, sr: SchemaRegistryDouble
) -> None:
    apply_ok(write(tmp_path, {"subjects": {f"{ns}-value": {"schema": ORDER_V1}}}))
    path = write(tmp_path, {"subjects": {f"{ns}-value": {"schema": ORDER_BAD}}})
    for command in (("plan", "-f", path), ("apply", "-f", path, "--auto-approve")):
        result = topoctl(*command)
        assert result.code == 1, str(result)
        assert "Traceback" not in result.stderr
        assert f"subject '{ns}-value' (declared at {path}:" in result.stderr
        assert (
            "the new schema is not BACKWARD-compatible: {errorType:'READER_FIELD_MISSING_DEFAULT_VALUE'"
            in result.stderr
        )
        assert "The field 'coupon' at path '/fields/2' in the new schema has no default value" in result.stderr
    assert subjects_of(sr, f"{ns}-value") == [(1, False)]  # nothing registered
    # NONE: anything goes, and the plan says it is not checked.
    path = write(tmp_path, {"subjects": {f"{ns}-value": {"schema": ORDER_BAD, "compatibility": "NONE"}}})
    change = change_of(plan_json(path), f"events/subject/{ns}-value")
    assert "registers a new version (compatibility NONE: not checked)" in change["notes"]
    apply_ok(path)
    assert_empty(path)


def test_a_schema_the_subject_holds_as_an_older_version_is_refused(
    tmp_path: Path, ns: str, sr: SchemaRegistryDouble
) -> None:
    """Registering it again would return its old id and register nothing: the plan would never empty."""
    apply_ok(write(tmp_path, {"subjects": {f"{ns}-value": {"schema": ORDER_V1}}}))
    apply_ok(write(tmp_path, {"subjects": {f"{ns}-value": {"schema": ORDER_V2}}}))
    result = topoctl("plan", "-f", write(tmp_path, {"subjects": {f"{ns}-value": {"schema": ORDER_V1}}}))
    assert result.code == 1, str(result)
    assert "the declared schema is version 1 of the subject already, not its latest (version 2)" in result.stderr
    assert subjects_of(sr, f"{ns}-value") == [(1, False), (2, False)]


def test_levels_follow_the_global_one_until_declared_otherwise(
    tmp_path: Path, ns: str, sr: SchemaRegistryDouble
) -> None:
    name = f"{ns}-value"
    path = write(tmp_path, {"subjects": {name: {"schema": ORDER_V1, "compatibility": "BACKWARD"}}})
    apply_ok(path)
    assert_empty(path)
    assert name not in sr.registry.levels  # the global level already is BACKWARD: nothing pinned
    assert not any(r.method == "PUT" for r in sr.requests)

    sr.registry.global_level = "NONE"  # someone changes the global level
    plan = plan_json(path)
    change = change_of(plan, f"events/subject/{name}")
    assert [(f["field"], f["before"], f["after"]) for f in change["fields"]] == [("compatibility", "NONE", "BACKWARD")]
    apply_ok(path)
    assert sr.registry.levels[name] == "BACKWARD"
    assert_empty(path)

    # A transitive level: the plan asks the check registration makes (every live version).
    path = write(tmp_path, {"subjects": {name: {"schema": ORDER_V1, "compatibility": "FULL_TRANSITIVE"}}})
    apply_ok(path)
    path = write(tmp_path, {"subjects": {name: {"schema": ORDER_V2, "compatibility": "FULL_TRANSITIVE"}}})
    del sr.requests[:]
    change = change_of(plan_json(path), f"events/subject/{name}")
    assert change["notes"] == [
        "registers a new version (the registry finds it FULL_TRANSITIVE-compatible with every live version)"
    ]
    checks = [r.path for r in sr.requests if r.path.startswith("compatibility/")]
    assert checks == [f"compatibility/subjects/{name}/versions"]
    apply_ok(path)
    assert_empty(path)


def test_a_level_changed_with_the_schema_is_checked_by_the_registry_at_apply(
    tmp_path: Path, ns: str, sr: SchemaRegistryDouble
) -> None:
    name = f"{ns}-value"
    apply_ok(write(tmp_path, {"subjects": {name: {"schema": ORDER_V1}}}))
    path = write(tmp_path, {"subjects": {name: {"schema": ORDER_BAD, "compatibility": "FORWARD"}}})
    change = change_of(plan_json(path), f"events/subject/{name}")
    assert any("the registry checks it when it registers it" in n for n in change["notes"])
    # FORWARD: the old schema must read the new one; it ignores the new field, so it can.
    apply_ok(path)
    assert subjects_of(sr, name) == [(1, False), (2, False)]
    path = write(tmp_path, {"subjects": {name: {"schema": ORDER_V1, "compatibility": "BACKWARD_TRANSITIVE"}}})
    # Removing `coupon` again is fine backwards (readers ignore it), but version 1 is this schema.
    result = topoctl("apply", "-f", path, "--auto-approve")
    assert result.code == 1 and "is version 1 of the subject already" in result.stderr, str(result)


def test_a_refusal_at_apply_quotes_the_registry(tmp_path: Path, ns: str, sr: SchemaRegistryDouble) -> None:
    name = f"{ns}-value"
    apply_ok(write(tmp_path, {"subjects": {name: {"schema": ORDER_V1}}}))
    path = write(tmp_path, {"subjects": {name: {"schema": ORDER_BAD, "compatibility": "FULL"}}})
    result = topoctl("apply", "-f", path, "--auto-approve")
    assert result.code == 1, str(result)
    assert f"cannot register the schema of subject '{name}' (its compatibility level was set)" in result.stderr
    assert "HTTP 409: Schema being registered is incompatible with an earlier schema" in result.stderr
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in result.stderr
    assert "oldSchema:" not in result.stderr
    assert "0 of 1 changes applied; 1 failed" in result.stderr
    assert subjects_of(sr, name) == [(1, False)]


def test_soft_and_permanent_deletes_are_destructive(tmp_path: Path, ns: str, sr: SchemaRegistryDouble) -> None:
    name = f"{ns}-value"
    apply_ok(write(tmp_path, {"subjects": {name: {"schema": ORDER_V1}, f"{ns}-key": {"schema": '"string"'}}}))
    schema_id = latest(sr, name)["id"]
    path = write(tmp_path, {"subjects": {name: {"state": "absent"}, f"{ns}-key": {"schema": '"string"'}}})
    plan = plan_json(path)
    assert planned(plan) == {f"events/subject/{name}": "delete"}
    change = change_of(plan, f"events/subject/{name}")
    assert change["destructive"]
    assert change["reasons"] == [
        f"its 1 version are soft-deleted: producers can no longer register or look up schemas of {name} "
        "(records already written stay readable: their schema ids still resolve)"
    ]
    refused = topoctl("apply", "-f", path, "--auto-approve")
    assert refused.code == 1 and "--allow-destructive" in refused.stderr
    assert subjects_of(sr, name) == [(1, False)]
    apply_ok(path, "--allow-destructive")
    assert subjects_of(sr, name) == [(1, True)]
    assert httpx.get(f"{sr.url}/schemas/ids/{schema_id}").status_code == 200  # still readable by id
    assert_empty(path)

    # permanent: the soft-deleted subject is deleted for good
    path = write(tmp_path, {"subjects": {name: {"state": "absent", "permanent": True}}})
    change = change_of(plan_json(path), f"events/subject/{name}")
    assert change["action"] == "delete" and "(soft-deleted already) are deleted permanently" in change["reasons"][0]
    apply_ok(path, "--allow-destructive")
    assert subjects_of(sr, name) == []
    assert httpx.get(f"{sr.url}/schemas/ids/{schema_id}").json()["error_code"] == 40403
    assert_empty(path)

    # a live subject deleted permanently in one apply: soft, then permanent
    key = f"{ns}-key"
    path = write(tmp_path, {"subjects": {key: {"state": "absent", "permanent": True}}})
    assert "soft-deleted, then deleted permanently" in change_of(plan_json(path), f"events/subject/{key}")["reasons"][0]
    apply_ok(path, "--allow-destructive")
    assert subjects_of(sr, key) == []
    deletes = [(r.path, r.query) for r in sr.requests if r.method == "DELETE" and r.path == f"subjects/{key}"]
    assert deletes == [(f"subjects/{key}", {}), (f"subjects/{key}", {"permanent": "true"})]


def test_a_schema_type_change_is_a_replace(tmp_path: Path, ns: str, sr: SchemaRegistryDouble) -> None:
    name = f"{ns}-value"
    apply_ok(write(tmp_path, {"subjects": {name: {"schema": ORDER_V1}}}))
    path = write(tmp_path, {"subjects": {name: {"schema_type": "JSON", "schema": JSON_SCHEMA}}})
    change = change_of(plan_json(path), f"events/subject/{name}")
    assert change["action"] == "replace" and change["destructive"]
    assert change["reasons"][0].startswith("schema_type cannot change in place (AVRO -> JSON)")
    assert topoctl("apply", "-f", path, "--auto-approve").code == 1
    apply_ok(path, "--allow-destructive")
    assert subjects_of(sr, name) == [(1, True), (2, False)]
    assert latest(sr, name)["schemaType"] == "JSON"
    assert_empty(path)


def test_prune_soft_deletes_undeclared_subjects_under_the_prefix(
    tmp_path: Path, ns: str, sr: SchemaRegistryDouble
) -> None:
    subjects = {
        f"{ns}.a-value": {"schema": '"string"'},
        f"{ns}.b-value": {"schema": '"int"'},
        "other-value": {"schema": '"long"'},
    }
    apply_ok(write(tmp_path, {"subjects": subjects}))
    path = write(
        tmp_path,
        {"prune": {"subjects": True, "prefix": f"{ns}."}, "subjects": {f"{ns}.a-value": subjects[f"{ns}.a-value"]}},
    )
    assert planned(plan_json(path)) == {f"events/subject/{ns}.b-value": "delete"}  # other-value: outside the prefix
    apply_ok(path, "--allow-destructive")
    assert subjects_of(sr, f"{ns}.b-value") == [(1, True)]
    assert subjects_of(sr, "other-value") == [(1, False)]
    assert_empty(path)


def test_references_register_the_referenced_subject_first(tmp_path: Path, ns: str, sr: SchemaRegistryDouble) -> None:
    address = {"type": "record", "name": "Address", "namespace": "shop", "fields": [{"name": "city", "type": "string"}]}
    order = {"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "to", "type": "Address"}]}
    subjects = {
        f"{ns}.orders-value": {
            "schema": order,
            "references": [{"name": "shop.Address", "subject": f"{ns}.address-value", "version": 1}],
        },
        f"{ns}.address-value": {"schema": address},
    }
    path = write(tmp_path, {"subjects": subjects})
    apply_ok(path)
    registered = [r.path for r in sr.requests if r.method == "POST" and r.path.endswith("/versions")]
    assert registered == [f"subjects/{ns}.address-value/versions", f"subjects/{ns}.orders-value/versions"]
    assert latest(sr, f"{ns}.orders-value")["references"] == [
        {"name": "shop.Address", "subject": f"{ns}.address-value", "version": 1}
    ]
    assert_empty(path)


def test_saved_plan_is_stale_when_the_subject_changed_since(tmp_path: Path, ns: str, sr: SchemaRegistryDouble) -> None:
    name = f"{ns}-value"
    apply_ok(write(tmp_path, {"subjects": {name: {"schema": ORDER_V1}}}))
    # A saved plan of a new version applies as planned.
    saved = tmp_path / "update.json"
    assert topoctl("plan", "-f", write(tmp_path, {"subjects": {name: {"schema": ORDER_V2}}}), "-o", saved).code == 0
    result = topoctl("apply", str(saved))
    assert result.code == 0, str(result)
    assert subjects_of(sr, name) == [(1, False), (2, False)]
    sr.registry.subjects[name].pop()  # back to version 1 alone, for what follows
    path = write(tmp_path, {"subjects": {name: {"state": "absent"}}})
    saved = tmp_path / "delete.json"
    assert topoctl("plan", "-f", path, "-o", saved).code == 0
    # Someone registers version 2 meanwhile: the delete would take more than was approved.
    body = {"schema": json.dumps(ORDER_V2)}
    assert httpx.post(f"{sr.url}/subjects/{name}/versions", json=body).status_code == 200
    assert subjects_of(sr, name) == [(1, False), (2, False)]
    result = topoctl("apply", str(saved), "--allow-destructive")
    assert result.code == 1 and "saved plan is stale" in result.stderr, str(result)
    assert subjects_of(sr, name) == [(1, False), (2, False)]


def test_target_applies_one_subject(tmp_path: Path, ns: str, sr: SchemaRegistryDouble) -> None:
    path = write(
        tmp_path, {"subjects": {f"{ns}.a-value": {"schema": '"string"'}, f"{ns}.b-value": {"schema": '"int"'}}}
    )
    result = topoctl("apply", "-f", path, "--auto-approve", "--target", f"events/subject/{ns}.a-value")
    assert result.code == 0, str(result)
    assert sorted(sr.registry.names()) == [f"{ns}.a-value"]
    assert planned(plan_json(path)) == {f"events/subject/{ns}.b-value": "create"}


def test_export_plans_empty(tmp_path: Path, ns: str, sr: SchemaRegistryDouble) -> None:
    (tmp_path / "line.proto").write_text(PROTO, encoding="utf-8")
    subjects = {
        f"{ns}.orders-value": {"schema": ORDER_V1, "compatibility": "FULL"},
        f"{ns}.lines-value": {"schema_type": "PROTOBUF", "schema": "file:line.proto"},
        f"{ns}.audit-value": {"schema_type": "JSON", "schema": JSON_SCHEMA},
    }
    apply_ok(write(tmp_path, {"subjects": subjects}))
    connections = write(tmp_path, {}, file="connections.yaml")
    result = topoctl("export", "--broker", "events", "-f", connections)
    assert result.code == 0, str(result)
    exported = yaml.safe_load(result.stdout)
    section = exported["brokers"]["events"]
    assert section["connection"]["schema_registry"] == {"url": f"${{{ENV}}}"}
    assert section["subjects"][f"{ns}.orders-value"] == {"schema": ORDER_V1, "compatibility": "FULL"}
    assert section["subjects"][f"{ns}.audit-value"]["schema_type"] == "JSON"
    path = tmp_path / "exported.yaml"
    path.write_text(result.stdout, encoding="utf-8")
    assert_empty(path)


def test_credentials_basic_and_bearer(
    tmp_path: Path, ns: str, sr: SchemaRegistryDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cret-" + uuid.uuid4().hex
    sr.require_basic("topoctl", secret)
    monkeypatch.setenv("SR_PASSWORD", secret)
    sections = {"subjects": {f"{ns}-value": {"schema": '"string"'}}}
    path = write(tmp_path, sections, username="topoctl", password="${SR_PASSWORD}")
    apply_ok(path)
    assert_empty(path)
    monkeypatch.setenv("SR_PASSWORD", "wrong-" + secret)
    result = topoctl("plan", "-f", path)
    assert result.code == 1
    assert "schema registry http://127.0.0.1" in result.stderr
    assert "HTTP 401: Unauthorized (check connection.schema_registry username/password or token)" in result.stderr
    assert secret not in result.stderr + result.stdout and "Traceback" not in result.stderr

    sr.require_token(secret)
    monkeypatch.setenv("SR_TOKEN", secret)
    assert_empty(write(tmp_path, sections, token="${SR_TOKEN}"))


def test_an_unreachable_registry_is_one_line(tmp_path: Path, ns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with SchemaRegistryDouble() as gone:
        url = gone.url
    monkeypatch.setenv(ENV, url)
    path = write(tmp_path, {"subjects": {f"{ns}-value": {"schema": '"string"'}}}, timeout="2s")
    result = topoctl("plan", "-f", path)
    assert result.code == 1, str(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: broker 'events' (schema registry {url}): cannot connect")


def test_a_manifest_without_subjects_never_contacts_the_registry(
    tmp_path: Path, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "http://127.0.0.1:9")  # nothing listens there
    path = write(tmp_path, {"topics": {f"{ns}.t": {"partitions": 1}}})
    apply_ok(path)
    assert_empty(path)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sr-tls")
    make_certificates(directory)
    return directory


def test_tls_with_a_ca_file(tmp_path: Path, ns: str, certificates: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SchemaRegistryDouble(
        certfile=str(certificates / "server.pem"), keyfile=str(certificates / "server.key")
    ) as tls:
        monkeypatch.setenv(ENV, tls.url)
        sections = {"subjects": {f"{ns}-value": {"schema": '"string"'}}}
        path = write(tmp_path, sections, tls={"ca_file": str(certificates / "ca.pem")})
        apply_ok(path)
        assert_empty(path)
        for ca, expected in (
            (str(certificates / "other-ca.pem"), "CERTIFICATE_VERIFY_FAILED"),
            (str(tmp_path / "missing.pem"), "cannot use schema_registry.tls.ca_file"),
        ):
            result = topoctl("plan", "-f", write(tmp_path, sections, tls={"ca_file": ca}))
            assert result.code == 1, str(result)
            assert expected in result.stderr and "Traceback" not in result.stderr
            assert len(result.stderr.strip().splitlines()) == 1


def test_the_plan_document_has_subjects(tmp_path: Path, ns: str, sr: SchemaRegistryDouble) -> None:
    """`plan --format json` of subjects follows schemas/plan.schema.json."""
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json").read_text())
    path = write(tmp_path, {"subjects": {f"{ns}-value": {"schema": ORDER_V1, "compatibility": "FULL"}}})
    document = plan_json(path).json
    jsonschema.validate(document, schema)
    assert document["summary"]["create"] == 1


def test_the_example_overlay_applies_its_subjects(sr: SchemaRegistryDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/schema-registry/subjects.yaml against the double; only its subjects (`--target`): the
    example's topics, ACLs, quotas and users are examples/kafka.yaml's, applied by its own test."""
    examples = Path(__file__).resolve().parents[2] / "examples"
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", sr.url)
    files = ("-f", examples / "kafka.yaml", "-f", examples / "schema-registry" / "subjects.yaml")
    # A subject left there earlier, under the prune prefix, and the one the example deletes.
    for name in ("shop.stale-value", "shop.legacy-value"):
        assert httpx.post(f"{sr.url}/subjects/{name}/versions", json={"schema": '"int"'}).status_code == 200
    plan = topoctl("plan", *files, "--target", "events/subject", "--format", "json")
    assert {c["address"]: c["action"] for c in plan.json["changes"]} == {
        "events/subject/shop.orders.v1-key": "create",
        "events/subject/shop.orders.v1-value": "create",
        "events/subject/shop.customers.v1-value": "create",
        "events/subject/shop.audit-value": "create",
        "events/subject/shop.legacy-value": "delete",
        "events/subject/shop.stale-value": "delete",
    }
    result = topoctl("apply", *files, "--target", "events/subject", "--auto-approve", "--allow-destructive")
    assert result.code == 0, str(result)
    assert sr.registry.levels == {"shop.orders.v1-value": "FULL_TRANSITIVE"}
    again = topoctl("plan", *files, "--target", "events/subject", "--detailed-exitcode")
    assert again.code == 0 and "No changes." in again.stdout, str(again)


def test_a_subject_registered_again_keeps_no_stale_level(tmp_path: Path, ns: str, sr: SchemaRegistryDouble) -> None:
    """A soft delete keeps the subject's own level: registering the subject again must not leave it."""
    name = f"{ns}-value"
    apply_ok(write(tmp_path, {"subjects": {name: {"schema": ORDER_V1, "compatibility": "NONE"}}}))
    apply_ok(write(tmp_path, {"subjects": {name: {"state": "absent"}}}), "--allow-destructive")
    assert sr.registry.levels == {name: "NONE"}
    path = write(tmp_path, {"subjects": {name: {"schema": ORDER_V1, "compatibility": "BACKWARD"}}})
    apply_ok(path)
    assert sr.registry.levels == {name: "BACKWARD"}
    assert_empty(path)
