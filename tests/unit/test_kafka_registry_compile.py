"""Schema-registry subjects offline: compiling `subjects:` and `connection.schema_registry` (through the
real loader: schema, file:line), the kind's diff, the graph's topic -> subject edges and the export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from topoctl.engine.diff import diff
from topoctl.errors import ManifestError
from topoctl.manifest.loader import load_manifest
from topoctl.model import Action, Address, Resource
from topoctl.providers.kafka.export import export_broker
from topoctl.providers.kafka.flows import flows
from topoctl.providers.kafka.kinds import KINDS, SUBJECT
from topoctl.providers.kafka.registry import LIVE_TEXT, OWN_LEVEL
from topoctl.providers.kafka.subjects import PERMANENT, SOFT_DELETED, TEXT

REGISTRY = "{bootstrap_servers: 127.0.0.1:9092, schema_registry: {url: 'http://127.0.0.1:8081'}}"
HEAD = f"version: 1\nbrokers:\n  k:\n    type: kafka\n    connection: {REGISTRY}\n"
ORDER = {"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "id", "type": "string"}]}


def load(tmp_path: Path, body: str, head: str = HEAD, env: dict[str, str] | None = None) -> dict[str, Resource]:
    path = tmp_path / "m.yaml"
    path.write_text(head + body, encoding="utf-8")
    return {str(r.address): r for r in load_manifest([str(path)], env=env or {}).resources}


def error(tmp_path: Path, body: str, head: str = HEAD) -> str:
    with pytest.raises(ManifestError) as info:
        load(tmp_path, body, head)
    return str(info.value)


def test_inline_yaml_json_text_and_file_are_one_schema(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "order.avsc").write_text(json.dumps(ORDER, indent=4), encoding="utf-8")
    resources = load(
        tmp_path,
        "    subjects:\n"
        "      a-value:\n"
        "        schema: {type: record, name: Order, namespace: shop, fields: [{name: id, type: string}]}\n"
        "      b-value:\n"
        f"        schema: '{json.dumps(ORDER)}'\n"
        "      c-value:\n"
        "        schema: file:schemas/order.avsc\n"
        "        compatibility: FULL_TRANSITIVE\n",
    )
    forms = {resources[f"k/subject/{n}-value"].attrs["schema"] for n in "abc"}
    assert forms == {'{"name":"shop.Order","type":"record","fields":[{"name":"id","type":"string"}]}'}
    c = resources["k/subject/c-value"]
    assert c.attrs["schema_type"] == "AVRO"
    assert c.attrs["compatibility"] == "FULL_TRANSITIVE"
    assert "references" not in c.attrs
    # The file's own text is what apply registers (the registry keeps its layout and docs).
    assert c.info[TEXT] == json.dumps(ORDER, indent=4)
    assert c.source == f"{tmp_path / 'm.yaml'}:11"


def test_file_is_relative_to_the_manifest_that_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "o.avsc").write_text(json.dumps(ORDER), encoding="utf-8")
    (tmp_path / "team" / "m.yaml").write_text(HEAD + "    subjects:\n      o-value: {schema: 'file:o.avsc'}\n")
    monkeypatch.chdir(tmp_path)
    manifest = load_manifest(["team/m.yaml"], env={})
    assert [r.address.name[0] for r in manifest.resources] == ["o-value"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("      s: {schema: 'file:missing.avsc'}\n", ":7: cannot read schema file"),
        ("      s: {schema: {type: record, name: R}}\n", ':7: not a valid Avro schema: at R: a record needs "fields"'),
        ("      s: {schema_type: PROTOBUF, schema: {a: 1}}\n", ":7: a PROTOBUF schema is text"),
        ("      s: {schema_type: JSON, schema: {type: objekt}}\n", ":7: not a valid JSON Schema"),
        ("      s: {schema_type: PROTOBUF, schema: 'message M {'}\n", ":7: not a valid Protobuf schema"),
        ("      s: {compatibility: FULL}\n", ":7: subject 's' needs a schema"),
        (
            "      s: {state: present, permanent: true, schema: '\"int\"'}\n",
            ":7: permanent: true goes with state: absent",
        ),
        (
            "      s: {schema: '\"int\"', references: [{name: X, subject: s, version: 1}]}\n",
            ":7: subject 's' cannot reference itself",
        ),
        ("      s: {schema: '\"int\"', references: [{name: X, subject: t, version: 0}]}\n", "version"),
    ],
)
def test_bad_subjects_name_their_line(tmp_path: Path, body: str, message: str) -> None:
    assert message in error(tmp_path, "    subjects:\n" + body)


def test_subjects_need_a_registry(tmp_path: Path) -> None:
    head = "version: 1\nbrokers:\n  k:\n    type: kafka\n    connection: {bootstrap_servers: 127.0.0.1:9092}\n"
    assert "m.yaml:6: subjects need a schema registry: set connection.schema_registry.url" in error(
        tmp_path, "    subjects:\n      s: {schema: '\"int\"'}\n", head
    )
    assert "prune.subjects needs a schema registry" in error(tmp_path, "    prune: {subjects: true}\n", head)


@pytest.mark.parametrize(
    ("registry", "message"),
    [
        ("{url: 'http://u:p@sr:8081'}", "must not hold credentials"),
        ("{url: 'sr:8081'}", "schema_registry.url"),
        ("{url: 'http://sr:8081', username: u}", "username and password go together"),
        ("{url: 'http://sr:8081', username: u, password: p, token: t}", "not both"),
        ("{url: 'http://sr:8081', timeout: 0s}", "timeout must be positive"),
        ("{url: 'http://sr:8081', tls: {key_file: k.pem}}", "key_file needs cert_file"),
    ],
)
def test_bad_registry_connection(tmp_path: Path, registry: str, message: str) -> None:
    head = (
        "version: 1\nbrokers:\n  k:\n    type: kafka\n    connection:\n      bootstrap_servers: x:9092\n"
        f"      schema_registry: {registry}\n"
    )
    text = error(tmp_path, "", head)
    assert message in text
    assert ":p@" not in text and "token: t" not in text


def test_references_order_the_apply_and_must_not_point_at_a_subject_going(tmp_path: Path) -> None:
    body = (
        "    subjects:\n"
        "      address-value:\n"
        "        schema: {type: record, name: Address, namespace: shop, fields: [{name: city, type: string}]}\n"
        "      order-value:\n"
        "        schema: {type: record, name: Order, namespace: shop, fields: [{name: to, type: Address}]}\n"
        "        references: [{name: shop.Address, subject: address-value, version: 1}]\n"
        "      other-value:\n"
        "        schema: {type: record, name: O, namespace: shop, fields: [{name: to, type: Address}]}\n"
        "        references: [{name: shop.Address, subject: elsewhere-value, version: 3}]\n"
    )
    resources = load(tmp_path, body)
    order = resources["k/subject/order-value"]
    assert order.depends_on == (Address("k", SUBJECT, ("address-value",)),)
    assert order.attrs["references"] == [{"name": "shop.Address", "subject": "address-value", "version": 1}]
    assert resources["k/subject/other-value"].depends_on == ()  # not declared here: nothing to order
    going = body.replace("      address-value:\n", "      address-value:\n        state: absent\n")
    assert "references subject 'address-value', which is declared state: absent" in error(tmp_path, going)


def test_prune_scope_and_permanent_delete(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        HEAD
        + "    prune: {subjects: true, prefix: shop.}\n"
        + "    subjects:\n      old-value: {state: absent, permanent: true}\n"
    )
    manifest = load_manifest([str(path)], env={})
    scopes = manifest.brokers["k"].compiled.prune
    assert [(sorted(s.kinds), s.prefix) for s in scopes] == [(["subject"], "shop.")]
    assert scopes[0].covers(Address("k", SUBJECT, ("shop.orders-value",)))
    assert not scopes[0].covers(Address("k", SUBJECT, ("billing-value",)))
    (old,) = manifest.resources
    assert old.absent and old.info[PERMANENT] is True
    assert not manifest.warnings


# -- the kind ------------------------------------------------------------------------------------------


def subject(name: str, **attrs: Any) -> Resource:
    return Resource(Address("k", SUBJECT, (name,)), attrs, info=attrs.pop("info", {}))


def plan_of(desired: list[Resource], observed: list[Resource]) -> Any:
    return diff(desired, observed, lambda a: KINDS[a.kind])


def test_same_level_as_global_is_no_change_and_another_level_an_update() -> None:
    live = subject("o-value", schema_type="AVRO", schema="s", compatibility="BACKWARD")  # the global level
    assert plan_of([subject("o-value", schema_type="AVRO", schema="s", compatibility="BACKWARD")], [live]).changes == ()
    assert plan_of([subject("o-value", schema_type="AVRO", schema="s")], [live]).changes == ()
    (change,) = plan_of([subject("o-value", schema_type="AVRO", schema="s", compatibility="FULL")], [live]).changes
    assert change.action is Action.UPDATE and [f.field for f in change.fields] == ["compatibility"]


def test_a_new_schema_is_an_update_and_another_type_a_replace() -> None:
    live = subject("o-value", schema_type="AVRO", schema="s1", compatibility="BACKWARD")
    (update,) = plan_of([subject("o-value", schema_type="AVRO", schema="s2")], [live]).changes
    assert update.action is Action.UPDATE and not update.destructive
    (replace,) = plan_of([subject("o-value", schema_type="JSON", schema="{}")], [live]).changes
    assert replace.action is Action.REPLACE and replace.destructive
    assert any("schema_type cannot change in place (AVRO -> JSON)" in r for r in replace.reasons)


def test_live_references_not_declared_go() -> None:
    refs = [{"name": "A", "subject": "a-value", "version": 1}]
    live = subject("o-value", schema_type="AVRO", schema="s", references=refs)
    (change,) = plan_of([subject("o-value", schema_type="AVRO", schema="s")], [live]).changes
    assert [(f.field, f.before, f.after) for f in change.fields] == [("references", refs, [])]


def test_what_a_delete_puts_at_risk() -> None:
    soft = subject("o-value", schema_type="AVRO", schema="s", info={"versions": 3})
    hard = subject("o-value", schema_type="AVRO", schema="s", **{PERMANENT: True}, info={"versions": 1})
    gone = subject("o-value", **{SOFT_DELETED: True, PERMANENT: True}, info={"versions": 2})
    absent = Resource(Address("k", SUBJECT, ("o-value",)), {}, absent=True)
    (soft_change,) = plan_of([absent], [soft]).changes
    assert soft_change.reasons == (
        "its 3 versions are soft-deleted: producers can no longer register or look up schemas of o-value "
        "(records already written stay readable: their schema ids still resolve)",
    )
    assert soft_change.exposure == {"k/subject/o-value": {"versions": 3}}
    assert "then deleted permanently" in plan_of([absent], [hard]).changes[0].reasons[0]
    assert "(soft-deleted already) are deleted permanently" in plan_of([absent], [gone]).changes[0].reasons[0]


# -- graph and export ------------------------------------------------------------------------------


def test_graph_links_topics_to_their_subjects_and_dead_letter_topics_share_them(tmp_path: Path) -> None:
    resources = load(
        tmp_path,
        "    topics:\n"
        "      orders: {dead_letter: {}}\n"
        "      audit: {}\n"
        "    subjects:\n"
        "      orders-value: {schema: '\"string\"'}\n"
        "      orders-key: {schema: '\"string\"'}\n"
        "      shop.Order: {schema: '\"string\"', topics: [audit]}\n"
        "      stray-value: {schema: '\"string\"'}\n",
    )
    edges = {(str(f.source), str(f.target), f.label) for f in flows(list(resources.values()))}
    assert edges == {
        ("k/topic/orders", "k/subject/orders-value", "schema"),
        ("k/topic/orders", "k/subject/orders-key", "schema"),
        ("k/topic/audit", "k/subject/shop.Order", "schema"),
        ("k/topic/orders", "k/topic/orders.dlq", "dead letters"),
        ("k/topic/orders.dlq", "k/subject/orders-value", "schema (dead letters of orders)"),
        ("k/topic/orders.dlq", "k/subject/orders-key", "schema (dead letters of orders)"),
    }  # stray-value names no declared topic: no edge


def test_export_plans_empty(tmp_path: Path) -> None:
    served = json.dumps(ORDER, separators=(",", ":"))
    refs = [{"name": "shop.Order", "subject": "o-value", "version": 1}]
    proto = 'syntax = "proto3";\n\nmessage P {\n  string a = 1;\n}\n'
    observed = [
        subject(
            "o-value",
            schema_type="AVRO",
            schema='{"name":"shop.Order","type":"record","fields":[{"name":"id","type":"string"}]}',
            compatibility="BACKWARD",
            info={LIVE_TEXT: served},
        ),
        subject(
            "w-value",
            schema_type="AVRO",
            schema='{"name":"shop.W","type":"record","fields":[{"name":"o","type":"shop.Order"}]}',
            references=refs,
            compatibility="FULL",
            info={
                LIVE_TEXT: '{"type":"record","name":"W","namespace":"shop","fields":[{"name":"o","type":"Order"}]}',
                OWN_LEVEL: "FULL",
            },
        ),
        subject(
            "p-value",
            schema_type="PROTOBUF",
            schema='syntax = "proto3"; message P { string a = 1; }',
            compatibility="BACKWARD",
            info={LIVE_TEXT: proto},
        ),
    ]
    section = export_broker("k", observed)
    assert section["subjects"]["o-value"] == {"schema": ORDER}  # follows the global level: no compatibility
    assert section["subjects"]["w-value"]["compatibility"] == "FULL"
    assert section["subjects"]["p-value"] == {"schema_type": "PROTOBUF", "schema": proto}
    doc = {"version": 1, "brokers": {"k": {"type": "kafka", "connection": yaml.safe_load(REGISTRY), **section}}}
    path = tmp_path / "export.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    desired = load_manifest([str(path)], env={}).resources
    assert plan_of(desired, observed).changes == ()


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_example_overlay_validates_and_links_topics_to_subjects() -> None:
    paths = [str(EXAMPLES / "kafka.yaml"), str(EXAMPLES / "schema-registry" / "subjects.yaml")]
    manifest = load_manifest(paths, env={})
    spec = manifest.brokers["events"]
    assert spec.connection["schema_registry"]["url"] == "http://127.0.0.1:8081"
    subjects = {r.address.name[0]: r for r in spec.resources if r.kind == SUBJECT}
    assert set(subjects) == {
        "shop.orders.v1-key",
        "shop.orders.v1-value",
        "shop.customers.v1-value",
        "shop.audit-value",
        "shop.legacy-value",
    }
    assert subjects["shop.audit-value"].attrs["schema"].startswith('syntax = "proto3"; package shop.audit.v1;')
    assert '"logicalType":"timestamp-millis"' in str(subjects["shop.orders.v1-value"].attrs["schema"])
    edges = {(f.source.name[0], f.target.name[0]) for f in flows(spec.resources)}
    assert ("shop.orders.v1.dlq", "shop.orders.v1-value") in edges
