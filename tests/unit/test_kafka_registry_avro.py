"""Avro's canonical forms (topoctl/providers/kafka/avro.py) and the other schema types' normal forms.

The Parsing Canonical Form cases follow the rules of the Avro specification one by one
([PRIMITIVES], [FULLNAMES], [STRIP], [ORDER], [STRINGS], [INTEGERS], [WHITESPACE]); the normal form
cases are the ways a registry re-renders a schema (key order, namespaces, `{"type": "int"}`) that
must not read as a change, and the changes Parsing Canonical Form would hide but must not.
"""

from __future__ import annotations

import json

import pytest

from topoctl.providers.kafka.avro import AvroError, normal_form, parsing_canonical_form
from topoctl.providers.kafka.schemas import SchemaProblem, protobuf_form
from topoctl.providers.kafka.schemas import normal_form as schema_form

PCF_CASES = [
    # [PRIMITIVES]: the object form of a primitive is its name
    ('{"type": "long"}', '"long"'),
    ('"bytes"', '"bytes"'),
    ('["null", {"type": "string"}]', '["null","string"]'),
    ("[]", "[]"),
    # [FULLNAMES]: names made full, namespaces gone; a dotted name ignores the namespace
    (
        '{"type": "record", "name": "Order", "namespace": "shop.v1", "fields": []}',
        '{"name":"shop.v1.Order","type":"record","fields":[]}',
    ),
    (
        '{"type": "record", "name": "a.b.Order", "namespace": "ignored", "fields": []}',
        '{"name":"a.b.Order","type":"record","fields":[]}',
    ),
    # nested named types inherit the enclosing namespace; a reference is by full name after the definition
    (
        '{"type": "record", "name": "R", "namespace": "n", "fields": ['
        '{"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},'
        '{"name": "f", "type": "E"},'
        '{"name": "g", "type": {"type": "fixed", "name": "F", "namespace": "other", "size": 016}}]}'.replace(
            "016", "16"
        ),
        '{"name":"n.R","type":"record","fields":[{"name":"e","type":{"name":"n.E","type":"enum","symbols":["A","B"]}},'
        '{"name":"f","type":"n.E"},{"name":"g","type":{"name":"other.F","type":"fixed","size":16}}]}',
    ),
    # [STRIP] doc, aliases, default, order, logical types go; [ORDER] name, type, fields, symbols, items, values, size
    (
        '{"fields": [{"type": {"type": "int", "logicalType": "date"}, "name": "d", "default": 0, "doc": "x",'
        ' "order": "descending", "aliases": ["day"]}], "doc": "orders", "aliases": ["Old"], "name": "R",'
        ' "type": "record"}',
        '{"name":"R","type":"record","fields":[{"name":"d","type":"int"}]}',
    ),
    (
        '{"values": {"type": "array", "items": "string"}, "type": "map"}',
        '{"type":"map","values":{"type":"array","items":"string"}}',
    ),
    # [STRINGS] UTF-8, not \\u escapes (in names and symbols there are none; a doc is stripped anyway)
    ('{"type": "enum", "name": "E", "symbols": ["\\u0041"]}', '{"name":"E","type":"enum","symbols":["A"]}'),
    # recursion: a record refers to itself by name
    (
        '{"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]}]}',
        '{"name":"Node","type":"record","fields":[{"name":"next","type":["null","Node"]}]}',
    ),
]


@pytest.mark.parametrize(("text", "canonical"), PCF_CASES)
def test_parsing_canonical_form(text: str, canonical: str) -> None:
    assert parsing_canonical_form(text) == canonical


def test_whitespace_and_key_order_do_not_matter() -> None:
    a = '{"type":"record","name":"R","namespace":"n","fields":[{"name":"x","type":"int","default":1}]}'
    b = """
    {
      "fields": [ {"default": 1, "type": {"type": "int"}, "name": "x"} ],
      "name": "n.R",
      "type": "record"
    }
    """
    assert normal_form(a) == normal_form(b)


def test_normal_form_keeps_what_readers_use() -> None:
    """A new default, a logical type or a doc is a new schema to a registry: the plan must see it."""
    base = {"type": "record", "name": "R", "fields": [{"name": "x", "type": "int"}]}
    with_default = json.loads(json.dumps(base))
    with_default["fields"][0]["default"] = 0
    logical = json.loads(json.dumps(base))
    logical["fields"][0]["type"] = {"type": "int", "logicalType": "date"}
    documented = {**base, "doc": "the R"}
    forms = {normal_form(json.dumps(s)) for s in (base, with_default, logical, documented)}
    assert len(forms) == 4
    # ...while Parsing Canonical Form calls them one schema.
    assert len({parsing_canonical_form(json.dumps(s)) for s in (base, with_default, logical, documented)}) == 1


