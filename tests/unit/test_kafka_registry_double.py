"""The schema-registry double itself, over HTTP: the behaviours of Confluent's Schema Registry that
docs/kafka.md says it reproduces (status and error codes, messages, soft and permanent deletes, ids,
levels, Avro compatibility). topoctl's tests rely on these; this pins them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.schema_registry_double import SchemaRegistryDouble

R1 = {"type": "record", "name": "R", "namespace": "t", "fields": [{"name": "a", "type": "int"}]}


@pytest.fixture
def api() -> Iterator[httpx.Client]:
    with SchemaRegistryDouble() as double, httpx.Client(base_url=double.url) as client:
        client.double = double  # type: ignore[attr-defined]
        yield client


def schema(value: Any, **extra: Any) -> dict[str, Any]:
    return {"schema": value if isinstance(value, str) else json.dumps(value), **extra}


def record(*fields: dict[str, Any], name: str = "R") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "t", "fields": list(fields)}


def error(response: httpx.Response) -> tuple[int, int]:
    body = response.json()
    assert set(body) == {"error_code", "message"}
    assert response.headers["content-type"] == "application/vnd.schemaregistry.v1+json"
    return response.status_code, body["error_code"]


def test_not_found_codes(api: httpx.Client) -> None:
    assert error(api.get("/subjects/s/versions")) == (404, 40401)
    assert api.get("/subjects/s/versions").json()["message"] == "Subject 's' not found."
    api.post("/subjects/s/versions", json=schema(R1))
    assert error(api.get("/subjects/s/versions/7")) == (404, 40402)
    assert error(api.get("/subjects/s/versions/0")) == (422, 42202)
    assert error(api.get("/schemas/ids/99")) == (404, 40403)
    assert error(api.post("/subjects/s", json=schema(record({"name": "b", "type": "int"})))) == (404, 40403)
    assert error(api.get("/config/s")) == (404, 40408)
    assert api.get("/config/s", params={"defaultToGlobal": "true"}).json() == {"compatibilityLevel": "BACKWARD"}


def test_register_lookup_and_global_ids(api: httpx.Client) -> None:
    assert api.post("/subjects/a/versions", json=schema(R1)).json() == {"id": 1}
    # Same schema, another subject: the same id; written differently: still the same schema.
    assert api.post("/subjects/b/versions", json=schema(json.dumps(R1, indent=2))).json() == {"id": 1}
    found = api.post("/subjects/b", json=schema(R1)).json()
    assert (found["subject"], found["version"], found["id"]) == ("b", 1, 1)
    assert "schemaType" not in found  # AVRO, the default, is left out as Confluent does
    assert api.get("/schemas/ids/1/versions").json() == [{"subject": "a", "version": 1}, {"subject": "b", "version": 1}]


def test_the_registry_serves_its_own_rendering(api: httpx.Client) -> None:
    sent = {
        "namespace": "t",
        "name": "R",
        "type": "record",
        "fields": [
            {"type": {"type": "enum", "name": "E", "symbols": ["X"]}, "name": "e"},
            {"name": "f", "type": "t.E"},
        ],
    }
    api.post("/subjects/s/versions", json=schema(sent))
    served = api.get("/subjects/s/versions/latest").json()["schema"]
    assert served == (
        '{"type":"record","name":"R","namespace":"t","fields":[{"name":"e","type":{"type":"enum","name":"E",'
        '"symbols":["X"]}},{"name":"f","type":"E"}]}'
    )
    proto = 'syntax = "proto3";\n// c\nmessage M { message N { int32 x = 0x1; } string s = 1; }'
    api.post("/subjects/p/versions", json=schema(proto, schemaType="PROTOBUF"))
    assert api.get("/subjects/p/versions/latest").json()["schema"] == (
        'syntax = "proto3";\n\nmessage M {\n  string s = 1;\n\n  message N {\n    int32 x = 1;\n  }\n}\n'
    )


def test_an_older_version_is_not_registered_again(api: httpx.Client) -> None:
    v2 = record({"name": "a", "type": "int"}, {"name": "b", "type": "int", "default": 0})
    api.post("/subjects/s/versions", json=schema(R1))
    api.post("/subjects/s/versions", json=schema(v2))
    assert api.post("/subjects/s/versions", json=schema(R1)).json() == {"id": 1}
    assert api.get("/subjects/s/versions").json() == [1, 2]


def test_soft_and_permanent_deletes(api: httpx.Client) -> None:
    api.post("/subjects/s/versions", json=schema(R1))
    assert error(api.delete("/subjects/s", params={"permanent": "true"})) == (404, 40405)
    assert api.delete("/subjects/s").json() == [1]
    assert error(api.delete("/subjects/s")) == (404, 40404)
    assert api.delete("/subjects/s").json()["message"] == (
        "Subject 's' was soft deleted.Set permanent=true to delete permanently"
    )
    assert error(api.get("/subjects/s/versions/latest")) == (404, 40401)
    assert api.get("/subjects").json() == [] and api.get("/subjects", params={"deleted": "true"}).json() == ["s"]
    assert api.get("/schemas/ids/1").status_code == 200  # still readable by id
    # Registered again after a soft delete: the same id, the next version number.
    assert api.post("/subjects/s/versions", json=schema(R1)).json() == {"id": 1}
    assert api.get("/subjects/s/versions").json() == [2]
    api.put("/config/s", json={"compatibility": "FULL"})
    api.delete("/subjects/s")
    assert api.get("/config/s").json() == {"compatibilityLevel": "FULL"}  # a soft delete keeps the level
    assert api.delete("/subjects/s", params={"permanent": "true"}).json() == [1, 2]
    assert error(api.get("/schemas/ids/1")) == (404, 40403)
    assert error(api.get("/config/s")) == (404, 40408)  # ...a permanent one drops it
    assert error(api.delete("/subjects/s")) == (404, 40401)


def test_version_deletes(api: httpx.Client) -> None:
    api.post("/subjects/s/versions", json=schema(R1))
    assert error(api.delete("/subjects/s/versions/1", params={"permanent": "true"})) == (404, 40407)
    assert api.delete("/subjects/s/versions/1").json() == 1
    assert error(api.delete("/subjects/s/versions/1")) == (404, 40406)


def test_a_referenced_subject_cannot_be_deleted(api: httpx.Client) -> None:
    api.post("/subjects/addr/versions", json=schema(record({"name": "c", "type": "string"}, name="Addr")))
    ref = [{"name": "t.Addr", "subject": "addr", "version": 1}]
    order = record({"name": "to", "type": "Addr"}, name="Order")
    assert api.post("/subjects/order/versions", json=schema(order, references=ref)).status_code == 200
    assert api.get("/subjects/order/versions/latest").json()["schema"] == (
        '{"type":"record","name":"Order","namespace":"t","fields":[{"name":"to","type":"Addr"}]}'
    )
    assert error(api.delete("/subjects/addr")) == (422, 42206)
    assert error(api.post("/subjects/x/versions", json=schema(order))) == (422, 42201)  # Addr unknown


def test_invalid_schemas_and_levels(api: httpx.Client) -> None:
    assert error(api.post("/subjects/s/versions", json=schema("{"))) == (422, 42201)
    bad_default = record({"name": "a", "type": "int", "default": "x"})
    assert error(api.post("/subjects/s/versions", json=schema(bad_default))) == (422, 42201)
    assert error(api.post("/subjects/s/versions", json=schema("{}", schemaType="XML"))) == (422, 42201)
    assert error(api.put("/config", json={"compatibility": "SIDEWAYS"})) == (422, 42203)
    assert api.put("/config/s", json={"compatibility": "full"}).json() == {"compatibility": "FULL"}
    assert api.get("/config/s").json() == {"compatibilityLevel": "FULL"}
    assert api.delete("/config/s").json() == {"compatibilityLevel": "FULL"}
    assert error(api.delete("/config/s")) == (404, 40401)


def test_authentication(api: httpx.Client) -> None:
    api.double.require_basic("u", "p")  # type: ignore[attr-defined]
    assert error(api.get("/subjects")) == (401, 401)
    assert httpx.get(f"{api.double.url}/subjects", auth=("u", "p")).json() == []  # type: ignore[attr-defined]


# -- compatibility ----------------------------------------------------------------------------------

INT_A = record({"name": "a", "type": "int"})
LONG_A = record({"name": "a", "type": "long"})
WITH_B = record({"name": "a", "type": "int"}, {"name": "b", "type": "string"})
WITH_B_DEFAULT = record({"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": ""})
NO_A = record()


def check(api: httpx.Client, level: str, versions: list[Any], new: Any, against: str = "latest") -> list[str]:
    api.put("/config/s", json={"compatibility": level})
    for v in versions:
        assert api.post("/subjects/s/versions", json={"schema": json.dumps(v)}).status_code == 200
    path = "/compatibility/subjects/s/versions" + ("" if against == "all" else f"/{against}")
    body = api.post(path, params={"verbose": "true"}, json={"schema": json.dumps(new)}).json()
    assert body["is_compatible"] is (not body["messages"])
    return [m for m in body["messages"] if m.startswith("{errorType")]


@pytest.mark.parametrize(
    ("level", "old", "new", "problem"),
    [
        ("BACKWARD", INT_A, WITH_B, "READER_FIELD_MISSING_DEFAULT_VALUE"),
        ("BACKWARD", INT_A, WITH_B_DEFAULT, None),
        ("BACKWARD", INT_A, LONG_A, None),  # int promotes to long
        ("BACKWARD", LONG_A, INT_A, "TYPE_MISMATCH"),
        ("FORWARD", INT_A, WITH_B, None),  # the old reader ignores b
        ("FORWARD", INT_A, NO_A, "READER_FIELD_MISSING_DEFAULT_VALUE"),
        ("FULL", INT_A, WITH_B, "READER_FIELD_MISSING_DEFAULT_VALUE"),
        ("FULL", INT_A, WITH_B_DEFAULT, None),
        ("NONE", INT_A, {"type": "string"}, None),
        (
            "BACKWARD",
            {"type": "enum", "name": "E", "symbols": ["A", "B"]},
            {"type": "enum", "name": "E", "symbols": ["A"]},
            "MISSING_ENUM_SYMBOLS",
        ),
        (
            "BACKWARD",
            {"type": "enum", "name": "E", "symbols": ["A", "B"]},
            {"type": "enum", "name": "E", "symbols": ["A", "U"], "default": "U"},
            None,
        ),
        ("BACKWARD", ["null", "string"], "string", "TYPE_MISMATCH"),
        ("BACKWARD", "string", ["null", "string"], None),
        ("BACKWARD", "int", ["null", "string"], "MISSING_UNION_BRANCH"),
        (
            "BACKWARD",
            {"type": "fixed", "name": "F", "size": 4},
            {"type": "fixed", "name": "F", "size": 8},
            "FIXED_SIZE",
        ),
        ("BACKWARD", INT_A, {**INT_A, "name": "S"}, "NAME_MISMATCH"),
        ("BACKWARD", INT_A, {**INT_A, "name": "S", "aliases": ["R"]}, None),
    ],
)
def test_avro_rules(api: httpx.Client, level: str, old: Any, new: Any, problem: str | None) -> None:
    problems = check(api, level, [old], new)
    if problem is None:
        assert problems == []
    else:
        assert problems and problem in problems[0]


def test_transitive_levels_check_every_live_version(api: httpx.Client) -> None:
    v1 = record({"name": "a", "type": "int"})
    v2 = record({"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": ""})
    new = record({"name": "a", "type": "int"}, {"name": "b", "type": "string"})  # b without default
    assert check(api, "BACKWARD", [v1, v2], new) == []  # the latest, v2, has b
    assert check(api, "BACKWARD", [], new, against="all") == []  # as registration checks: the latest only
    assert check(api, "BACKWARD_TRANSITIVE", [], new, against="all")  # v1 has no b
    # Against one version (`latest`), the check sees that version alone, transitive or not.
    assert check(api, "BACKWARD_TRANSITIVE", [], new, against="latest") == []


def test_compatibility_of_a_subject_without_versions(api: httpx.Client) -> None:
    body = api.post("/compatibility/subjects/none/versions/latest", params={"verbose": "true"}, json=schema(R1))
    assert body.json() == {"is_compatible": True, "messages": []}
    assert error(api.post("/compatibility/subjects/none/versions/3", json=schema(R1))) == (404, 40401)


def test_registration_is_refused_with_409_and_the_details(api: httpx.Client) -> None:
    api.post("/subjects/s/versions", json=schema(INT_A))
    refused = api.post("/subjects/s/versions", json=schema(WITH_B))
    assert error(refused) == (409, 409)
    message = refused.json()["message"]
    assert message.startswith(
        'Schema being registered is incompatible with an earlier schema for subject "s", details: ['
    )
    assert "{oldSchemaVersion: 1}" in message and "{validateFields: 'false', compatibility: 'BACKWARD'}" in message
    json_body = schema({"type": "object"}, schemaType="JSON")
    assert error(api.post("/subjects/s/versions", json=json_body)) == (409, 409)  # another type
