"""A subject's schema text -> the normal form a plan compares, per schema type. Pure.

A registry stores its own rendering of a schema, not the text it was sent (Confluent's stores
Avro's `Schema.toString()`, Jackson's JSON, Wire's Protobuf), so the text read back never equals
the manifest's byte for byte. Both sides go through the same normal form, which drops only what
carries no meaning to the registry:

* **AVRO**: `avro.normal_form` (the Parsing Canonical Form of the Avro specification, keeping
  docs, defaults, aliases, logical types and other properties: see avro.py).
* **JSON**: canonical JSON: keys sorted, no whitespace, UTF-8, `1.0` written `1`. The schema must
  be a valid JSON Schema (checked with jsonschema against the draft it names; draft 7 otherwise).
* **PROTOBUF**: the token stream without comments or layout, strings in double quotes, whole
  numbers in decimal, and each block's members grouped by kind (syntax, package, imports, options,
  reserved, fields, one-ofs, nested types, extends, services) in their declared order within a kind:
  a registry that re-renders the file with Wire writes them grouped that way. Comments are not
  compared (Wire moves them).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from topoctl.providers.kafka import avro

SCHEMA_TYPES = ("AVRO", "JSON", "PROTOBUF")
DEFAULT_TYPE = "AVRO"  # the registry's own default when a request names no schemaType


class SchemaProblem(ValueError):
    """Not a valid schema of its type; the message says why (and where inside it)."""


def normal_form(schema_type: str, text: str, has_references: bool = False) -> str:
    if schema_type == "AVRO":
        try:
            return avro.normal_form(text, external_names=has_references)
        except avro.AvroError as exc:
            raise SchemaProblem(f"not a valid Avro schema: {exc}") from None
    if schema_type == "JSON":
        return _json_form(text)
    if schema_type == "PROTOBUF":
        return protobuf_form(text)
    raise SchemaProblem(f"unknown schema_type {schema_type!r} (one of: {', '.join(SCHEMA_TYPES)})")


def pretty(schema_type: str, text: str) -> Any:
    """The schema as a manifest (and `topoctl export`) writes it: AVRO and JSON as the YAML
    structure of their JSON, PROTOBUF as its text."""
    if schema_type in ("AVRO", "JSON"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


# -- JSON Schema -------------------------------------------------------------------------------------


def _json_form(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SchemaProblem(f"not JSON: {exc}") from None
    if not isinstance(data, (Mapping, bool)):
        raise SchemaProblem("a JSON Schema is an object (or true/false)")
    import jsonschema

    try:
        validator: Any = jsonschema.validators.validator_for(data, default=jsonschema.Draft7Validator)
        validator.check_schema(data)
    except jsonschema.SchemaError as exc:
        path = "/".join(str(p) for p in exc.path)
        raise SchemaProblem(f"not a valid JSON Schema{' at ' + path if path else ''}: {exc.message}") from None
    return json.dumps(_numbers(data), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _numbers(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _numbers(v) for k, v in value.items()}
    return value


# -- Protobuf --------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<line_comment>//[^\n]*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>0[xX][0-9a-fA-F]+|\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_.][A-Za-z0-9_.]*)
  | (?P<symbol>[{}\[\]()<>;=,:+\-/])
    """,
    re.VERBOSE | re.DOTALL,
)
# The order of a block's members by kind; `field` is any statement none of the others names.
_GROUPS = {
    "syntax": 0,
    "edition": 0,
    "package": 1,
    "import": 2,
    "option": 3,
    "reserved": 4,
    "extensions": 5,
    "field": 6,
    "rpc": 6,
    "oneof": 7,
    "message": 8,
    "enum": 8,
    "extend": 9,
    "service": 10,
}
_TIGHT_BEFORE = frozenset({";", ",", ")", "]", ">", "<"})
_TIGHT_AFTER = frozenset({"(", "[", "<"})


def protobuf_form(text: str) -> str:
    tokens = list(_tokens(text))
    statements, end = _block(tokens, 0, top=True)
    if end != len(tokens):
        raise SchemaProblem("not a valid Protobuf schema: unbalanced '}'")
    if not statements:
        raise SchemaProblem("not a valid Protobuf schema: it is empty")
    return " ".join(statements)


def _tokens(text: str) -> Iterator[str]:
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            line = text.count("\n", 0, position) + 1
            raise SchemaProblem(f"not a valid Protobuf schema: unexpected {text[position]!r} on line {line}")
        position = match.end()
        kind = match.lastgroup
        value = match.group()
        if kind in ("space", "line_comment", "block_comment"):
            continue
        if kind == "string":
            yield _double_quoted(value)
        elif kind == "number" and value[:2].lower() == "0x":
            yield str(int(value, 16))
        elif kind == "number" and re.fullmatch(r"0\d+", value):
            yield str(int(value, 8))  # octal, as protoc reads it
        elif kind == "number" and value.isdigit():
            yield str(int(value))
        else:
            yield value


def _double_quoted(literal: str) -> str:
    if literal[0] == '"':
        return literal
    inner = literal[1:-1].replace("\\'", "'")
    return '"' + re.sub(r'(?<!\\)"', '\\"', inner) + '"'


def _block(tokens: list[str], start: int, top: bool) -> tuple[list[str], int]:
    """The statements of a block (or the file) from `start`, each rendered, grouped by kind; and
    the index after the closing `}` (or the end)."""
    members: list[tuple[int, int, str]] = []
    i = start
    while i < len(tokens):
        token = tokens[i]
        if token == "}":
            if top:
                raise SchemaProblem("not a valid Protobuf schema: unbalanced '}'")
            return _ordered(members), i + 1
        if token == ";":
            i += 1  # an empty statement
            continue
        head: list[str] = []
        depth = 0  # inside [...] or an aggregate value {...} after '=' or ':'
        while i < len(tokens):
            token = tokens[i]
            if depth == 0 and token == ";":
                i += 1
                members.append(_member(head, None, len(members)))
                break
            if depth == 0 and token == "{" and (not head or head[-1] not in ("=", ":")):
                body, i = _block(tokens, i + 1, top=False)
                if i < len(tokens) and tokens[i] == ";":
                    i += 1
                members.append(_member(head, body, len(members)))
                break
            if token in ("[", "{", "("):
                depth += 1
            elif token in ("]", "}", ")"):
                depth -= 1
                if depth < 0:
                    raise SchemaProblem(f"not a valid Protobuf schema: unbalanced {token!r}")
            head.append(token)
            i += 1
        else:
            raise SchemaProblem(f"not a valid Protobuf schema: {_join(head)!r} does not end with ';' or a block")
    if not top:
        raise SchemaProblem("not a valid Protobuf schema: a block is not closed with '}'")
    return _ordered(members), i


def _member(head: list[str], body: list[str] | None, index: int) -> tuple[int, int, str]:
    if not head:
        raise SchemaProblem("not a valid Protobuf schema: a block without a name")
    kind = head[0] if head[0] in _GROUPS else "field"
    text = _join(head) + (" { " + " ".join(body) + " }" if body else " {}" if body is not None else ";")
    return (_GROUPS[kind], index, text)


def _ordered(members: list[tuple[int, int, str]]) -> list[str]:
    return [text for _, _, text in sorted(members)]


def _join(tokens: list[str]) -> str:
    out = ""
    for token in tokens:
        if out and token not in _TIGHT_BEFORE and out[-1] not in _TIGHT_AFTER:
            out += " "
        out += token
    return out