def test_normal_form_spellings_a_registry_may_use() -> None:
    written = (
        '{"type":"record","name":"R","namespace":"n","fields":[{"name":"d","type":"double","default":1,'
        '"order":"ascending"},{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}},{"name":"f","type":"E"}],'
        '"aliases":["b","a"]}'
    )
    # Java's toString: namespace only where it changes, short names inside it; Python's: 1.0
    served = (
        '{"type":"record","name":"R","namespace":"n","fields":[{"name":"d","type":"double","default":1.0},'
        '{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}},{"name":"f","type":"n.E"}],'
        '"aliases":["n.a","n.b"]}'
    )
    assert normal_form(written) == normal_form(served)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON"),
        ('{"type": "record", "name": "R"}', 'a record needs "fields"'),
        ('{"type": "record", "name": "1R", "fields": []}', "not a valid Avro name"),
        ('{"type": "record", "name": "R", "fields": [{"name": "x", "type": "Missing"}]}', "unknown type 'Missing'"),
        ('{"type": "record", "name": "R", "fields": [{"name": "x", "type": "int", "default": "1"}]}', "does not fit"),
        (
            '{"type": "record", "name": "R", "fields": [{"name": "x", "type": "int"}, {"name": "x", "type": "int"}]}',
            "twice",
        ),
        ('{"type": "enum", "name": "E", "symbols": ["A", "A"]}', "appears twice"),
        ('{"type": "enum", "name": "E", "symbols": ["A"], "default": "B"}', "not one of its symbols"),
        ('["int", "int"]', "holds int twice"),
        ('{"type": "fixed", "name": "F"}', '"size"'),
        ('{"type": "array"}', '"items"'),
        ('{"type": {"type": "int"}}', "must be a type name"),
    ],
)
def test_what_a_registry_refuses_is_an_error(text: str, message: str) -> None:
    with pytest.raises(AvroError, match=message):
        normal_form(text)


def test_union_default_may_fit_any_branch() -> None:
    """Avro's Java parser (what Confluent's registry runs) takes a default of any branch."""
    text = '{"type": "record", "name": "R", "fields": [{"name": "x", "type": ["string", "null"], "default": null}]}'
    assert '"default":null' in normal_form(text)


def test_names_from_references_are_allowed_only_with_references() -> None:
    text = '{"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "a", "type": "Address"}]}'
    with pytest.raises(AvroError, match="references"):
        normal_form(text)
    assert '"type":"shop.Address"' in normal_form(text, external_names=True)


def test_json_schema_normal_form() -> None:
    a = '{"type": "object", "properties": {"n": {"type": "number", "minimum": 1.0}}, "required": ["n"]}'
    b = '{"required":["n"],"properties":{"n":{"minimum":1,"type":"number"}},"type":"object"}'
    assert schema_form("JSON", a) == schema_form("JSON", b)
    assert schema_form("JSON", a) != schema_form("JSON", a.replace('"minimum": 1.0', '"minimum": 2'))
    with pytest.raises(SchemaProblem, match="not a valid JSON Schema"):
        schema_form("JSON", '{"type": "objekt"}')
    with pytest.raises(SchemaProblem, match="not JSON"):
        schema_form("JSON", "{")


def test_protobuf_normal_form_ignores_comments_layout_and_member_order() -> None:
    written = """
    // orders
    syntax = 'proto3';
    package shop.v1;
    import "google/protobuf/timestamp.proto";
    message Order {
      message Line { int32 qty = 0x1; }   /* nested first */
      string id = 1;
      repeated Line lines = 2 [packed = true];
      option deprecated = true;
    }
    """
    # as Wire prints it: options, then fields, then nested types
    served = (
        'syntax = "proto3";\n\npackage shop.v1;\n\nimport "google/protobuf/timestamp.proto";\n\n'
        "message Order {\n  option deprecated = true;\n\n  string id = 1;\n"
        "  repeated Line lines = 2 [packed = true];\n\n"
        "  message Line {\n    int32 qty = 1;\n  }\n}\n"
    )
    assert protobuf_form(written) == protobuf_form(served)
    assert protobuf_form(written) != protobuf_form(served.replace("string id = 1", "string id = 3"))


@pytest.mark.parametrize(
    "text", ["message M { string a = 1;", "message M { string a = 1; }}", "", "message M { string a = 1 }"]
)
def test_protobuf_that_cannot_parse(text: str) -> None:
    with pytest.raises(SchemaProblem, match="not a valid Protobuf schema"):
        protobuf_form(text)
